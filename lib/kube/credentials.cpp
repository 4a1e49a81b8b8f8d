// Credential sources: static token, basic auth, token files, exec credential plugins.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "kube/kubeconfig.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

extern char** environ;

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
    if (!o_.runner) o_.runner = default_process_runner(o_.stdin_is_tty);
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
      return Error(ErrorCode::Auth, "exec credential plugin '" + x.command + "' (user '" + o_.user_name +
                                        "') needs an interactive terminal (interactiveMode: Always), but stdin is "
                                        "not a terminal",
                   "run the command in a terminal, or log in with the plugin first");
    nlohmann::json info = {{"apiVersion", x.api_version},
                           {"kind", "ExecCredential"},
                           {"spec", {{"interactive", mode != "Never" && o_.stdin_is_tty}}}};
    if (o_.cluster_info) info["spec"]["cluster"] = *o_.cluster_info;

    WB_ASSIGN_OR_RETURN(std::string out, o_.runner(x, info.dump()));
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
    return Error(ErrorCode::Auth, "exec credential plugin '" + o_.exec.command + "' (user '" + o_.user_name +
                                      "') returned " + what);
  }

  Result<std::pair<Credentials, std::optional<util::TimePoint>>> parse(const std::string& out) const {
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::string first = util::trim(out.substr(0, out.find('\n')));
      if (first.size() > 80) first = first.substr(0, 80) + "...";
      return bad("output that is not an ExecCredential JSON object" + (first.empty() ? "" : ": " + first));
    }
    std::string api = j.value("apiVersion", "");
    if (api != o_.exec.api_version)
      return bad("apiVersion '" + api + "', but the kubeconfig asks for '" + o_.exec.api_version + "'");
    if (j.value("kind", "") != "ExecCredential") return bad("kind '" + j.value("kind", "") + "', not ExecCredential");
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
    if (c.bearer_token.empty() && c.client_cert_data.empty())
      return bad("neither a token nor a client certificate");
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

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { close_both(); }
  void close_read() {
    if (fd[0] >= 0) ::close(fd[0]);
    fd[0] = -1;
  }
  void close_write() {
    if (fd[1] >= 0) ::close(fd[1]);
    fd[1] = -1;
  }
  void close_both() {
    close_read();
    close_write();
  }
};

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

ProcessRunner default_process_runner(bool stdin_is_tty) {
  return [stdin_is_tty](const ExecConfig& exec, const std::string& exec_info) -> Result<std::string> {
    std::string mode = exec.interactive_mode.empty() ? "IfAvailable" : exec.interactive_mode;
    bool pass_stdin = mode != "Never" && stdin_is_tty;
    if (mode == "Always" && !stdin_is_tty)
      return Error(ErrorCode::Auth, "exec credential plugin '" + exec.command +
                                        "' needs an interactive terminal (interactiveMode: Always), but stdin is not "
                                        "a terminal");

    // Environment: ours, then the kubeconfig's additions, then KUBERNETES_EXEC_INFO.
    std::vector<std::pair<std::string, std::string>> env;
    auto put = [&](const std::string& k, const std::string& v) {
      for (auto& kv : env)
        if (kv.first == k) {
          kv.second = v;
          return;
        }
      env.emplace_back(k, v);
    };
    for (char** e = environ; e && *e; ++e) {
      std::string_view s(*e);
      size_t eq = s.find('=');
      if (eq == std::string_view::npos) continue;
      env.emplace_back(std::string(s.substr(0, eq)), std::string(s.substr(eq + 1)));
    }
    for (const auto& [k, v] : exec.env) put(k, v);
    put("KUBERNETES_EXEC_INFO", exec_info);
    std::vector<std::string> env_strings;
    env_strings.reserve(env.size());
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    std::vector<std::string> args{exec.command};
    args.insert(args.end(), exec.args.begin(), exec.args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    Pipe out, err;
    if (::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0)
      return Error(ErrorCode::Failure, std::string("cannot run exec credential plugin: ") + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
    if (!pass_stdin) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    int rc = exec.command.find('/') == std::string::npos
                 ? ::posix_spawnp(&pid, exec.command.c_str(), &fa, nullptr, argv.data(), envp.data())
                 : ::posix_spawn(&pid, exec.command.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      std::string hint = exec.install_hint.empty() ? "install it, or fix the command in your kubeconfig"
                                                   : util::trim(exec.install_hint);
      if (rc == ENOENT)
        return Error(ErrorCode::Auth, "exec credential plugin '" + exec.command + "' not found", hint);
      return Error(ErrorCode::Auth,
                   "cannot run exec credential plugin '" + exec.command + "': " + std::strerror(rc), hint);
    }
    out.close_write();
    err.close_write();

    std::string stdout_text, stderr_text;
    auto deadline = std::chrono::steady_clock::now() + (pass_stdin ? std::chrono::minutes(10) : std::chrono::minutes(2));
    bool timed_out = false;
    while (out.fd[0] >= 0 || err.fd[0] >= 0) {
      pollfd fds[2];
      nfds_t n = 0;
      if (out.fd[0] >= 0) fds[n++] = {out.fd[0], POLLIN, 0};
      if (err.fd[0] >= 0) fds[n++] = {err.fd[0], POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      int pr = ::poll(fds, n, static_cast<int>(std::min<long long>(left.count(), 1000)));
      if (pr < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (nfds_t i = 0; i < n; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[8192];
        ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        bool is_out = fds[i].fd == out.fd[0];
        if (got <= 0) {
          (is_out ? out : err).close_read();
          continue;
        }
        if (is_out) {
          if (stdout_text.size() < (16u << 20)) stdout_text.append(buf, static_cast<size_t>(got));
        } else {
          // Interactive plugins prompt on stderr: let the user see it.
          if (pass_stdin) (void)!::write(2, buf, static_cast<size_t>(got));
          stderr_text.append(buf, static_cast<size_t>(got));
          if (stderr_text.size() > 65536) stderr_text.erase(0, stderr_text.size() - 65536);
        }
      }
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
      return Error(ErrorCode::Timeout, "exec credential plugin '" + exec.command + "' did not finish in time");
    std::string tail = last_line(stderr_text);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return stdout_text;
    std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    Error e(ErrorCode::Auth, "exec credential plugin '" + exec.command + "' failed (" + how + ")" +
                                 (tail.empty() ? std::string() : ": " + tail));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !exec.install_hint.empty())
      e.hint = util::trim(exec.install_hint);
    return e;
  };
}

}  // namespace wb::kube
