// The local terminal for wb shell, on pseudo-terminals: window size, raw mode undone on the way
// out (also when the process dies of a signal), resizes noticed through a descriptor.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "util/terminal.hpp"

using namespace wb::util;

namespace {

// A pseudo-terminal pair, closed at the end.
struct Pty {
  Fd master, slave;
  Pty() {
    int m = -1, s = -1;
    REQUIRE(openpty(&m, &s, nullptr, nullptr, nullptr) == 0);
    master.reset(m);
    slave.reset(s);
  }
};

bool same_settings(const termios& a, const termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag && a.c_lflag == b.c_lflag &&
         std::memcmp(a.c_cc, b.c_cc, sizeof a.c_cc) == 0;
}

termios settings_of(int fd) {
  termios t{};
  REQUIRE(tcgetattr(fd, &t) == 0);
  return t;
}

}  // namespace

TEST_CASE("terminal_size reads the window of a terminal, and nothing of a pipe", "[util][terminal]") {
  Pty pty;
  winsize ws{};
  ws.ws_row = 40;
  ws.ws_col = 100;
  REQUIRE(ioctl(pty.slave.get(), TIOCSWINSZ, &ws) == 0);
  auto size = terminal_size(pty.slave.get());
  REQUIRE(size);
  CHECK(*size == TerminalSize{100, 40});
  auto pipe = Pipe::create();
  REQUIRE(pipe);
  CHECK_FALSE(terminal_size(pipe->read.get()));
}

TEST_CASE("RawTerminal turns line editing, echo and key signals off and puts them back", "[util][terminal]") {
  Pty pty;
  const termios before = settings_of(pty.slave.get());
  REQUIRE((before.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG));
  {
    auto raw = RawTerminal::enter(pty.slave.get());
    REQUIRE(raw);
    const termios during = settings_of(pty.slave.get());
    CHECK((during.c_lflag & (ICANON | ECHO | ISIG)) == 0);
    auto second = RawTerminal::enter(pty.slave.get());
    CHECK_FALSE(second);
  }
  CHECK(same_settings(settings_of(pty.slave.get()), before));

  auto pipe = Pipe::create();
  REQUIRE(pipe);
  auto not_a_terminal = RawTerminal::enter(pipe->read.get());
  REQUIRE_FALSE(not_a_terminal);
  CHECK(not_a_terminal.error().code == ErrorCode::Failure);
  auto again = RawTerminal::enter(pty.slave.get());  // a failed enter leaves nothing behind
  CHECK(again);
}

TEST_CASE("RawTerminal puts the terminal back when the process dies of a signal", "[util][terminal]") {
  for (int sig : {SIGHUP, SIGQUIT, SIGSEGV}) {
    Pty pty;
    const termios before = settings_of(pty.slave.get());
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      signal(SIGQUIT, SIG_DFL);  // no core dump needed, but the default action: die
      auto raw = RawTerminal::enter(pty.slave.get());
      if (!raw) _exit(3);
      termios t{};
      tcgetattr(pty.slave.get(), &t);
      if (t.c_lflag & ICANON) _exit(4);
      raise(sig);
      _exit(5);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    INFO("signal " << sig << ", status " << status);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    CHECK(same_settings(settings_of(pty.slave.get()), before));
  }
}

TEST_CASE("ResizeSignal makes its descriptor readable after SIGWINCH", "[util][terminal]") {
  struct sigaction old {};
  sigaction(SIGWINCH, nullptr, &old);
  {
    auto watch = ResizeSignal::watch();
    REQUIRE(watch);
    CHECK_FALSE((*watch)->clear());
    CHECK_FALSE(ResizeSignal::watch());
    raise(SIGWINCH);
    raise(SIGWINCH);
    pollfd pfd{(*watch)->fd(), POLLIN, 0};
    REQUIRE(poll(&pfd, 1, 1000) == 1);
    CHECK((*watch)->clear());
    CHECK_FALSE((*watch)->clear());
  }
  struct sigaction now {};
  sigaction(SIGWINCH, nullptr, &now);
  CHECK(now.sa_handler == old.sa_handler);
}
