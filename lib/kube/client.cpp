// The REST client over http::Transport.
#include "kube/client.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "http/http.hpp"
#include "kube/fields.hpp"
#include "util/encoding.hpp"
#include "util/interrupt.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace wb::kube {

using util::Error;
using util::ErrorCode;

namespace {

// Every write asks the server to refuse unknown and duplicate fields (server-side field
// validation: alpha in 1.23, GA in 1.27; without it a 1.32 server only warns and drops them).
// wb builds its objects itself, so a field the server does not know is a bug in wb (or a field
// newer than the server) and must fail loudly. Older servers ignore the parameter, as they ignore
// any query parameter they do not know. Server-side apply refuses unknown fields whatever this
// says (a 500 "failed to create typed patch object"); Strict adds duplicate keys there.
constexpr const char* kFieldValidation = "Strict";

// Query string builder; empty values are left out.
class Query {
 public:
  Query& add(const std::string& key, const std::string& value) {
    if (value.empty()) return *this;
    text_ += text_.empty() ? '?' : '&';
    text_ += util::url_encode(key) + "=" + util::url_encode(value);
    return *this;
  }
  Query& add_always(const std::string& key, const std::string& value) {
    text_ += text_.empty() ? '?' : '&';
    text_ += util::url_encode(key) + "=" + util::url_encode(value);
    return *this;
  }
  Query& add_if(bool cond, const std::string& key, const std::string& value) { return cond ? add(key, value) : *this; }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

std::string namespace_for(const ResourceType& type, const std::string& ns, const json& object) {
  if (!type.namespaced) return {};
  return ns.empty() ? fields::str(object, "/metadata/namespace") : ns;
}

Result<json> parse_json(const http::Response& resp, const std::string& what) {
  if (resp.body.empty()) return json::object();
  json j = json::parse(resp.body, nullptr, false);
  if (j.is_discarded())
    return Error(ErrorCode::Unavailable, "the Kubernetes API sent a response to " + what + " that is not JSON");
  return j;
}

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

// pods/exec channel protocol over a WebSocket.
class WsExecSession : public ExecSession {
 public:
  WsExecSession(std::unique_ptr<http::WebSocket> ws, StreamSink out, StreamSink err)
      : ws_(std::move(ws)), out_(std::move(out)), err_(std::move(err)), protocol_(ws_->subprotocol()) {}
  ~WsExecSession() override {
    if (!closed_) (void)ws_->close();
  }

  const std::string& protocol() const override { return protocol_; }

  util::Status write_stdin(std::string_view data) override {
    if (stdin_closed_) return Error(ErrorCode::Failure, "stdin of the remote command is already closed");
    stdin_frame_.clear();  // reused: a fresh 256 KiB string per frame costs page faults
    stdin_frame_.reserve(data.size() + 1);
    stdin_frame_ += '\0';
    stdin_frame_.append(data);
    return ws_->send_binary(stdin_frame_);
  }

  util::Status close_stdin() override {
    if (protocol_ != "v5.channel.k8s.io")
      return Error(ErrorCode::Failure, "the server speaks " +
                                           (protocol_.empty() ? std::string("an old protocol") : protocol_) +
                                           ", which cannot close stdin on its own; close the connection instead");
    if (stdin_closed_) return {};
    stdin_closed_ = true;
    return ws_->send_binary(std::string_view("\xff\x00", 2));
  }

  Result<ExecResult> wait() override {
    while (true) {
      auto msg = ws_->receive();
      if (!msg) {
        closed_ = true;
        if (msg.error().code == ErrorCode::Interrupted) return msg.error();
        return Error(
            ErrorCode::Unavailable,
            "the connection to the pod closed before the command's exit status arrived: " + msg.error().message);
      }
      if (msg->kind == http::WsMessage::Kind::Close) {
        closed_ = true;
        return Error(ErrorCode::Unavailable,
                     "the connection to the pod closed before the command's exit status arrived");
      }
      if (msg->kind != http::WsMessage::Kind::Binary || msg->data.empty()) continue;
      unsigned char channel = static_cast<unsigned char>(msg->data[0]);
      std::string_view payload(msg->data.data() + 1, msg->data.size() - 1);
      if (channel == 1 || channel == 2) {
        if (payload.empty()) continue;
        const StreamSink& sink = channel == 1 ? out_ : err_;
        if (sink && !sink(payload)) {
          (void)ws_->close();
          closed_ = true;
          return Error(ErrorCode::Interrupted, "stopped reading the command's output");
        }
      } else if (channel == 3) {
        status_text_.append(payload);
        json st = json::parse(status_text_, nullptr, false);
        if (st.is_discarded()) continue;  // the status may come in pieces
        (void)ws_->close();
        closed_ = true;
        return to_result(st);
      }
    }
  }

