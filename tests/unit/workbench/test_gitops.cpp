// GitOps: YAML that reads back as written, cleaning cluster-owned fields, the folder layout and
// kustomizations, the image and config edits, commit messages, and commits with real git (a bare
// repository as the remote): dirty checkouts refused, a refused push rebased once, a conflicting
// rebase undone.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fake_process_runner.hpp"
#include "temp_dir.hpp"
#include "util/fs.hpp"
#include "workbench/core/app.hpp"
#include "workbench/delivery/gitops.hpp"

using namespace wb::workbench;
using namespace wb::workbench::gitops;
using nlohmann::json;
using wb::test::TempDir;
using wb::util::ErrorCode;

namespace {

json sample_deployment() {
  AppSpec spec;
  spec.name = "orders";
  spec.workspace = "shop-dev";
  spec.image = "registry.example.com/shop/orders@sha256:" + std::string(64, 'a');
  Settings settings;
  auto objs = build_objects(spec, settings, BuildContext{});
  REQUIRE(objs.ok());
  json d = objs.value().deployment;
  d["metadata"]["resourceVersion"] = "42";
  d["metadata"]["uid"] = "u-1";
  d["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z";
  d["metadata"]["managedFields"] = json::array({{{"manager", "wb"}}});
  d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3";
  d["status"] = {{"replicas", 1}};
  return d;
}

std::vector<json> sample_objects() {
  AppSpec spec;
  spec.name = "orders";
  spec.workspace = "shop-dev";
  spec.image = "registry.example.com/shop/orders@sha256:" + std::string(64, 'a');
  Settings settings;
  auto objs = build_objects(spec, settings, BuildContext{});
  REQUIRE(objs.ok());
  ConfigContent content;
  content.env = {{"GREETING", "hello"}};
  json d = objs.value().deployment;
  point_template_to_config(d["spec"]["template"], "orders", 1, content);
  json svc = objs.value().service;
  svc["spec"]["clusterIP"] = "10.0.0.7";
  return {d, svc,
          config_map_object("orders", "shop-dev", 1, content, VersionMeta{"alice", "first", "set GREETING"}, true)};
}

std::string sh(const std::string& cmd) {
  std::string full =
      "env HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x "
      "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x sh -c '" +
      cmd + "' 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  INFO(cmd << "\n" << out);
  REQUIRE(rc == 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A bare remote and a clone with the exported app committed and pushed.
struct Repo {
  TempDir tmp{"wb-gitops-test"};
  std::string remote, checkout;
  Repo() {
    remote = (tmp / "remote.git").string();
    checkout = (tmp / "checkout").string();
    sh("git init -q --bare -b main " + remote + " && git clone -q " + remote + " " + checkout);
    REQUIRE(write_app(checkout, "shop-dev", "orders", sample_objects()).ok());
    sh("cd " + checkout + " && git add -A && git commit -q -m export && git push -q origin main");
  }
  std::string clone(const std::string& name) {
    std::string path = (tmp / name).string();
    sh("git clone -q " + remote + " " + path);
    return path;
  }
};

CommitOptions options(const std::string& root, bool push) {
  CommitOptions o;
  o.root = root;
  o.message = "orders: test\n\nApp: orders\n";
  o.push = push;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

}  // namespace

TEST_CASE("YAML reads back exactly what was written", "[workbench][gitops]") {
  json o = {{"strings",
             {"true",
              "yes",
              "No",
              "on",
              "y",
              "null",
              "~",
              "",
              "1.0",
              "0755",
              "1e3",
              "0x1f",
              "1:30",
              "2024-01-02",
              "-1",
              ".5",
              "a: b",
              "- x",
              "#c",
              "*star",
              "&amp",
              "multi\nline\n",
              "no trailing\nnewline",
              "two trailing\n\n",
              "  leading\nspace\n",
              "tab\tin",
              "unicode \xc3\xa9",
              "127.0.0.1:5000/a@sha256:00",
              "-XX:MaxRAMPercentage=75.0",
              "500m",
              "1Gi",
              "8080/tcp"}},
            {"numbers", {0, 8080, -3, 75.5}},
            {"flags", {true, false}},
            {"empty_map", json::object()},
            {"empty_list", json::array()},
            {"nothing", nullptr},
            {"keys", {{"Y", 1}, {"on", 2}, {"1", 3}, {"app.kubernetes.io/name", "x"}}}};
  const std::string text = to_yaml(o);
  auto back = parse_yaml(text, "t.yaml");
  REQUIRE(back.ok());
  REQUIRE(back.value().size() == 1);
  CHECK(back.value()[0] == o);
  // Strings that look like something else are quoted, plain ones are not.
  CHECK(text.find("- \"true\"") != std::string::npos);
  CHECK(text.find("- 500m") != std::string::npos);
  CHECK(text.find("- 127.0.0.1:5000/a@sha256:00") != std::string::npos);

  auto bad = parse_yaml("a: [1,\n", "bad.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::Usage);
  CHECK(bad.error().message.rfind("bad.yaml:", 0) == 0);
}

TEST_CASE("cluster-owned fields are dropped, config versions kept from pruning", "[workbench][gitops]") {
  json d = without_cluster_fields(sample_deployment());
  CHECK_FALSE(d.contains("status"));
  for (const char* f : {"resourceVersion", "uid", "creationTimestamp", "managedFields"})
    CHECK_FALSE(d["metadata"].contains(f));
  CHECK_FALSE(d["metadata"].value("annotations", json::object()).contains("deployment.kubernetes.io/revision"));
  CHECK(d["metadata"]["labels"]["app.kubernetes.io/name"] == "orders");
  CHECK(d.dump().find("app.kubernetes.io/instance") == std::string::npos);

  json svc = without_cluster_fields(sample_objects()[1]);
  CHECK_FALSE(svc["spec"].contains("clusterIP"));

  // What a real API server (1.32) filled in when wb created them: gone; what wb set: kept.
  json served = sample_deployment();
  served["spec"]["progressDeadlineSeconds"] = 600;
  json& pod = served["spec"]["template"]["spec"];
  pod["dnsPolicy"] = "ClusterFirst";
  pod["restartPolicy"] = "Always";
  pod["schedulerName"] = "default-scheduler";
  pod["securityContext"] = json::object();
  pod["containers"][0]["terminationMessagePath"] = "/dev/termination-log";
  pod["volumes"].push_back({{"name", "wb-config"}, {"configMap", {{"name", "orders-config-v1"}, {"defaultMode", 420}}}});
  json want = without_cluster_fields(sample_deployment());
  want["spec"]["template"]["spec"]["volumes"].push_back({{"name", "wb-config"}, {"configMap", {{"name", "orders-config-v1"}}}});
  CHECK(without_cluster_fields(served) == want);
  pod["dnsPolicy"] = "None";  // not the default: someone chose it
  pod["volumes"].back()["configMap"]["defaultMode"] = 256;
  json kept = without_cluster_fields(served);
  CHECK(kept["spec"]["template"]["spec"]["dnsPolicy"] == "None");
  CHECK(kept["spec"]["template"]["spec"]["volumes"].back()["configMap"]["defaultMode"] == 256);
  json served_svc = sample_objects()[1];
  served_svc["spec"]["ipFamilies"] = json::array({"IPv4"});
  served_svc["spec"]["ipFamilyPolicy"] = "SingleStack";
  served_svc["spec"]["internalTrafficPolicy"] = "Cluster";
  served_svc["spec"]["sessionAffinity"] = "None";
  CHECK(without_cluster_fields(served_svc) == svc);

  json cm = sample_objects()[2];
  keep_from_pruning(cm);
  CHECK(cm["metadata"]["annotations"][kArgoSyncOptions] == "Prune=false");
  CHECK(cm["metadata"]["annotations"][kArgoCompareOptions] == "IgnoreExtraneous");

  CHECK(file_name_for(d, "orders") == "deployment.yaml");
  CHECK(file_name_for(svc, "orders") == "service.yaml");
  CHECK(file_name_for(cm, "orders") == "config-v1.yaml");
  CHECK(file_name_for(json{{"kind", "ConfigMap"}, {"metadata", {{"name", "orders-routes-v4"}}}}, "orders") ==
        "routes-v4.yaml");
  CHECK(file_name_for(json{{"kind", "ConfigMap"}, {"metadata", {{"name", "other"}}}}, "orders") ==
        "configmap-other.yaml");
}

TEST_CASE("an export is one folder per workspace and app, listed by kustomizations", "[workbench][gitops]") {
  TempDir tmp("wb-gitops-export");
  auto w = write_app(tmp.path(), "shop-dev", "orders", sample_objects());
  REQUIRE(w.ok());
  CHECK(w.value().files == std::vector<std::string>{"kustomization.yaml", "shop-dev/kustomization.yaml",
                                                    "shop-dev/orders/config-v1.yaml", "shop-dev/orders/deployment.yaml",
                                                    "shop-dev/orders/kustomization.yaml",
                                                    "shop-dev/orders/service.yaml"});
  auto k = parse_yaml(wb::util::read_file(tmp / "shop-dev/orders/kustomization.yaml").value(), "k");
  REQUIRE(k.ok());
  CHECK(k.value()[0]["resources"] == json::array({"config-v1.yaml", "deployment.yaml", "service.yaml"}));
  CHECK(k.value()[0]["kind"] == "Kustomization");

  // The user's own file stays listed; a second app joins the workspace.
  tmp.write("shop-dev/orders/hpa.yaml", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n");
  auto kust = parse_yaml(wb::util::read_file(tmp / "shop-dev/orders/kustomization.yaml").value(), "k").value()[0];
  kust["resources"].push_back("hpa.yaml");
  tmp.write("shop-dev/orders/kustomization.yaml", to_yaml(kust));
  auto objs = sample_objects();
  objs.pop_back();  // no config now: config-v1.yaml goes
  auto again = write_app(tmp.path(), "shop-dev", "orders", objs);
  INFO((again.ok() ? "" : again.error().message));
  REQUIRE(again.ok());
  CHECK(again.value().removed == std::vector<std::string>{"shop-dev/orders/config-v1.yaml"});
  CHECK_FALSE(std::filesystem::exists(tmp / "shop-dev/orders/config-v1.yaml"));
  k = parse_yaml(wb::util::read_file(tmp / "shop-dev/orders/kustomization.yaml").value(), "k");
  CHECK(k.value()[0]["resources"] == json::array({"deployment.yaml", "hpa.yaml", "service.yaml"}));

  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "orders-secret-v1"}}}};
  auto refused = write_app(tmp.path(), "shop-dev", "orders", {secret});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::Usage);

  auto ws = find_workspace(tmp.path(), "orders", "");
  REQUIRE(ws.ok());
  CHECK(ws.value() == "shop-dev");
  auto none = find_workspace(tmp.path(), "payments", "");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::NotFound);
  REQUIRE(write_app(tmp.path(), "shop-prod", "orders", objs).ok());
  auto two = find_workspace(tmp.path(), "orders", "");
  REQUIRE_FALSE(two.ok());
  CHECK(two.error().message.find("shop-dev, shop-prod") != std::string::npos);
  auto root = parse_yaml(wb::util::read_file(tmp / "kustomization.yaml").value(), "k");
  CHECK(root.value()[0]["resources"] == json::array({"shop-dev", "shop-prod"}));
}

