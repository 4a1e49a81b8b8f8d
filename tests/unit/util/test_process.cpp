// The process runner, with real processes (sh, cat, sleep).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "util/process.hpp"

using namespace wb::util;
using namespace std::chrono_literals;

namespace {

ProcessResult sh(const std::string& script, ProcessSpec spec = {}) {
  spec.argv = {"sh", "-c", script};
  return system_process_runner()->run(spec);
}

}  // namespace

TEST_CASE("a process's output, exit status and signal", "[util][process]") {
  auto r = sh("echo out; echo err >&2; exit 3");
  CHECK(r.started());
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.succeeded());
  CHECK(r.status() == 3);
  CHECK(sh("true").succeeded());

  auto killed = sh("kill -TERM $$");
  CHECK(killed.signal == SIGTERM);
  CHECK(killed.status() == 128 + SIGTERM);

  ProcessSpec missing;
  missing.argv = {"wb-no-such-program"};
  auto none = system_process_runner()->run(missing);
  CHECK_FALSE(none.started());
  CHECK(none.start_error == ENOENT);
}

TEST_CASE("a process's input: data, /dev/null, much of both ways without a deadlock", "[util][process]") {
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_from = ProcessInput::Data;
  spec.input = "line\n";
  CHECK(system_process_runner()->run(spec).out == "line\n");

  spec.stdin_from = ProcessInput::Null;
  CHECK(system_process_runner()->run(spec).out.empty());

  // More than a pipe holds, in and out at once.
  spec.stdin_from = ProcessInput::Data;
  spec.input = std::string(4 << 20, 'x');
  spec.stdout_limit = 8 << 20;
  auto big = system_process_runner()->run(spec);
  CHECK(big.succeeded());
  CHECK(big.out.size() == spec.input.size());

  // A child that never reads its input: no SIGPIPE for us.
  spec.argv = {"true"};
  CHECK(system_process_runner()->run(spec).succeeded());
}

TEST_CASE("captured output: the start of stdout, the end of stderr, stderr merged or shown", "[util][process]") {
  ProcessSpec spec;
  spec.stdout_limit = 4;
  spec.stderr_limit = 4;
  auto r = sh("printf 0123456789; printf abcdefghij >&2", spec);
  CHECK(r.out == "0123");
  CHECK(r.err == "ghij");

  ProcessSpec merged;
  merged.stderr_to = ProcessOutput::ToStdout;
  CHECK(sh("echo a; echo b >&2", merged).out == "a\nb\n");

  ProcessSpec quiet;
  quiet.stderr_to = ProcessOutput::Null;
  auto q = sh("echo a; echo b >&2", quiet);
  CHECK(q.out == "a\n");
  CHECK(q.err.empty());

  std::string seen;
  ProcessSpec shown;
  shown.on_stderr = [&](std::string_view s) { seen += s; };
  CHECK(sh("echo prompt >&2", shown).err == "prompt\n");
  CHECK(seen == "prompt\n");
}

TEST_CASE("a process's environment and working directory", "[util][process]") {
  ::setenv("WB_TEST_KEPT", "kept", 1);
  ::setenv("WB_TEST_GONE", "there", 1);
  ProcessSpec spec;
  spec.unset_env = {"WB_TEST_GONE"};
  spec.env = {{"WB_TEST_KEPT", "replaced"}, {"WB_TEST_NEW", "new"}};
  CHECK(sh("echo \"$WB_TEST_KEPT/${WB_TEST_GONE-unset}/$WB_TEST_NEW\"", spec).out == "replaced/unset/new\n");

  ProcessSpec clean;
  clean.inherit_env = false;
  clean.env = {{"ONLY", "1"}};
  CHECK(sh("env | sort", clean).out.find("WB_TEST_KEPT") == std::string::npos);

  ProcessSpec in_tmp;
  in_tmp.cwd = "/tmp";
  CHECK(sh("pwd", in_tmp).out == "/tmp\n");
  ::unsetenv("WB_TEST_KEPT");
  ::unsetenv("WB_TEST_GONE");
}

TEST_CASE("a timeout or a stop request kills the process at once", "[util][process]") {
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  spec.stdout_to = ProcessOutput::Inherit;  // nothing to read: the runner still sees it end
  spec.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto r = system_process_runner()->run(spec);
  CHECK(r.timed_out);
  CHECK(r.signal == SIGKILL);
  CHECK(std::chrono::steady_clock::now() - start < 5s);

  std::stop_source stop;
  ProcessSpec stoppable;
  stoppable.argv = {"sleep", "30"};
  stoppable.stop = stop.get_token();
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  start = std::chrono::steady_clock::now();
  auto s = system_process_runner()->run(stoppable);
  later.join();
  CHECK(s.stopped);
  CHECK_FALSE(s.timed_out);
  CHECK(std::chrono::steady_clock::now() - start < 5s);

  // Stopped before it starts: it is killed straight away.
  ProcessSpec already = stoppable;
  CHECK(system_process_runner()->run(already).stopped);
}

TEST_CASE("a process that exits while its child keeps the output open is read to the end", "[util][process]") {
  auto r = sh("(sleep 0.2; echo late) & echo early");
  CHECK(r.out == "early\nlate\n");
}
