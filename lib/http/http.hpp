// HTTP client interface. The implementation (libcurl) lives behind make_transport();
// no curl type appears in a public header. Unit tests hand in their own Transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace wb::http {

using util::Result;
using util::Status;

// Header list that keeps order and duplicates; lookups are case-insensitive
// (HTTP/2 servers send lower-case names).
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> init) : items_(init) {}
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every header of that name with one value.
  void set(const std::string& name, std::string value);
  // The first value of that name, if any.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// TLS settings for one server. PEM text ("_data") and file paths are alternatives.
struct TlsOptions {
  std::string ca_file;
  std::string ca_data;  // PEM
  std::string client_cert_file;
  std::string client_cert_data;  // PEM
  std::string client_key_file;
  std::string client_key_data;  // PEM
  std::string server_name;      // overrides the name checked in the server certificate (SNI)
  bool insecure = false;        // skip verification (only when the user asked)
};

// One line of the -v trace (already redacted: Authorization, tokens, passwords).
using TraceSink = std::function<void(std::string_view line)>;

struct ClientOptions {
  TlsOptions tls;
  std::string proxy;  // "" = libcurl's env handling (HTTPS_PROXY, NO_PROXY)
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{0};     // whole request; 0 = none (streams)
  int max_retries = 4;                              // retries for idempotent requests
  std::chrono::milliseconds retry_base_delay{250};  // exponential backoff with jitter from here
  std::chrono::milliseconds retry_max_delay{10000};
  // The longest Retry-After (429, 503) waited for; a server asking for more is asked again then.
  std::chrono::milliseconds retry_after_max{60000};
  int verbosity = 0;  // 0 quiet; 1 requests; 2 + headers; 3 + bodies
  TraceSink trace;    // where -v lines go
  std::string user_agent = "wb";
};

// Supplies request bodies in pieces. Returns the bytes written into buf (0 = end), or an error.
using BodyReader = std::function<Result<size_t>(char* buf, size_t size)>;
// Receives response body pieces as they arrive. Return false to stop (the request then ends
// with ErrorCode::Interrupted unless the callback itself recorded why).
using BodySink = std::function<bool(std::string_view chunk)>;

// The most bytes of an answer kept in memory (Response::body) unless a request says otherwise;
// error answers (not 2xx) are kept only up to kMaxErrorBody, the rest is not read.
inline constexpr size_t kDefaultMaxBody = size_t{256} << 20;
inline constexpr size_t kMaxErrorBody = size_t{1} << 20;
// The most header bytes and header lines (status lines included, redirects and 1xx answers
// counted together) one request reads before giving up on the server.
inline constexpr size_t kMaxHeaderBytes = size_t{256} << 10;
inline constexpr size_t kMaxHeaderLines = 500;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;        // used when body_reader is empty
  BodyReader body_reader;  // streaming upload
  int64_t body_size = -1;  // with body_reader: the size if known (Content-Length)
  // Called again before a retry of a streaming upload to rewind; without it, such a request is
  // not retried after bytes were sent.
  std::function<bool()> rewind;
  BodySink on_body;  // streaming download; when set, Response::body stays empty
  // Called once the status line and headers have arrived, before the body (streams).
  std::function<void(int status, const Headers& headers)> on_headers;
  std::optional<std::chrono::milliseconds> timeout;  // overrides ClientOptions::request_timeout
  // nullopt: retry GET/HEAD/PUT/DELETE/OPTIONS only; true/false to force.
  std::optional<bool> idempotent;
  // On a new connection, never a kept-alive one: libcurl silently sends a request again when a
  // reused connection dies before any answer, which a request that must not be repeated as it
  // was (idempotent = false) cannot have.
  bool fresh_connection = false;
  bool follow_redirects = true;
  // A 2xx answer longer than this (when buffered in Response::body, not on_body) fails with
  // TransportFailure::Kind::TooLarge; an error answer is cut to min(max_body, kMaxErrorBody).
  size_t max_body = kDefaultMaxBody;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  std::string effective_url;
};

// A WebSocket message (RFC 6455). Control frames are handled inside except close.
struct WsMessage {
  enum class Kind { Text, Binary, Close } kind = Kind::Binary;
  std::string data;         // payload (for Close: the reason)
  uint16_t close_code = 0;  // for Close
};

// Why a request got no HTTP answer (Transport::send, open_websocket), as facts for code to branch
// on; the error's message says the same in words.
struct TransportFailure : util::ErrorDetail {
  enum class Kind {
    Refused,             // nothing listens there (ECONNREFUSED)
    Unreachable,         // no route to the host or its network
    ConnectFailed,       // the connection failed otherwise (or timed out in the kernel)
    Dns,                 // the host name does not resolve
    ProxyDns,            // the proxy's host name does not resolve
    Timeout,             // no connection, or no complete answer, in time
    HostnameMismatch,    // the server's certificate is not valid for the name connected to
    CertificateExpired,  // the server's certificate has expired
    CertificateNotYetValid,
    UntrustedCa,        // the server's certificate is not signed by a CA we trust
    TlsVerify,          // the server's certificate failed verification otherwise
    BadCaFile,          // the configured certificate authority cannot be read
    BadClientCert,      // the configured client certificate or key cannot be used
    ClientCertRefused,  // the server did not accept our client certificate (or its absence)
    TlsHandshake,       // the TLS handshake failed otherwise
    Broken,             // the connection broke off (transient: an idempotent request may repeat)
    TooManyRedirects,
    BadUrl,    // the URL is not an http(s) URL
    TooLarge,  // the answer's headers or body went past a limit (`limit`): not read further
    Other
  };
  Kind kind = Kind::Other;
  std::string origin;  // scheme://host[:port] of the request's URL ("" for a URL that is not one)
  // Where the message says the request went: `origin`, the whole URL when it is not a valid one,
  // or "" when the message names neither (a hostname mismatch names the host it checked).
  std::string named;
  int curl_code = 0;  // the libcurl code behind it (CURLcode); 0 when curl did not run
  size_t limit = 0;   // TooLarge: the limit in bytes the answer went past
};

