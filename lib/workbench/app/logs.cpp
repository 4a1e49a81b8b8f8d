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

void run_stream(k::Client& client, const std::string& ns, ReplicaStream& s, Hub& hub) {
  const LogsOptions& o = hub.options;
  // Timestamps cost the server (and us) on every line; they are asked for only when a break
  // could not be resumed without them: following, or a window that moves with the log's end
  // (--tail, --since). Reading the whole log (or from a fixed --since-time) resumes by asking
  // again and skipping the lines already passed on.
  const bool windowed = !s.from_start && (o.tail || o.since_seconds);
  const bool stamps = o.follow || o.timestamps || windowed;
  ResumePoint resume;
  LineSplitter splitter;
  // Reused across batches: no allocation per line once the strings have grown.
  std::vector<LogLine> batch;
  size_t used = 0;
  int64_t lines_seen = 0;            // unstamped: lines of the current request passed on (or filtered)
  int64_t skip = 0;                  // unstamped: lines to skip on a re-request
  std::optional<int64_t> opened_at;  // the server's clock when the first stream opened
  int breaks = 0;
  int kubelet_errors = 0;  // answers that were the kubelet's error text (see kubelet_log_error)
  bool warned = false;
  // Waits end at once when the replica goes, everything is done, or on Ctrl-C.
  util::StopAny stop{hub.stop.get_token(), s.gone.get_token(), util::interrupt_token()};
  auto stopped = [&] { return stop.stop_requested(); };
  auto pause = [&](std::chrono::milliseconds delay) { return util::sleep_for(delay, stop.token()); };
  while (true) {
    k::LogOptions lo;
    lo.container = s.container;
    lo.follow = o.follow;
    lo.previous = o.previous;
    lo.timestamps = stamps;  // stripped unless asked for
    if (!stamps || resume.empty()) {
      if (!s.from_start) {
        lo.since_seconds = o.since_seconds;
        lo.since_time = o.since_time;
        lo.tail_lines = o.tail;
      }
      // A window that broke before it carried a line is anchored at the moment it was first
      // asked for, on the server's clock: --tail 0 is everything from then on, --since S is
      // everything from S before then (asked again as S, it would slide past lines written
      // meanwhile). --tail N alone is asked again as it is: none of its lines was shown.
      if (stamps && opened_at && windowed) {
        if (o.tail && *o.tail == 0) {
          lo.since_seconds.reset();
          lo.tail_lines.reset();
          lo.since_time = rfc3339_of(*opened_at);
        } else if (o.since_seconds) {
          lo.since_seconds.reset();
          lo.since_time = rfc3339_of(*opened_at - *o.since_seconds * 1'000'000'000LL);
        }
      }
    } else {
      lo.since_time = resume.since_time();
      resume.begin_replay();
    }
    if (!opened_at) {
      // Taken before asking, on the server's clock as the last answer told it (a second or so
      // early, never late), not from the stream's own Date: a stream may break before its headers
      // came. (kube-apiserver 1.32 sends a follow's headers at once, before any line.)
      const util::TimePoint now = client.server_now().value_or(util::Clock::now());
      opened_at = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    }
    lines_seen = 0;
    auto handle = [&](std::string_view raw) {
      std::string_view stamp, message = raw;
      if (stamps) {
        std::tie(stamp, message) = split_log_timestamp(raw);
        if (!stamp.empty()) {
          if (auto nanos = parse_log_time(stamp); nanos && !resume.accept(*nanos)) return;
        }
      } else if (lines_seen++ < skip) {
        return;  // passed on before the break
      }
      if (o.grep && !std::regex_search(message.begin(), message.end(), *o.grep)) return;
      warned = false;  // lines flow again: the next break gets its own notice
      if (used == batch.size()) {
        batch.emplace_back();
        batch.back().replica = s.replica;
        batch.back().pod = s.pod;
        batch.back().container = s.container;
      }
      LogLine& line = batch[used++];
      line.time.assign(stamp);
      line.message.assign(message);
    };
    auto flush = [&] {
      if (used == 0) return;
      std::lock_guard<std::mutex> lock(hub.mu);
      for (size_t i = 0; i < used; ++i) hub.on_line(batch[i]);
      hub.lines_written();
      used = 0;
    };
    // A previous log is held back until it is clearly a log (a newline, or more than the
    // kubelet's error text), so that text is never shown as a line of it.
    bool holding = o.previous;
    std::string head;
    Status st = client.pod_logs(ns, s.pod, lo, [&](std::string_view chunk) {
      if (holding) {
        head.append(chunk);
        if (head.find('\n') == std::string::npos && head.size() < 1024) return !hub.stop.stop_requested();
        holding = false;
        splitter.feed(head, handle);
      } else {
        splitter.feed(chunk, handle);
      }
      flush();
      return !hub.stop.stop_requested();
    });
    if (holding && st && kubelet_log_error(head)) {
      // The kubelet is between two runs of the container: ask again shortly.
      if (++kubelet_errors <= 40 && pause(std::chrono::milliseconds(250))) continue;
      if (util::interrupted() || stopped()) return;
      s.result = Error(
          ErrorCode::Unavailable,
          fmt::format("the log of the previous run of {} is not there yet (the kubelet said: {})", s.replica, head),
          "try again in a moment");
      return;
    }
    if (holding) splitter.feed(head, handle);
    if (st) {
      // A clean end: an unterminated last line is whole as far as the server is concerned.
      std::string rest = splitter.take_rest();
      if (!rest.empty()) handle(rest);
      flush();
    } else {
      (void)splitter.take_rest();  // a broken stream: the line comes again on the reconnect
    }
    if (!stamps) skip = std::max(skip, lines_seen);
    if (!o.follow) {
      // A broken read is asked again (a few times) and continues where it broke.
      const bool broken = !st && (st.error().code == ErrorCode::Unavailable || st.error().code == ErrorCode::Timeout) &&
                          st.error().http_status == 0;
      if (broken && breaks++ < 3 && !util::interrupted() && !stopped()) {
        hub.notice(fmt::format("replica {}: log stream broke ({}); reconnecting", s.replica, st.error().message));
        if (!pause(std::min(o.retry_delay, std::chrono::milliseconds(200)))) return;
        continue;
      }
      s.result = std::move(st);
      return;
    }
    if (util::interrupted() || stopped()) return;
    if (!st) {
      const Error& e = st.error();
      if (e.code == ErrorCode::Interrupted) return;
      if (e.code == ErrorCode::NotFound) return;  // the replica is gone
      if (e.code == ErrorCode::Auth) {
        hub.notice(fmt::format("replica {}: {}", s.replica, e.message));
        return;
      }
      // Waiting to start, restarting, a broken connection: try again shortly.
      if (!warned && e.http_status != 400) {
        hub.notice(fmt::format("replica {}: log stream broke ({}); reconnecting", s.replica, e.message));
        warned = true;
      }
    }
    if (!pause(o.retry_delay)) return;
  }
}

void start_stream(k::Client& client, const std::string& ns, ReplicaStream& s, Hub& hub) {
  s.thread = std::thread([&client, ns, &s, &hub] {
    run_stream(client, ns, s, hub);
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

Status stream_app_logs(k::Client& client, const std::string& ns, const LogsOptions& o, const LogLineSink& on_line,
                       const LogNoticeSink& on_notice) {
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

  Hub hub(o, on_line, on_notice);
  hub.start_flusher();
  std::map<std::string, std::unique_ptr<ReplicaStream>> streams;
  auto add = [&](const json& pod, bool from_start) {
    auto s = std::make_unique<ReplicaStream>();
    s->pod = fields::str(pod, "/metadata/name");
    s->replica = replica_name(s->pod, o.app);
    s->container = pick_container(pod, o.app, o.container);
    s->from_start = from_start;
    auto& ref = *s;
    streams[s->pod] = std::move(s);
    start_stream(client, ns, ref, hub);
  };

  json replica_sets = json::array();
  if (o.events) {
    k::ListOptions lo;
    lo.label_selector = fmt::format("{}={}", labels::kName, o.app);
    if (auto rss = client.list(k::types::ReplicaSet, ns, lo)) replica_sets = rss->value("items", json::array());
  }
  // Events carry the cluster's times: "now" is the server's (a skewed local clock would hide
  // the first events, or show old ones).
  const int64_t events_since = events_from(o, client.server_now().value_or(util::Clock::now()));

  if (!o.follow) {
    if (o.events) {
      auto evs = client.list(k::types::Event, ns);
      if (evs) {
        std::vector<LogLine> lines;
        for (const auto& ev : evs->value("items", json::array()))
          if (auto l = event_line(ev, o.app, replica_sets);
              l && (o.since_seconds || !o.since_time.empty() ? event_nanos(*l) >= events_since : true))
            lines.push_back(std::move(*l));
        std::stable_sort(lines.begin(), lines.end(),
                         [](const LogLine& a, const LogLine& b) { return event_nanos(a) < event_nanos(b); });
        std::lock_guard<std::mutex> lock(hub.mu);
        for (const auto& l : lines) on_line(l);
        if (o.on_flush) o.on_flush();
      }
    }
    for (const auto& p : chosen) add(p, false);
    for (auto& [name, s] : streams) s->thread.join();
    std::optional<Error> first_error;
    size_t failed = 0;
    for (auto& [name, s] : streams) {
      if (s->result) continue;
      ++failed;
      if (s->result.error().code == ErrorCode::Interrupted) return s->result.error();
      if (!first_error) first_error = s->result.error();
    }
    if (failed == 0) return {};
    const bool no_previous = o.previous && first_error->detail<kube::NoPreviousLog>();
    if (failed == streams.size()) {
      if (no_previous)
        return Error(
            ErrorCode::NotFound,
            fmt::format("{} of app '{}' has restarted, so there is no previous log",
                        streams.size() > 1 ? "no replica" : "replica " + streams.begin()->second->replica, o.app),
            fmt::format("`wb logs {}` shows the current one", o.app));
      if (streams.size() > 1)
        return Error(first_error->code,
                     fmt::format("no replica of app '{}' has logs to show: {}", o.app, first_error->message),
                     first_error->hint);
      return *first_error;
    }
    for (auto& [name, s] : streams)
      if (!s->result)
        hub.notice(fmt::format(
            "replica {}: {}", s->replica,
            no_previous ? std::string("has not restarted, so it has no previous log") : s->result.error().message));
    return {};
  }

  // Follow: the replicas there now, and every one that appears until Ctrl-C.
  std::set<std::string> initial;
  for (const auto& p : chosen) {
    initial.insert(fields::str(p, "/metadata/name"));
    add(p, false);
  }
  if (chosen.empty()) hub.notice(fmt::format("waiting for replicas of {} to start", o.app));

  std::thread events_thread;
  if (o.events) {
    events_thread = std::thread([&] {
      k::WatchOptions wo;
      util::StopAny stop{hub.stop.get_token(), util::interrupt_token()};
      while (!stop.stop_requested()) {
        (void)client.list_watch(k::types::Event, ns, wo, [&](const k::WatchEvent& we) {
          if (we.type == "ADDED" || we.type == "MODIFIED") {
            if (auto l = event_line(we.object, o.app, replica_sets); l && event_nanos(*l) >= events_since) {
              std::lock_guard<std::mutex> lock(hub.mu);
              on_line(*l);
              hub.lines_written();
            }
          }
          return !stop.stop_requested();
        });
        if (!util::sleep_for(std::chrono::seconds(1), stop.token())) break;
      }
    });
  }

  k::WatchOptions wo;
  wo.label_selector = fmt::format("{}={}", labels::kName, o.app);
  while (!util::interrupted()) {
    Status st = client.list_watch(k::types::Pod, ns, wo, [&](const k::WatchEvent& we) {
      const std::string name = fields::str(we.object, "/metadata/name");
      if (we.type == "DELETED" || !fields::str(we.object, "/metadata/deletionTimestamp").empty()) {
        if (auto it = streams.find(name); it != streams.end()) it->second->gone.request_stop();
      } else if ((we.type == "ADDED" || we.type == "MODIFIED") && !streams.count(name) &&
                 replica_matches(we.object, o.app, o.replica)) {
        hub.notice(fmt::format("replica {} appeared", replica_name(name, o.app)));
        add(we.object, !initial.count(name));
      }
      // Let go of finished streams of replicas that are gone.
      for (auto it = streams.begin(); it != streams.end();) {
        if (it->second->done && it->second->gone.stop_requested()) {
          it->second->thread.join();
          it = streams.erase(it);
        } else {
          ++it;
        }
      }
      return !util::interrupted();
    });
    if (util::interrupted()) break;
    if (!st) hub.notice(fmt::format("lost track of the replicas of {} ({}); retrying", o.app, st.error().message));
    if (!util::sleep_for(std::chrono::seconds(1))) break;
  }
  hub.stop.request_stop();
  for (auto& [name, s] : streams) s->thread.join();
  if (events_thread.joinable()) events_thread.join();
  return Error(ErrorCode::Interrupted, "interrupted");
}

// ---------------------------------------------------------------- pieces

std::optional<int64_t> parse_log_time(std::string_view text) {
  // Split off the fraction; util::parse_rfc3339 handles the rest. Consecutive lines mostly share
  // their second, so the last one parsed is remembered.
  thread_local std::string last_base;
  thread_local int64_t last_secs = 0;
  size_t dot = text.find('.');
  int64_t frac = 0;
  std::string_view head = text, tail;
  if (dot != std::string_view::npos) {
    size_t end = dot + 1;
    int digits = 0;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (text[end] - '0');
        ++digits;
      }
      ++end;
    }
    if (end == dot + 1) return std::nullopt;
    for (; digits < 9; ++digits) frac *= 10;
    head = text.substr(0, dot);
    tail = text.substr(end);
  }
  if (head.size() + tail.size() == last_base.size() && last_base.compare(0, head.size(), head) == 0 &&
      last_base.compare(head.size(), tail.size(), tail) == 0)
    return last_secs * 1'000'000'000LL + frac;
  std::string base;
  base.reserve(head.size() + tail.size());
  base.append(head).append(tail);
  auto t = util::parse_rfc3339(base);
  if (!t) return std::nullopt;
  last_secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  last_base = std::move(base);
  return last_secs * 1'000'000'000LL + frac;
}

bool kubelet_log_error(std::string_view body) {
  if (body.empty() || body.find('\n') != std::string_view::npos) return false;
  for (std::string_view prefix :
       {"unable to retrieve container logs for ", "failed to try resolving symlinks in path "})
    if (body.substr(0, prefix.size()) == prefix) return true;
  return false;
}

std::pair<std::string_view, std::string_view> split_log_timestamp(std::string_view line) {
  size_t sp = line.find(' ');
  std::string_view first = sp == std::string_view::npos ? line : line.substr(0, sp);
  // A cheap check before parsing: "2024-05-01T..."
  if (first.size() < 20 || first[4] != '-' || first[10] != 'T' || !parse_log_time(first))
    return {std::string_view(), line};
  return {first, sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1)};
}

bool ResumePoint::accept(int64_t nanos) {
  if (last_ && nanos < *last_) return false;
  if (last_ && nanos == *last_) {
    ++replayed_at_last_;
    if (replayed_at_last_ <= count_at_last_) return false;
    ++count_at_last_;
    return true;
  }
  last_ = nanos;
  count_at_last_ = 1;
  replayed_at_last_ = 1;
  return true;
}

std::string ResumePoint::since_time() const {
  if (!last_) return "";
  util::TimePoint t{std::chrono::duration_cast<util::Clock::duration>(std::chrono::seconds(*last_ / 1'000'000'000LL))};
  return util::format_rfc3339(t);
}

}  // namespace wb::workbench
