// Heap dumps and flight recordings: a diagnostic command run in the JVM (jcmd or wb's attach
// client), its file fetched with cp-files' download and removed from the container.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "util/interrupt.hpp"
#include "util/stop.hpp"
#include "workbench/app/files_internal.hpp"
#include "workbench/app/jvm.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
using util::Status;
namespace k = wb::kube;
using namespace files_detail;

namespace {

constexpr const char* kDumpDir = "/tmp";  // the emptyDir every app of wb's has, writable by any user
constexpr int kNoJava = 3, kAttachDisabled = 6, kNoSocket = 5, kNoTempDir = 8;

std::string random_hex() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// What a diagnostic command answered, and through what.
struct CommandOutput {
  std::string output, via;
};

Error needs_words(const Target& t, const std::string& what) {
  return Error(ErrorCode::Failure, fmt::format("replica {} cannot {}", t.replica, what),
               "the base image needs a JDK's jcmd, or Java 16+ (wb then brings its own attach client)");
}

Error refused(const Target& t, const std::string& output) {
  return Error(ErrorCode::Failure,
               fmt::format("the JVM in replica {} refused the command: {}", t.replica, first_line(output)));
}

// The script's exit codes and the client's failures, in words.
Result<CommandOutput> command_outcome(const Target& t, const Captured& c) {
  if (c.result.no_such_command)
    return Error(ErrorCode::NotFound, fmt::format("replica {} has no /bin/sh to reach its JVM with", t.replica),
                 "the base image needs /bin/sh (any JRE image but distroless has it)");
  const auto nl = c.out.find('\n');
  CommandOutput r{nl == std::string::npos ? "" : c.out.substr(nl + 1), c.out.substr(0, nl)};
  const int code = c.result.failure_message.empty() ? c.result.exit_code : -1;
  if (code == kNoJava)
    return Error(ErrorCode::NotFound, fmt::format("replica {} runs no Java process", t.replica),
                 "the JVM must run in the app's container (`-c CONTAINER` names another one)");
  if (code == kAttachDisabled)
    return Error(ErrorCode::Failure,
                 fmt::format("the JVM in replica {} runs with -XX:+DisableAttachMechanism", t.replica),
                 "remove that flag from the app's JVM options to take heap dumps and recordings");
  if (code == kNoSocket)
    return Error(ErrorCode::Timeout,
                 fmt::format("the JVM in replica {} did not open its attach socket within 10 s", t.replica),
                 "it may be too busy (a long GC); try again");
  if (code == kNoTempDir)
    return Error(ErrorCode::Failure, fmt::format("replica {} cannot write to /tmp", t.replica),
                 "the app's /tmp must be writable (wb's Deployment mounts an emptyDir there)");
  if (r.via == "attach" && c.err.find("UnsupportedClassVersionError") != std::string::npos)
    return needs_words(t, "reach its JVM: its Java is older than 16 and the image has no jcmd");
  if (r.via == "attach" && (code == 126 || code == 127))
    return needs_words(t, "reach its JVM: the JVM's own java does not run for wb's attach client");
  if (r.via == "jcmd") {
    // "PID:" comes first; a command the JVM refused exits 1 with its reason on stdout.
    const auto first = r.output.find('\n');
    if (first != std::string::npos && first > 0 && r.output[first - 1] == ':') r.output.erase(0, first + 1);
    if (code == 1 && !first_line(r.output).empty()) return refused(t, r.output);
  }
  if (code != 0) return exec_error(r.via.empty() ? "reaching the JVM" : r.via, t, c);
  if (r.via == "jcmd") return r;
  auto reply = parse_attach_reply(r.output);
  if (!reply) return Error(ErrorCode::Failure, fmt::format("the JVM in replica {} gave no attach reply", t.replica));
  if (reply->code != 0) return refused(t, reply->output);
  r.output = std::move(reply->output);
  return r;
}

// Runs the diagnostic `command` ("GC.heap_info") in the replica's JVM.
Result<CommandOutput> run_jvm_command(k::Client& client, const std::string& ns, const Target& t,
                                      const std::string& command) {
  const std::string_view cls = attach_client_class();
  // The script reads exactly the class.
  WB_ASSIGN_OR_RETURN(
      auto c, run_capture(client, ns, t.name, t.container,
                          {"/bin/sh", "-c", jvm_command_script(), "sh", std::to_string(cls.size()), command}, cls,
                          size_t{16} << 20));
  return command_outcome(t, c);
}

// Fails unless the command's output says it did what was asked.
Status expect(const Target& t, const CommandOutput& r, std::string_view done_words, const std::string& what) {
  if (r.output.find(done_words) != std::string::npos) return {};
  return Error(ErrorCode::Failure, fmt::format("{} in replica {} failed: {}", what, t.replica, first_line(r.output)));
}

// Runs `fn` with Ctrl-C set aside (a second one still stops it), then requests it again if it had been.
template <typename Fn>
auto despite_interrupt(Fn&& fn) {
  const bool was = util::interrupted();
  if (was) util::set_interrupted(false);
  auto r = fn();
  if (was) util::set_interrupted(true);
  return r;
}

// Removes the container's file when it goes out of scope, even after Ctrl-C.
class RemoteFile {
 public:
  RemoteFile(k::Client& client, const std::string& ns, const Target& t, std::string path)
      : client_(client), ns_(ns), t_(t), path_(std::move(path)) {}
  ~RemoteFile() {
    despite_interrupt([&] {
      remove_remote(client_, ns_, t_, path_);
      return 0;
    });
  }
  RemoteFile(const RemoteFile&) = delete;
  RemoteFile& operator=(const RemoteFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  k::Client& client_;
  const std::string& ns_;
  const Target& t_;
  std::string path_;
};

// Downloads the container's file and checks it arrived whole: its size there and here agree.
Result<JvmFileResult> fetch(k::Client& client, const std::string& ns, const std::string& app, const Target& t,
                            const RemoteFile& file, const std::filesystem::path& local,
                            const std::function<void(const CopyProgress&)>& progress, const std::string& via,
                            const std::string& ext) {
  WB_ASSIGN_OR_RETURN(auto info, stat_remote(client, ns, t, file.path()));
  CopyOptions o;
  o.app = app;
  o.remote = file.path();
  // Into a folder under the replica's name (the container's name is a hidden temporary one).
  std::error_code ec;
  o.local = std::filesystem::is_directory(local, ec) ? local / (t.replica + ext) : local;
  o.replica = t.name;
  o.container = t.container;
  o.on_progress = progress;
  WB_ASSIGN_OR_RETURN(auto copied, copy_from_app(client, ns, o));
  if (info && info->size != copied.bytes)
    return Error(ErrorCode::Failure, fmt::format("'{}' arrived with {} bytes, but has {} in replica {}",
                                                 copied.written.string(), copied.bytes, info->size, t.replica));
  JvmFileResult r{t.replica, copied.written, copied.bytes, std::nullopt, via};
  if (info) r.size_in_container = info->size;
  return r;
}

std::string human_mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

// Refuses a dump that would not fit: the heap in use, plus the dump's own records (a tenth more,
// and 8 MiB: a small heap's dump is about twice its size), against the free space of /tmp.
Status check_room(k::Client& client, const std::string& ns, const Target& t, const CommandOutput& heap_info) {
  const auto used = heap_used_bytes(heap_info.output);
  if (!used) return {};
  const uint64_t needed = *used + *used / 10 + (8 << 20);
  WB_ASSIGN_OR_RETURN(auto df, run_capture(client, ns, t.name, t.container, {"df", "-Pk", kDumpDir}));
  const auto free = df.result.exit_code == 0 ? df_available_bytes(df.out) : std::nullopt;
  if (!free || *free >= needed) return {};
  return Error(ErrorCode::Failure,
               fmt::format("replica {} has {} free in {}, but its heap uses {}: the dump would not fit (it needs "
                           "about {})",
                           t.replica, human_mib(*free), kDumpDir, human_mib(*used), human_mib(needed)),
               "give the app's /tmp more room, or dump a replica with a smaller heap (`--replica NAME`)");
}

}  // namespace

Result<JvmFileResult> heap_dump(k::Client& client, const std::string& ns, const HeapDumpOptions& o) {
  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, o.app, o.replica, o.container));
  WB_ASSIGN_OR_RETURN(auto info, run_jvm_command(client, ns, t, "GC.heap_info"));
  WB_TRY(check_room(client, ns, t, info));
  RemoteFile file(client, ns, t, fmt::format("{}/.wb-heap-{}.hprof", kDumpDir, random_hex()));
  if (o.on_started) o.on_started(t.replica);
  WB_ASSIGN_OR_RETURN(
      auto dumped,
      run_jvm_command(client, ns, t, fmt::format("GC.heap_dump{} {}", o.live ? "" : " -all", file.path())));
  WB_TRY(expect(t, dumped, "Heap dump file created", "the heap dump"));
  return fetch(client, ns, o.app, t, file, o.local, o.on_progress, info.via, ".hprof");
}

