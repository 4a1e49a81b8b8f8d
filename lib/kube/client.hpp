// Kubernetes REST client: CRUD, merge patch, server-side apply, watch, discovery, pod logs and
// exec. metav1.Status answers become Errors in the user's words with the right ErrorCode.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/status.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace wb::kube {

using json = nlohmann::json;

// A resource type: group/version + plural name, e.g. {"apps", "v1", "deployments", "Deployment", true}.
struct ResourceType {
  std::string group;       // "" for core
  std::string version;     // "v1"
  std::string plural;      // "deployments"
  std::string kind;        // "Deployment"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

// Well-known types.
namespace types {
extern const ResourceType Namespace, Pod, Service, Endpoints, EndpointSlice, ConfigMap, Secret, ServiceAccount, Event,
    ResourceQuota, LimitRange, Deployment, ReplicaSet, IngressV1, IngressV1beta1, NetworkPolicy, Role, RoleBinding,
    ClusterRole, ClusterRoleBinding, SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview,
    SelfSubjectReviewV1beta1;
}

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;              // page size; 0 = server default
  std::string continue_token;     // for one page
  std::string resource_version;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;   // start after this version ("" = now, with initial ADDED events)
  bool allow_bookmarks = true;
  std::optional<std::chrono::seconds> timeout;  // server-side timeoutSeconds
};

struct WatchEvent {
  std::string type;   // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  json object;
};

struct DeleteOptions {
  std::string propagation = "Background";  // Background | Foreground | Orphan
  bool dry_run = false;
};

struct LogOptions {
  std::string container;
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> since_seconds;
  std::string since_time;          // RFC 3339
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> limit_bytes;
};

struct ExecOptions {
  std::string container;
  std::vector<std::string> command;
  bool stdin = false;
  bool stdout = true;
  bool stderr = true;
  bool tty = false;
  // Moves many bytes (cp-files): over SPDY/3.1 where the server takes it, which kube-apiserver
  // proxies as it is instead of translating each WebSocket frame (twice the upload throughput on
  // 1.32); a server or proxy that refuses it gets the WebSocket, and this client does not ask
  // again. Not with tty.
  bool bulk = false;
};

// Result of a finished exec.
struct ExecResult {
  int exit_code = 0;           // 0 on success; from the Status causes ExitCode otherwise
  std::string failure_message; // Status message when the runtime failed (e.g. command not found)
  bool no_such_command = false;  // the runtime found no such executable in the container
};

// A running exec. Reads must be drained by the caller through the sinks given to exec().
// write_stdin, close_stdin and resize may be called from one other thread while wait() runs.
class ExecSession {
 public:
  virtual ~ExecSession() = default;
  // The negotiated channel protocol ("v5.channel.k8s.io" or "v4.channel.k8s.io").
  virtual const std::string& protocol() const = 0;
  virtual util::Status write_stdin(std::string_view data) = 0;
  // Signals end of stdin (v5: close frame for channel 0; SPDY: the stream's FIN; v4 over a
  // WebSocket: not possible -> Failure returned).
  virtual util::Status close_stdin() = 0;
  // Whether close_stdin() can work on this session.
  virtual bool can_close_stdin() const { return protocol() == "v5.channel.k8s.io"; }
  // Tells the remote terminal (an exec with tty) its window size in columns and rows (channel 4).
  virtual util::Status resize(uint16_t width, uint16_t height) = 0;
  // Pumps incoming frames into the sinks until the command exits; returns its result.
  virtual Result<ExecResult> wait() = 0;
};

using StreamSink = std::function<bool(std::string_view data)>;  // false = stop

// One TCP connection to a port of a pod through pods/portforward over WebSocket
// (v4.channel.k8s.io: channel 0 carries the data, channel 1 the server's error text). There is no
// half-close: either side ends the whole connection. send() may run on one thread while receive()
// runs on another; close() on either.
class PortForwardConnection {
 public:
  virtual ~PortForwardConnection() = default;
  // Sends bytes to the pod's port; Unavailable once the connection has ended.
  virtual util::Status send(std::string_view data) = 0;
  // The next bytes from the pod's port, waiting at most `timeout` (0: no limit); "" once the pod's
  // side closed the connection (or close() was called). Errors: Timeout when nothing came in time,
  // Failure with the server's words from the error channel (e.g. nothing listens on the port),
  // Unavailable when the connection broke.
  virtual Result<std::string> receive(std::chrono::milliseconds timeout) = 0;
  // Ends the connection.
  virtual void close() = 0;
};

// Discovered API surface, cached per Client.
struct Discovery {
  std::string git_version;   // "v1.32.0"
  int major = 0, minor = 0;
  // "group/version" -> plural names served
  std::map<std::string, std::vector<std::string>> resources;
  // API group ("" for core) -> its preferred version ("v1")
  std::map<std::string, std::string> preferred_versions;
  bool has(const std::string& api_version, const std::string& plural) const;
};

// Implementations made by make_client are safe to share between threads: every call is an
// independent request, and the lazily built state (transports, discovery caches, exec-plugin
// credentials) is guarded inside.
class Client {
 public:
  virtual ~Client() = default;

