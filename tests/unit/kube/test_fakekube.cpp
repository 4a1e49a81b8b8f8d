// The Client over the real libcurl transport against tests/fakekube (skipped when it cannot start).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "fakes.hpp"
#include "kube/client.hpp"

using namespace wb;
using namespace wb::kube;
using wb::kube::test::TempDir;
using wb::kube::test::append_to;
using util::ErrorCode;

extern char** environ;

namespace {

// Runs fakekube.py and waits for its READY line; stops it on destruction.
class FakeKube {
 public:
  explicit FakeKube(const std::filesystem::path& dir) {
    std::string script = std::string(WB_SOURCE_DIR) + "/tests/fakekube/fakekube.py";
    if (::access(WB_TEST_PYTHON, X_OK) != 0 || ::access(script.c_str(), R_OK) != 0) return;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, (dir / "fakekube.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string py = WB_TEST_PYTHON, d = (dir / "srv").string();
    std::vector<char*> argv{py.data(), script.data(), const_cast<char*>("--dir"), d.data(), nullptr};
    int rc = ::posix_spawn(&pid_, py.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      pid_ = -1;
      ::close(fds[0]);
      return;
    }
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (line.rfind("READY ", 0) != 0) return;
    auto j = nlohmann::json::parse(line.substr(6, line.find('\n') - 6), nullptr, false);
    if (j.is_discarded()) return;
    kubeconfig = j.value("kubeconfig", "");
  }
  ~FakeKube() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  bool ready() const { return !kubeconfig.empty(); }
  std::string kubeconfig;

 private:
  pid_t pid_ = -1;
};

// The REST config of the fake's own kubeconfig, with no environment in play.
Result<RestConfig> rest_config_for(const FakeKube& server) {
  ConnectOptions co;
  co.kubeconfig_flag = server.kubeconfig;
  co.env = [](const std::string&) { return std::nullopt; };
  co.stdin_is_tty = false;
  return load_rest_config(co);
}

}  // namespace

TEST_CASE("Client against fakekube over real HTTPS", "[fakekube]") {
  TempDir d;
  FakeKube server(d.path());
  if (!server.ready()) {
    WARN("fakekube did not start; skipping");
    return;
  }
  auto rc = rest_config_for(server);
  REQUIRE(rc.ok());
  http::ClientOptions opts;
  opts.max_retries = 1;
  opts.retry_base_delay = std::chrono::milliseconds(10);
  auto client = make_client(*rc, nullptr, opts);

  auto disc = client->discovery();
  INFO((disc ? std::string() : disc.error().message));
  REQUIRE(disc.ok());
  CHECK(disc->major == 1);
  CHECK(disc->has("apps/v1", "deployments"));
  auto ing = client->prefer({types::IngressV1, types::IngressV1beta1});
  REQUIRE(ing.ok());
  CHECK(ing->version == "v1");

  const std::string ns = rc->namespace_.empty() ? "default" : rc->namespace_;
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "wb-unit"}, {"labels", {{"app", "wb-unit"}}}}},
             {"data", {{"a", "1"}}}};
  auto created = client->create(types::ConfigMap, ns, cm);
  INFO((created ? std::string() : created.error().message));
  REQUIRE(created.ok());
  auto again = client->create(types::ConfigMap, ns, cm);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::Conflict);

  auto got = client->get(types::ConfigMap, ns, "wb-unit");
  REQUIRE(got.ok());
  CHECK((*got)["data"]["a"] == "1");

  ListOptions lo;
  lo.label_selector = "app=wb-unit";
  auto listed = client->list(types::ConfigMap, ns, lo);
  REQUIRE(listed.ok());
  CHECK((*listed)["items"].size() == 1);

  auto patched = client->merge_patch(types::ConfigMap, ns, "wb-unit", json{{"data", {{"b", "2"}}}});
  REQUIRE(patched.ok());
  CHECK((*patched)["data"]["b"] == "2");

  json stale = *got;
  stale["data"]["c"] = "3";
  auto conflict = client->update(types::ConfigMap, ns, stale);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code == ErrorCode::Conflict);

  json applied = {{"metadata", {{"name", "wb-applied"}}}, {"data", {{"x", "y"}}}};
  auto ap = client->apply(types::ConfigMap, ns, applied, true);
  INFO((ap ? std::string() : ap.error().message));
  REQUIRE(ap.ok());
  CHECK((*ap)["data"]["x"] == "y");

  WatchOptions wo;
  wo.label_selector = "app=wb-unit";
  wo.timeout = std::chrono::seconds(1);
  std::vector<std::string> types_seen;
  auto w = client->watch(types::ConfigMap, ns, wo, [&](const WatchEvent& ev) {
    types_seen.push_back(ev.type);
    return ev.type != "ADDED";
  });
  INFO((w ? std::string() : w.error().message));
  REQUIRE(w.ok());
  REQUIRE_FALSE(types_seen.empty());
  CHECK(types_seen.back() == "ADDED");

  REQUIRE(client->remove(types::ConfigMap, ns, "wb-unit").ok());
  REQUIRE(client->remove(types::ConfigMap, ns, "wb-applied").ok());
  auto gone = client->get(types::ConfigMap, ns, "wb-unit");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::NotFound);
  CHECK(gone.error().message == "configmaps \"wb-unit\" not found");

  // exec and logs on a pod the fake runs.
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "wb-exec"}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "busybox:1.36"}}}}}}};
  REQUIRE(client->create(types::Pod, ns, pod).ok());
  bool running = false;
  for (int i = 0; i < 100 && !running; ++i) {
    auto p = client->get(types::Pod, ns, "wb-exec");
    REQUIRE(p.ok());
    running = p->contains("status") && (*p)["status"].value("phase", "") == "Running";
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!running) {
    WARN("the fake pod did not start; skipping exec");
  } else {
    ExecOptions eo;
    eo.command = {"sh", "-c", "cat; echo oops >&2; exit 3"};
    eo.stdin = true;
    std::string out, err;
    auto s = client->exec(ns, "wb-exec", eo,
                          append_to(out),
                          append_to(err));
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.ok());
    CHECK((*s)->protocol() == "v5.channel.k8s.io");
    REQUIRE((*s)->write_stdin("hello\n").ok());
    REQUIRE((*s)->close_stdin().ok());
    auto r = (*s)->wait();
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.ok());
    CHECK(r->exit_code == 3);
    CHECK(out == "hello\n");
    CHECK(err == "oops\n");

    ExecOptions missing;
    missing.command = {"no-such-command"};
    auto s2 = client->exec(ns, "wb-exec", missing, nullptr, nullptr);
    REQUIRE(s2.ok());
    auto r2 = (*s2)->wait();
    REQUIRE(r2.ok());
    CHECK(r2->exit_code == -1);
    CHECK_THAT(r2->failure_message, Catch::Contains("executable file not found"));

    std::string logs;
    auto lr = client->pod_logs(ns, "wb-exec", {}, [&](std::string_view d) {
      logs.append(d);
      return true;
    });
    INFO((lr ? std::string() : lr.error().message));
    CHECK(lr.ok());
  }
  auto nopod = client->exec(ns, "no-such-pod", ExecOptions{"", {"true"}}, nullptr, nullptr);
  REQUIRE_FALSE(nopod.ok());
  CHECK(nopod.error().code == ErrorCode::NotFound);
  CHECK(nopod.error().message == "pods \"no-such-pod\" not found");
  REQUIRE(client->remove(types::Pod, ns, "wb-exec").ok());

  auto missing_ns = client->list(types::Pod, "no-such-namespace-really");
  // Listing in a missing namespace is an empty list on a real API server.
  CHECK(missing_ns.ok());
}

TEST_CASE("one Client shared by threads: first discovery, transport and reads race safely", "[fakekube][threads]") {
  TempDir d;
  FakeKube server(d.path());
  if (!server.ready()) {
    WARN("fakekube did not start; skipping");
    return;
  }
  auto rc = rest_config_for(server);
  REQUIRE(rc.ok());
  // A fresh client: nothing cached yet, so every thread races to build the transport and to
  // fill the discovery caches (what `wb logs -f` does when it starts one thread per replica).
  auto client = make_client(*rc);
  const std::string ns = rc->namespace_.empty() ? "default" : rc->namespace_;
  constexpr int kThreads = 8;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto ing = client->prefer({types::IngressV1, types::IngressV1beta1});
        if (!ing || ing->version != "v1") {
          failures[t] = ing ? "prefer picked " + ing->version : ing.error().message;
          return;
        }
        auto disc = client->discovery();
        if (!disc || !disc->has("apps/v1", "deployments")) {
          failures[t] = disc ? "discovery lacks deployments" : disc.error().message;
          return;
        }
        auto listed = client->list(types::ConfigMap, ns);
        if (!listed) {
          failures[t] = listed.error().message;
          return;
        }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    CHECK(failures[t].empty());
  }
}
