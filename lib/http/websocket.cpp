// WebSocket client (RFC 6455) over a libcurl CONNECT_ONLY connection: curl does TCP, proxy and
// TLS; the upgrade request and the framing are ours.
#include <openssl/rand.h>
#include <poll.h>

#include <atomic>
#include <charconv>
#include <mutex>

#include "http/curl_common.hpp"
#include "http/ws_frame.hpp"
#include "util/encoding.hpp"
#include "util/interrupt.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::http::detail {

namespace {

using util::Error;
using util::ErrorCode;
using util::Status;
using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;
using Kind = TransportFailure::Kind;

constexpr size_t kMaxHandshakeBytes = 64 * 1024;
constexpr std::chrono::seconds kDefaultHandshakeTimeout{30};
constexpr std::chrono::seconds kCloseWait{2};

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

bool has_token(const std::string& list, std::string_view token) {
  for (const std::string& part : util::split(list, ','))
    if (util::iequals(util::trim(part), token)) return true;
  return false;
}

ErrorCode code_for_status(int status) {
  if (status == 401 || status == 403) return ErrorCode::Auth;
  if (status == 404) return ErrorCode::NotFound;
  if (status == 429 || status >= 500) return ErrorCode::Unavailable;
  return ErrorCode::Failure;
}

// Decodes a complete chunked body; returns what could be decoded.
std::string dechunk(std::string_view raw) {
  std::string out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    size_t size = 0;  // hex digits, then maybe ";extension"
    std::from_chars(raw.data() + pos, raw.data() + eol, size, 16);
    if (size == 0) break;
    out.append(raw.substr(eol + 2, size));
    pos = eol + 2 + size + 2;
  }
  return out;
}

struct HttpHead {
  int status = 0;
  std::string reason;
  Headers headers;
};

HttpHead parse_head(std::string_view head) {
  HttpHead h;
  std::vector<std::string> lines = util::split(head, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = util::trim(lines[i]);
    if (i == 0) {
      std::vector<std::string> parts = util::split(line, ' ');
      if (parts.size() >= 2) h.status = util::parse_int<int>(parts[1], "").value_or(0);
      if (parts.size() >= 3) h.reason = line.substr(parts[0].size() + parts[1].size() + 2);
    } else if (size_t colon = line.find(':'); colon != std::string::npos) {
      h.headers.add(util::trim(line.substr(0, colon)), util::trim(line.substr(colon + 1)));
    }
  }
  return h;
}

class CurlWebSocket final : public WebSocket {
 public:
  CurlWebSocket(EasyHandle handle, std::unique_ptr<TransferState> state, Target target, const ClientOptions& options)
      : state_(std::move(state)),
        handle_(std::move(handle)),
        target_(std::move(target)),
        options_(options),
        tracer_(options_) {
    curl_easy_getinfo(handle_->get(), CURLINFO_ACTIVESOCKET, &socket_);
  }

  const std::string& subprotocol() const override { return subprotocol_; }
  Status send_binary(std::string_view data) override { return send_frame(ws::Opcode::Binary, data); }
  Status send_text(std::string_view data) override { return send_frame(ws::Opcode::Text, data); }

  Result<WsMessage> receive(std::chrono::milliseconds timeout) override {
    Deadline deadline;
    if (timeout.count() > 0) deadline.emplace(Clock::now() + timeout);
    std::unique_lock<std::timed_mutex> lock(recv_mu_);
    while (true) {
      WB_ASSIGN_OR_RETURN(std::optional<WsMessage> message, next_message());
      if (message) return *std::move(message);
      if (close_received_) return Error(ErrorCode::Unavailable, "the websocket connection is closed");
      WB_TRY(read_more(deadline));
    }
  }

  void stop_waiting_to_send() override { no_send_wait_ = true; }

  Status close(uint16_t code, std::string_view reason) override {
    if (!ws::valid_close_code(code))
      return Error(ErrorCode::Usage, "invalid websocket close code " + std::to_string(code));
    if (!close_sent_.exchange(true)) {
      Status sent = write_frame(ws::Opcode::Close, ws::close_payload(code, reason));
      if (!sent && !close_received_) return sent;
    }
    std::unique_lock<std::timed_mutex> lock(recv_mu_, std::defer_lock);
    if (close_received_ || !lock.try_lock_for(kCloseWait)) return {};
    const Deadline deadline = Clock::now() + kCloseWait;
    while (!close_received_) {
      auto message = next_message();
      if (!message) return {};
      if (*message && (*message)->kind == WsMessage::Kind::Close) break;
      if (!*message && !read_more(deadline)) break;
    }
    return {};
  }