 private:
  static Result<ExecResult> to_result(const json& st) {
    ExecResult r;
    if (!st.is_object()) return Error(ErrorCode::Unavailable, "the server sent an invalid exec status");
    std::string status = st.value("status", "");
    if (status == "Success") return r;
    std::string reason = st.value("reason", "");
    std::string message = st.contains("message") && st["message"].is_string() ? st["message"].get<std::string>() : "";
    if (reason == "NonZeroExitCode" && st.contains("details") && st["details"].is_object()) {
      const json& d = st["details"];
      if (d.contains("causes") && d["causes"].is_array()) {
        for (const auto& c : d["causes"]) {
          if (!c.is_object() || c.value("reason", "") != "ExitCode") continue;
          std::string m = c.value("message", "");
          if (auto code = util::parse_int<int>(util::trim(m), "")) {
            r.exit_code = *code;
            return r;
          }
        }
      }
    }
    r.exit_code = -1;
    r.failure_message = message.empty() ? "the command failed" : message;
    // The runtime's words for a missing executable (containerd/runc: `exec: "tar": executable file
    // not found in $PATH`, or `no such file or directory` for a path).
    r.no_such_command = message.find("executable file not found") != std::string::npos ||
                        message.find("no such file or directory") != std::string::npos;
    return r;
  }

  std::unique_ptr<http::WebSocket> ws_;
  StreamSink out_, err_;
  std::string protocol_;
  std::string status_text_;
  std::string stdin_frame_;
  bool stdin_closed_ = false;
  bool closed_ = false;
};

// The API server's answer to an exec upgrade it refused (a Status, or text from a proxy).
Error upgrade_error(const http::UpgradeRefused& refused, const Error& e) {
  // Without a body, the transport's words for the status stand in for it.
  return status_to_error(refused.status, refused.body.empty() ? e.message : refused.body);
}

class HttpClient : public Client {
 public:
  HttpClient(RestConfig config, std::shared_ptr<http::Transport> transport, TransportFactory factory,
             http::ClientOptions options)
      : config_(std::move(config)),
        transport_(std::move(transport)),
        factory_(std::move(factory)),
        options_(std::move(options)) {}

  const RestConfig& config() const override { return config_; }
  std::optional<util::TimePoint> server_now() const override {
    if (!clock_known_) return std::nullopt;
    return util::Clock::now() +
           std::chrono::duration_cast<util::Clock::duration>(std::chrono::nanoseconds(clock_offset_.load()));
  }

  Result<json> get(const ResourceType& type, const std::string& ns, const std::string& name) override {
    WB_ASSIGN_OR_RETURN(auto resp, call({"GET", resource_path(type, ns, name)}));
    return parse_json(resp, "get");
  }

  Result<json> list_page(const ResourceType& type, const std::string& ns, const ListOptions& o) override {
    Query q;
    q.add("labelSelector", o.label_selector)
        .add("fieldSelector", o.field_selector)
        .add_if(o.limit > 0, "limit", std::to_string(o.limit))
        .add("continue", o.continue_token)
        .add("resourceVersion", o.resource_version);
    WB_ASSIGN_OR_RETURN(auto resp, call({"GET", resource_path(type, ns) + q.str()}));
    return parse_json(resp, "list");
  }