TEST_CASE("the image edit changes only the image scalar, comments stay", "[workbench][gitops]") {
  TempDir tmp("wb-gitops-image");
  REQUIRE(write_app(tmp.path(), "shop-dev", "orders", sample_objects()).ok());
  auto text = wb::util::read_file(tmp / "shop-dev/orders/deployment.yaml").value();
  tmp.write("shop-dev/orders/deployment.yaml", "# managed by wb\n" + text);
  auto app = read_app(tmp.path(), "shop-dev", "orders");
  REQUIRE(app.ok());
  CHECK(checkout_image(app.value()) == "registry.example.com/shop/orders@sha256:" + std::string(64, 'a'));
  const std::string image = "registry.example.com/shop/orders@sha256:" + std::string(64, 'b');
  auto change = image_change(app.value(), image);
  REQUIRE(change.ok());
  REQUIRE(change.value().files.size() == 1);
  const std::string edited = *change.value().files.at("shop-dev/orders/deployment.yaml");
  std::istringstream a("# managed by wb\n" + text), b(edited);
  std::string la, lb;
  int differing = 0;
  while (std::getline(a, la) && std::getline(b, lb))
    if (la != lb) {
      ++differing;
      CHECK(lb.find("image: " + image) != std::string::npos);
    }
  CHECK(differing == 1);
  CHECK(edited.rfind("# managed by wb\n", 0) == 0);
  // Already that image: nothing to change.
  REQUIRE(apply_files(tmp.path(), change.value()).ok());
  auto again = read_app(tmp.path(), "shop-dev", "orders");
  REQUIRE(again.ok());
  CHECK(image_change(again.value(), image).value().empty());

  // A kustomize images: transformer would override it: refused.
  auto k = wb::util::read_file(tmp / "shop-dev/orders/kustomization.yaml").value();
  tmp.write("shop-dev/orders/kustomization.yaml",
            k + "images:\n- name: registry.example.com/shop/orders\n  newTag: x\n");
  auto overridden = read_app(tmp.path(), "shop-dev", "orders");
  REQUIRE(overridden.ok());
  auto refused = image_change(overridden.value(), "registry.example.com/shop/orders@sha256:" + std::string(64, 'c'));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("images:") != std::string::npos);
}

