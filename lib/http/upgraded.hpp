// Private to lib/http: an HTTP/1.1 connection that one request upgrades to another protocol
// (WebSocket, SPDY/3.1). libcurl connects (TCP, proxy, TLS); the request head, the answer's head
// and the bytes after it are ours.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/curl_common.hpp"

namespace wb::http::detail {

struct HttpHead {
  int status = 0;
  std::string reason;
  Headers headers;
};

// True when the comma-separated `list` holds `token` (case-insensitive).
bool has_token(const std::string& list, std::string_view token);

class UpgradedSocket {
 public:
  using Clock = std::chrono::steady_clock;
  using Deadline = std::optional<Clock::time_point>;

  // Connects to the request's URL (HTTP/1.1, CONNECT_ONLY); `what` names the protocol in messages
  // ("websocket", "SPDY").
  static util::Result<std::unique_ptr<UpgradedSocket>> connect(const ClientOptions& options, bool answered_before,
                                                               const Request& request, std::string what);
  // The deadline for the upgrade's answer: the request's timeout, else the client's, else 30 s.
  static Clock::time_point handshake_deadline(const ClientOptions& options, const Request& request);

  // Sends `req` (method, URL, headers; no body) as an upgrade to what() with the protocol's own
  // `extra` headers (the request's Host, Upgrade, Connection and Sec-WebSocket-* are left out; a
  // User-Agent is added unless it has one; Content-Length: 0 unless it is a GET) and reads the
  // answer's head; the bytes after it are appended to `rest`. A non-101 answer is
  // upgrade_refused_error() with its body.
  util::Result<HttpHead> upgrade(const Request& req, const Headers& extra, Deadline deadline, std::string& rest);

  // Reads what is available (0 = the peer closed); waits with poll when nothing is.
  util::Result<size_t> read_some(char* buf, size_t size, Deadline deadline);
  util::Status write_all(std::string_view data);
  // From now on a write that has to wait for room gives up (also one waiting already).
  void stop_waiting_to_send() { no_send_wait_ = true; }

  // "the <what> connection to ORIGIN broke off", with Broken facts.
  util::Error broken() const;
  // `e` with TransportFailure facts of `kind` for this connection's target.
  util::Error failure(util::Error e, TransportFailure::Kind kind) const;
  const Target& target() const { return target_; }
  const Tracer& tracer() const { return tracer_; }
  const std::string& what() const { return what_; }

  UpgradedSocket(EasyHandle handle, std::unique_ptr<TransferState> state, Target target, const ClientOptions& options,
                 std::string what);

 private:
  util::Error refusal(const HttpHead& head, std::string body, Deadline deadline);
  util::Status wait_socket(short events, Deadline deadline) const;

  std::unique_ptr<TransferState> state_;  // referenced by the handle's options: outlives it
  EasyHandle handle_;
  Target target_;
  const ClientOptions options_;
  const Tracer tracer_;
  std::string what_;
  curl_socket_t socket_ = CURL_SOCKET_BAD;
  std::mutex io_mu_;  // one curl_easy_send/recv at a time (TLS state is shared)
  std::atomic<bool> no_send_wait_{false};
};

}  // namespace wb::http::detail
