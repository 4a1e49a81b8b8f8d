// Starts tests/servers/httptest.py once per test binary and stops it at exit.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>

#include "util/fs.hpp"

extern char** environ;

namespace wb::test {

class TestServer {
 public:
  // The shared server (started on first use).
  static TestServer& get() {
    static TestServer server;
    return server;
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
  std::string tls_url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(tls_port) + path;
  }
  std::string mtls_url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(mtls_port) + path;
  }
  std::string cert(const std::string& name) const { return cert_dir + "/" + name; }
  std::string cert_pem(const std::string& name) const { return util::read_file(cert(name)).value(); }

  int port = 0, tls_port = 0, mtls_port = 0;
  std::string cert_dir;

 private:
  TestServer() {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const std::string script = std::string(WB_SOURCE_DIR) + "/tests/servers/httptest.py";
    const char* argv[] = {WB_TEST_PYTHON, script.c_str(), nullptr};
    if (posix_spawn(&pid_, WB_TEST_PYTHON, &actions, nullptr, const_cast<char**>(argv), environ) != 0)
      throw std::runtime_error("cannot start the test server");
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_fd_ = in[1];
    read_ready_line(out[0]);
  }

  void read_ready_line(int fd) {
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n') line += c;
    close(fd);
    std::istringstream words(line);
    std::string ready;
    words >> ready >> port >> tls_port >> mtls_port >> cert_dir;
    if (ready != "READY") throw std::runtime_error("test server did not start: " + line);
  }

  ~TestServer() {
    close(stdin_fd_);  // the server exits when its stdin closes
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    std::error_code ec;
    if (!cert_dir.empty()) std::filesystem::remove_all(cert_dir, ec);
  }

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
};

}  // namespace wb::test
