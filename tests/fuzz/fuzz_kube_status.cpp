// What the Kubernetes API server answers: a refusal's body (metav1.Status or anything else) read
// into an Error with its facts (Forbidden, Missing), and a watch stream's events decoded by the
// client from bytes that arrive in chunks of any size, through a fake transport (no network).
// Input: first byte the chunk size; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/http.hpp"
#include "kube/client.hpp"
#include "kube/status.hpp"

namespace {

using namespace wb;

// Answers every request with status 200 and the body in chunks; no WebSockets.
struct StreamTransport : http::Transport {
  std::string body;
  size_t chunk = 1;
  util::Result<http::Response> send(const http::Request& req) override {
    http::Response r;
    r.status = 200;
    r.headers.add("Content-Type", "application/json");
    if (req.on_headers) req.on_headers(r.status, r.headers);
    if (req.on_body) {
      for (size_t at = 0; at < body.size(); at += chunk)
        if (!req.on_body(std::string_view(body).substr(at, chunk)))
          return util::Error(util::ErrorCode::Interrupted, "stopped by the sink");
    } else {
      r.body = body;
    }
    return r;
  }
  util::Result<std::unique_ptr<http::WebSocket>> open_websocket(const http::Request&,
                                                                const std::vector<std::string>&) override {
    return util::Error(util::ErrorCode::Unavailable, "no websockets here");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);

  for (int status : {400, 401, 403, 404, 409, 410, 422, 429, 500, 503}) {
    util::Error e = kube::status_to_error(status, body);
    (void)kube::is_conflict(e);
    (void)kube::parse_forbidden(e.message);
  }
  (void)kube::parse_forbidden(body);

  auto transport = std::make_shared<StreamTransport>();
  transport->body = body;
  transport->chunk = size_t{data[0]} + 1;
  kube::RestConfig config;
  config.server = "https://kube.invalid:6443";
  config.namespace_ = "shop-dev";
  auto client = kube::make_client(config, transport);
  int events = 0;
  (void)client->watch(kube::types::Pod, "shop-dev", {}, [&](const kube::WatchEvent& ev) {
    (void)ev.type;
    return ++events < 1000;
  });
  // The same bytes as a plain answer: a get and a list read them as an object.
  (void)client->get(kube::types::Deployment, "shop-dev", "orders");
  return 0;
}
