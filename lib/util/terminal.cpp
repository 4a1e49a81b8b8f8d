#include "util/terminal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace wb::util {

namespace {

// What the signal handlers may touch: set before the handlers are installed, cleared after they
// are removed.
struct SavedTerminal {
  std::atomic<int> fd{-1};
  struct termios settings {};
};
SavedTerminal saved_terminal;

constexpr std::array kFatalSignals = {SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE};
std::array<struct sigaction, kFatalSignals.size()> previous_fatal;

extern "C" void restore_and_die(int sig) {
  int fd = saved_terminal.fd.exchange(-1);
  if (fd >= 0) tcsetattr(fd, TCSAFLUSH, &saved_terminal.settings);
  signal(sig, SIG_DFL);
  raise(sig);
}

std::atomic<int> resize_write_fd{-1};
struct sigaction previous_winch {};

extern "C" void on_winch(int) {
  int saved_errno = errno;
  int fd = resize_write_fd.load();
  if (fd >= 0) (void)!write(fd, "w", 1);  // a full pipe already says "resized"
  errno = saved_errno;
}

Error terminal_error(const std::string& what) { return Error(ErrorCode::Failure, what + ": " + std::strerror(errno)); }

}  // namespace

std::optional<TerminalSize> terminal_size(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) return std::nullopt;
  return TerminalSize{ws.ws_col, ws.ws_row};
}

Result<std::unique_ptr<RawTerminal>> RawTerminal::enter(int fd) {
  if (saved_terminal.fd.load() >= 0) return Error(ErrorCode::Failure, "the terminal is already in raw mode");
  struct termios current {};
  if (tcgetattr(fd, &current) != 0) return terminal_error("cannot read the terminal's settings");
  saved_terminal.settings = current;
  saved_terminal.fd.store(fd);
  struct sigaction sa {};
  sa.sa_handler = restore_and_die;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < kFatalSignals.size(); ++i) sigaction(kFatalSignals[i], &sa, &previous_fatal[i]);
  struct termios raw = current;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSAFLUSH, &raw) != 0) {
    Error e = terminal_error("cannot put the terminal into raw mode");
    saved_terminal.fd.store(-1);
    for (size_t i = 0; i < kFatalSignals.size(); ++i) sigaction(kFatalSignals[i], &previous_fatal[i], nullptr);
    return e;
  }
  return std::unique_ptr<RawTerminal>(new RawTerminal());
}

RawTerminal::~RawTerminal() {
  int fd = saved_terminal.fd.exchange(-1);
  if (fd >= 0) tcsetattr(fd, TCSAFLUSH, &saved_terminal.settings);
  for (size_t i = 0; i < kFatalSignals.size(); ++i) sigaction(kFatalSignals[i], &previous_fatal[i], nullptr);
}

Result<std::unique_ptr<ResizeSignal>> ResizeSignal::watch() {
  if (resize_write_fd.load() >= 0) return Error(ErrorCode::Failure, "window resizes are already watched");
  std::unique_ptr<ResizeSignal> watch(new ResizeSignal());
  WB_ASSIGN_OR_RETURN(watch->pipe_, Pipe::create());
  for (int fd : {watch->pipe_.read.get(), watch->pipe_.write.get()})
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) return terminal_error("cannot watch window resizes");
  resize_write_fd.store(watch->pipe_.write.get());
  struct sigaction sa {};
  sa.sa_handler = on_winch;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGWINCH, &sa, &previous_winch);
  return watch;
}

ResizeSignal::~ResizeSignal() {
  sigaction(SIGWINCH, &previous_winch, nullptr);
  resize_write_fd.store(-1);
}

bool ResizeSignal::clear() {
  char buf[64];
  bool any = false;
  while (read_some(pipe_.read.get(), buf, sizeof buf) > 0) any = true;
  return any;
}

}  // namespace wb::util
