// JVM diagnostics of an app's replicas that work on a JRE-only image (no jcmd): a thread dump is
// asked for with SIGQUIT, which makes HotSpot print one to its standard output, and read back from
// the container's log. Heap dumps and flight recordings go through the JVM's diagnostic commands:
// with the image's jcmd where it has one, else with wb's own attach client (jvm_attach/WbAttach),
// run by the container's java. Nothing here prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "workbench/app/files.hpp"

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

// What a heap dump or a recording is taken of, and where it goes.
struct JvmFileOptions {
  std::string app;
  std::string replica;          // default: the first ready replica
  std::string container;        // default: the app's
  std::filesystem::path local;  // the file; in a folder, REPLICA.hprof (.jfr) there
  std::function<void(const CopyProgress&)> on_progress;
  std::function<void(const std::string& replica)> on_started;  // the dump or recording starts in that replica
};

struct HeapDumpOptions : JvmFileOptions {
  bool live = true;  // only reachable objects (a full GC first); false: every object
};

struct JvmFileResult {
  std::string replica;                        // "orders-x2x9z"
  std::filesystem::path written;              // local file
  uint64_t bytes = 0;                         // written locally
  std::optional<uint64_t> size_in_container;  // what ls said before the copy (equal to bytes)
  std::string via;                            // "jcmd" or "attach" (wb's attach client)
};

// Dumps the heap of one replica's JVM (HPROF) into the container's /tmp, downloads it with
// cp-files' resumable copy and removes it there (also after a failure or Ctrl-C). Refuses before
// dumping when /tmp has less free space than the heap uses and a margin (Failure naming both). Errors: no Java
// (NotFound), attach disabled or impossible in the image (Failure, saying what the image needs).
util::Result<JvmFileResult> heap_dump(kube::Client& client, const std::string& ns, const HeapDumpOptions& options);

struct RecordingOptions : JvmFileOptions {
  std::chrono::milliseconds duration{30000};
};

// Records a Java Flight Recording for options.duration (Ctrl-C ends it early and still fetches
// it: the result is then the shorter recording, and the interrupt stays requested), fetched and
// removed like a heap dump. The JVM stops it by itself a minute after the duration if wb is gone.
util::Result<JvmFileResult> flight_recording(kube::Client& client, const std::string& ns,
                                             const RecordingOptions& options);

// ---------------------------------------------------------------- pieces (exposed for tests)

// The bytes of heap in use that GC.heap_info reports: the sum of its "used NNNK" figures outside
// Metaspace (every collector names its spaces differently); nullopt when there are none.
std::optional<uint64_t> heap_used_bytes(std::string_view heap_info);

// The bytes free in `df -Pk DIR` output; nullopt when it does not read as one.
std::optional<uint64_t> df_available_bytes(std::string_view df);

// An attach reply: the result code line, then the command's output.
struct AttachReply {
  int code = 0;
  std::string output;
};
// nullopt when the reply does not start with a code line.
std::optional<AttachReply> parse_attach_reply(std::string_view reply);

// sh -c SCRIPT sh CLASS_SIZE COMMAND: reads wb's attach client (CLASS_SIZE bytes) from stdin into a
// temporary folder, finds the JVM, and runs the diagnostic COMMAND in it with jcmd when the image
// has one (printing "jcmd" first), else with the client (printing "attach" first). Exits 3 without
// a JVM, 6 when its attach is disabled, 4/5/7 when the JVM cannot be made to listen.
std::string jvm_command_script();

// The compiled attach client (jvm_attach/WbAttach.class), embedded at build time.
std::string_view attach_client_class();

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