  // Sends the upgrade request and checks the answer. Bytes after the answer's head are kept.
  Status handshake(const Request& req, const std::vector<std::string>& protocols, Deadline deadline) {
    const std::string key = util::base64_encode(random_bytes(16));
    const std::string request = upgrade_request(req, protocols, key);
    const auto start = Clock::now();
    if (tracer_.enabled(1)) tracer_.line("> GET " + redact_text(req.url) + " (websocket)");
    if (tracer_.enabled(2)) tracer_.header_block('>', request.substr(request.find('\n') + 1));
    WB_TRY(write_all(request));
    std::string data;
    size_t head_end = std::string::npos;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      if (data.size() > kMaxHandshakeBytes)
        return with_failure(
            Error(ErrorCode::Failure, "websocket handshake with " + target_.origin + " failed: answer too large"),
            Kind::Other, target_);
      WB_ASSIGN_OR_RETURN(size_t n, read_into(data, deadline));
      if (n == 0)
        return with_failure(
            Error(ErrorCode::Unavailable, target_.origin + " closed the connection during the websocket handshake"),
            Kind::Broken, target_);
    }
    HttpHead head = parse_head(std::string_view(data).substr(0, head_end));
    if (tracer_.enabled(1)) tracer_.line("< " + std::to_string(head.status) + " (" + elapsed_text(start) + ")");
    if (tracer_.enabled(2)) tracer_.header_block('<', data.substr(data.find('\n') + 1, head_end - data.find('\n')));
    std::string rest = data.substr(head_end + 4);
    if (head.status != 101) return refusal(head, std::move(rest), deadline);
    WB_TRY(check_upgrade(head, key, protocols));
    reader_.feed(rest);
    return {};
  }

 private:
  std::string upgrade_request(const Request& req, const std::vector<std::string>& protocols,
                              const std::string& key) const {
    std::string r = "GET " + target_.path_query + " HTTP/1.1\r\nHost: " + target_.host_header +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n";
    if (!protocols.empty()) r += "Sec-WebSocket-Protocol: " + util::join(protocols, ", ") + "\r\n";
    if (!req.headers.get("user-agent")) r += "User-Agent: " + options_.user_agent + "\r\n";
    for (const auto& [name, value] : req.headers.items()) {
      const std::string lower = util::to_lower(name);
      if (lower == "host" || lower == "upgrade" || lower == "connection" || lower.rfind("sec-websocket-", 0) == 0)
        continue;
      r += name + ": " + value + "\r\n";
    }
    return r + "\r\n";
  }

  Status check_upgrade(const HttpHead& head, const std::string& key, const std::vector<std::string>& protocols) {
    auto fail = [&](const std::string& why) {
      return with_failure(Error(ErrorCode::Failure, "websocket handshake with " + target_.origin + " failed: " + why),
                          Kind::Other, target_);
    };
    if (!util::iequals(head.headers.get("upgrade").value_or(""), "websocket") ||
        !has_token(head.headers.get("connection").value_or(""), "upgrade"))
      return fail("the server did not upgrade the connection");
    if (head.headers.get("sec-websocket-accept").value_or("") != ws::accept_key(key))
      return fail("wrong Sec-WebSocket-Accept");
    subprotocol_ = head.headers.get("sec-websocket-protocol").value_or("");
    if (!subprotocol_.empty() && std::find(protocols.begin(), protocols.end(), subprotocol_) == protocols.end())
      return fail("the server chose subprotocol '" + subprotocol_ + "', which was not offered");
    return {};
  }

  // A non-101 answer: an Error carrying the status and the body.
  Error refusal(const HttpHead& head, std::string body, Deadline deadline) {
    const bool chunked = has_token(head.headers.get("transfer-encoding").value_or(""), "chunked");
    const auto length = head.headers.get("content-length");
    const size_t want = length ? util::parse_int<size_t>(*length, "").value_or(0) : kMaxHandshakeBytes;
    const Deadline body_deadline = std::min(deadline.value_or(Clock::now() + kCloseWait), Clock::now() + kCloseWait);
    while (body.size() < std::min(want, kMaxHandshakeBytes) &&
           !(chunked && body.find("0\r\n\r\n") != std::string::npos)) {
      auto n = read_into(body, body_deadline);
      if (!n || *n == 0) break;
    }
    if (chunked) body = dechunk(body);
    if (length) body = body.substr(0, want);
    return upgrade_refused_error(target_.origin, head.status, head.reason, body);
  }

  // The next data or close message from bytes already received; answers pings.
  Result<std::optional<WsMessage>> next_message() {
    while (true) {
      auto frame = reader_.next();
      if (!frame) {
        if (!close_sent_.exchange(true)) (void)write_frame(ws::Opcode::Close, ws::close_payload(1002, ""));
        close_received_ = true;
        return frame.error();
      }
      if (!*frame) return std::optional<WsMessage>();
      ws::Frame& f = **frame;
      switch (f.opcode) {
        case ws::Opcode::Ping:
          WB_TRY(write_frame(ws::Opcode::Pong, f.payload));
          continue;
        case ws::Opcode::Pong:
          continue;
        case ws::Opcode::Close:
          return on_close(f.payload);
        case ws::Opcode::Text:
          return std::optional<WsMessage>(WsMessage{WsMessage::Kind::Text, std::move(f.payload), 0});
        default:
          return std::optional<WsMessage>(WsMessage{WsMessage::Kind::Binary, std::move(f.payload), 0});
      }
    }
  }

  Result<std::optional<WsMessage>> on_close(std::string_view payload) {
    close_received_ = true;
    auto info = ws::parse_close_payload(payload);
    if (!close_sent_.exchange(true)) {
      const std::string reply =
          info ? (info->code == 1005 ? "" : ws::close_payload(info->code, "")) : ws::close_payload(1002, "");
      (void)write_frame(ws::Opcode::Close, reply);
    }
    if (!info) return info.error();
    return std::optional<WsMessage>(WsMessage{WsMessage::Kind::Close, info->reason, info->code});
  }

  Status read_more(Deadline deadline) {
    char buf[65536];
    WB_ASSIGN_OR_RETURN(size_t n, read_some(buf, sizeof buf, deadline));
    if (n == 0) {
      close_received_ = true;
      return with_failure(
          Error(ErrorCode::Unavailable, target_.origin + " closed the websocket connection without a close frame"),
          Kind::Broken, target_);
    }
    reader_.feed(std::string_view(buf, n));
    return {};
  }

  Status send_frame(ws::Opcode op, std::string_view payload) {
    if (close_sent_) return Error(ErrorCode::Unavailable, "the websocket connection is closed");
    return write_frame(op, payload);
  }

  Status write_frame(ws::Opcode op, std::string_view payload) {
    ws::MaskKey key;
    const std::string bytes = random_bytes(4);
    std::copy(bytes.begin(), bytes.end(), key.begin());
    std::lock_guard<std::mutex> lock(send_mu_);
    ws::encode_frame_into(frame_, op, payload, true, key);
    Status st = write_all(frame_);
    if (frame_.capacity() > (1u << 20)) std::string().swap(frame_);  // do not keep a huge one
    return st;
  }

  Result<size_t> read_into(std::string& out, Deadline deadline) {
    char buf[65536];
    WB_ASSIGN_OR_RETURN(size_t n, read_some(buf, sizeof buf, deadline));
    out.append(buf, n);
    return n;
  }

  // Reads what is available (0 = the peer closed); waits with poll when nothing is.
  Result<size_t> read_some(char* buf, size_t size, Deadline deadline) {
    while (true) {
      size_t got = 0;
      CURLcode rc;
      {
        std::lock_guard<std::mutex> lock(io_mu_);
        rc = curl_easy_recv(handle_->get(), buf, size, &got);
      }
      if (rc == CURLE_OK) return got;
      if (rc != CURLE_AGAIN) return broken();
      WB_TRY(wait_socket(POLLIN, deadline));
    }
  }

  Status write_all(std::string_view data) {
    while (!data.empty()) {
      size_t sent = 0;
      CURLcode rc;
      {
        std::lock_guard<std::mutex> lock(io_mu_);
        rc = curl_easy_send(handle_->get(), data.data(), data.size(), &sent);
      }
      if (rc == CURLE_OK)
        data.remove_prefix(sent);
      else if (rc == CURLE_AGAIN)
        WB_TRY(wait_socket(POLLOUT, std::nullopt));
      else
        return broken();
    }
    return {};
  }

  Error broken() const {
    return with_failure(Error(ErrorCode::Unavailable, "the websocket connection to " + target_.origin + " broke off"),
                        Kind::Broken, target_);
  }

  // Polls in short slices so that Ctrl-C and the deadline are noticed.
  Status wait_socket(short events, Deadline deadline) const {
    while (true) {
      if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
      if (events == POLLOUT && no_send_wait_)
        return with_failure(Error(ErrorCode::Unavailable, target_.origin + " stopped reading the websocket connection"),
                            Kind::Broken, target_);
      auto slice = std::chrono::milliseconds(100);
      if (deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
        if (left.count() <= 0)
          return with_failure(Error(ErrorCode::Timeout, "no websocket message from " + target_.origin + " in time"),
                              Kind::Timeout, target_);
        slice = std::min(slice, left);
      }
      pollfd pfd{static_cast<int>(socket_), events, 0};
      int r = ::poll(&pfd, 1, static_cast<int>(slice.count()));
      if (r > 0) return {};
      if (r < 0 && errno != EINTR) return broken();
    }
  }

  std::unique_ptr<TransferState> state_;  // referenced by the handle's options: outlives it
  EasyHandle handle_;
  Target target_;
  const ClientOptions options_;
  const Tracer tracer_;
  curl_socket_t socket_ = CURL_SOCKET_BAD;
  std::string subprotocol_;
  ws::MessageReader reader_;
  std::mutex io_mu_;          // one curl_easy_send/recv at a time (TLS state is shared)
  std::mutex send_mu_;        // one frame at a time
  std::string frame_;         // under send_mu_: the frame being sent, reused
  std::timed_mutex recv_mu_;  // one receiver at a time
  std::atomic<bool> close_sent_{false};
  std::atomic<bool> close_received_{false};
  std::atomic<bool> no_send_wait_{false};
};

