// Watching: the newline-delimited event stream of one watch, and list_watch's list, watch,
// resume and re-list loop.
#include <algorithm>
#include <map>

#include "kube/client_internal.hpp"
#include "kube/fields.hpp"
#include "util/interrupt.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"

namespace wb::kube::detail {

namespace {

// The longest watch event read (an object is at most ~1.5 MiB in etcd; its JSON a little more).
constexpr size_t kMaxWatchEventBytes = size_t{16} << 20;

// Splits a newline-delimited JSON stream that arrives in arbitrary pieces.
class WatchDecoder {
 public:
  // Calls `emit` for every complete event; stops early (returning its error/false) if it says so.
  // An event longer than kMaxWatchEventBytes is an error.
  template <class F>
  Result<bool> feed(std::string_view chunk, F&& emit) {
    buffer_.append(chunk);
    size_t start = 0;
    while (true) {
      size_t nl = buffer_.find('\n', std::max(start, scanned_));
      if (nl == std::string::npos) break;
      std::string_view line(buffer_.data() + start, nl - start);
      start = nl + 1;
      WB_ASSIGN_OR_RETURN(bool go_on, one(line, emit));
      if (!go_on) {
        buffer_.erase(0, start);
        scanned_ = 0;
        return false;
      }
    }
    buffer_.erase(0, start);
    scanned_ = buffer_.size();  // no newline in there: the next search starts after it
    if (buffer_.size() > kMaxWatchEventBytes)
      return Error(ErrorCode::Failure, "the Kubernetes API sent a watch event larger than " +
                                           http::size_words(kMaxWatchEventBytes) + ": not read further");
    return true;
  }
  // The stream ended: a last event without a newline still counts.
  template <class F>
  Result<bool> finish(F&& emit) {
    std::string rest;
    rest.swap(buffer_);
    scanned_ = 0;
    return one(rest, emit);
  }

 private:
  template <class F>
  Result<bool> one(std::string_view line, F&& emit) {
    std::string t = util::trim(line);
    if (t.empty()) return true;
    json j = json::parse(t, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string())
      return Error(ErrorCode::Unavailable, "the Kubernetes API sent a watch event that is not valid JSON");
    WatchEvent ev;
    ev.type = j["type"].get<std::string>();
    if (j.contains("object")) ev.object = std::move(j["object"]);
    return emit(ev);
  }

  std::string buffer_;
  size_t scanned_ = 0;  // the first bytes of buffer_ known to hold no newline
};

std::string object_key(const json& object) {
  return fields::str(object, "/metadata/namespace") + "/" + fields::str(object, "/metadata/name");
}

}  // namespace

Status HttpClient::watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                         const std::function<bool(const WatchEvent&)>& on_event) {
  WB_TRY(watch_once(type, ns, options, on_event));
  return {};
}

Result<HttpClient::WatchEnd> HttpClient::watch_once(const ResourceType& type, const std::string& ns,
                                                    const WatchOptions& o,
                                                    const std::function<bool(const WatchEvent&)>& on_event,
                                                    int* events) {
  Query q;
  q.add("watch", "1")
      .add("resourceVersion", o.resource_version)
      .add_if(o.allow_bookmarks, "allowWatchBookmarks", "true")
      .add_if(o.timeout.has_value(), "timeoutSeconds", std::to_string(o.timeout ? o.timeout->count() : 0))
      .add("labelSelector", o.label_selector)
      .add("fieldSelector", o.field_selector);
  WatchDecoder decoder;
  std::optional<Error> failure;
  bool caller_stopped = false;
  auto emit = [&](const WatchEvent& ev) -> Result<bool> {
    if (ev.type == "ERROR") {
      int code = ev.object.is_object() && ev.object.contains("code") && ev.object["code"].is_number_integer()
                     ? ev.object["code"].get<int>()
                     : 500;
      return status_to_error(code, ev.object.dump());
    }
    if (events) ++*events;
    if (!on_event(ev)) {
      caller_stopped = true;
      return false;
    }
    return true;
  };
  Call c{"GET", resource_path(type, ns) + q.str()};
  // A watch lasts until the server's timeoutSeconds (plus slack), not the per-request timeout.
  c.timeout = o.timeout ? std::chrono::duration_cast<std::chrono::milliseconds>(*o.timeout + std::chrono::seconds(30))
                        : std::chrono::milliseconds(0);
  c.sink = [&](std::string_view chunk) {
    auto r = decoder.feed(chunk, emit);
    if (!r) {
      failure = r.error();
      return false;
    }
    return *r;
  };
  auto r = call(c);
  if (failure) return *failure;
  if (caller_stopped) return WatchEnd::StoppedByCaller;
  if (!r) return std::move(r).error();
  auto last = decoder.finish(emit);
  if (!last) return std::move(last).error();
  if (caller_stopped) return WatchEnd::StoppedByCaller;
  return WatchEnd::StreamEnded;
}

