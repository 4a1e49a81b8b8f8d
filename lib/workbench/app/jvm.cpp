// Thread dumps by SIGQUIT: the JVM prints the dump to its stdout, which is the container's log.
#include "workbench/app/jvm.hpp"

#include <fmt/format.h>

#include "util/stop.hpp"
#include "util/time.hpp"
#include "workbench/app/files_internal.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/app/logs.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
namespace k = wb::kube;
using kube::json;

namespace {

constexpr size_t kMaxLogRead = 32 << 20;  // a dump of thousands of threads is a few MiB
constexpr int kNoJava = 3;

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool pod_ready(const json& pod) {
  for (const auto& c : pod.value("/status/conditions"_json_pointer, json::array()))
    if (c.value("type", "") == "Ready" && c.value("status", "") == "True") return true;
  return false;
}

// One scan step over a dump line; returns false when the line is past the dump's end.
bool take_dump_line(DumpScan& s, std::string_view line, bool& in_heap) {
  if (!s.refs_seen) {
    s.refs_seen = starts_with(line, "JNI global refs");
  } else if (line == "Heap") {
    in_heap = true;
  } else if (!(line.empty() || (in_heap && starts_with(line, " ")))) {
    s.closed = true;
    return false;
  }
  s.text.append(line).push_back('\n');
  return true;
}

// The log of a pod since `since` (whole seconds), with timestamps.
Result<std::string> read_log(k::Client& client, const std::string& ns, const std::string& pod,
                             const std::string& container, util::TimePoint since) {
  k::LogOptions lo;
  lo.container = container;
  lo.timestamps = true;
  lo.since_time = util::format_rfc3339(since);
  std::string log;
  WB_TRY(client.pod_logs(ns, pod, lo, [&](std::string_view d) {
    log.append(d);
    return log.size() < kMaxLogRead;
  }));
  return log;
}

// Signals the JVM of the target; its PID in words.
Result<std::string> signal_jvm(k::Client& client, const std::string& ns, const files_detail::Target& t) {
  WB_ASSIGN_OR_RETURN(
      auto c, files_detail::run_capture(client, ns, t.name, t.container, {"/bin/sh", "-c", signal_jvm_script()}));
  if (c.result.no_such_command)
    return Error(ErrorCode::NotFound, fmt::format("replica {} has no /bin/sh to signal its JVM with", t.replica),
                 "a thread dump needs a base image with /bin/sh and kill (any JRE image but distroless has them)");
  if (c.result.exit_code == kNoJava)
    return Error(ErrorCode::NotFound, fmt::format("replica {} runs no Java process", t.replica),
                 "a thread dump needs the JVM in the app's container (`-c CONTAINER` names another one)");
  if (!c.result.failure_message.empty() || c.result.exit_code != 0)
    return files_detail::exec_error("signalling the JVM", t, c);
  return files_detail::first_line(c.out);
}

}  // namespace

std::string signal_jvm_script() {
  return R"(for d in /proc/[0-9]*; do
  n=${d#/proc/}
  [ "$n" = "$$" ] && continue
  exe=$(readlink "$d/exe" 2>/dev/null) || exe=$(tr '\0' '\n' < "$d/cmdline" 2>/dev/null | head -n 1)
  case "$exe" in
    */java|java) kill -QUIT "$n" || exit 4; echo "$n"; exit 0;;
  esac
done
exit 3)";
}

DumpScan scan_thread_dump(std::string_view log, int64_t not_before_nanos) {
  DumpScan s;
  bool in_heap = false;
  LineSplitter lines;
  bool done = false;
  auto on_line = [&](std::string_view raw) {
    if (done) return;
    auto [stamp, message] = split_log_timestamp(raw);
    if (!s.started) {
      auto nanos = parse_log_time(stamp);
      if ((nanos && *nanos < not_before_nanos) || !starts_with(message, "Full thread dump")) return;
      s.started = true;
    }
    done = !take_dump_line(s, message, in_heap);
  };
  lines.feed(log, on_line);
  if (auto rest = lines.take_rest(); !rest.empty()) on_line(rest);
  while (!s.text.empty() && s.text.back() == '\n') s.text.pop_back();
  return s;
}

Result<std::vector<std::string>> thread_dump_pods(k::Client& client, const std::string& ns,
                                                  const ThreadDumpOptions& o) {
  if (!o.replica.empty()) {
    WB_ASSIGN_OR_RETURN(auto t, files_detail::pick_pod(client, ns, o.app, o.replica, o.container));
    return std::vector<std::string>{t.name};
  }
  WB_ASSIGN_OR_RETURN(auto pods, app_pods(client, ns, o.app));
  std::vector<std::string> names;
  for (const auto& p : pods)
    if (pod_ready(p)) names.push_back(fields::str(p, "/metadata/name"));
  if (names.empty())
    return Error(ErrorCode::NotFound, fmt::format("app '{}' has no ready replica to take a thread dump of", o.app),
                 fmt::format("`wb app status {}` tells why; `--replica NAME` takes one that is not ready", o.app));
  return names;
}

Result<ThreadDump> thread_dump(k::Client& client, const std::string& ns, const ThreadDumpOptions& o,
                               const std::string& pod) {
  WB_ASSIGN_OR_RETURN(auto t, files_detail::pick_pod(client, ns, o.app, pod, o.container));
  // The server's clock runs behind rather than ahead: lines stamped before it came before the signal.
  const util::TimePoint before = client.server_now().value_or(util::Clock::now());
  const int64_t not_before = std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count();
  WB_TRY(signal_jvm(client, ns, t));
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  bool refs_seen_before = false;
  for (;;) {
    if (!util::sleep_for(o.poll_interval)) return Error(ErrorCode::Interrupted, "interrupted");
    WB_ASSIGN_OR_RETURN(auto log, read_log(client, ns, t.name, t.container, before));
    DumpScan s = scan_thread_dump(log, not_before);
    // The heap summary follows the thread list at once: a poll later it is all there.
    if (s.closed || (s.refs_seen && refs_seen_before)) return ThreadDump{t.replica, std::move(s.text)};
    refs_seen_before = s.refs_seen;
    if (std::chrono::steady_clock::now() < deadline) continue;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count();
    if (s.started)
      return Error(ErrorCode::Timeout,
                   fmt::format("the thread dump of replica {} did not end in its log within {} s", t.replica, secs));
    return Error(
        ErrorCode::Timeout,
        fmt::format("no thread dump appeared in the log of replica {} within {} s of SIGQUIT", t.replica, secs),
        "the JVM must write to the container's stdout and run without -Xrs (or the image needs jcmd)");
  }
}

}  // namespace wb::workbench
