// Credential sources: static token, basic auth, token files, exec credential plugins.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "kube/kubeconfig.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

namespace wb::kube {

using util::Error;
using util::ErrorCode;

namespace {

class StaticSource : public CredentialSource {
 public:
  explicit StaticSource(Credentials c) : creds_(std::move(c)) {}
  Result<Credentials> get() override { return creds_; }
  void invalidate() override {}

 private:
  Credentials creds_;
};

class TokenFileSource : public CredentialSource {
 public:
  explicit TokenFileSource(std::filesystem::path path) : path_(std::move(path)) {}
  Result<Credentials> get() override {
    auto text = util::read_file(path_);
    if (!text) return Error(ErrorCode::Auth, "cannot read token file " + path_.string() + ": " + text.error().message);
    Credentials c;
    c.bearer_token = util::trim(*text);
    if (c.bearer_token.empty()) return Error(ErrorCode::Auth, "token file " + path_.string() + " is empty");
    return c;
  }
  void invalidate() override {}
  bool refreshable() const override { return true; }

 private:
  std::filesystem::path path_;
};

class ExecSource : public CredentialSource {
 public:
  explicit ExecSource(ExecSourceOptions o) : o_(std::move(o)) {
    if (!o_.runner) o_.runner = default_exec_plugin_runner(o_.stdin_is_tty);
    if (!o_.now) o_.now = [] { return util::Clock::now(); };
  }

  Result<Credentials> get() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ && (!expiry_ || o_.now() < *expiry_)) return *cached_;
    cached_.reset();
    expiry_.reset();

    const ExecConfig& x = o_.exec;
    std::string mode = x.interactive_mode.empty() ? "IfAvailable" : x.interactive_mode;
    if (mode == "Always" && !o_.stdin_is_tty)
      return Error(ErrorCode::Auth,
                   "exec credential plugin '" + x.command + "' (user '" + o_.user_name +
                       "') needs an interactive terminal (interactiveMode: Always), but stdin is "
                       "not a terminal",
                   "run the command in a terminal, or log in with the plugin first");
    nlohmann::json info = {{"apiVersion", x.api_version},
                           {"kind", "ExecCredential"},
                           {"spec", {{"interactive", mode != "Never" && o_.stdin_is_tty}}}};
    if (o_.cluster_info) info["spec"]["cluster"] = *o_.cluster_info;

