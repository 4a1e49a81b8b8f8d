// wb shell APP [-- COMMAND ARGS...]: a shell, or a command, in a replica of an app.
//
// On a terminal (stdin and stdout both) the remote side gets a terminal too: the local one is put
// into raw mode (Ctrl-C, Ctrl-\ and Ctrl-Z go to the remote process) and restored on the way out,
// and the remote window follows the local size. Otherwise stdin and stdout are passed as they are,
// byte for byte, and the end of stdin closes the command's stdin. wb exits with the remote
// command's exit status; its own failures print one line ("error: ...") with wb's exit codes.
#include "workbench/app/shell.hpp"

#include <unistd.h>

#include <memory>
#include <ostream>

#include "commands/commands.hpp"
#include "util/terminal.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;

namespace {

struct ShellFlags {
  std::string app;
  std::vector<std::string> command;
  std::string replica, container;
};

Status run_shell(const ShellFlags& f, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  wbw::ShellOptions o;
  o.app = f.app;
  o.command = f.command;
  o.replica = f.replica;
  o.container = f.container;
  o.tty = ctx.io.stdin_tty && ctx.io.stdout_tty;
  wbw::ShellStreams io;
  io.in = STDIN_FILENO;
  io.out = STDOUT_FILENO;
  io.err = STDERR_FILENO;
  std::unique_ptr<util::ResizeSignal> resizes;
  std::unique_ptr<util::RawTerminal> raw;
  if (o.tty) {
    io.terminal = STDIN_FILENO;
    if (auto watch = util::ResizeSignal::watch()) resizes = std::move(*watch);
    io.resizes = resizes.get();
    io.on_started = [&]() -> Status {
      WB_ASSIGN_OR_RETURN(raw, util::RawTerminal::enter(STDIN_FILENO));
      return {};
    };
  }
  ctx.out().flush();
  ctx.err().flush();
  auto r = wbw::run_shell(*client, ns, o, io);
  raw.reset();  // before any words about how it ended
  if (!r) return std::move(r).error();
  if (r->exit_code == 0) return {};
  RemoteExit remote;
  remote.status = r->exit_code;
  return Error(ErrorCode::Failure, "").with(remote);
}

}  // namespace

void register_shell(CLI::App& app, Context& ctx, Action& action) {
  auto f = std::make_shared<ShellFlags>();
  auto* c = add_verb(app, "shell", "Open a shell in an app's replica, or run a command there (after --)");
  c->footer(
      "Without a command: bash where the image has it, else sh. On a terminal the remote side gets one (raw mode, "
      "its size follows the window); in a pipe stdin and stdout pass byte for byte, e.g. "
      "`wb shell orders -- tar cf - /app/logs > logs.tar`. wb exits with the command's exit status; its own "
      "failures print one line starting with \"error:\". See `man wb-shell`.");
  c->add_option("app", f->app, "The app")->required();
  c->add_option("command", f->command, "Command and arguments to run instead of a shell (after --)");
  c->add_option("--replica", f->replica, "Which replica (default: a ready one)")->type_name("NAME");
  c->add_option("-c,--container", f->container, "Container (default: the app's)")->type_name("NAME");
  c->callback([f, &ctx, &action] { action = [f, &ctx] { return run_shell(*f, ctx); }; });
}

}  // namespace wb::cli::commands