namespace {

using EventSink = std::function<bool(const WatchEvent&)>;

// What list_watch has reported: the last state of each object, so that a re-list after 410 Gone
// reports only what changed meanwhile, and the resourceVersion to resume the watch from.
struct Reported {
  std::map<std::string, json> objects;  // by object_key
  std::string resource_version;
};

// List items and watch objects may lack apiVersion and kind.
void add_type(json& object, const ResourceType& type) {
  if (!object.is_object()) return;
  if (!object.contains("apiVersion")) object["apiVersion"] = type.api_version();
  if (!object.contains("kind")) object["kind"] = type.kind;
}

// Lists afresh and reports the difference from what was reported: ADDED for new objects,
// MODIFIED for changed resourceVersions, DELETED (with the last known object) for objects that
// disappeared. False when the caller stopped.
Result<bool> relist(Client& client, const ResourceType& type, const std::string& ns, const WatchOptions& options,
                    Reported& reported, const EventSink& on_event) {
  ListOptions lo;
  lo.label_selector = options.label_selector;
  lo.field_selector = options.field_selector;
  WB_ASSIGN_OR_RETURN(json list, client.list(type, ns, lo));
  reported.resource_version = fields::str(list, "/metadata/resourceVersion");
  std::map<std::string, json> now;
  for (auto& item : list["items"]) {
    add_type(item, type);
    std::string key = object_key(item);
    now[key] = std::move(item);
  }
  for (auto& [key, obj] : now) {
    auto it = reported.objects.find(key);
    if (it == reported.objects.end()) {
      if (!on_event({"ADDED", obj})) return false;
    } else if (fields::str(it->second, "/metadata/resourceVersion") != fields::str(obj, "/metadata/resourceVersion")) {
      if (!on_event({"MODIFIED", obj})) return false;
    }
  }
  for (auto& [key, obj] : reported.objects)
    if (!now.count(key))
      if (!on_event({"DELETED", obj})) return false;
  reported.objects = std::move(now);
  return true;
}

// Notes a watch event's resourceVersion and object and passes it on (BOOKMARKs only move the
// resume point). False when the caller stopped.
bool report_event(const WatchEvent& ev, const ResourceType& type, Reported& reported, const EventSink& on_event) {
  std::string v = fields::str(ev.object, "/metadata/resourceVersion");
  if (!v.empty()) reported.resource_version = v;
  if (ev.type == "BOOKMARK") return true;
  WatchEvent out = ev;
  add_type(out.object, type);
  if (ev.type == "DELETED")
    reported.objects.erase(object_key(ev.object));
  else if (ev.type == "ADDED" || ev.type == "MODIFIED")
    reported.objects[object_key(ev.object)] = out.object;
  return on_event(out);
}

// Waits before reconnect number `n` (0-based): exponential from retry_base_delay up to
// retry_max_delay. False when Ctrl-C ended the wait.
bool back_off(const http::ClientOptions& o, int n) {
  std::chrono::milliseconds delay = o.retry_base_delay * (1LL << std::min(n, 10));
  return util::sleep_for(std::min(delay, o.retry_max_delay));
}

Error interrupted_error() { return Error(ErrorCode::Interrupted, "interrupted"); }

}  // namespace

// A list, then watches that resume where the last one ended; a 410 Gone re-lists, a broken or
// unavailable stream is reconnected with backoff, up to max_retries times in a row.
Status HttpClient::list_watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                              const EventSink& on_event) {
  Reported reported;
  WB_ASSIGN_OR_RETURN(bool go_on, relist(*this, type, ns, options, reported, on_event));
  if (!go_on) return {};
  int failures = 0;
  while (true) {
    if (util::interrupted()) return interrupted_error();
    WatchOptions wo = options;
    wo.resource_version = reported.resource_version;
    wo.allow_bookmarks = true;
    int events = 0;
    bool caller_stopped = false;
    auto r = watch_once(
        type, ns, wo,
        [&](const WatchEvent& ev) {
          caller_stopped = !report_event(ev, type, reported, on_event);
          return !caller_stopped;
        },
        &events);
    if (caller_stopped) return {};
    if (r) {
      if (*r == WatchEnd::StoppedByCaller) return {};
      // The server closed the stream (its timeout): resume from the last resourceVersion.
      if (events > 0) failures = 0;
      if (events == 0 && !back_off(options_, 0)) return interrupted_error();
      continue;
    }
    const Error& e = r.error();
    if (e.http_status == 410) {
      WB_ASSIGN_OR_RETURN(bool cont, relist(*this, type, ns, options, reported, on_event));
      if (!cont) return {};
      failures = 0;
      continue;
    }
    if (e.code != ErrorCode::Unavailable && e.code != ErrorCode::Timeout) return e;
    if (events > 0) failures = 0;
    if (++failures > options_.max_retries) return e;
    if (!back_off(options_, failures - 1)) return interrupted_error();
  }
}

}  // namespace wb::kube::detail
