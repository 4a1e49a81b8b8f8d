#include <nlohmann/json.hpp>

#include "fake_process_runner.hpp"
#include "fakes.hpp"
#include "kube/kubeconfig.hpp"
#include "util/encoding.hpp"

using namespace wb;
using namespace wb::kube;
using util::ErrorCode;
using wb::kube::test::read_text;
using wb::kube::test::TempDir;
using json = nlohmann::json;

namespace {

struct FakeClock {
  util::TimePoint t = *util::parse_rfc3339("2030-01-01T00:00:00Z");
  std::function<util::TimePoint()> fn() {
    return [this] { return t; };
  }
};

std::string cred_json(const std::string& api, const std::string& token, const std::string& expiry = {}) {
  json j = {{"apiVersion", api}, {"kind", "ExecCredential"}, {"status", {{"token", token}}}};
  if (!expiry.empty()) j["status"]["expirationTimestamp"] = expiry;
  return j.dump();
}

const std::string kV1 = "client.authentication.k8s.io/v1";
const std::string kV1beta1 = "client.authentication.k8s.io/v1beta1";

std::string kubeconfig_with_exec(const std::string& exec_yaml) {
  return "current-context: x\n"
         "clusters: [{name: c, cluster: {server: \"https://api.example:6443\", tls-server-name: api.internal, "
         "certificate-authority-data: " +
         util::base64_encode("CA-PEM") +
         "}}]\n"
         "users:\n- name: u\n  user:\n    exec:\n" +
         exec_yaml + "contexts: [{name: x, context: {cluster: c, user: u}}]\n";
}

Result<RestConfig> resolve_file(const std::filesystem::path& f, ExecPluginRunner runner, FakeClock* clock, bool tty) {
  LoadOptions lo;
  lo.explicit_path = f.string();
  auto k = load_kubeconfig(lo);
  REQUIRE(k.ok());
  ResolveOptions ro;
  ro.runner = std::move(runner);
  if (clock) ro.now = clock->fn();
  ro.stdin_is_tty = tty;
  return resolve_context(*k, ro);
}

}  // namespace

TEST_CASE("exec plugin v1 with a fake runner: ExecCredential input, cache until expiry, invalidate", "[exec]") {
  TempDir d;
  auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1\n"
                                                  "      command: get-token\n"
                                                  "      args: [--cluster, prod]\n"
                                                  "      env: [{name: FOO, value: bar}]\n"
                                                  "      interactiveMode: IfAvailable\n"
                                                  "      provideClusterInfo: true\n"));
  FakeClock clock;
  int calls = 0;
  json last_info;
  ExecConfig last_exec;
  auto runner = [&](const ExecConfig& x, const std::string& info) -> Result<std::string> {
    ++calls;
    last_info = json::parse(info);
    last_exec = x;
    return cred_json(kV1, "tok-" + std::to_string(calls), "2030-01-01T01:00:00Z");
  };
  auto rc = resolve_file(f, runner, &clock, true);
  REQUIRE(rc.ok());
  REQUIRE(rc->credentials);
  CHECK(rc->credentials->refreshable());

  auto c1 = rc->credentials->get();
  REQUIRE(c1.ok());
  CHECK(c1->bearer_token == "tok-1");
  CHECK(last_exec.command == "get-token");
  CHECK(last_exec.args == std::vector<std::string>{"--cluster", "prod"});
  CHECK(last_exec.env == std::vector<std::pair<std::string, std::string>>{{"FOO", "bar"}});
  CHECK(last_info["apiVersion"] == kV1);
  CHECK(last_info["kind"] == "ExecCredential");
  CHECK(last_info["spec"]["interactive"] == true);
  CHECK(last_info["spec"]["cluster"]["server"] == "https://api.example:6443");
  CHECK(last_info["spec"]["cluster"]["tls-server-name"] == "api.internal");
  CHECK(last_info["spec"]["cluster"]["certificate-authority-data"] == util::base64_encode("CA-PEM"));

  clock.t += std::chrono::minutes(59);
  CHECK(rc->credentials->get()->bearer_token == "tok-1");
  CHECK(calls == 1);
  clock.t += std::chrono::minutes(2);  // past expirationTimestamp
  CHECK(rc->credentials->get()->bearer_token == "tok-2");
  CHECK(calls == 2);
  rc->credentials->invalidate();
  CHECK(rc->credentials->get()->bearer_token == "tok-3");
  CHECK(calls == 3);
}