TEST_CASE("a config version in the checkout: next number, reference moved, retention", "[workbench][gitops]") {
  TempDir tmp("wb-gitops-config");
  auto objs = sample_objects();
  // The app also uses a Secret that stays in the cluster.
  objs[0]["spec"]["template"]["spec"]["containers"][0]["envFrom"].push_back(
      {{"secretRef", {{"name", "orders-secret-v1"}}}});
  REQUIRE(write_app(tmp.path(), "shop-dev", "orders", objs).ok());
  for (int round = 2; round <= 4; ++round) {
    auto app = read_app(tmp.path(), "shop-dev", "orders");
    REQUIRE(app.ok());
    ConfigChange change;
    change.set = {{"N", std::to_string(round)}};
    change.message = "round " + std::to_string(round);
    auto made = config_change(app.value(), change, "alice", 2);
    REQUIRE(made.ok());
    CHECK(made.value().version == round);
    CHECK(made.value().base == round - 1);
    REQUIRE(apply_files(tmp.path(), made.value().changes).ok());
    if (round >= 3) CHECK(made.value().dropped == std::vector<int>{round - 2});
  }
  auto app = read_app(tmp.path(), "shop-dev", "orders");
  REQUIRE(app.ok());
  CHECK(app.value().kustomization["resources"] ==
        json::array({"config-v3.yaml", "config-v4.yaml", "deployment.yaml", "service.yaml"}));
  const json& d = app.value().objects.at("deployment.yaml");
  CHECK(referenced_config_version(d["spec"]["template"], "orders") == 4);
  const json env_from = d["spec"]["template"]["spec"]["containers"][0]["envFrom"];
  CHECK(env_from == json::array({{{"configMapRef", {{"name", "orders-config-v4"}}}},
                                 {{"secretRef", {{"name", "orders-secret-v1"}}}}}));
  const json& cm = app.value().objects.at("config-v4.yaml");
  CHECK(cm["data"] == json({{"GREETING", "hello"}, {"N", "4"}}));
  CHECK(cm["immutable"] == true);
  CHECK(cm["metadata"]["annotations"][kArgoSyncOptions] == "Prune=false");
  CHECK(cm["metadata"]["annotations"]["kubernetes.io/change-cause"] == "round 4");
  CHECK_FALSE(std::filesystem::exists(tmp / "shop-dev/orders/config-v2.yaml"));

  ConfigChange secret;
  secret.set = {{"PASSWORD", "x"}};
  secret.secret = true;
  auto refused = config_change(app.value(), secret, "alice", 2);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::Usage);
}

