// The Kubernetes REST client over http::Transport: requests with credentials, errors in the
// user's words, CRUD and apply, and make_client. Watch, pod logs and exec, and discovery are in
// client_watch.cpp, client_pod.cpp and client_discovery.cpp.
#include "kube/client.hpp"

#include <mutex>
#include <set>

#include "http/http.hpp"
#include "kube/client_internal.hpp"
#include "kube/fields.hpp"
#include "util/encoding.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace wb::kube::detail {

namespace {

// Every write asks the server to refuse unknown and duplicate fields (server-side field
// validation: alpha in 1.23, GA in 1.27; without it a 1.32 server only warns and drops them).
// wb builds its objects itself, so a field the server does not know is a bug in wb (or a field
// newer than the server) and must fail loudly. Older servers ignore the parameter, as they ignore
// any query parameter they do not know. Server-side apply refuses unknown fields whatever this
// says (a 500 "failed to create typed patch object"); Strict adds duplicate keys there.
constexpr const char* kFieldValidation = "Strict";

std::string namespace_for(const ResourceType& type, const std::string& ns, const json& object) {
  if (!type.namespaced) return {};
  return ns.empty() ? fields::str(object, "/metadata/namespace") : ns;
}

}  // namespace

Query& Query::add(const std::string& key, const std::string& value) {
  if (value.empty()) return *this;
  return add_always(key, value);
}

Query& Query::add_always(const std::string& key, const std::string& value) {
  text_ += text_.empty() ? '?' : '&';
  text_ += util::url_encode(key) + "=" + util::url_encode(value);
  return *this;
}

Result<json> parse_json(const http::Response& resp, const std::string& what) {
  if (resp.body.empty()) return json::object();
  json j = json::parse(resp.body, nullptr, false);
  if (j.is_discarded())
    return Error(ErrorCode::Unavailable, "the Kubernetes API sent a response to " + what + " that is not JSON");
  return j;
}

std::optional<util::TimePoint> HttpClient::server_now() const {
  if (!clock_known_) return std::nullopt;
  return util::Clock::now() +
         std::chrono::duration_cast<util::Clock::duration>(std::chrono::nanoseconds(clock_offset_.load()));
}

Result<json> HttpClient::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  WB_ASSIGN_OR_RETURN(auto resp, call({"GET", resource_path(type, ns, name)}));
  return parse_json(resp, "get");
}

Result<json> HttpClient::list_page(const ResourceType& type, const std::string& ns, const ListOptions& o) {
  Query q;
  q.add("labelSelector", o.label_selector)
      .add("fieldSelector", o.field_selector)
      .add_if(o.limit > 0, "limit", std::to_string(o.limit))
      .add("continue", o.continue_token)
      .add("resourceVersion", o.resource_version);
  WB_ASSIGN_OR_RETURN(auto resp, call({"GET", resource_path(type, ns) + q.str()}));
  return parse_json(resp, "list");
}

Result<json> HttpClient::list(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  bool restarted = false;
  while (true) {
    ListOptions o = options;
    json result;
    bool gone = false;
    std::set<std::string> tokens;  // continue tokens followed: one coming back is a loop
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
      if (!tokens.insert(next).second)
        return Error(ErrorCode::Failure, "the Kubernetes API sent the list of " + type.plural +
                                             " in a loop (a continue token came back): not read further");
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

Result<json> HttpClient::create(const ResourceType& type, const std::string& ns, const json& object, bool dry_run) {
  Query q;
  q.add_if(dry_run, "dryRun", "All").add("fieldValidation", kFieldValidation);
  WB_ASSIGN_OR_RETURN(auto resp,
                      call({"POST", resource_path(type, namespace_for(type, ns, object)) + q.str(), object.dump()}));
  return parse_json(resp, "create");
}

Result<json> HttpClient::update(const ResourceType& type, const std::string& ns, const json& object, bool dry_run) {
  std::string name = fields::str(object, "/metadata/name");
  if (name.empty()) return Error(ErrorCode::Usage, "cannot update a " + type.kind + " without metadata.name");
  Query q;
  q.add_if(dry_run, "dryRun", "All").add("fieldValidation", kFieldValidation);
  WB_ASSIGN_OR_RETURN(
      auto resp, call({"PUT", resource_path(type, namespace_for(type, ns, object), name) + q.str(), object.dump()}));
  return parse_json(resp, "update");
}

Result<json> HttpClient::merge_patch(const ResourceType& type, const std::string& ns, const std::string& name,
                                     const json& patch, bool dry_run) {
  Query q;
  q.add_if(dry_run, "dryRun", "All").add("fieldValidation", kFieldValidation);
  Call c{"PATCH", resource_path(type, ns, name) + q.str(), patch.dump()};
  c.content_type = "application/merge-patch+json";
  WB_ASSIGN_OR_RETURN(auto resp, call(c));
  return parse_json(resp, "patch");
}

Result<json> HttpClient::apply(const ResourceType& type, const std::string& ns, const json& object, bool force,
                               bool dry_run) {
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

Status HttpClient::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                          const DeleteOptions& options) {
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", options.propagation}};
  if (options.dry_run) body["dryRun"] = json::array({"All"});
  Query q;
  q.add_if(options.dry_run, "dryRun", "All");
  WB_TRY(call({"DELETE", resource_path(type, ns, name) + q.str(), body.dump()}));
  return {};
}

Result<http::Response> HttpClient::raw(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string& content_type) {
  Call c{method, path, body};
  c.content_type = content_type;
  return call(c);
}

Result<http::Response> HttpClient::call(const Call& c) {
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

Result<std::shared_ptr<http::Transport>> HttpClient::transport_for(const Credentials& creds) {
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

http::Request HttpClient::base_request(const std::string& method, const std::string& path, const Credentials& creds,
                                       const std::string& accept) const {
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
Error HttpClient::transport_error(const Error& e) const {
  if (e.code == ErrorCode::Interrupted || e.http_status != 0) return in_pod_words(e);
  if (const auto* failure = e.detail<http::TransportFailure>(); failure && names_server(failure->named))
    return in_pod_words(e);
  Error out = e;
  out.message = "cannot reach the Kubernetes API at " + config_.server + ": " + e.message;
  return in_pod_words(out);
}

// `named` (an origin or a URL) is the API server's, or a URL on it.
bool HttpClient::names_server(const std::string& named) const {
  return !config_.server.empty() && (named == config_.server || named.rfind(config_.server + "/", 0) == 0);
}

// In a pod there is no kubeconfig to fix: say what is wrong with the pod's service account.
Error HttpClient::in_pod_words(Error e) const {
  if (!config_.in_cluster) return e;
  if (e.http_status == 401) {
    e.message = "the server rejected the pod's service-account token (401 Unauthorized)";
    e.hint =
        "its service account (or the secret of its token) may have been deleted, or the token is for another "
        "cluster: check the pod's serviceAccountName, or use a kubeconfig";
  } else if (const auto* failure = e.detail<http::TransportFailure>();
             failure && failure->kind == http::TransportFailure::Kind::UntrustedCa) {
    e.hint = "the ca.crt of the pod's service account must be the CA that signed " + config_.server + "'s certificate";
  }
  return e;
}

void HttpClient::note_server_clock(const http::Headers& h) {
  auto date = h.get("Date");
  if (!date) return;
  auto server = http::parse_http_date(*date);
  if (!server) return;
  clock_offset_ = std::chrono::duration_cast<std::chrono::nanoseconds>(*server - util::Clock::now()).count();
  clock_known_ = true;
}

}  // namespace wb::kube::detail

namespace wb::kube {

using detail::HttpClient;

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