// A size limit as words: "4 MiB", "256 KiB", "100 bytes".
std::string size_words(size_t bytes);

// A WebSocket upgrade the server answered with something other than 101: its status and body.
// The error's http_status is the status too.
struct UpgradeRefused : util::ErrorDetail {
  int status = 0;
  std::string reason;  // the status line's reason phrase
  std::string body;    // the answer's body, decoded (at most 64 KiB)
};

// The error open_websocket returns for a non-101 answer from `origin`: the body (on one line)
// as its message, or the status when the body is empty, with UpgradeRefused facts. Fake
// transports in tests return the same.
util::Error upgrade_refused_error(const std::string& origin, int status, const std::string& reason,
                                  const std::string& body);

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // The subprotocol the server chose ("" if none).
  virtual const std::string& subprotocol() const = 0;
  virtual Status send_binary(std::string_view data) = 0;
  virtual Status send_text(std::string_view data) = 0;
  // Waits for the next data or close message; answers pings; reassembles fragments.
  // timeout 0 = wait forever. Returns ErrorCode::Timeout on timeout, Unavailable on a broken
  // connection, Interrupted on Ctrl-C.
  virtual Result<WsMessage> receive(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) = 0;
  // Sends a close frame (if not sent yet) and waits briefly for the peer's.
  virtual Status close(uint16_t code = 1000, std::string_view reason = {}) = 0;
  // From now on a send that has to wait for room (the peer stopped reading) gives up with
  // Unavailable, also one waiting already; sends that need no wait still go out. Any thread.
  virtual void stop_waiting_to_send() {}
};

// A connection that an HTTP/1.1 upgrade handed over to a protocol the caller speaks (SPDY/3.1 for
// pods/exec). write() may run on one thread while read() runs on another.
class UpgradedConnection {
 public:
  virtual ~UpgradedConnection() = default;
  // The 101 answer's headers.
  virtual const Headers& headers() const = 0;
  // Bytes from the peer into buf (0 = the peer closed the connection), waiting at most `timeout`
  // (0: no limit): Timeout, Unavailable when it broke, Interrupted on Ctrl-C.
  virtual Result<size_t> read(char* buf, size_t size, std::chrono::milliseconds timeout) = 0;
  virtual Status write(std::string_view data) = 0;
  // As WebSocket::stop_waiting_to_send().
  virtual void stop_waiting_to_send() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Performs one request (with retries per ClientOptions). HTTP error statuses are returned as
  // responses, not errors; errors are for transport failures (DNS, connect, TLS, timeout, cut),
  // which carry TransportFailure facts.
  virtual Result<Response> send(const Request& request) = 0;
  // Opens a WebSocket (http(s):// or ws(s):// URL) offering `protocols` in order.
  // A non-101 answer is an Error with http_status set and UpgradeRefused facts.
  virtual Result<std::unique_ptr<WebSocket>> open_websocket(const Request& request,
                                                            const std::vector<std::string>& protocols) = 0;
  // Sends `request` (method, URL, headers; no body) as an HTTP/1.1 upgrade to `protocol` and hands
  // the connection over after a 101 whose Upgrade header names it. A non-101 answer is an Error as
  // for open_websocket. Transports without it (test fakes) answer Failure.
  virtual Result<std::unique_ptr<UpgradedConnection>> open_upgraded(const Request& request,
                                                                    const std::string& protocol);
};

// The libcurl transport. Connections are reused across requests of one Transport.
std::unique_ptr<Transport> make_transport(const ClientOptions& options);

// Redacts secrets in a header line for traces: "Authorization: Bearer abc" -> "Authorization: <redacted>".
std::string redact_header(std::string_view name, std::string_view value);
// Redacts query parameters and JSON fields that carry secrets (token, password, ...).
std::string redact_text(std::string_view text);

// Parses an HTTP date (RFC 9110: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete
// RFC 850 and asctime forms a recipient must accept); nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view value);
// Parses Retry-After (seconds or HTTP-date) into a delay; nullopt when absent/invalid.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);
// The backoff delay before retry number `attempt` (0-based): base*2^attempt capped, with jitter
// in [50%, 100%]. `random01` supplies a value in [0,1) (tests pass a fixed one).
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        double random01);

// The wait before retrying an answer that said Retry-After `after`: at most `max`, plus up to 10%
// jitter (so clients told the same time do not all come back at once; jitter only adds).
std::chrono::milliseconds retry_after_delay(std::chrono::milliseconds after, std::chrono::milliseconds max,
                                            double random01);

}  // namespace wb::http