TEST_CASE("commit messages say what and why", "[workbench][gitops]") {
  MessageFacts f;
  f.workspace = "shop-dev";
  f.app = "orders";
  f.jar = "orders.jar";
  f.version = "1.4.2";
  f.image = "reg/shop/orders@sha256:" + std::string(64, 'd');
  f.digest = "sha256:" + std::string(64, 'd');
  f.source_commit = "abc123";
  f.pipeline = "https://ci/pipelines/9";
  const std::string m = commit_message(f);
  CHECK(m.rfind("orders: deploy orders.jar 1.4.2 (sha256:dddddddddddd)\n\n", 0) == 0);
  for (const char* part : {"Jar: orders.jar\n", "Version: 1.4.2\n", "Source-Commit: abc123\n",
                           "Pipeline: https://ci/pipelines/9\n", "Workspace: shop-dev\n"})
    CHECK(m.find(part) != std::string::npos);
  CHECK(m.find("Image: reg/shop/orders@sha256:" + std::string(64, 'd')) != std::string::npos);
  MessageFacts c;
  c.app = "orders";
  c.config_version = 5;
  c.change = "set MODE";
  c.reason = "faster";
  const std::string cm = commit_message(c);
  CHECK(cm.rfind("orders: config v5 (faster)\n\n", 0) == 0);
  CHECK(cm.find("Config-Version: v5\nChange: set MODE\nReason: faster\n") != std::string::npos);
  CHECK(cm.find("Jar:") == std::string::npos);
}

