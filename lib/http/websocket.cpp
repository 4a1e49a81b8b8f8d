// WebSocket client (RFC 6455) over a libcurl CONNECT_ONLY connection: curl does TCP, proxy and
// TLS; the upgrade request and the framing are ours.
#include <openssl/rand.h>
#include <poll.h>

#include <atomic>
#include <charconv>
#include <mutex>

#include "http/curl_common.hpp"
#include "http/upgraded.hpp"
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

constexpr std::chrono::seconds kCloseWait{2};

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

ErrorCode code_for_status(int status) {
  if (status == 401 || status == 403) return ErrorCode::Auth;
  if (status == 404) return ErrorCode::NotFound;
  if (status == 429 || status >= 500) return ErrorCode::Unavailable;
  return ErrorCode::Failure;
}

class CurlWebSocket final : public WebSocket {
 public:
  explicit CurlWebSocket(std::unique_ptr<UpgradedSocket> sock) : sock_(std::move(sock)) {}

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

  void stop_waiting_to_send() override { sock_->stop_waiting_to_send(); }

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
    std::string rest;
    Headers extra{{"Sec-WebSocket-Key", key}, {"Sec-WebSocket-Version", "13"}};
    if (!protocols.empty()) extra.add("Sec-WebSocket-Protocol", util::join(protocols, ", "));
    Request get = req;
    get.method = "GET";
    WB_ASSIGN_OR_RETURN(HttpHead head, sock_->upgrade(get, extra, deadline, rest));
    WB_TRY(check_upgrade(head, key, protocols));
    reader_.feed(rest);
    return {};
  }

 private:
  Status check_upgrade(const HttpHead& head, const std::string& key, const std::vector<std::string>& protocols) {
    auto fail = [&](const std::string& why) {
      return sock_->failure(
          Error(ErrorCode::Failure, "websocket handshake with " + sock_->target().origin + " failed: " + why),
          Kind::Other);
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
    WB_ASSIGN_OR_RETURN(size_t n, sock_->read_some(buf, sizeof buf, deadline));
    if (n == 0) {
      close_received_ = true;
      return sock_->failure(Error(ErrorCode::Unavailable,
                                  sock_->target().origin + " closed the websocket connection without a close frame"),
                            Kind::Broken);
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
    Status st = sock_->write_all(frame_);
    if (frame_.capacity() > (1u << 20)) std::string().swap(frame_);  // do not keep a huge one
    return st;
  }

  std::unique_ptr<UpgradedSocket> sock_;
  std::string subprotocol_;
  ws::MessageReader reader_;
  std::mutex send_mu_;        // one frame at a time
  std::string frame_;         // under send_mu_: the frame being sent, reused
  std::timed_mutex recv_mu_;  // one receiver at a time
  std::atomic<bool> close_sent_{false};
  std::atomic<bool> close_received_{false};
};

}  // namespace

util::Result<std::unique_ptr<WebSocket>> open_websocket(const ClientOptions& options, bool answered_before,
                                                        const Request& request,
                                                        const std::vector<std::string>& protocols) {
  WB_ASSIGN_OR_RETURN(auto sock, UpgradedSocket::connect(options, answered_before, request, "websocket"));
  const Deadline deadline = UpgradedSocket::handshake_deadline(options, request);
  auto ws = std::make_unique<CurlWebSocket>(std::move(sock));
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