TEST_CASE("exec plugin v1beta1: no expiry caches until invalidate; client certificates", "[exec]") {
  TempDir d;
  auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                                  "      command: certs\n"));
  int calls = 0;
  json info;
  auto runner = [&](const ExecConfig&, const std::string& i) -> Result<std::string> {
    ++calls;
    info = json::parse(i);
    return json{{"apiVersion", kV1beta1},
                {"kind", "ExecCredential"},
                {"status", {{"clientCertificateData", "CERT"}, {"clientKeyData", "KEY"}}}}
        .dump();
  };
  auto rc = resolve_file(f, runner, nullptr, false);
  REQUIRE(rc.ok());
  auto c = rc->credentials->get();
  REQUIRE(c.ok());
  CHECK(c->client_cert_data == "CERT");
  CHECK(c->client_key_data == "KEY");
  CHECK(c->bearer_token.empty());
  CHECK(info["spec"]["interactive"] == false);  // IfAvailable (default) without a TTY
  CHECK_FALSE(info["spec"].contains("cluster"));
  (void)rc->credentials->get();
  CHECK(calls == 1);
  rc->credentials->invalidate();
  (void)rc->credentials->get();
  CHECK(calls == 2);
}

TEST_CASE("exec plugin configuration and output errors", "[exec]") {
  TempDir d;
  auto runner_out = std::make_shared<std::string>();
  auto runner = [runner_out](const ExecConfig&, const std::string&) -> Result<std::string> { return *runner_out; };

  SECTION("v1 requires interactiveMode") {
    auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1\n"
                                                    "      command: x\n"));
    auto rc = resolve_file(f, runner, nullptr, false);
    REQUIRE_FALSE(rc.ok());
    CHECK(rc.error().code == ErrorCode::Usage);
    CHECK(rc.error().message ==
          "exec plugin of user 'u' uses client.authentication.k8s.io/v1 and must set interactiveMode (Never, "
          "IfAvailable or Always)");
  }
  SECTION("unknown apiVersion") {
    auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1alpha1\n"
                                                    "      command: x\n"));
    auto rc = resolve_file(f, runner, nullptr, false);
    REQUIRE_FALSE(rc.ok());
    CHECK(rc.error().code == ErrorCode::Usage);
  }
  SECTION("apiVersion mismatch between config and output") {
    auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1\n"
                                                    "      interactiveMode: Never\n"
                                                    "      command: x\n"));
    *runner_out = cred_json(kV1beta1, "t");
    auto rc = resolve_file(f, runner, nullptr, false);
    REQUIRE(rc.ok());
    auto c = rc->credentials->get();
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::Auth);
    CHECK(c.error().message ==
          "exec credential plugin 'x' (user 'u') returned apiVersion 'client.authentication.k8s.io/v1beta1', but the "
          "kubeconfig asks for 'client.authentication.k8s.io/v1'");
    *runner_out = "not json at all";
    auto c2 = rc->credentials->get();
    REQUIRE_FALSE(c2.ok());
    CHECK(c2.error().message ==
          "exec credential plugin 'x' (user 'u') returned output that is not an ExecCredential JSON object: not json "
          "at all");
  }
  SECTION("interactiveMode Always needs a terminal; Never never gets one") {
    auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1\n"
                                                    "      interactiveMode: Always\n"
                                                    "      command: login\n"));
    *runner_out = cred_json(kV1, "t");
    auto rc = resolve_file(f, runner, nullptr, false);
    REQUIRE(rc.ok());
    auto c = rc->credentials->get();
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::Auth);
    CHECK(c.error().message ==
          "exec credential plugin 'login' (user 'u') needs an interactive terminal (interactiveMode: Always), but "
          "stdin is not a terminal");
    auto tty = resolve_file(f, runner, nullptr, true);
    REQUIRE(tty.ok());
    CHECK(tty->credentials->get().ok());

    auto g = d.write("config2", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1\n"
                                                     "      interactiveMode: Never\n"
                                                     "      command: login\n"));
    json seen;
    auto rc2 = resolve_file(
        g,
        [&](const ExecConfig&, const std::string& info) -> Result<std::string> {
          seen = json::parse(info);
          return cred_json(kV1, "t");
        },
        nullptr, true);
    REQUIRE(rc2.ok());
    REQUIRE(rc2->credentials->get().ok());
    CHECK(seen["spec"]["interactive"] == false);
  }
}

