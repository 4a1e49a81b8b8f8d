// Real servers for the [registry] tests: Debian's docker-registry on a free loopback port (plain,
// or TLS + htpasswd), the cutting TCP proxy and the token-auth front (tests/servers/*.py), and a
// helper to run checker commands such as skopeo.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "oci_test_util.hpp"

extern char** environ;

namespace wb::oci::test {

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs a command (no shell) and collects its output.
inline CommandResult run_command(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  CommandResult r;
  if (rc != 0) {
    ::close(out[0]);
    r.output = "cannot run " + args[0];
    return r;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A child process whose stdin we hold (our test servers exit when it closes).
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { stop(); }

  // Starts `args`; stdout/stderr go to `log` (a file) unless `ready_line` is wanted, in which case
  // the first stdout line is returned.
  std::string start(const std::vector<std::string>& args, const std::string& log, bool ready_line) {
    int in[2], out[2] = {-1, -1};
    if (::pipe(in) != 0 || (ready_line && ::pipe(out) != 0)) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (ready_line) {
      posix_spawn_file_actions_adddup2(&fa, out[1], 1);
      posix_spawn_file_actions_addclose(&fa, out[0]);
    } else {
      posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    int rc = posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    stdin_fd_ = in[1];
    if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
    if (!ready_line) return "";
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    return line;
  }

  void stop() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }
  bool running() const {
    int st = 0;
    return pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
};

// docker-registry serve on 127.0.0.1:<free port>.
class RegistryServer {
 public:
  explicit RegistryServer(bool tls = false, std::string user = "robot$ci", std::string password = "pa$$word")
      : tls_(tls), user_(std::move(user)), password_(std::move(password)) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      write_config();
      proc_ = std::make_unique<ChildProcess>();
      proc_->start({"docker-registry", "serve", (dir_ / "config.yml").string()}, (dir_ / "registry.log").string(),
                   false);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (std::chrono::steady_clock::now() < deadline && proc_->running()) {
        if (can_connect(port_)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      proc_->stop();
    }
    throw std::runtime_error("docker-registry did not start; see " + (dir_ / "registry.log").string());
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::string ca_file() const { return (dir_ / "cert.pem").string(); }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  std::filesystem::path config() const { return dir_ / "config.yml"; }
  std::string log() const {
    std::ifstream in(dir_ / "registry.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  void write_config() {
    std::ostringstream c;
    c << "version: 0.1\nlog: {level: warn}\n"
      << "storage: {filesystem: {rootdirectory: " << (dir_ / "data").string() << "}, delete: {enabled: true}}\n"
      << "http:\n  addr: 127.0.0.1:" << port_ << "\n";
    if (tls_) {
      if (!std::filesystem::exists(dir_ / "cert.pem")) {
        auto r = run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                              "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
                              (dir_ / "key.pem").string(), "-out", (dir_ / "cert.pem").string()});
        if (r.status != 0) throw std::runtime_error("openssl failed: " + r.output);
        r = run_command({"htpasswd", "-Bbc", (dir_ / "htpasswd").string(), user_, password_});
        if (r.status != 0) throw std::runtime_error("htpasswd failed: " + r.output);
      }
      c << "  tls: {certificate: " << (dir_ / "cert.pem").string() << ", key: " << (dir_ / "key.pem").string()
        << "}\n";
      c << "auth: {htpasswd: {realm: basic-realm, path: " << (dir_ / "htpasswd").string() << "}}\n";
    }
    dir_.write("config.yml", c.str());
  }

  bool tls_;
  std::string user_, password_;
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

// A Python test server from tests/servers that prints "READY <port> ..." first.
class PythonServer {
 public:
  PythonServer(const std::string& script, const std::vector<std::string>& args) {
    std::vector<std::string> argv{WB_TEST_PYTHON, std::string(WB_SOURCE_DIR) + "/tests/servers/" + script};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string line = proc_.start(argv, (dir_ / "server.log").string(), true);
    std::istringstream words(line);
    std::string ready;
    words >> ready >> port_;
    if (ready != "READY") throw std::runtime_error(script + " did not start: " + line + " " + log());
  }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const {
    std::ifstream in(dir_ / "server.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  TempDir dir_;
  ChildProcess proc_;
  int port_ = 0;
};

}  // namespace wb::oci::test
