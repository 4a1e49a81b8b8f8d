#include "util/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>

#include "util/fd.hpp"

extern char** environ;

namespace wb::util {

namespace {

using SteadyClock = std::chrono::steady_clock;

bool names(std::string_view assignment, std::string_view name) {
  return assignment.size() > name.size() && assignment.compare(0, name.size(), name) == 0 &&
         assignment[name.size()] == '=';
}

std::vector<std::string> environment(const ProcessSpec& spec) {
  std::vector<std::string> out;
  auto dropped = [&](std::string_view kv) {
    for (const auto& name : spec.unset_env)
      if (names(kv, name)) return true;
    for (const auto& [name, value] : spec.env)
      if (names(kv, name)) return true;
    return false;
  };
  if (spec.inherit_env)
    for (char** e = environ; e && *e; ++e)
      if (!dropped(*e)) out.emplace_back(*e);
  for (const auto& [name, value] : spec.env) {
    std::erase_if(out, [&](const std::string& kv) { return names(kv, name); });
    out.push_back(name + "=" + value);
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// The child starts with default signal handling and an empty mask, whatever this thread had
// (wb ignores SIGPIPE and blocks it while it writes a child's input).
class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawnattr_init(&attr_);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &defaults);
    posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// While alive, a SIGPIPE raised by this thread's writes stays pending instead of ending the
// process; it is taken off before the old mask comes back.
class SigpipeHeld {
 public:
  SigpipeHeld() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeHeld() {
    struct timespec zero {};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeHeld(const SigpipeHeld&) = delete;
  SigpipeHeld& operator=(const SigpipeHeld&) = delete;

 private:
  sigset_t set_, old_;
};

// The pipes between us and one child, and what went through them.
struct Channels {
  Pipe in, out, err, wake;
  Fd exited;  // a pidfd: readable once the child has exited (none on kernels before 5.3)
};

// Adds what connects the child's end of the pipes to its stdin, stdout and stderr.
void connect(const ProcessSpec& spec, Channels& c, SpawnActions& fa) {
  if (spec.stdin_from == ProcessInput::Null) posix_spawn_file_actions_addopen(fa.get(), 0, "/dev/null", O_RDONLY, 0);
  if (spec.stdin_from == ProcessInput::Data) posix_spawn_file_actions_adddup2(fa.get(), c.in.read.get(), 0);
  if (spec.stdout_to == ProcessOutput::Null) posix_spawn_file_actions_addopen(fa.get(), 1, "/dev/null", O_WRONLY, 0);
  if (spec.stdout_to == ProcessOutput::Capture) posix_spawn_file_actions_adddup2(fa.get(), c.out.write.get(), 1);
  if (spec.stderr_to == ProcessOutput::Null) posix_spawn_file_actions_addopen(fa.get(), 2, "/dev/null", O_WRONLY, 0);
  if (spec.stderr_to == ProcessOutput::Capture) posix_spawn_file_actions_adddup2(fa.get(), c.err.write.get(), 2);
  if (spec.stderr_to == ProcessOutput::ToStdout) posix_spawn_file_actions_adddup2(fa.get(), 1, 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(fa.get(), spec.cwd.c_str());
}

// Creates the pipes the spec needs; an errno when it cannot.
int open_channels(const ProcessSpec& spec, Channels& c) {
  auto make = [](Pipe& p) {
    auto r = Pipe::create();
    if (!r) return errno ? errno : EMFILE;
    p = std::move(r).value();
    return 0;
  };
  if (spec.stdin_from == ProcessInput::Data)
    if (int e = make(c.in)) return e;
  if (spec.stdout_to == ProcessOutput::Capture)
    if (int e = make(c.out)) return e;
  if (spec.stderr_to == ProcessOutput::Capture)
    if (int e = make(c.err)) return e;
  if (spec.stop.stop_possible())
    if (int e = make(c.wake)) return e;
  return 0;
}

void keep_start(std::string& into, const char* data, size_t n, size_t limit) {
  if (into.size() < limit) into.append(data, std::min(n, limit - into.size()));
}

void keep_end(std::string& into, const char* data, size_t n, size_t limit) {
  into.append(data, n);
  if (into.size() > limit) into.erase(0, into.size() - limit);
}

// Reads output and writes input until the child has closed its ends (and exited, where that can
// be seen), the deadline passes or a stop is requested.
void exchange(const ProcessSpec& spec, Channels& c, ProcessResult& r) {
  const auto deadline = spec.timeout.count() > 0 ? SteadyClock::now() + spec.timeout : SteadyClock::time_point::max();
  size_t written = 0;
  bool exited = false;
  char buf[16384];
  for (;;) {
    pollfd fds[5];
    nfds_t n = 0;
    auto add = [&](const Fd& fd, short events) -> pollfd* {
      if (!fd) return nullptr;
      fds[n] = {fd.get(), events, 0};
      return &fds[n++];
    };
    pollfd* out = add(c.out.read, POLLIN);
    pollfd* err = add(c.err.read, POLLIN);
    pollfd* in = add(c.in.write, POLLOUT);
    pollfd* wake = add(c.wake.read, POLLIN);
    pollfd* gone = exited ? nullptr : add(c.exited, POLLIN);
    if (!out && !err && !in && (exited || !c.exited)) return;
    int wait_ms = -1;
    if (deadline != SteadyClock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
      if (left <= 0) {
        r.timed_out = true;
        return;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
    }
    if (::poll(fds, n, wait_ms) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (wake && wake->revents) {
      r.stopped = true;
      return;
    }
    if (gone && gone->revents) exited = true;
    if (out && out->revents) {
      const long got = read_some(c.out.read.get(), buf, sizeof buf);
      if (got <= 0)
        c.out.read.reset();
      else
        keep_start(r.out, buf, static_cast<size_t>(got), spec.stdout_limit);
    }
    if (err && err->revents) {
      const long got = read_some(c.err.read.get(), buf, sizeof buf);
      if (got <= 0) {
        c.err.read.reset();
      } else {
        if (spec.on_stderr) spec.on_stderr(std::string_view(buf, static_cast<size_t>(got)));
        keep_end(r.err, buf, static_cast<size_t>(got), spec.stderr_limit);
      }
    }
    if (in && in->revents) {
      const ssize_t put = ::write(c.in.write.get(), spec.input.data() + written, spec.input.size() - written);
      if (put > 0) written += static_cast<size_t>(put);
      // Everything written, or the child stopped reading (EPIPE): either way its input ends.
      if (written == spec.input.size() || (put < 0 && errno != EAGAIN && errno != EINTR)) c.in.write.reset();
    }
  }
}

class SystemProcessRunner : public ProcessRunner {
 public:
  ProcessResult run(const ProcessSpec& spec) override {
    ProcessResult r;
    if (spec.argv.empty()) {
      r.start_error = EINVAL;
      return r;
    }
    Channels c;
    if ((r.start_error = open_channels(spec, c))) return r;
    SpawnActions fa;
    connect(spec, c, fa);
    SpawnAttributes attr;
    std::vector<std::string> args = spec.argv, env = environment(spec);
    std::vector<char*> argv = pointers(args), envp = pointers(env);
    pid_t pid = 0;
    if ((r.start_error = ::posix_spawnp(&pid, argv[0], fa.get(), attr.get(), argv.data(), envp.data()))) return r;
    // Our copies of the child's ends: without closing them we would never see end of file.
    c.in.read.reset();
    c.out.write.reset();
    c.err.write.reset();
    c.exited.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    {
      std::optional<SigpipeHeld> held;
      if (c.in.write) {
        held.emplace();
        ::fcntl(c.in.write.get(), F_SETFL, O_NONBLOCK);
        if (spec.input.empty()) c.in.write.reset();
      }
      const int wake = c.wake.write.get();
      std::optional<std::stop_callback<std::function<void()>>> on_stop;
      if (wake >= 0) on_stop.emplace(spec.stop, std::function<void()>([wake] { (void)!::write(wake, "x", 1); }));
      exchange(spec, c, r);
    }
    if (r.timed_out || r.stopped) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    return r;
  }
};

}  // namespace

std::shared_ptr<ProcessRunner> system_process_runner() {
  static const auto runner = std::make_shared<SystemProcessRunner>();
  return runner;
}

}  // namespace wb::util