TEST_CASE("exec plugin with a real process: env, exec info, caching, failures", "[exec][process]") {
  TempDir d;
  auto script = d.write("bin/plugin.sh", R"SH(#!/bin/sh
n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0)
n=$((n+1))
echo "$n" > "$COUNT_FILE"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$COUNT_FILE.info"
if [ "$1" = "fail" ]; then
  echo "starting" >&2
  echo "error: you must log in first (run: corp-login)" >&2
  exit 3
fi
cat <<EOF
{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",
 "status":{"token":"real-$n","expirationTimestamp":"2030-01-01T00:10:00Z"}}
EOF
)SH",
                        0755);
  auto count = d / "count";
  auto f = d.write("config", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                                  "      command: ./bin/plugin.sh\n"
                                                  "      env: [{name: COUNT_FILE, value: \"" +
                                                  count.string() + "\"}]\n"));
  FakeClock clock;
  auto rc = resolve_file(f, nullptr, &clock, false);  // default_exec_plugin_runner
  REQUIRE(rc.ok());
  auto c = rc->credentials->get();
  INFO((c ? std::string() : c.error().message));
  REQUIRE(c.ok());
  CHECK(c->bearer_token == "real-1");
  auto info = json::parse(read_text(count.string() + ".info"));
  CHECK(info["apiVersion"] == kV1beta1);
  CHECK(info["spec"]["interactive"] == false);
  CHECK(rc->credentials->get()->bearer_token == "real-1");
  CHECK(read_text(count) == "1\n");
  clock.t += std::chrono::minutes(11);
  CHECK(rc->credentials->get()->bearer_token == "real-2");
  rc->credentials->invalidate();
  CHECK(rc->credentials->get()->bearer_token == "real-3");
  CHECK(read_text(count) == "3\n");

  SECTION("non-zero exit: Auth error with stderr's last line") {
    auto g = d.write("config2", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                                     "      command: ./bin/plugin.sh\n"
                                                     "      args: [fail]\n"
                                                     "      env: [{name: COUNT_FILE, value: \"" +
                                                     count.string() + "\"}]\n"));
    auto rc2 = resolve_file(g, nullptr, &clock, false);
    REQUIRE(rc2.ok());
    auto e = rc2->credentials->get();
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == ErrorCode::Auth);
    CHECK(e.error().message == "exec credential plugin '" + script.string() +
                                   "' failed (exit status 3): error: you must log in first (run: corp-login)");
  }
  SECTION("not found: Auth error with the install hint") {
    auto g = d.write("config3", kubeconfig_with_exec("      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                                     "      command: wb-test-no-such-plugin\n"
                                                     "      installHint: |\n"
                                                     "        install it with: brew install corp-login\n"));
    auto rc3 = resolve_file(g, nullptr, &clock, false);
    REQUIRE(rc3.ok());
    auto e = rc3->credentials->get();
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == ErrorCode::Auth);
    CHECK(e.error().message == "exec credential plugin 'wb-test-no-such-plugin' not found");
    CHECK(e.error().hint == "install it with: brew install corp-login");
  }
}

