// Private to lib/kube: the HTTP client behind make_client, whose parts live in client.cpp
// (requests and CRUD), client_watch.cpp, client_pod.cpp (logs and exec), client_portforward.cpp and
// client_discovery.cpp.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/http.hpp"
#include "kube/client.hpp"

namespace wb::kube::detail {

using util::Error;
using util::ErrorCode;

// Query string builder; empty values are left out.
class Query {
 public:
  Query& add(const std::string& key, const std::string& value);
  Query& add_always(const std::string& key, const std::string& value);
  Query& add_if(bool cond, const std::string& key, const std::string& value) { return cond ? add(key, value) : *this; }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

// A response body as JSON ({} when empty); Unavailable when it is not JSON.
Result<json> parse_json(const http::Response& resp, const std::string& what);

// An exec's outcome from the Status the server sends on its error channel (client_pod.cpp).
Result<ExecResult> exec_result_from_status(const json& st);

class HttpClient : public Client {
 public:
  HttpClient(RestConfig config, std::shared_ptr<http::Transport> transport, TransportFactory factory,
             http::ClientOptions options)
      : config_(std::move(config)),
        transport_(std::move(transport)),
        factory_(std::move(factory)),
        options_(std::move(options)) {}

  const RestConfig& config() const override { return config_; }
  std::optional<util::TimePoint> server_now() const override;

  Result<json> get(const ResourceType& type, const std::string& ns, const std::string& name) override;
  Result<json> list_page(const ResourceType& type, const std::string& ns, const ListOptions& o) override;
  Result<json> list(const ResourceType& type, const std::string& ns, const ListOptions& options) override;
  Result<json> create(const ResourceType& type, const std::string& ns, const json& object, bool dry_run) override;
  Result<json> update(const ResourceType& type, const std::string& ns, const json& object, bool dry_run) override;
  Result<json> merge_patch(const ResourceType& type, const std::string& ns, const std::string& name, const json& patch,
                           bool dry_run) override;
  Result<json> apply(const ResourceType& type, const std::string& ns, const json& object, bool force,
                     bool dry_run) override;
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const DeleteOptions& options) override;
  Result<http::Response> raw(const std::string& method, const std::string& path, const std::string& body,
                             const std::string& content_type) override;

  Status watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
               const std::function<bool(const WatchEvent&)>& on_event) override;
  Status list_watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                    const std::function<bool(const WatchEvent&)>& on_event) override;

  Result<Discovery> discovery() override;
  Result<ResourceType> prefer(const std::vector<ResourceType>& candidates) override;

  Status pod_logs(const std::string& ns, const std::string& pod, const LogOptions& o, const StreamSink& sink) override;
  Result<std::unique_ptr<ExecSession>> exec(const std::string& ns, const std::string& pod, const ExecOptions& o,
                                            StreamSink on_stdout, StreamSink on_stderr) override;
  Result<std::unique_ptr<PortForwardConnection>> port_forward(const std::string& ns, const std::string& pod,
                                                              uint16_t port) override;

  // A WebSocket upgrade of GET `path` (client_pod.cpp), credentials refreshed once on a 401. A
  // refusal is the server's words with the code for its status, and its facts (Forbidden,
  // Missing), else http::UpgradeRefused.
  Result<std::unique_ptr<http::WebSocket>> upgrade(const std::string& path, const std::vector<std::string>& protocols,
                                                   const std::string& accept = {});
  // pods/exec at `path` over SPDY/3.1 (client_exec_spdy.cpp); any failure means: use the WebSocket.
  Result<std::unique_ptr<ExecSession>> exec_spdy(const std::string& path, const ExecOptions& o, StreamSink on_stdout,
                                                 StreamSink on_stderr);

 private:
  // One request to the API server, as call() sends it.
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

  // Sends a call with the current credentials (once more after a 401 when they can be refreshed);
  // a non-2xx answer is an Error from its Status.
  Result<http::Response> call(const Call& c);

  bool refreshable() const { return config_.credentials && config_.credentials->refreshable(); }
  Result<Credentials> credentials() {
    if (!config_.credentials) return Credentials{};
    return config_.credentials->get();
  }
  Result<std::shared_ptr<http::Transport>> transport_for(const Credentials& creds);
  http::Request base_request(const std::string& method, const std::string& path, const Credentials& creds,
                             const std::string& accept = "application/json") const;
  Error transport_error(const Error& e) const;
  bool names_server(const std::string& named) const;
  Error in_pod_words(Error e) const;
  void note_server_clock(const http::Headers& h);

  // client_watch.cpp
  enum class WatchEnd { StreamEnded, StoppedByCaller };
  Result<WatchEnd> watch_once(const ResourceType& type, const std::string& ns, const WatchOptions& o,
                              const std::function<bool(const WatchEvent&)>& on_event, int* events = nullptr);

  // client_discovery.cpp
  Result<std::vector<std::string>> group_version_resources(const std::string& gv);
  std::optional<Discovery> cached_discovery();

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

  // A bulk exec over SPDY failed once (a server or proxy without it): WebSockets from then on.
  std::atomic<bool> spdy_refused_{false};
  // The server's clock minus ours, in nanoseconds, from the latest Date header.
  std::atomic<int64_t> clock_offset_{0};
  std::atomic<bool> clock_known_{false};
};

}  // namespace wb::kube::detail
