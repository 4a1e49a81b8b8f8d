#include "workbench/app/logs.hpp"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "util/interrupt.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Status;
namespace k = wb::kube;

namespace {

// Everything the streams share.
struct Hub {
  Hub(const LogsOptions& o, const LogLineSink& line, const LogNoticeSink& notice_sink)
      : options(o), on_line(line), on_notice(notice_sink) {}
  const LogsOptions& options;
  const LogLineSink& on_line;
  const LogNoticeSink& on_notice;
  std::mutex mu;
  std::stop_source stop;  // all done: every stream ends

  void notice(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    if (on_notice) on_notice(text);
  }

  // Flushing after every chunk costs a write(2) per line when a server sends a line per chunk:
  // while lines pour in, output is flushed at most every kFlushEvery; the flusher thread
  // flushes what is left once they stop. Call under mu.
  static constexpr std::chrono::milliseconds kFlushEvery{40};
  bool dirty = false;
  std::chrono::steady_clock::time_point last_flush{};
  void lines_written() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_flush >= kFlushEvery) {
      if (options.on_flush) options.on_flush();
      last_flush = now;
      dirty = false;
    } else {
      dirty = true;
    }
  }
  std::jthread flusher;  // stopped and joined first when the hub goes
  void start_flusher() {
    flusher = std::jthread([this](std::stop_token quit) {
      while (util::sleep_for(kFlushEvery / 2, quit)) {
        std::lock_guard<std::mutex> lock(mu);
        if (dirty && std::chrono::steady_clock::now() - last_flush >= kFlushEvery / 2) {
          if (options.on_flush) options.on_flush();
          last_flush = std::chrono::steady_clock::now();
          dirty = false;
        }
      }
    });
  }
};

// One replica's log stream, on its own thread.
struct ReplicaStream {
  std::string pod, replica, container;
  bool from_start = false;  // appeared after we started: its whole log, not --tail/--since
  std::stop_source gone;    // the replica was deleted
  std::atomic<bool> done{false};
  Status result;
  std::thread thread;
};

