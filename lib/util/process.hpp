// Running a program: one posix_spawn runner behind a small interface (ProcessRunner) so code that
// runs git or a credential helper can be tested with a fake. Programs run with an argv, never a
// shell.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wb::util {

// Where a child's stdin comes from.
enum class ProcessInput {
  Null,     // /dev/null
  Inherit,  // ours (a terminal, for a program that may prompt)
  Data,     // ProcessSpec::input, then end of file
};

// Where a child's stdout or stderr goes.
enum class ProcessOutput {
  Null,      // /dev/null
  Inherit,   // ours
  Capture,   // into ProcessResult::out / err
  ToStdout,  // stderr only: wherever stdout goes (captured together with it)
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH unless it holds a '/'
  std::filesystem::path cwd;      // "" = ours
  // The environment: ours unless `inherit_env` is false, without `unset_env`, then `env` (each
  // replacing a variable of the same name).
  bool inherit_env = true;
  std::vector<std::string> unset_env;
  std::vector<std::pair<std::string, std::string>> env;

  ProcessInput stdin_from = ProcessInput::Null;
  std::string input;  // for ProcessInput::Data
  ProcessOutput stdout_to = ProcessOutput::Capture;
  ProcessOutput stderr_to = ProcessOutput::Capture;
  // What is kept of captured output (more is read and dropped): the first stdout_limit bytes of
  // stdout (the answer) and the last stderr_limit bytes of stderr (where a program says what failed).
  size_t stdout_limit = 1 << 20;
  size_t stderr_limit = 1 << 20;
  // Sees captured stderr as it comes (a plugin's prompt the user must read).
  std::function<void(std::string_view)> on_stderr;

  std::chrono::milliseconds timeout{0};  // 0 = none; then the child is killed (SIGKILL)
  std::stop_token stop;                  // a stop request kills the child too
};

struct ProcessResult {
  int start_error = 0;     // errno when it could not be started (ENOENT: no such program); nothing else is set
  int exit_code = -1;      // when it exited
  int signal = 0;          // when a signal ended it
  bool timed_out = false;  // killed after ProcessSpec::timeout
  bool stopped = false;    // killed on a stop request
  std::string out, err;

  bool started() const { return start_error == 0; }
  // Exited with status 0.
  bool succeeded() const { return started() && exit_code == 0; }
  // The shell's number for how it ended: the exit status, or 128 + the signal.
  int status() const { return signal ? 128 + signal : exit_code; }
};

// Runs a program to its end.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual ProcessResult run(const ProcessSpec& spec) = 0;
};

// The real runner: posix_spawn, output read with poll() while the input is written, so neither
// side blocks the other; a SIGPIPE from a child that stops reading never reaches the process.
std::shared_ptr<ProcessRunner> system_process_runner();

}  // namespace wb::util
