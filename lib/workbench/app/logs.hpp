// An app's logs: every replica at once, streamed line by line, following replicas that come and
// go (rollouts, restarts, scaling) and resuming broken streams without losing or repeating a
// line. Nothing here prints: lines go to a sink, one whole line at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"

namespace wb::workbench {

// One line of a replica's log, or one of the app's events in words.
struct LogLine {
  std::string replica;    // "orders-x2x9z" ("" for app-level events)
  std::string pod;        // the pod's full name ("" for app-level events)
  std::string container;  // "orders"
  std::string time;       // RFC 3339 with nanoseconds, as the server stamped it ("" if unknown)
  std::string message;    // without the line end
  bool event = false;     // an event in words (--events), not a log line
  bool warning = false;   // an event of type Warning
};

struct LogsOptions {
  std::string app;
  bool follow = false;
  std::optional<int64_t> since_seconds;
  std::string since_time;                      // RFC 3339
  std::optional<int64_t> tail;                 // lines per replica
  bool previous = false;                       // the crashed (previous) container
  std::string replica;                         // only this replica (pod name, "orders-x2x9z" or "x2x9z")
  std::string container;                       // default: the app's container
  bool events = false;                         // interleave the app's events in words
  bool timestamps = false;                     // LogLine::time is wanted (else only filled when following)
  std::optional<std::regex> grep;              // only lines whose message matches
  std::chrono::milliseconds retry_delay{500};  // before reconnecting a stream that ended (follow)
  // Called (under the same lock as the sinks) to flush output: at most every 40 ms while lines
  // pour in, and within about 40 ms after the last one.
  std::function<void()> on_flush;
};

// Receives lines (called under a lock: one line at a time, never two at once).
using LogLineSink = std::function<void(const LogLine&)>;
// Receives notices in words ("replica orders-x2x9z appeared"), under the same lock.
using LogNoticeSink = std::function<void(const std::string&)>;

// Streams the app's logs to `on_line` until every stream ends (or, with follow, until Ctrl-C:
// then ErrorCode::Interrupted). NotFound when the app has no replica (or none matches --replica);
// with a single replica its error (e.g. "waiting to start") is the error.
util::Status stream_app_logs(kube::Client& client, const std::string& ns, const LogsOptions& options,
                             const LogLineSink& on_line, const LogNoticeSink& on_notice);

// The app's pods (label app.kubernetes.io/name=<app>), oldest first. NotFound naming the app when
// it does not exist; an empty list when it exists but runs no replica.
util::Result<std::vector<kube::json>> app_pods(kube::Client& client, const std::string& ns, const std::string& app);
// Whether a pod is `wanted` ("" = any): its full name, "<app>-<suffix>" or the suffix alone.
bool replica_matches(const kube::json& pod, const std::string& app, const std::string& wanted);
// The container to use in a pod: `wanted` when given, else the app's container, else the first.
std::string pick_container(const kube::json& pod, const std::string& app, const std::string& wanted);

// ---------------------------------------------------------------- pieces (exposed for tests)

// Cuts a byte stream into whole lines; a line split across chunks is kept until its end arrives.
// A line longer than kMaxLine bytes is passed on in pieces of kMaxLine (the last one ending at
// the newline), so a peer that never sends a newline cannot make it hold more than that.
class LineSplitter {
 public:
  // 1 MiB: far above any real log line (containerd splits lines at 16 KiB and the kubelet joins
  // them again; a long JSON log line or stack trace is tens of KiB), small per replica stream.
  static constexpr size_t kMaxLine = 1 << 20;

  // Calls emit(line) (without '\n', a trailing '\r' removed) for each complete line in `chunk`,
  // and emit(piece) for each kMaxLine bytes of a longer line (nothing removed).
  template <class F>
  void feed(std::string_view chunk, F&& emit) {
    size_t start = 0;
    while (start < chunk.size()) {
      const size_t nl = chunk.find('\n', start);
      const size_t room = kMaxLine - partial_.size();
      size_t len = (nl == std::string_view::npos ? chunk.size() : nl) - start;
      if (nl != std::string_view::npos && len > 0 && chunk[nl - 1] == '\r') --len;  // "\r\n" ends it
      if (len > room) {
        take(chunk.substr(start, room), false, emit);
        start += room;
      } else if (nl != std::string_view::npos) {
        take(chunk.substr(start, nl - start), true, emit);
        start = nl + 1;
      } else {
        partial_.append(chunk.substr(start));
        break;
      }
    }
  }
  // Whether the line being passed on continues one cut at kMaxLine (call from emit).
  bool continues_cut() const { return continues_; }
  // The unterminated rest (a stream that ended without '\n'); clears it.
  std::string take_rest() {
    std::string r = std::move(partial_);
    partial_.clear();
    continues_ = false;
    return r;
  }

 private:
  // Passes on what is held plus `piece`: a whole line (`ended`), or a cut one.
  template <class F>
  void take(std::string_view piece, bool ended, F& emit) {
    if (partial_.empty()) {
      emit(ended ? strip_cr(piece) : piece);
    } else {
      partial_.append(piece);
      std::string line = std::move(partial_);
      partial_.clear();
      emit(ended ? strip_cr(line) : std::string_view(line));
    }
    continues_ = !ended;
  }
  static std::string_view strip_cr(std::string_view s) {
    return !s.empty() && s.back() == '\r' ? s.substr(0, s.size() - 1) : s;
  }
  std::string partial_;
  bool continues_ = false;  // the last piece passed on was cut at kMaxLine
};

// A server timestamp as nanoseconds since the epoch ("2024-05-01T10:00:00.123456789Z");
// nullopt when it is not one.
std::optional<int64_t> parse_log_time(std::string_view text);

// Splits "2024-05-01T10:00:00.123456789Z message" into its timestamp and message; the
// timestamp is empty when the line does not start with one.
std::pair<std::string_view, std::string_view> split_log_timestamp(std::string_view line);

// Whether the whole answer to a log read is the kubelet's own error text rather than a log.
// Right after a container restarts, a read of its previous log (kubelet 1.32, for a second or
// two) answers 200 with "unable to retrieve container logs for containerd://<id>" or "failed to
// try resolving symlinks in path ...: no such file or directory", without a newline; asked again
// a moment later, it gives the log.
bool kubelet_log_error(std::string_view body);

// Where a stream got to, so a reconnect resumes there: remembers the newest timestamp passed on
// and how many lines carried exactly that timestamp.
class ResumePoint {
 public:
  // True when a line stamped `nanos` is new (and records it); false for a line already passed on
  // before a reconnect (older than the newest seen, or one of the lines at the newest stamp).
  // Call begin_replay() before feeding a reconnected stream.
  bool accept(int64_t nanos);
  // Starts counting the lines of a new connection at the newest timestamp again.
  void begin_replay() { replayed_at_last_ = 0; }
  bool empty() const { return !last_.has_value(); }
  // Whether a line stamped `nanos` that accept() just refused is the newest line passed on.
  bool newest_passed(int64_t nanos) const { return last_ && nanos == *last_ && replayed_at_last_ == count_at_last_; }
  // sinceTime for a reconnect: the newest timestamp rounded down to the second (RFC 3339).
  std::string since_time() const;

 private:
  std::optional<int64_t> last_;
  int64_t count_at_last_ = 0;     // lines passed on with exactly last_
  int64_t replayed_at_last_ = 0;  // lines at last_ seen again on the current connection
};

}  // namespace wb::workbench
