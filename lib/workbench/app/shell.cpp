// A command in a replica with the caller's streams: output is pumped by the exec's wait() on the
// calling thread, stdin and window sizes by a thread of their own.
#include "workbench/app/shell.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "util/fd.hpp"
#include "util/interrupt.hpp"
#include "workbench/app/files_internal.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
namespace k = wb::kube;

namespace {

constexpr size_t kStdinChunk = 64 << 10;

// Sends stdin and window sizes to the session from its own thread, until stdin ends (and there
// are no resizes to watch), sending fails, or it is destroyed.
class InputPump {
 public:
  InputPump(k::ExecSession& session, const ShellStreams& streams, bool tty) : session_(session), io_(streams) {
    auto stop = util::Pipe::create();
    if (stop) stop_ = std::move(*stop);
    thread_ = std::thread([this, tty] { run(tty); });
  }
  ~InputPump() {
    if (stop_.write) (void)util::write_all(stop_.write.get(), "x");
    thread_.join();
  }
  InputPump(const InputPump&) = delete;
  InputPump& operator=(const InputPump&) = delete;

 private:
  void run(bool tty) {
    if (tty && !send_size()) return;
    bool in_open = io_.in >= 0;
    std::string buf(kStdinChunk, '\0');
    while (in_open || (tty && io_.resizes)) {
      pollfd fds[3] = {{stop_.read.get(), POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
      if (in_open) fds[1].fd = io_.in;
      if (tty && io_.resizes) fds[2].fd = io_.resizes->fd();
      int r = ::poll(fds, 3, 200);
      if (util::interrupted() || (r < 0 && errno != EINTR)) return;
      if (r <= 0) continue;
      if (fds[0].revents) return;
      if (fds[2].revents && io_.resizes->clear() && !send_size()) return;
      if (!fds[1].revents) continue;
      long n = util::read_some(io_.in, buf.data(), buf.size());
      if (n > 0) {
        if (!session_.write_stdin(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
        continue;
      }
      in_open = false;  // the end (or a descriptor that cannot be read: the same to the command)
      if (session_.can_close_stdin()) (void)session_.close_stdin();
    }
  }

  bool send_size() {
    auto size = util::terminal_size(io_.terminal);
    return !size || session_.resize(size->width, size->height).ok();
  }

  k::ExecSession& session_;
  const ShellStreams& io_;
  util::Pipe stop_;
  std::thread thread_;
};

// Where output goes; remembers why writing stopped.
struct OutputSink {
  int fd;
  int* failed_errno;
  bool operator()(std::string_view data) const {
    int e = util::write_all(fd, data);
    if (e != 0) *failed_errno = e;
    return e == 0;
  }
};

std::string command_words(const ShellOptions& o) { return o.command.empty() ? "the shell" : "'" + o.command[0] + "'"; }

Result<ShellResult> outcome(Result<k::ExecResult> r, const ShellOptions& o, const files_detail::Target& t,
                            int output_errno) {
  if (output_errno != 0)
    return Error(ErrorCode::Failure, fmt::format("cannot write the output of {} in replica {}: {}", command_words(o),
                                                 t.replica, std::strerror(output_errno)));
  if (!r) {
    if (r.error().code != ErrorCode::Unavailable) return std::move(r).error();
    return Error(ErrorCode::Unavailable, fmt::format("lost the connection to replica {} before {} ended: {}", t.replica,
                                                     command_words(o), r.error().message));
  }
  if (r->no_such_command) {
    if (o.command.empty())
      return Error(ErrorCode::NotFound, fmt::format("replica {} has no shell: its image has no /bin/sh", t.replica),
                   fmt::format("`wb shell {} -- COMMAND` runs a command the image has", o.app));
    return Error(ErrorCode::NotFound, fmt::format("replica {} has no command '{}'", t.replica, o.command[0]),
                 fmt::format("`wb shell {}` opens a shell to look around", o.app));
  }
  if (!r->failure_message.empty())
    return Error(ErrorCode::Failure,
                 fmt::format("cannot run {} in replica {}: {}", command_words(o), t.replica, r->failure_message));
  return ShellResult{t.replica, r->exit_code};
}

}  // namespace

std::vector<std::string> shell_command() {
  return {"/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"};
}

Result<ShellResult> run_shell(k::Client& client, const std::string& ns, const ShellOptions& o, const ShellStreams& io) {
  WB_ASSIGN_OR_RETURN(auto t, files_detail::pick_pod(client, ns, o.app, o.replica, o.container));
  k::ExecOptions eo;
  eo.container = t.container;
  eo.command = o.command.empty() ? shell_command() : o.command;
  eo.stdin = io.in >= 0;
  eo.tty = o.tty;
  eo.stderr = !o.tty;  // a terminal has one output
  int output_errno = 0;
  WB_ASSIGN_OR_RETURN(
      auto session, client.exec(ns, t.name, eo, OutputSink{io.out, &output_errno}, OutputSink{io.err, &output_errno}));
  if (io.on_started) WB_TRY(io.on_started());
  Result<k::ExecResult> r = [&] {
    InputPump pump(*session, io, o.tty);
    return session->wait();
  }();
  return outcome(std::move(r), o, t, output_errno);
}

}  // namespace wb::workbench
