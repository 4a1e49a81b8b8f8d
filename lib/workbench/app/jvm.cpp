// Thread dumps by SIGQUIT: the JVM prints the dump to its stdout, which is the container's log.
#include "workbench/app/jvm.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "util/stop.hpp"
#include "util/time.hpp"
#include "workbench/app/files_internal.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/app/logs.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/core/status.hpp"

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

// Shell text that sets pid and exe to the container's JVM (PID 1 first), skipping the JVMs of wb's
// own clients; both empty when no process runs Java.
constexpr const char* kFindJvm = R"sh(pid= exe=
for d in /proc/[0-9]*; do
  n=${d#/proc/}
  [ "$n" = "$$" ] && continue
  e=$(readlink "$d/exe" 2>/dev/null) || e=$(tr '\0' '\n' < "$d/cmdline" 2>/dev/null | head -n 1)
  case "$e" in
    */java|java)
      case "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" in *WbAttach*|*sun.tools.jcmd*) continue;; esac
      pid=$n exe=$e
      break;;
  esac
done
)sh";

std::string signal_jvm_script() {
  return std::string(kFindJvm) + R"sh([ -n "$pid" ] || exit 3
kill -QUIT "$pid" || exit 4
echo "$pid")sh";
}

std::string jvm_command_script() {
  // Our clients are small JVMs in the app's memory limit; the platform's JAVA_TOOL_OPTIONS (the
  // tracing agent, the heap share) are the app's, not theirs.
  return std::string(R"sh(size=$1 cmd=$2
unset JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS _JAVA_OPTIONS
dir=$(mktemp -d /tmp/.wb-attach.XXXXXX) || exit 8
trap 'rm -rf "$dir"' EXIT
head -c "$size" > "$dir/WbAttach.class" || exit 8
)sh") + kFindJvm +
         R"sh([ -n "$pid" ] || exit 3
case "$(tr '\0' ' ' < "/proc/$pid/cmdline") $(tr '\0' ' ' < "/proc/$pid/environ" 2>/dev/null)" in
  *-XX:+DisableAttachMechanism*) exit 6;;
esac
small="-Xmx16m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"
jcmd=${exe%/*}/jcmd
[ -x "$jcmd" ] || jcmd=$(command -v jcmd) || jcmd=
if [ -n "$jcmd" ]; then
  echo jcmd
  "$jcmd" $(for f in $small; do printf ' -J%s' "$f"; done) "$pid" "$cmd"
  exit
fi
echo attach
sock=/tmp/.java_pid$pid
if [ ! -S "$sock" ]; then
  trigger=/tmp/.attach_pid$pid
  { : > "$trigger"; } 2>/dev/null || { trigger=/proc/$pid/cwd/.attach_pid$pid; : > "$trigger" || exit 7; }
  kill -QUIT "$pid" || { rm -f "$trigger"; exit 4; }
  i=0
  while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done
  rm -f "$trigger"
  [ -S "$sock" ] || exit 5
fi
"$exe" $small -cp "$dir" WbAttach "$sock" "$cmd")sh";
}

std::optional<uint64_t> heap_used_bytes(std::string_view heap_info) {
  uint64_t kib = 0;
  bool seen = false;
  LineSplitter lines;
  auto on_line = [&](std::string_view line) {
    const auto text = line.substr(std::min(line.size(), line.find_first_not_of(' ')));
    if (starts_with(text, "Metaspace") || starts_with(text, "class space")) return;
    for (size_t at = text.find("used "); at != std::string_view::npos; at = text.find("used ", at + 1)) {
      size_t i = at + 5, digits = 0;
      uint64_t n = 0;
      for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) n = n * 10 + (text[i] - '0');
      if (digits == 0 || i >= text.size() || text[i] != 'K') continue;
      kib += n;
      seen = true;
    }
  };
  lines.feed(heap_info, on_line);
  if (auto rest = lines.take_rest(); !rest.empty()) on_line(rest);
  if (!seen) return std::nullopt;
  return kib * 1024;
}

std::optional<uint64_t> df_available_bytes(std::string_view df) {
  // "Filesystem 1024-blocks Used Available Capacity Mounted on", then one line of numbers.
  const auto nl = df.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> fields;
  std::string_view rest = df.substr(nl + 1);
  rest = rest.substr(0, rest.find('\n'));
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = std::min(rest.size(), rest.find_first_of(" \t"));
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  if (fields.size() < 6) return std::nullopt;
  uint64_t kib = 0;
  for (char c : fields[3]) {
    if (c < '0' || c > '9') return std::nullopt;
    kib = kib * 10 + static_cast<uint64_t>(c - '0');
  }
  return kib * 1024;
}

std::optional<AttachReply> parse_attach_reply(std::string_view reply) {
  const auto nl = reply.find('\n');
  if (nl == std::string_view::npos || nl == 0) return std::nullopt;
  std::string_view code = reply.substr(0, nl);
  const bool negative = code.front() == '-';
  if (negative) code.remove_prefix(1);
  if (code.empty() || code.size() > 9) return std::nullopt;
  int n = 0;
  for (char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return AttachReply{negative ? -n : n, std::string(reply.substr(nl + 1))};
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