std::string rfc3339_of(int64_t nanos) {
  util::TimePoint t{std::chrono::duration_cast<util::Clock::duration>(std::chrono::seconds(nanos / 1'000'000'000LL))};
  return util::format_rfc3339(t);
}

// One replica's log, read on its own thread: asked for, passed on in batches, and asked again
// where it broke.
class ReplicaLog {
 public:
  ReplicaLog(k::Client& client, const std::string& ns, ReplicaStream& s, Hub& hub)
      : client_(client),
        ns_(ns),
        s_(s),
        hub_(hub),
        o_(hub.options),
        // Timestamps cost the server (and us) on every line; they are asked for only when a break
        // could not be resumed without them: following, or a window that moves with the log's end
        // (--tail, --since). Reading the whole log (or from a fixed --since-time) resumes by asking
        // again and skipping the lines already passed on.
        windowed_(!s.from_start && (o_.tail || o_.since_seconds)),
        stamps_(o_.follow || o_.timestamps || windowed_),
        // Waits end at once when the replica goes, everything is done, or on Ctrl-C.
        stop_{hub.stop.get_token(), s.gone.get_token(), util::interrupt_token()} {}

  void run() {
    while (true) {
      const k::LogOptions lo = next_request();
      lines_seen_ = 0;
      Answer a = read(lo);
      if (a.held && a.status && kubelet_log_error(a.head)) {
        if (wait_for_kubelet(a.head)) continue;
        return;
      }
      if (a.held) splitter_.feed(a.head, [this](std::string_view raw) { handle(raw, splitter_.continues_cut()); });
      end_of_answer(a.status);
      if (!o_.follow) {
        if (read_again(a.status)) continue;
        return;
      }
      if (!keep_following(a.status) || !pause(o_.retry_delay)) return;
    }
  }

 private:
  // What one request brought. A previous log is held back (`held`, in `head`) until it is
  // clearly a log: a newline, or more than the kubelet's error text.
  struct Answer {
    Status status;
    bool held = false;
    std::string head;
  };

  bool stopped() const { return stop_.stop_requested(); }
  bool pause(std::chrono::milliseconds delay) { return util::sleep_for(delay, stop_.token()); }

  // The request: the window asked for, or where the last stream broke.
  k::LogOptions next_request() {
    k::LogOptions lo;
    lo.container = s_.container;
    lo.follow = o_.follow;
    lo.previous = o_.previous;
    lo.timestamps = stamps_;  // stripped unless asked for
    if (!stamps_ || resume_.empty()) {
      if (!s_.from_start) {
        lo.since_seconds = o_.since_seconds;
        lo.since_time = o_.since_time;
        lo.tail_lines = o_.tail;
      }
      // A window that broke before it carried a line is anchored at the moment it was first
      // asked for, on the server's clock: --tail 0 is everything from then on, --since S is
      // everything from S before then (asked again as S, it would slide past lines written
      // meanwhile). --tail N alone is asked again as it is: none of its lines was shown.
      if (stamps_ && opened_at_ && windowed_) {
        if (o_.tail && *o_.tail == 0) {
          lo.since_seconds.reset();
          lo.tail_lines.reset();
          lo.since_time = rfc3339_of(*opened_at_);
        } else if (o_.since_seconds) {
          lo.since_seconds.reset();
          lo.since_time = rfc3339_of(*opened_at_ - *o_.since_seconds * 1'000'000'000LL);
        }
      }
    } else {
      lo.since_time = resume_.since_time();
      resume_.begin_replay();
    }
    if (!opened_at_) {
      // Taken before asking, on the server's clock as the last answer told it (a second or so
      // early, never late), not from the stream's own Date: a stream may break before its headers
      // came. (kube-apiserver 1.32 sends a follow's headers at once, before any line.)
      const util::TimePoint now = client_.server_now().value_or(util::Clock::now());
      opened_at_ = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    }
    return lo;
  }

  Answer read(const k::LogOptions& lo) {
    Answer a;
    a.held = o_.previous;
    a.status = client_.pod_logs(ns_, s_.pod, lo, [&](std::string_view chunk) {
      if (a.held) {
        a.head.append(chunk);
        if (a.head.find('\n') == std::string::npos && a.head.size() < 1024) return !hub_.stop.stop_requested();
        a.held = false;
        splitter_.feed(a.head, [this](std::string_view raw) { handle(raw, splitter_.continues_cut()); });
      } else {
        splitter_.feed(chunk, [this](std::string_view raw) { handle(raw, splitter_.continues_cut()); });
      }
      flush();
      return !hub_.stop.stop_requested();
    });
    return a;
  }

  // One line, or a piece of one over LineSplitter::kMaxLine (`continued`: not its first): skipped
  // when already passed on (or filtered out), else into the batch.
  void handle(std::string_view raw, bool continued) {
    std::string_view stamp, message = raw;
    if (continued) {
      if (skip_pieces_ > 0) {
        --skip_pieces_;  // passed on before the break
        return;
      }
    } else {
      bool seen = false, newest = false;  // passed on before the break; the last line that was
      if (stamps_) {
        std::tie(stamp, message) = split_log_timestamp(raw);
        if (auto nanos = stamp.empty() ? std::nullopt : parse_log_time(stamp); nanos && !resume_.accept(*nanos)) {
          seen = true;
          newest = resume_.newest_passed(*nanos);
        }
      } else {
        seen = lines_seen_ < skip_;
        newest = lines_seen_ + 1 == skip_;
        ++lines_seen_;
      }
      if (seen) {
        // A line cut short by the break goes on after the pieces already passed on.
        skip_pieces_ = newest && broken_pieces_ > 0 ? broken_pieces_ - 1 : SIZE_MAX;
        if (newest) pieces_ = broken_pieces_;
        return;
      }
      skip_pieces_ = 0;
      pieces_ = 0;
      broken_pieces_ = 0;
    }
    ++pieces_;
    if (o_.grep && !std::regex_search(message.begin(), message.end(), *o_.grep)) return;
    warned_ = false;  // lines flow again: the next break gets its own notice
    if (used_ == batch_.size()) {
      batch_.emplace_back();
      batch_.back().replica = s_.replica;
      batch_.back().pod = s_.pod;
      batch_.back().container = s_.container;
    }
    LogLine& line = batch_[used_++];
    line.time.assign(stamp);
    line.message.assign(message);
  }

  void flush() {
    if (used_ == 0) return;
    std::lock_guard<std::mutex> lock(hub_.mu);
    for (size_t i = 0; i < used_; ++i) hub_.on_line(batch_[i]);
    hub_.lines_written();
    used_ = 0;
  }

  // The kubelet answered with its own error text: it is between two runs of the container, so
  // ask again shortly (true), up to 10 s.
  bool wait_for_kubelet(const std::string& said) {
    if (++kubelet_errors_ <= 40 && pause(std::chrono::milliseconds(250))) return true;
    if (util::interrupted() || stopped()) return false;
    s_.result = Error(
        ErrorCode::Unavailable,
        fmt::format("the log of the previous run of {} is not there yet (the kubelet said: {})", s_.replica, said),
        "try again in a moment");
    return false;
  }

  void end_of_answer(const Status& st) {
    if (st) {
      // A clean end: an unterminated last line is whole as far as the server is concerned.
      const bool continued = splitter_.continues_cut();
      std::string rest = splitter_.take_rest();
      if (!rest.empty()) handle(rest, continued);
      flush();
    } else {
      // A broken stream: the line comes again on the reconnect (of one over the cap, the pieces
      // not passed on yet).
      if (splitter_.continues_cut() && skip_pieces_ == 0) broken_pieces_ = pieces_;
      (void)splitter_.take_rest();
    }
    if (!stamps_) skip_ = std::max(skip_, lines_seen_);
  }

  // Not following: a broken read is asked again (a few times) and continues where it broke
  // (true); else the stream's result is `st`.
  bool read_again(Status& st) {
    const bool broken = !st && (st.error().code == ErrorCode::Unavailable || st.error().code == ErrorCode::Timeout) &&
                        st.error().http_status == 0;
    if (broken && breaks_++ < 3 && !util::interrupted() && !stopped()) {
      hub_.notice(fmt::format("replica {}: log stream broke ({}); reconnecting", s_.replica, st.error().message));
      return pause(std::min(o_.retry_delay, std::chrono::milliseconds(200)));
    }
    s_.result = std::move(st);
    return false;
  }

  // Following: whether to ask again after this end (waiting to start, restarting, a broken
  // connection), or stop (the replica is gone, not allowed, Ctrl-C).
  bool keep_following(const Status& st) {
    if (util::interrupted() || stopped()) return false;
    if (st) return true;
    const Error& e = st.error();
    if (e.code == ErrorCode::Interrupted) return false;
    if (e.code == ErrorCode::NotFound) return false;  // the replica is gone
    if (e.code == ErrorCode::Auth) {
      hub_.notice(fmt::format("replica {}: {}", s_.replica, e.message));
      return false;
    }
    if (!warned_ && e.http_status != 400) {
      hub_.notice(fmt::format("replica {}: log stream broke ({}); reconnecting", s_.replica, e.message));
      warned_ = true;
    }
    return true;
  }

  k::Client& client_;
  const std::string& ns_;
  ReplicaStream& s_;
  Hub& hub_;
  const LogsOptions& o_;
  const bool windowed_;
  const bool stamps_;
  util::StopAny stop_;
  ResumePoint resume_;
  LineSplitter splitter_;
  // Pieces of a line over LineSplitter::kMaxLine: passed on of the line being read, passed on of
  // the line a break cut short, still to skip of the line being read (passed on before a break).
  size_t pieces_ = 0;
  size_t broken_pieces_ = 0;
  size_t skip_pieces_ = 0;
  // Reused across batches: no allocation per line once the strings have grown.
  std::vector<LogLine> batch_;
  size_t used_ = 0;
  int64_t lines_seen_ = 0;            // unstamped: lines of the current request passed on (or filtered)
  int64_t skip_ = 0;                  // unstamped: lines to skip on a re-request
  std::optional<int64_t> opened_at_;  // the server's clock when the first stream opened
  int breaks_ = 0;
  int kubelet_errors_ = 0;  // answers that were the kubelet's error text (see kubelet_log_error)
  bool warned_ = false;
};

void start_stream(k::Client& client, const std::string& ns, ReplicaStream& s, Hub& hub) {
  s.thread = std::thread([&client, ns, &s, &hub] {
    ReplicaLog(client, ns, s, hub).run();
    s.done = true;
  });
}

// Whether an event is about the app, its versions or its replicas.
bool event_of_app(const json& ev, const std::string& app) {
  const std::string kind = fields::str(ev, "/involvedObject/kind");
  const std::string name = fields::str(ev, "/involvedObject/name");
  if (kind == "Deployment") return name == app;
  if (name.size() <= app.size() + 1 || name.compare(0, app.size() + 1, app + "-") != 0) return false;
  const auto dashes = std::count(name.begin() + static_cast<long>(app.size()) + 1, name.end(), '-');
  return (kind == "ReplicaSet" && dashes == 0) || (kind == "Pod" && dashes == 1);
}

std::optional<LogLine> event_line(const json& ev, const std::string& app, const json& replica_sets) {
  if (!event_of_app(ev, app)) return std::nullopt;
  auto words = translate_event(ev, app, replica_sets);
  if (!words) return std::nullopt;
  LogLine line;
  line.event = true;
  line.warning = words->type == "Warning";
  line.time = words->time;
  line.message = words->message;
  if (fields::str(ev, "/involvedObject/kind") == "Pod") {
    line.pod = fields::str(ev, "/involvedObject/name");
    line.replica = replica_name(line.pod, app);
  }
  return line;
}

// The moment from which events are shown: --since/--since-time, else from now on.
int64_t events_from(const LogsOptions& o, util::TimePoint now) {
  auto to_ns = [](util::TimePoint t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  if (o.since_seconds) return to_ns(now - std::chrono::seconds(*o.since_seconds));
  if (!o.since_time.empty())
    if (auto t = parse_log_time(o.since_time)) return *t;
  return to_ns(now - std::chrono::seconds(2));
}

int64_t event_nanos(const LogLine& l) { return parse_log_time(l.time).value_or(0); }

}  // namespace

// ---------------------------------------------------------------- pods of an app

Result<std::vector<json>> app_pods(k::Client& client, const std::string& ns, const std::string& app) {
  k::ListOptions lo;
  lo.label_selector = fmt::format("{}={}", labels::kName, app);
  auto list = client.list(k::types::Pod, ns, lo);
  if (!list) return refused_in_workspace(std::move(list).error(), ns);
  std::vector<json> pods;
  for (const auto& p : list->value("items", json::array()))
    if (fields::str(p, "/metadata/deletionTimestamp").empty()) pods.push_back(p);
  if (pods.empty()) {
    auto d = read_app(client, ns, app);
    if (!d) return std::move(d).error();
  }
  std::stable_sort(pods.begin(), pods.end(), [](const json& a, const json& b) {
    return fields::str(a, "/metadata/creationTimestamp") < fields::str(b, "/metadata/creationTimestamp");
  });
  return pods;
}

bool replica_matches(const json& pod, const std::string& app, const std::string& wanted) {
  if (wanted.empty()) return true;
  const std::string name = fields::str(pod, "/metadata/name");
  if (name == wanted) return true;
  const std::string short_name = replica_name(name, app);
  if (short_name == wanted) return true;
  auto dash = name.rfind('-');
  return dash != std::string::npos && name.substr(dash + 1) == wanted;
}

std::string pick_container(const json& pod, const std::string& app, const std::string& wanted) {
  if (!wanted.empty()) return wanted;
  const json tmpl = {{"spec", pod.is_object() ? pod.value("spec", json::object()) : json::object()}};
  if (const json* c = app_container(tmpl, app)) return c->value("name", "");
  const json& cs = tmpl["spec"].is_object() ? tmpl["spec"].value("containers", json::array()) : json::array();
  if (cs.is_array() && !cs.empty() && cs[0].is_object()) return cs[0].value("name", "");
  return "";
}

// ---------------------------------------------------------------- streaming

namespace {

// The replicas asked for; with none, and not following, not found in words.
Result<std::vector<json>> chosen_replicas(k::Client& client, const std::string& ns, const LogsOptions& o) {
  WB_ASSIGN_OR_RETURN(auto pods, app_pods(client, ns, o.app));
  std::vector<json> chosen;
  for (auto& p : pods)
    if (replica_matches(p, o.app, o.replica)) chosen.push_back(std::move(p));
  if (chosen.empty() && !o.follow) {
    if (!o.replica.empty())
      return Error(ErrorCode::NotFound, fmt::format("app '{}' has no replica '{}'", o.app, o.replica),
                   fmt::format("`wb app status {}` lists its replicas", o.app));
    return Error(ErrorCode::NotFound, fmt::format("app '{}' runs no replica, so there are no logs", o.app),
                 fmt::format("`wb app start {}` starts it", o.app));
  }
  return chosen;
}

// The logs of an app's replicas (a stream each) and, with events, the app's events among them.
class AppLogs {
 public:
  AppLogs(k::Client& client, const std::string& ns, const LogsOptions& o, const LogLineSink& on_line,
          const LogNoticeSink& on_notice)
      : client_(client), ns_(ns), o_(o), hub_(o, on_line, on_notice) {
    hub_.start_flusher();
    if (o_.events) {
      k::ListOptions lo;
      lo.label_selector = fmt::format("{}={}", labels::kName, o_.app);
      if (auto rss = client_.list(k::types::ReplicaSet, ns_, lo)) replica_sets_ = rss->value("items", json::array());
    }
    // Events carry the cluster's times: "now" is the server's (a skewed local clock would hide
    // the first events, or show old ones).
    events_since_ = events_from(o_, client_.server_now().value_or(util::Clock::now()));
  }

  // Not following: the events so far, then each replica's log to its end.
  Status read(const std::vector<json>& chosen) {
    if (o_.events) show_past_events();
    for (const auto& p : chosen) add(p, false);
    for (auto& [name, s] : streams_) s->thread.join();
    return outcome();
  }

  // Follow: the replicas there now, and every one that appears until Ctrl-C.
  Status follow(const std::vector<json>& chosen) {
    std::set<std::string> initial;
    for (const auto& p : chosen) {
      initial.insert(fields::str(p, "/metadata/name"));
      add(p, false);
    }
    if (chosen.empty()) hub_.notice(fmt::format("waiting for replicas of {} to start", o_.app));
    std::thread events_thread;
    if (o_.events) events_thread = std::thread([this] { follow_events(); });
    follow_replicas(initial);
    hub_.stop.request_stop();
    for (auto& [name, s] : streams_) s->thread.join();
    if (events_thread.joinable()) events_thread.join();
    return Error(ErrorCode::Interrupted, "interrupted");
  }

 private:
  void add(const json& pod, bool from_start) {
    auto s = std::make_unique<ReplicaStream>();
    s->pod = fields::str(pod, "/metadata/name");
    s->replica = replica_name(s->pod, o_.app);
    s->container = pick_container(pod, o_.app, o_.container);
    s->from_start = from_start;
    auto& ref = *s;
    streams_[s->pod] = std::move(s);
    start_stream(client_, ns_, ref, hub_);
  }

  void show_past_events() {
    auto evs = client_.list(k::types::Event, ns_);
    if (!evs) return;
    std::vector<LogLine> lines;
    for (const auto& ev : evs->value("items", json::array()))
      if (auto l = event_line(ev, o_.app, replica_sets_);
          l && (o_.since_seconds || !o_.since_time.empty() ? event_nanos(*l) >= events_since_ : true))
        lines.push_back(std::move(*l));
    std::stable_sort(lines.begin(), lines.end(),
                     [](const LogLine& a, const LogLine& b) { return event_nanos(a) < event_nanos(b); });
    std::lock_guard<std::mutex> lock(hub_.mu);
    for (const auto& l : lines) hub_.on_line(l);
    if (o_.on_flush) o_.on_flush();
  }

  // What the ended streams come to: the first failure when all failed, else notices of the ones
  // that did.
  Status outcome() {
    std::optional<Error> first_error;
    size_t failed = 0;
    for (auto& [name, s] : streams_) {
      if (s->result) continue;
      ++failed;
      if (s->result.error().code == ErrorCode::Interrupted) return s->result.error();
      if (!first_error) first_error = s->result.error();
    }
    if (failed == 0) return {};
    const bool no_previous = o_.previous && first_error->detail<kube::NoPreviousLog>();
    if (failed == streams_.size()) {
      if (no_previous)
        return Error(
            ErrorCode::NotFound,
            fmt::format("{} of app '{}' has restarted, so there is no previous log",
                        streams_.size() > 1 ? "no replica" : "replica " + streams_.begin()->second->replica, o_.app),
            fmt::format("`wb logs {}` shows the current one", o_.app));
      if (streams_.size() > 1)
        return Error(first_error->code,
                     fmt::format("no replica of app '{}' has logs to show: {}", o_.app, first_error->message),
                     first_error->hint);
      return *first_error;
    }
    for (auto& [name, s] : streams_)
      if (!s->result)
        hub_.notice(fmt::format(
            "replica {}: {}", s->replica,
            no_previous ? std::string("has not restarted, so it has no previous log") : s->result.error().message));
    return {};
  }

  // The app's events as they come, until everything is done or Ctrl-C.
  void follow_events() {
    k::WatchOptions wo;
    util::StopAny stop{hub_.stop.get_token(), util::interrupt_token()};
    while (!stop.stop_requested()) {
      (void)client_.list_watch(k::types::Event, ns_, wo, [&](const k::WatchEvent& we) {
        if (we.type == "ADDED" || we.type == "MODIFIED") {
          if (auto l = event_line(we.object, o_.app, replica_sets_); l && event_nanos(*l) >= events_since_) {
            std::lock_guard<std::mutex> lock(hub_.mu);
            hub_.on_line(*l);
            hub_.lines_written();
          }
        }
        return !stop.stop_requested();
      });
      if (!util::sleep_for(std::chrono::seconds(1), stop.token())) break;
    }
  }

  // Watches the app's replicas until Ctrl-C: a stream for each new one, the end of each that goes.
  void follow_replicas(const std::set<std::string>& initial) {
    k::WatchOptions wo;
    wo.label_selector = fmt::format("{}={}", labels::kName, o_.app);
    while (!util::interrupted()) {
      Status st = client_.list_watch(k::types::Pod, ns_, wo, [&](const k::WatchEvent& we) {
        const std::string name = fields::str(we.object, "/metadata/name");
        if (we.type == "DELETED" || !fields::str(we.object, "/metadata/deletionTimestamp").empty()) {
          if (auto it = streams_.find(name); it != streams_.end()) it->second->gone.request_stop();
        } else if ((we.type == "ADDED" || we.type == "MODIFIED") && !streams_.count(name) &&
                   replica_matches(we.object, o_.app, o_.replica)) {
          hub_.notice(fmt::format("replica {} appeared", replica_name(name, o_.app)));
          add(we.object, !initial.count(name));
        }
        let_go_of_gone();
        return !util::interrupted();
      });
      if (util::interrupted()) break;
      if (!st) hub_.notice(fmt::format("lost track of the replicas of {} ({}); retrying", o_.app, st.error().message));
      if (!util::sleep_for(std::chrono::seconds(1))) break;
    }
  }

  // Lets go of finished streams of replicas that are gone.
  void let_go_of_gone() {
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second->done && it->second->gone.stop_requested()) {
        it->second->thread.join();
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
  }

  k::Client& client_;
  const std::string& ns_;
  const LogsOptions& o_;
  Hub hub_;
  std::map<std::string, std::unique_ptr<ReplicaStream>> streams_;
  json replica_sets_ = json::array();
  int64_t events_since_ = 0;
};

}  // namespace

Status stream_app_logs(k::Client& client, const std::string& ns, const LogsOptions& o, const LogLineSink& on_line,
                       const LogNoticeSink& on_notice) {
  WB_ASSIGN_OR_RETURN(auto chosen, chosen_replicas(client, ns, o));
  AppLogs logs(client, ns, o, on_line, on_notice);
  return o.follow ? logs.follow(chosen) : logs.read(chosen);
}

}  // namespace wb::workbench