  Result<json> list(const ResourceType& type, const std::string& ns, const ListOptions& options) override {
    bool restarted = false;
    while (true) {
      ListOptions o = options;
      json result;
      bool gone = false;
      while (true) {
        auto page = list_page(type, ns, o);
        if (!page) {
          if (page.error().http_status == 410 && !o.continue_token.empty() && !restarted) {
            gone = true;
            break;
          }
          return std::move(page).error();
        }
        json& p = *page;
        std::string next = fields::str(p, "/metadata/continue");
        if (result.is_null()) {
          result = std::move(p);
          if (!result.contains("items") || !result["items"].is_array()) result["items"] = json::array();
        } else if (p.contains("items") && p["items"].is_array()) {
          for (auto& item : p["items"]) result["items"].push_back(std::move(item));
        }
        if (next.empty()) break;
        o.continue_token = next;
      }
      if (gone) {
        restarted = true;
        continue;
      }
      if (result.contains("metadata") && result["metadata"].is_object()) result["metadata"].erase("continue");
      return result;
    }
  }

  Result<json> create(const ResourceType& type, const std::string& ns, const json& object, bool dry_run) override {
    Query q;
    q.add_if(dry_run, "dryRun", "All").add("fieldValidation", kFieldValidation);
    WB_ASSIGN_OR_RETURN(auto resp,
                        call({"POST", resource_path(type, namespace_for(type, ns, object)) + q.str(), object.dump()}));
    return parse_json(resp, "create");
  }

  Result<json> update(const ResourceType& type, const std::string& ns, const json& object, bool dry_run) override {
    std::string name = fields::str(object, "/metadata/name");
    if (name.empty()) return Error(ErrorCode::Usage, "cannot update a " + type.kind + " without metadata.name");
    Query q;
    q.add_if(dry_run, "dryRun", "All").add("fieldValidation", kFieldValidation);
    WB_ASSIGN_OR_RETURN(
        auto resp, call({"PUT", resource_path(type, namespace_for(type, ns, object), name) + q.str(), object.dump()}));
    return parse_json(resp, "update");
  }

  Result<json> merge_patch(const ResourceType& type, const std::string& ns, const std::string& name, const json& patch,
                           bool dry_run) override {
    Query q;
    q.add_if(dry_run, "dryRun", "All").add("fieldValidation", kFieldValidation);
    Call c{"PATCH", resource_path(type, ns, name) + q.str(), patch.dump()};
    c.content_type = "application/merge-patch+json";
    WB_ASSIGN_OR_RETURN(auto resp, call(c));
    return parse_json(resp, "patch");
  }

  Result<json> apply(const ResourceType& type, const std::string& ns, const json& object, bool force,
                     bool dry_run) override {
    std::string name = fields::str(object, "/metadata/name");
    if (name.empty()) return Error(ErrorCode::Usage, "cannot apply a " + type.kind + " without metadata.name");
    json body = object;
    if (!body.contains("apiVersion")) body["apiVersion"] = type.api_version();
    if (!body.contains("kind")) body["kind"] = type.kind;
    Query q;
    q.add("fieldManager", "wb")
        .add("force", force ? "true" : "false")
        .add_if(dry_run, "dryRun", "All")
        .add("fieldValidation", kFieldValidation);
    Call c{"PATCH", resource_path(type, namespace_for(type, ns, object), name) + q.str(), body.dump()};
    c.content_type = "application/apply-patch+yaml";
    WB_ASSIGN_OR_RETURN(auto resp, call(c));
    return parse_json(resp, "apply");
  }

  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const DeleteOptions& options) override {
    json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", options.propagation}};
    if (options.dry_run) body["dryRun"] = json::array({"All"});
    Query q;
    q.add_if(options.dry_run, "dryRun", "All");
    WB_TRY(call({"DELETE", resource_path(type, ns, name) + q.str(), body.dump()}));
    return {};
  }

  Status watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
               const std::function<bool(const WatchEvent&)>& on_event) override {
    WB_TRY(watch_once(type, ns, options, on_event));
    return {};
  }