TEST_CASE("git runs in the C locale, never prompting, and its absence says to install it", "[workbench][gitops]") {
  auto processes = std::make_shared<wb::test::FakeProcessRunner>();
  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.exit_code = 1;
    r.out = "o";
    r.err = "fatal: not a git repository";
    return r;
  };
  auto git = real_git(processes);
  auto r = git("/srv/config", {"status", "--porcelain"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 1);
  CHECK(r->out == "o");
  CHECK(git_error_line(*r) == "fatal: not a git repository");
  const auto& spec = processes->runs.at(0);
  CHECK(spec.argv == std::vector<std::string>{"git", "-C", "/srv/config", "status", "--porcelain"});
  CHECK(spec.stdin_from == wb::util::ProcessInput::Null);
  CHECK(spec.unset_env == std::vector<std::string>{"LANGUAGE"});
  CHECK(spec.env == std::vector<std::pair<std::string, std::string>>{{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}});

  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.signal = 9;
    return r;
  };
  CHECK(git("", {"push"})->exit_code == 128 + 9);
  CHECK(processes->runs.back().argv[2] == ".");

  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.start_error = ENOENT;
    return r;
  };
  auto missing = git("/srv/config", {"status"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "cannot run git: No such file or directory");
  CHECK(missing.error().hint == "install git (apt-get install git) and make sure it is on PATH");
}

TEST_CASE("commits with real git: dirty refused, push, rebase once, conflict undone", "[workbench][gitops]") {
  Repo repo;
  auto git = real_git();
  auto change_image = [&](const std::string& checkout, char digit) {
    auto app = read_app(checkout, "shop-dev", "orders");
    REQUIRE(app.ok());
    auto c = image_change(app.value(), "registry.example.com/shop/orders@sha256:" + std::string(64, digit));
    REQUIRE(c.ok());
    return c.value();
  };

  // Dirty: refused, nothing changes.
  std::ofstream(repo.checkout + "/stray.txt") << "x";
  const std::string head0 = sh("git -C " + repo.checkout + " rev-parse HEAD");
  auto dirty = commit_changes(git, options(repo.checkout, false), change_image(repo.checkout, 'b'));
  REQUIRE_FALSE(dirty.ok());
  CHECK(dirty.error().code == ErrorCode::Conflict);
  CHECK(dirty.error().message.find("stray.txt") != std::string::npos);
  CHECK(sh("git -C " + repo.checkout + " rev-parse HEAD") == head0);
  std::filesystem::remove(repo.checkout + "/stray.txt");

  // A behind checkout pushes after one rebase.
  const std::string other = repo.clone("other");
  auto first = commit_changes(git, options(repo.checkout, true), change_image(repo.checkout, 'b'));
  REQUIRE(first.ok());
  CHECK(first.value().pushed_to == "origin/main");
  CHECK_FALSE(first.value().rebased);
  std::ofstream(other + "/shop-dev/notes.txt") << "unrelated\n";
  sh("cd " + other + " && git add -A && git commit -q -m notes");
  FileChanges unrelated;
  unrelated.files["shop-dev/orders/extra.txt"] = "more\n";
  auto second = commit_changes(git, options(other, true), unrelated);
  REQUIRE(second.ok());
  CHECK(second.value().rebased);
  CHECK(sh("git -C " + repo.remote + " rev-parse main") == second.value().commit);
  CHECK(sh("git -C " + repo.remote + " log --format=%s main").find("orders: test") != std::string::npos);

  // Same line changed on both sides: the rebase fails, the checkout is as it was.
  const std::string third = repo.clone("third");
  sh("cd " + repo.checkout + " && git pull -q --rebase");
  REQUIRE(commit_changes(git, options(repo.checkout, true), change_image(repo.checkout, 'c')).ok());
  const std::string head3 = sh("git -C " + third + " rev-parse HEAD");
  const std::string before = wb::util::read_file(third + "/shop-dev/orders/deployment.yaml").value();
  auto lost = commit_changes(git, options(third, true), change_image(third, 'd'));
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.error().code == ErrorCode::Conflict);
  CHECK(lost.error().message.find("rebase") != std::string::npos);
  CHECK(sh("git -C " + third + " rev-parse HEAD") == head3);
  CHECK(sh("git -C " + third + " status --porcelain").empty());
  CHECK(wb::util::read_file(third + "/shop-dev/orders/deployment.yaml").value() == before);

  // Not a checkout at all.
  TempDir plain("wb-gitops-plain");
  auto not_git = check_checkout(git, options(plain.path().string(), false));
  REQUIRE_FALSE(not_git.ok());
  CHECK(not_git.error().code == ErrorCode::Usage);
}