  virtual Result<json> get(const ResourceType& type, const std::string& ns, const std::string& name) = 0;
  // One page.
  virtual Result<json> list_page(const ResourceType& type, const std::string& ns, const ListOptions& options) = 0;
  // All pages (follows continue tokens; a 410 on a continue token re-lists from the start).
  virtual Result<json> list(const ResourceType& type, const std::string& ns, const ListOptions& options = {}) = 0;
  virtual Result<json> create(const ResourceType& type, const std::string& ns, const json& object,
                              bool dry_run = false) = 0;
  // PUT; the object's metadata.resourceVersion makes it conditional (Conflict if stale).
  virtual Result<json> update(const ResourceType& type, const std::string& ns, const json& object,
                              bool dry_run = false) = 0;
  // application/merge-patch+json (RFC 7386).
  virtual Result<json> merge_patch(const ResourceType& type, const std::string& ns, const std::string& name,
                                   const json& patch, bool dry_run = false) = 0;
  // Server-side apply with fieldManager=wb (force takes ownership on conflicts).
  virtual Result<json> apply(const ResourceType& type, const std::string& ns, const json& object, bool force = false,
                             bool dry_run = false) = 0;
  virtual Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                        const DeleteOptions& options = {}) = 0;
  // Streams watch events to `on_event` until it returns false, the server ends the stream, or the
  // timeout passes. The caller keeps the last resourceVersion (BOOKMARKs carry it) to resume.
  // A 410 Gone arrives as an Error with ErrorCode::Conflict and http_status 410.
  virtual Status watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                       const std::function<bool(const WatchEvent&)>& on_event) = 0;
  // list + watch loop: calls on_event for the current state (ADDED) and every change until it
  // returns false; re-lists on 410 Gone and reconnects broken streams. After a re-list it reports
  // only the differences from what it reported before (ADDED new, MODIFIED changed
  // resourceVersion, DELETED gone). BOOKMARKs are consumed (they move the resume point), not
  // passed on. Objects get apiVersion/kind filled in. options.resource_version is ignored (it
  // always starts with a list).
  virtual Status list_watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                            const std::function<bool(const WatchEvent&)>& on_event) = 0;

  virtual Result<Discovery> discovery() = 0;
  // Picks the first type the server serves (e.g. Ingress v1, else v1beta1); NotFound if none.
  virtual Result<ResourceType> prefer(const std::vector<ResourceType>& candidates) = 0;

  // pods/log: streams raw bytes to `sink` (lines as the server sends them).
  virtual Status pod_logs(const std::string& ns, const std::string& pod, const LogOptions& options,
                          const StreamSink& sink) = 0;
  // pods/exec over WebSocket, offering v5 then v4. stdout/stderr go to the sinks. A refused
  // upgrade is the server's words (with Forbidden or Missing facts, else http::UpgradeRefused).
  virtual Result<std::unique_ptr<ExecSession>> exec(const std::string& ns, const std::string& pod,
                                                   const ExecOptions& options, StreamSink on_stdout,
                                                   StreamSink on_stderr) = 0;
  // pods/portforward over WebSocket: one TCP connection to `port` of the pod. A refused upgrade
  // is as with exec().
  virtual Result<std::unique_ptr<PortForwardConnection>> port_forward(const std::string& ns, const std::string& pod,
                                                                      uint16_t port) {
    (void)ns, (void)pod, (void)port;
    return util::Error(util::ErrorCode::Failure, "this client cannot forward ports");
  }

  // Escape hatch for paths not covered above (subresources, reviews). `path` starts with '/'.
  virtual Result<http::Response> raw(const std::string& method, const std::string& path, const std::string& body = {},
                                     const std::string& content_type = "application/json") = 0;

  // The namespace of the current context ("" if none) and where we are talking to.
  virtual const RestConfig& config() const = 0;

  // The server's clock now, estimated from the Date header of the latest response (nullopt before
  // one came). A Date has whole seconds, so the estimate runs up to a second (plus the latency)
  // behind the server, never ahead: a time to ask for lines "since" without missing any, known
  // before a stream is asked for and whether or not its own headers ever come (kube-apiserver
  // 1.32 sends a log follow's headers at once, before its first line; a break may come sooner).
  virtual std::optional<util::TimePoint> server_now() const { return std::nullopt; }
};

// A Client over HTTP. `transport` may be null: one is built from the config's TLS settings.
// Watch reconnects in list_watch back off from options.retry_base_delay (capped at
// retry_max_delay) and give up after options.max_retries consecutive failures.
std::unique_ptr<Client> make_client(RestConfig config, std::shared_ptr<http::Transport> transport = nullptr,
                                    http::ClientOptions options = {});

// Builds transports; called again with client_cert_data/client_key_data set when an exec plugin
// hands out a (new) client certificate.
using TransportFactory = std::function<Result<std::shared_ptr<http::Transport>>(const http::ClientOptions&)>;
std::unique_ptr<Client> make_client_with_factory(RestConfig config, TransportFactory factory,
                                                 http::ClientOptions options = {});

// Builds the URL path for a type/namespace/name ("/apis/apps/v1/namespaces/x/deployments/y").
std::string resource_path(const ResourceType& type, const std::string& ns, const std::string& name = {});

}  // namespace wb::kube