Result<JvmFileResult> flight_recording(k::Client& client, const std::string& ns, const RecordingOptions& o) {
  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, o.app, o.replica, o.container));
  const std::string id = random_hex();
  const std::string name = "wb-" + id;
  RemoteFile file(client, ns, t, fmt::format("{}/.wb-jfr-{}.jfr", kDumpDir, id));
  // The JVM ends the recording by itself a minute after its time should wb be gone by then.
  const auto bound = std::chrono::duration_cast<std::chrono::seconds>(o.duration).count() + 61;
  auto started = run_jvm_command(client, ns, t,
                                 fmt::format("JFR.start name={} duration={}s filename={}", name, bound, file.path()));
  if (!started) {
    // Ctrl-C while it started: the JVM may be recording already; end that before its file is removed.
    if (started.error().code == ErrorCode::Interrupted)
      (void)despite_interrupt([&] { return run_jvm_command(client, ns, t, fmt::format("JFR.stop name={}", name)); });
    return std::move(started).error();
  }
  WB_TRY(expect(t, *started, "Started recording", "starting the recording"));
  if (o.on_started) o.on_started(t.replica);
  (void)util::sleep_for(o.duration);  // Ctrl-C ends the recording early
  return despite_interrupt([&]() -> Result<JvmFileResult> {
    WB_ASSIGN_OR_RETURN(auto stopped,
                        run_jvm_command(client, ns, t, fmt::format("JFR.stop name={} filename={}", name, file.path())));
    WB_TRY(expect(t, stopped, "Stopped recording", "stopping the recording"));
    WB_ASSIGN_OR_RETURN(auto got, fetch(client, ns, o.app, t, file, o.local, o.on_progress, started->via, ".jfr"));
    std::ifstream in(got.written, std::ios::binary);
    char magic[4] = {};
    if (!in.read(magic, 4) || std::string_view(magic, 4) != std::string_view("FLR\0", 4))
      return Error(ErrorCode::Failure,
                   fmt::format("'{}' from replica {} is not a flight recording", got.written.string(), t.replica));
    return got;
  });
}

}  // namespace wb::workbench