  Status list_watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                    const std::function<bool(const WatchEvent&)>& on_event) override;

  Result<Discovery> discovery() override;
  Result<ResourceType> prefer(const std::vector<ResourceType>& candidates) override;

  Status pod_logs(const std::string& ns, const std::string& pod, const LogOptions& o, const StreamSink& sink) override {
    Query q;
    q.add("container", o.container)
        .add_if(o.follow, "follow", "true")
        .add_if(o.previous, "previous", "true")
        .add_if(o.timestamps, "timestamps", "true")
        .add_if(o.since_seconds.has_value(), "sinceSeconds", std::to_string(o.since_seconds.value_or(0)))
        .add("sinceTime", o.since_time)
        .add_if(o.tail_lines.has_value(), "tailLines", std::to_string(o.tail_lines.value_or(0)))
        .add_if(o.limit_bytes.has_value(), "limitBytes", std::to_string(o.limit_bytes.value_or(0)));
    Call c{"GET", resource_path(types::Pod, ns, pod) + "/log" + q.str()};
    c.sink = [&](std::string_view chunk) { return sink(chunk); };
    c.accept = "application/json, */*";
    if (o.follow) {
      c.timeout = std::chrono::milliseconds(0);
      // A follow that breaks is resumed by the caller, from what it has seen: sent again as it
      // was, a window like tailLines=0 would slide past the lines written meanwhile. Neither the
      // transport nor libcurl (on a kept-alive connection that dies) may send it again.
      c.idempotent = false;
      c.fresh_connection = true;
    }
    WB_TRY(call(c));
    return {};
  }

  Result<std::unique_ptr<ExecSession>> exec(const std::string& ns, const std::string& pod, const ExecOptions& o,
                                            StreamSink on_stdout, StreamSink on_stderr) override {
    if (o.command.empty()) return Error(ErrorCode::Usage, "exec needs a command");
    Query q;
    for (const auto& arg : o.command) q.add_always("command", arg);
    q.add("container", o.container)
        .add("stdin", o.stdin ? "true" : "false")
        .add("stdout", o.stdout ? "true" : "false")
        .add("stderr", o.stderr ? "true" : "false")
        .add("tty", o.tty ? "true" : "false");
    std::string path = resource_path(types::Pod, ns, pod) + "/exec" + q.str();
    for (int attempt = 0;; ++attempt) {
      WB_ASSIGN_OR_RETURN(Credentials creds, credentials());
      WB_ASSIGN_OR_RETURN(auto transport, transport_for(creds));
      http::Request req = base_request("GET", path, creds);
      auto ws = transport->open_websocket(req, {"v5.channel.k8s.io", "v4.channel.k8s.io"});
      if (ws) {
        return std::unique_ptr<ExecSession>(
            std::make_unique<WsExecSession>(std::move(*ws), std::move(on_stdout), std::move(on_stderr)));
      }
      const Error& e = ws.error();
      const auto* refused = e.detail<http::UpgradeRefused>();
      if (!refused) return transport_error(e);
      if (refused->status == 401 && attempt == 0 && refreshable()) {
        config_.credentials->invalidate();
        continue;
      }
      return in_pod_words(upgrade_error(*refused, e));
    }
  }

  Result<http::Response> raw(const std::string& method, const std::string& path, const std::string& body,
                             const std::string& content_type) override {
    Call c{method, path, body};
    c.content_type = content_type;
    return call(c);
  }

 private:
  struct Call {
    Call(std::string m, std::string p, std::string b = {})
        : method(std::move(m)), path(std::move(p)), body(std::move(b)) {}
    std::string method;
    std::string path;  // with query
    std::string body;
    std::string content_type = "application/json";
    std::string accept = "application/json";
    StreamSink sink;                                                   // streaming: 2xx body pieces go here
    std::optional<std::chrono::milliseconds> timeout;                  // overrides the transport's (0 = none)
    bool* stopped_by_sink = nullptr;                                   // set when the sink returned false
    std::function<void(int status, const http::Headers&)> on_headers;  // streams: once the headers are in
    std::optional<bool> idempotent;  // false: the transport must not send it again by itself
    bool fresh_connection = false;   // see http::Request
  };

  bool refreshable() const { return config_.credentials && config_.credentials->refreshable(); }

  Result<Credentials> credentials() {
    if (!config_.credentials) return Credentials{};
    return config_.credentials->get();
  }

  Result<std::shared_ptr<http::Transport>> transport_for(const Credentials& creds) {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (!creds.client_cert_data.empty() && factory_) {
      std::string key = util::sha256_hex(creds.client_cert_data + "\n--\n" + creds.client_key_data);
      if (!cert_transport_ || key != cert_key_) {
        http::ClientOptions o = options_;
        o.tls.client_cert_file.clear();
        o.tls.client_key_file.clear();
        o.tls.client_cert_data = creds.client_cert_data;
        o.tls.client_key_data = creds.client_key_data;
        WB_ASSIGN_OR_RETURN(cert_transport_, factory_(o));
        cert_key_ = key;
      }
      return cert_transport_;
    }
    if (!transport_) {
      if (!factory_) return Error(ErrorCode::Failure, "no HTTP transport for the Kubernetes client");
      WB_ASSIGN_OR_RETURN(transport_, factory_(options_));
    }
    return transport_;
  }

  http::Request base_request(const std::string& method, const std::string& path, const Credentials& creds,
                             const std::string& accept = "application/json") const {
    http::Request req;
    req.method = method;
    req.url = config_.server + path;
    req.headers.add("Accept", accept);
    req.headers.add("User-Agent", std::string("wb/") + WB_VERSION);
    if (!creds.bearer_token.empty())
      req.headers.add("Authorization", "Bearer " + creds.bearer_token);
    else if (!creds.basic_user.empty() || !creds.basic_password.empty())
      req.headers.add("Authorization", "Basic " + util::base64_encode(creds.basic_user + ":" + creds.basic_password));
    return req;
  }

  // A request that got no answer: say which server, unless the transport's words name it already.
  Error transport_error(const Error& e) const {
    if (e.code == ErrorCode::Interrupted || e.http_status != 0) return in_pod_words(e);
    if (const auto* failure = e.detail<http::TransportFailure>(); failure && names_server(failure->named))
      return in_pod_words(e);
    Error out = e;
    out.message = "cannot reach the Kubernetes API at " + config_.server + ": " + e.message;
    return in_pod_words(out);
  }

  // `named` (an origin or a URL) is the API server's, or a URL on it.
  bool names_server(const std::string& named) const {
    return !config_.server.empty() && (named == config_.server || named.rfind(config_.server + "/", 0) == 0);
  }

  // In a pod there is no kubeconfig to fix: say what is wrong with the pod's service account.
  Error in_pod_words(Error e) const {
    if (!config_.in_cluster) return e;
    if (e.http_status == 401) {
      e.message = "the server rejected the pod's service-account token (401 Unauthorized)";
      e.hint =
          "its service account (or the secret of its token) may have been deleted, or the token is for another "
          "cluster: check the pod's serviceAccountName, or use a kubeconfig";
    } else if (const auto* failure = e.detail<http::TransportFailure>();
               failure && failure->kind == http::TransportFailure::Kind::UntrustedCa) {
      e.hint =
          "the ca.crt of the pod's service account must be the CA that signed " + config_.server + "'s certificate";
    }
    return e;
  }

  Result<http::Response> call(const Call& c) {
    for (int attempt = 0;; ++attempt) {
      WB_ASSIGN_OR_RETURN(Credentials creds, credentials());
      WB_ASSIGN_OR_RETURN(auto transport, transport_for(creds));
      http::Request req = base_request(c.method, c.path, creds, c.accept);
      if (!c.body.empty()) {
        req.headers.add("Content-Type", c.content_type);
        req.body = c.body;
      }
      req.timeout = c.timeout;
      req.idempotent = c.idempotent;
      req.fresh_connection = c.fresh_connection;
      int status = 0;
      std::string error_body;
      bool stopped = false;
      if (c.sink) {
        req.on_headers = [&](int s, const http::Headers& h) {
          status = s;
          note_server_clock(h);
          if (c.on_headers) c.on_headers(s, h);
        };
        req.on_body = [&](std::string_view chunk) {
          if (status != 0 && (status < 200 || status >= 300)) {
            if (error_body.size() < 65536) error_body.append(chunk);
            return true;
          }
          if (!c.sink(chunk)) {
            stopped = true;
            return false;
          }
          return true;
        };
      }
      auto r = transport->send(req);
      if (stopped) {
        if (c.stopped_by_sink) *c.stopped_by_sink = true;
        http::Response resp;
        resp.status = status ? status : 200;
        return resp;
      }
      if (!r) return transport_error(r.error());
      http::Response resp = std::move(r).value();
      if (!c.sink) note_server_clock(resp.headers);
      if (c.sink) {
        if (resp.status == 0) resp.status = status;
        if (resp.body.empty()) resp.body = std::move(error_body);
      }
      if (resp.status == 401 && attempt == 0 && refreshable()) {
        config_.credentials->invalidate();
        continue;
      }
      if (resp.status >= 200 && resp.status < 300) return resp;
      return in_pod_words(status_to_error(resp.status, resp.body));
    }
  }

  enum class WatchEnd { StreamEnded, StoppedByCaller };

  Result<WatchEnd> watch_once(const ResourceType& type, const std::string& ns, const WatchOptions& o,
                              const std::function<bool(const WatchEvent&)>& on_event, int* events = nullptr) {
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

  Result<std::vector<std::string>> group_version_resources(const std::string& gv) {
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      auto it = gv_cache_.find(gv);
      if (it != gv_cache_.end()) return it->second;
    }
    std::string path = gv.find('/') == std::string::npos ? "/api/" + gv : "/apis/" + gv;
    std::vector<std::string> names;
    auto resp = call({"GET", path});
    if (!resp) {
      if (resp.error().code != ErrorCode::NotFound) return std::move(resp).error();
    } else {
      WB_ASSIGN_OR_RETURN(json j, parse_json(*resp, "discovery"));
      if (j.contains("resources") && j["resources"].is_array())
        for (const auto& res : j["resources"]) {
          std::string n = res.is_object() ? res.value("name", "") : "";
          if (!n.empty() && n.find('/') == std::string::npos) names.push_back(n);
        }
    }
    std::lock_guard<std::mutex> lock(state_mu_);
    gv_cache_[gv] = names;
    return names;
  }

  RestConfig config_;
  std::shared_ptr<http::Transport> transport_;
  TransportFactory factory_;
  http::ClientOptions options_;
  std::shared_ptr<http::Transport> cert_transport_;
  std::string cert_key_;
  // Guards the lazily built state above and below (transports, discovery caches): one client is
  // shared by threads (wb logs -f follows every replica on its own thread). Never held across a
  // network call; two threads may both fetch discovery once, the results are the same.
  std::mutex state_mu_;
  std::map<std::string, std::vector<std::string>> gv_cache_;
  std::optional<Discovery> discovery_;

  // The server's clock minus ours, in nanoseconds, from the latest Date header.
  std::atomic<int64_t> clock_offset_{0};
  std::atomic<bool> clock_known_{false};

  void note_server_clock(const http::Headers& h) {
    auto date = h.get("Date");
    if (!date) return;
    auto server = http::parse_http_date(*date);
    if (!server) return;
    clock_offset_ = std::chrono::duration_cast<std::chrono::nanoseconds>(*server - util::Clock::now()).count();
    clock_known_ = true;
  }

  std::optional<Discovery> cached_discovery() {
    std::lock_guard<std::mutex> lock(state_mu_);
    return discovery_;
  }
};

