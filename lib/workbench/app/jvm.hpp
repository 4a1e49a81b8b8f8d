// JVM diagnostics of an app's replicas that work on a JRE-only image (no jcmd): a thread dump is
// asked for with SIGQUIT, which makes HotSpot print one to its standard output, and read back from
// the container's log. Nothing here prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"

namespace wb::workbench {

struct ThreadDumpOptions {
  std::string app;
  std::string replica;                           // default: every ready replica
  std::string container;                         // default: the app's
  std::chrono::milliseconds timeout{15000};      // for the dump to appear in the log, per replica
  std::chrono::milliseconds poll_interval{500};  // between reads of the log
};

struct ThreadDump {
  std::string replica;  // "orders-x2x9z"
  std::string text;     // from "Full thread dump ..." to the end of its heap summary, no line ends at the end
};

// The pods to dump: the one named by options.replica (any state), else every ready replica.
// NotFound (no such app, replica, or no ready replica) names the next step.
util::Result<std::vector<std::string>> thread_dump_pods(kube::Client& client, const std::string& ns,
                                                        const ThreadDumpOptions& options);

// Signals the JVM in a pod (the first process whose command line names java, PID 1 first) and
// reads its thread dump back from the log. Errors: no shell or no Java process in the container
// (NotFound, saying what the image needs), no dump within the timeout (Timeout), Ctrl-C.
util::Result<ThreadDump> thread_dump(kube::Client& client, const std::string& ns, const ThreadDumpOptions& options,
                                     const std::string& pod);

// ---------------------------------------------------------------- pieces (exposed for tests)

// What a log read (with timestamps) holds of the first thread dump after a moment.
struct DumpScan {
  std::string text;        // the dump's lines so far (without timestamps)
  bool started = false;    // its "Full thread dump" line was seen
  bool refs_seen = false;  // its "JNI global refs" line was seen: only the heap summary may follow
  bool closed = false;     // a line after the heap summary was seen: the dump is whole
};
// Scans `log` (lines "TIMESTAMP message", as pods/log with timestamps sends them), ignoring lines
// stamped before `not_before_nanos` (nanoseconds since the epoch) and the app's lines before the
// dump and after its end.
DumpScan scan_thread_dump(std::string_view log, int64_t not_before_nanos);

// The shell script that finds the JVM's PID, signals it and prints the PID; exit 3 when no process
// runs Java.
std::string signal_jvm_script();

}  // namespace wb::workbench