int on_connect_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) { return util::interrupted() ? 1 : 0; }

}  // namespace

util::Result<std::unique_ptr<WebSocket>> open_websocket(const ClientOptions& options, bool answered_before,
                                                        const Request& request,
                                                        const std::vector<std::string>& protocols) {
  ensure_curl_initialized();
  WB_ASSIGN_OR_RETURN(Target target, make_target(request.url, options.tls));
  auto handle = std::make_unique<Easy>();
  CURL* h = handle->get();
  auto state = std::make_unique<TransferState>();
  apply_connection_options(*handle, options, target, *state);
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_connect_progress);
  const CURLcode rc = curl_easy_perform(h);
  state->client_cert_requested = handle->client_cert_requested;
  state->answered_before = answered_before;
  if (rc != CURLE_OK) return describe_curl_error(h, rc, *state, target, options.connect_timeout);
  const auto timeout = request.timeout.value_or(options.request_timeout);
  const Deadline deadline =
      Clock::now() + (timeout.count() > 0 ? timeout : std::chrono::milliseconds(kDefaultHandshakeTimeout));
  auto ws = std::make_unique<CurlWebSocket>(std::move(handle), std::move(state), std::move(target), options);
  WB_TRY(ws->handshake(request, protocols, deadline));
  return std::unique_ptr<WebSocket>(std::move(ws));
}

}  // namespace wb::http::detail

namespace wb::http {

util::Error upgrade_refused_error(const std::string& origin, int status, const std::string& reason,
                                  const std::string& body) {
  std::string text = util::trim(util::replace_all(util::replace_all(body, "\r\n", " "), "\n", " "));
  if (text.empty()) text = "websocket upgrade refused by " + origin + ": HTTP " + std::to_string(status) + " " + reason;
  UpgradeRefused facts;
  facts.status = status;
  facts.reason = reason;
  facts.body = body;
  return util::Error(detail::code_for_status(status), text, "", status).with(std::move(facts));
}

}  // namespace wb::http