std::string object_key(const json& object) {
  return fields::str(object, "/metadata/namespace") + "/" + fields::str(object, "/metadata/name");
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

Result<Discovery> HttpClient::discovery() {
  if (auto cached = cached_discovery()) return *std::move(cached);
  Discovery d;
  WB_ASSIGN_OR_RETURN(auto vresp, call({"GET", "/version"}));
  WB_ASSIGN_OR_RETURN(json v, parse_json(vresp, "version"));
  d.git_version = v.value("gitVersion", "");
  auto leading_int = [](const std::string& s) {
    int n = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') break;
      n = n * 10 + (ch - '0');
    }
    return n;
  };
  d.major = leading_int(v.value("major", ""));
  d.minor = leading_int(v.value("minor", ""));
  if ((d.major == 0 || d.minor == 0) && d.git_version.size() > 1 && d.git_version[0] == 'v') {
    auto parts = util::split(d.git_version.substr(1), '.');
    if (parts.size() >= 2) {
      d.major = leading_int(parts[0]);
      d.minor = leading_int(parts[1]);
    }
  }

  std::vector<std::string> gvs;
  WB_ASSIGN_OR_RETURN(auto core, call({"GET", "/api"}));
  WB_ASSIGN_OR_RETURN(json cj, parse_json(core, "discovery"));
  if (cj.contains("versions") && cj["versions"].is_array())
    for (const auto& ver : cj["versions"])
      if (ver.is_string()) gvs.push_back(ver.get<std::string>());
  if (!gvs.empty()) d.preferred_versions[""] = gvs.front();

  WB_ASSIGN_OR_RETURN(auto apis, call({"GET", "/apis"}));
  WB_ASSIGN_OR_RETURN(json aj, parse_json(apis, "discovery"));
  if (aj.contains("groups") && aj["groups"].is_array()) {
    for (const auto& g : aj["groups"]) {
      if (!g.is_object()) continue;
      std::string name = g.value("name", "");
      if (g.contains("preferredVersion") && g["preferredVersion"].is_object())
        d.preferred_versions[name] = g["preferredVersion"].value("version", "");
      if (g.contains("versions") && g["versions"].is_array())
        for (const auto& ver : g["versions"])
          if (ver.is_object() && ver.contains("groupVersion")) gvs.push_back(ver.value("groupVersion", ""));
    }
  }
  for (const auto& gv : gvs) {
    if (gv.empty()) continue;
    auto names = group_version_resources(gv);
    if (!names) {
      // An aggregated API that is down (metrics, custom APIs) must not break everything else.
      if (names.error().code == ErrorCode::Unavailable || names.error().code == ErrorCode::Timeout ||
          names.error().code == ErrorCode::Auth)
        continue;
      return std::move(names).error();
    }
    d.resources[gv] = *names;
  }
  std::lock_guard<std::mutex> lock(state_mu_);
  discovery_ = d;
  return d;
}