    WB_ASSIGN_OR_RETURN(std::string out,
                        o_.runner(x, info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    WB_ASSIGN_OR_RETURN(auto parsed, parse(out));
    cached_ = parsed.first;
    expiry_ = parsed.second;
    return *cached_;
  }

  void invalidate() override {
    std::lock_guard<std::mutex> lock(mu_);
    cached_.reset();
    expiry_.reset();
  }
  bool refreshable() const override { return true; }

 private:
  Error bad(const std::string& what) const {
    return Error(ErrorCode::Auth,
                 "exec credential plugin '" + o_.exec.command + "' (user '" + o_.user_name + "') returned " + what);
  }

  Result<std::pair<Credentials, std::optional<util::TimePoint>>> parse(const std::string& out) const {
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::string first = util::trim(out.substr(0, out.find('\n')));
      if (first.size() > 80) first = first.substr(0, 80) + "...";
      return bad("output that is not an ExecCredential JSON object" + (first.empty() ? "" : ": " + first));
    }
    std::string api = util::json_value(j, "apiVersion", "");
    if (api != o_.exec.api_version)
      return bad("apiVersion '" + api + "', but the kubeconfig asks for '" + o_.exec.api_version + "'");
    if (util::json_value(j, "kind", "") != "ExecCredential")
      return bad("kind '" + util::json_value(j, "kind", "") + "', not ExecCredential");
    auto st = j.find("status");
    if (st == j.end() || !st->is_object()) return bad("an ExecCredential without status");
    auto str = [&](const char* k) -> std::string {
      auto it = st->find(k);
      return it != st->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    Credentials c;
    c.bearer_token = str("token");
    c.client_cert_data = str("clientCertificateData");
    c.client_key_data = str("clientKeyData");
    if (c.client_cert_data.empty() != c.client_key_data.empty())
      return bad("only one of clientCertificateData and clientKeyData");
    if (c.bearer_token.empty() && c.client_cert_data.empty()) return bad("neither a token nor a client certificate");
    std::optional<util::TimePoint> expiry;
    std::string exp = str("expirationTimestamp");
    if (!exp.empty()) {
      expiry = util::parse_rfc3339(exp);
      if (!expiry) return bad("an invalid expirationTimestamp '" + exp + "'");
    }
    return std::make_pair(std::move(c), expiry);
  }

  ExecSourceOptions o_;
  std::mutex mu_;
  std::optional<Credentials> cached_;
  std::optional<util::TimePoint> expiry_;
};

std::string last_line(std::string_view text) {
  std::string t = util::trim(text);
  size_t nl = t.rfind('\n');
  std::string line = nl == std::string::npos ? t : util::trim(t.substr(nl + 1));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

}  // namespace

std::shared_ptr<CredentialSource> static_token_source(std::string token) {
  Credentials c;
  c.bearer_token = std::move(token);
  return std::make_shared<StaticSource>(std::move(c));
}

std::shared_ptr<CredentialSource> basic_auth_source(std::string user, std::string password) {
  Credentials c;
  c.basic_user = std::move(user);
  c.basic_password = std::move(password);
  return std::make_shared<StaticSource>(std::move(c));
}

std::shared_ptr<CredentialSource> token_file_source(std::filesystem::path path) {
  return std::make_shared<TokenFileSource>(std::move(path));
}

std::shared_ptr<CredentialSource> exec_credential_source(ExecSourceOptions options) {
  return std::make_shared<ExecSource>(std::move(options));
}

ExecPluginRunner default_exec_plugin_runner(bool stdin_is_tty, std::shared_ptr<util::ProcessRunner> processes) {
  if (!processes) processes = util::system_process_runner();
  return [stdin_is_tty, processes](const ExecConfig& exec, const std::string& exec_info) -> Result<std::string> {
    std::string mode = exec.interactive_mode.empty() ? "IfAvailable" : exec.interactive_mode;
    bool pass_stdin = mode != "Never" && stdin_is_tty;
    if (mode == "Always" && !stdin_is_tty)
      return Error(ErrorCode::Auth, "exec credential plugin '" + exec.command +
                                        "' needs an interactive terminal (interactiveMode: Always), but stdin is not "
                                        "a terminal");

    util::ProcessSpec spec;
    spec.argv = {exec.command};
    spec.argv.insert(spec.argv.end(), exec.args.begin(), exec.args.end());
    // Environment: ours, then the kubeconfig's additions, then KUBERNETES_EXEC_INFO.
    spec.env = exec.env;
    spec.env.emplace_back("KUBERNETES_EXEC_INFO", exec_info);
    // An interactive plugin gets the terminal and prompts on stderr: let the user see it.
    spec.stdin_from = pass_stdin ? util::ProcessInput::Inherit : util::ProcessInput::Null;
    if (pass_stdin) spec.on_stderr = [](std::string_view text) { (void)!::write(2, text.data(), text.size()); };
    spec.stdout_limit = 16u << 20;
    spec.stderr_limit = 64u << 10;
    spec.timeout = pass_stdin ? std::chrono::minutes(10) : std::chrono::minutes(2);
    const util::ProcessResult run = processes->run(spec);
    if (!run.started()) {
      std::string hint = exec.install_hint.empty() ? "install it, or fix the command in your kubeconfig"
                                                   : util::trim(exec.install_hint);
      if (run.start_error == ENOENT)
        return Error(ErrorCode::Auth, "exec credential plugin '" + exec.command + "' not found", hint);
      return Error(ErrorCode::Auth,
                   "cannot run exec credential plugin '" + exec.command + "': " + std::strerror(run.start_error), hint);
    }
    if (run.timed_out)
      return Error(ErrorCode::Timeout, "exec credential plugin '" + exec.command + "' did not finish in time");
    if (run.succeeded()) return run.out;
    std::string tail = last_line(run.err);
    std::string how =
        run.signal ? "killed by signal " + std::to_string(run.signal) : "exit status " + std::to_string(run.exit_code);
    Error e(ErrorCode::Auth, "exec credential plugin '" + exec.command + "' failed (" + how + ")" +
                                 (tail.empty() ? std::string() : ": " + tail));
    if (run.exit_code == 127 && !exec.install_hint.empty()) e.hint = util::trim(exec.install_hint);
    return e;
  };
}

}  // namespace wb::kube
