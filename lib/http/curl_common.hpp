// Private to lib/http: RAII wrappers over libcurl and the pieces shared by the HTTP transport
// and the WebSocket connection (TLS and proxy settings, error wording, traces).
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/http.hpp"

namespace wb::http::detail {

// curl_global_init, once per process (thread-safe).
void ensure_curl_initialized();

// An easy handle and what OpenSSL notes on its connections (which may stay cached across
// transfers, so the note lives as long as the handle).
class Easy {
 public:
  Easy();
  ~Easy() { curl_easy_cleanup(handle_); }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
  CURL* get() const { return handle_; }
  // Set when a server asked for a client certificate and none was configured.
  std::atomic<bool> client_cert_requested{false};

 private:
  CURL* handle_;
};
using EasyHandle = std::unique_ptr<Easy>;

// A curl_slist that frees itself.
class SList {
 public:
  SList() = default;
  SList(const SList&) = delete;
  SList& operator=(const SList&) = delete;
  ~SList() { curl_slist_free_all(list_); }
  void append(const std::string& line);
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Where a request goes. With TlsOptions::server_name set, the URL names the server_name (so
// SNI and certificate checks use it) and CONNECT_TO sends the connection to the real host.
struct Target {
  std::string url;          // the URL handed to curl
  std::string origin;       // scheme://host[:port] of the caller's URL, for messages
  std::string host_header;  // the caller's authority, sent as Host when the name was overridden
  std::string connect_to;   // CURLOPT_CONNECT_TO entry, or ""
  std::string host;         // the caller's host
  std::string path_query;   // "/path?query" (for the WebSocket request line)
  bool tls = false;
};
// Parses the URL (ws/wss are mapped to http/https) and applies the server-name override.
util::Result<Target> make_target(const std::string& url, const TlsOptions& tls);

// Per-transfer storage that must outlive curl_easy_perform (lists referenced by options), and
// what the TLS layer observed.
struct TransferState {
  SList headers;
  SList connect_to;
  char errbuf[CURL_ERROR_SIZE] = {0};  // CURLOPT_ERRORBUFFER
  bool client_cert_requested = false;  // copied from Easy after the transfer
  // This transport had an HTTP answer from a server before: a later connection that breaks is
  // not a server refusing the client certificate that it took then.
  bool answered_before = false;
  std::string proxy;  // the explicit proxy, for messages
};

// Sets TLS, proxy, connect timeout, error buffer and Target options on a handle.
void apply_connection_options(Easy& easy, const ClientOptions& options, const Target& target, TransferState& state);

// Attaches TransportFailure facts of `kind` for a request to `t` (naming its origin, or nothing).
util::Error with_failure(util::Error e, TransportFailure::Kind kind, const Target& t, CURLcode code = CURLE_OK,
                         bool names_origin = true);
// Turns a failed transfer into one clear line with TransportFailure facts.
util::Error describe_curl_error(CURL* h, CURLcode code, const TransferState& state, const Target& target,
                                std::chrono::milliseconds timeout);
// True when a failure is transient and an idempotent request may be repeated.
bool is_retryable_curl_error(CURLcode code, const TransferState& state);

// Writes -v lines (already redacted by the caller or here) to ClientOptions::trace.
class Tracer {
 public:
  explicit Tracer(const ClientOptions& options) : options_(options) {}
  bool enabled(int level) const { return options_.verbosity >= level && options_.trace; }
  void line(std::string_view text) const {
    if (options_.trace) options_.trace(text);
  }
  // Header lines ("Name: value" or a status/request line) with secrets redacted.
  void header_block(char direction, std::string_view block) const;
  // A body excerpt, redacted, at most kBodyLimit bytes.
  void body(char direction, std::string_view data, size_t total) const;
  static constexpr size_t kBodyLimit = 4096;

 private:
  const ClientOptions& options_;
};

// Opens a WebSocket connection (see Transport::open_websocket).
util::Result<std::unique_ptr<WebSocket>> open_websocket(const ClientOptions& options, bool answered_before,
                                                        const Request& request,
                                                        const std::vector<std::string>& protocols);

// Opens a connection upgraded to `protocol` (see Transport::open_upgraded).
util::Result<std::unique_ptr<UpgradedConnection>> open_upgraded(const ClientOptions& options, bool answered_before,
                                                                const Request& request, const std::string& protocol);

// Elapsed milliseconds since `start`, as text ("123 ms").
std::string elapsed_text(std::chrono::steady_clock::time_point start);

}  // namespace wb::http::detail
