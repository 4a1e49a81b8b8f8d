// Watching: the newline-delimited event stream of one watch, and list_watch's list, watch,
// resume and re-list loop.
#include <map>

#include "kube/client_internal.hpp"
#include "kube/fields.hpp"
#include "util/interrupt.hpp"
#include "util/strings.hpp"

namespace wb::kube::detail {

namespace {

// Splits a newline-delimited JSON stream that arrives in arbitrary pieces.
class WatchDecoder {
 public:
  // Calls `emit` for every complete event; stops early (returning its error/false) if it says so.
  template <class F>
  Result<bool> feed(std::string_view chunk, F&& emit) {
    buffer_.append(chunk);
    size_t start = 0;
    while (true) {
      size_t nl = buffer_.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(buffer_.data() + start, nl - start);
      start = nl + 1;
      WB_ASSIGN_OR_RETURN(bool go_on, one(line, emit));
      if (!go_on) {
        buffer_.erase(0, start);
        return false;
      }
    }
    buffer_.erase(0, start);
    return true;
  }
  // The stream ended: a last event without a newline still counts.
  template <class F>
  Result<bool> finish(F&& emit) {
    std::string rest;
    rest.swap(buffer_);
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

// list_watch keeps the last state it reported per object so that a re-list after 410 Gone reports
// only what changed meanwhile: ADDED for new objects, MODIFIED for changed resourceVersions,
// DELETED (with the last known object) for objects that disappeared.
Status HttpClient::list_watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                              const std::function<bool(const WatchEvent&)>& on_event) {
  std::map<std::string, json> known;
  std::string rv;
  int failures = 0;

  auto relist = [&]() -> Result<bool> {
    ListOptions lo;
    lo.label_selector = options.label_selector;
    lo.field_selector = options.field_selector;
    WB_ASSIGN_OR_RETURN(json list, this->list(type, ns, lo));
    rv = fields::str(list, "/metadata/resourceVersion");
    std::map<std::string, json> now;
    for (auto& item : list["items"]) {
      if (!item.contains("apiVersion")) item["apiVersion"] = type.api_version();
      if (!item.contains("kind")) item["kind"] = type.kind;
      std::string key = object_key(item);
      now[key] = std::move(item);
    }
    for (auto& [key, obj] : now) {
      auto it = known.find(key);
      if (it == known.end()) {
        if (!on_event({"ADDED", obj})) return false;
      } else if (fields::str(it->second, "/metadata/resourceVersion") !=
                 fields::str(obj, "/metadata/resourceVersion")) {
        if (!on_event({"MODIFIED", obj})) return false;
      }
    }
    for (auto& [key, obj] : known)
      if (!now.count(key))
        if (!on_event({"DELETED", obj})) return false;
    known = std::move(now);
    return true;
  };

  auto backoff = [&](int n) {
    auto d = options_.retry_base_delay * (1LL << std::min(n, 10));
    if (d > options_.retry_max_delay) d = options_.retry_max_delay;
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (util::interrupted()) return false;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    }
    return !util::interrupted();
  };

  WB_ASSIGN_OR_RETURN(bool go_on, relist());
  if (!go_on) return {};
  while (true) {
    if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
    WatchOptions wo = options;
    wo.resource_version = rv;
    wo.allow_bookmarks = true;
    int events = 0;
    bool stop = false;
    auto r = watch_once(
        type, ns, wo,
        [&](const WatchEvent& ev) {
          std::string v = fields::str(ev.object, "/metadata/resourceVersion");
          if (!v.empty()) rv = v;
          if (ev.type == "BOOKMARK") return true;
          WatchEvent out = ev;
          if (out.object.is_object()) {
            if (!out.object.contains("apiVersion")) out.object["apiVersion"] = type.api_version();
            if (!out.object.contains("kind")) out.object["kind"] = type.kind;
          }
          if (ev.type == "DELETED")
            known.erase(object_key(ev.object));
          else if (ev.type == "ADDED" || ev.type == "MODIFIED") {
            std::string key = object_key(ev.object);
            known[key] = out.object;
          }
          if (!on_event(out)) {
            stop = true;
            return false;
          }
          return true;
        },
        &events);
    if (stop) return {};
    if (r) {
      if (*r == WatchEnd::StoppedByCaller) return {};
      // The server closed the stream (its timeout): resume from rv.
      if (events > 0) failures = 0;
      if (events == 0 && !backoff(0)) return Error(ErrorCode::Interrupted, "interrupted");
      continue;
    }
    const Error& e = r.error();
    if (e.http_status == 410) {
      WB_ASSIGN_OR_RETURN(bool cont, relist());
      if (!cont) return {};
      failures = 0;
      continue;
    }
    if (e.code != ErrorCode::Unavailable && e.code != ErrorCode::Timeout) return e;
    if (events > 0) failures = 0;
    if (++failures > options_.max_retries) return e;
    if (!backoff(failures - 1)) return Error(ErrorCode::Interrupted, "interrupted");
  }
}

}  // namespace wb::kube::detail
