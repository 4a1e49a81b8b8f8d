// wb shell: a command, or a shell, in a replica of an app over exec. The caller's descriptors are
// streamed both ways as they are (binary-clean, flat memory: a 64 KiB buffer each way); with a
// remote terminal, its window follows the local one. Nothing here prints or changes the local
// terminal's settings: the caller puts it into raw mode.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "util/terminal.hpp"

namespace wb::workbench {

struct ShellOptions {
  std::string app;
  std::vector<std::string> command;  // empty: a shell (bash where the image has it, else sh)
  std::string replica;               // default: a ready replica
  std::string container;             // default: the app's
  bool tty = false;                  // a remote terminal: its output (stdout and stderr) comes on `out`
};

// Where the command's streams come from and go to.
struct ShellStreams {
  int in = -1;  // read to its end, then the remote stdin is closed (v5 only; v4 cannot); -1: none
  int out = 1;
  int err = 2;
  // With tty: the local terminal whose window size the remote one takes, at the start and after
  // each resize `resizes` notices (nullptr: the start only).
  int terminal = -1;
  util::ResizeSignal* resizes = nullptr;
  // Called once the command runs, before any stream moves (e.g. to put the terminal into raw
  // mode); an error ends the session with it.
  std::function<util::Status()> on_started;
};

struct ShellResult {
  std::string replica;  // "orders-x2x9z"
  int exit_code = 0;    // the remote command's
};

// The command a shell session runs when none is given.
std::vector<std::string> shell_command();

// Runs the command in a replica until it ends; its exit code is in the result. Errors: no such
// app, replica or command (NotFound), the exec refused (as the server said), the connection lost
// before the exit status (Unavailable), writing to `out`/`err` failed (Failure), Ctrl-C.
util::Result<ShellResult> run_shell(kube::Client& client, const std::string& ns, const ShellOptions& options,
                                    const ShellStreams& streams);

}  // namespace wb::workbench