Result<ResourceType> HttpClient::prefer(const std::vector<ResourceType>& candidates) {
  std::vector<std::string> tried;
  for (const auto& c : candidates) {
    bool served = false;
    if (auto cached = cached_discovery()) {
      served = cached->has(c.api_version(), c.plural);
    } else {
      WB_ASSIGN_OR_RETURN(auto names, group_version_resources(c.api_version()));
      for (const auto& n : names) served = served || n == c.plural;
    }
    if (served) return c;
    tried.push_back(c.plural + "." + c.api_version());
  }
  return Error(ErrorCode::NotFound, "the cluster serves none of: " + util::join(tried, ", "),
               "this Kubernetes version may be too old or too new for wb");
}

}  // namespace

std::unique_ptr<Client> make_client(RestConfig config, std::shared_ptr<http::Transport> transport,
                                    http::ClientOptions options) {
  if (transport) {
    // An injected transport is used as is; a client certificate from an exec plugin then needs the
    // factory variant.
    return std::make_unique<HttpClient>(std::move(config), std::move(transport), nullptr, std::move(options));
  }
  return make_client_with_factory(
      std::move(config),
      [](const http::ClientOptions& o) -> Result<std::shared_ptr<http::Transport>> {
        return std::shared_ptr<http::Transport>(http::make_transport(o));
      },
      std::move(options));
}

std::unique_ptr<Client> make_client_with_factory(RestConfig config, TransportFactory factory,
                                                 http::ClientOptions options) {
  options.tls = config.tls;
  if (!config.proxy.empty()) options.proxy = config.proxy;
  if (options.user_agent.empty() || options.user_agent == "wb") options.user_agent = std::string("wb/") + WB_VERSION;
  return std::make_unique<HttpClient>(std::move(config), nullptr, std::move(factory), std::move(options));
}

}  // namespace wb::kube