TEST_CASE("exec plugin process: what it gets (terminal, environment, time) and how failures read", "[exec]") {
  auto processes = std::make_shared<wb::test::FakeProcessRunner>();
  ExecConfig exec;
  exec.command = "corp-login";
  exec.args = {"token", "--json"};
  exec.env = {{"CORP_REALM", "prod"}};
  processes->answer = [](const util::ProcessSpec&) {
    util::ProcessResult r;
    r.exit_code = 0;
    r.out = "{}";
    return r;
  };

  auto with_tty = default_exec_plugin_runner(true, processes);
  REQUIRE(with_tty(exec, "{\"kind\":\"ExecCredential\"}").value() == "{}");
  const util::ProcessSpec& s = processes->runs.back();
  CHECK(s.argv == std::vector<std::string>{"corp-login", "token", "--json"});
  CHECK(s.inherit_env);
  CHECK(s.env == std::vector<std::pair<std::string, std::string>>{
                     {"CORP_REALM", "prod"}, {"KUBERNETES_EXEC_INFO", "{\"kind\":\"ExecCredential\"}"}});
  CHECK(s.stdin_from == util::ProcessInput::Inherit);  // it may prompt
  CHECK(s.on_stderr);                                  // and the prompt is shown
  CHECK(s.timeout == std::chrono::minutes(10));

  auto without_tty = default_exec_plugin_runner(false, processes);
  REQUIRE(without_tty(exec, "{}").ok());
  CHECK(processes->runs.back().stdin_from == util::ProcessInput::Null);
  CHECK_FALSE(processes->runs.back().on_stderr);
  CHECK(processes->runs.back().timeout == std::chrono::minutes(2));
  exec.interactive_mode = "Never";
  REQUIRE(with_tty(exec, "{}").ok());
  CHECK(processes->runs.back().stdin_from == util::ProcessInput::Null);

  exec.install_hint = "  brew install corp-login\n";
  processes->answer = [](const util::ProcessSpec&) {
    util::ProcessResult r;
    r.start_error = ENOENT;
    return r;
  };
  auto missing = without_tty(exec, "{}");
  CHECK(missing.error().message == "exec credential plugin 'corp-login' not found");
  CHECK(missing.error().hint == "brew install corp-login");
  processes->answer = [](const util::ProcessSpec&) {
    util::ProcessResult r;
    r.timed_out = true;
    r.signal = 9;
    return r;
  };
  CHECK(without_tty(exec, "{}").error().code == ErrorCode::Timeout);
  processes->answer = [](const util::ProcessSpec&) {
    util::ProcessResult r;
    r.signal = 15;
    r.err = "one\ntwo\n";
    return r;
  };
  CHECK(without_tty(exec, "{}").error().message ==
        "exec credential plugin 'corp-login' failed (killed by signal 15): two");
}

TEST_CASE("exec plugin: bytes that are not UTF-8 and times before 1970 from the kubeconfig and the plugin",
          "[exec][fuzz]") {
  // Found by fuzzing: a server URL with bytes that are not UTF-8 made building KUBERNETES_EXEC_INFO
  // throw (json::dump) and wb terminate; an expirationTimestamp in the year 1015 overflowed the clock.
  TempDir d;
  auto f = d.write("config",
                   "current-context: x\n"
                   "clusters: [{name: c, cluster: {server: \"https://api\xff\xfe.example:6443\"}}]\n"
                   "users:\n- name: u\n  user:\n    exec:\n"
                   "      apiVersion: client.authentication.k8s.io/v1\n"
                   "      command: get-token\n"
                   "      interactiveMode: Never\n"
                   "      provideClusterInfo: true\n"
                   "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
  std::string info;
  std::string expiry = "2030-01-01T01:00:00Z";
  auto runner = [&](const ExecConfig&, const std::string& i) -> Result<std::string> {
    info = i;
    return cred_json(kV1, "tok", expiry);
  };
  FakeClock clock;
  auto rc = resolve_file(f, runner, &clock, false);
  INFO((rc ? std::string() : rc.error().message));
  REQUIRE(rc.ok());
  REQUIRE(rc->credentials);
  auto c = rc->credentials->get();
  REQUIRE(c.ok());
  CHECK(c->bearer_token == "tok");
  auto sent = json::parse(info, nullptr, false);
  REQUIRE_FALSE(sent.is_discarded());  // valid JSON, the bad bytes replaced
  CHECK(sent["spec"]["cluster"]["server"].get<std::string>().find(".example:6443") != std::string::npos);

  expiry = "1015-01-02T03:04:05Z";
  rc->credentials->invalidate();
  auto bad = rc->credentials->get();
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("invalid expirationTimestamp '1015-01-02T03:04:05Z'") != std::string::npos);
}
