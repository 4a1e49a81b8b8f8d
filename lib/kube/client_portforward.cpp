// pods/portforward over a WebSocket (v4.channel.k8s.io), one TCP connection per WebSocket: the
// server first sends each channel the port (2 bytes, little-endian), then data on channel 0 and
// error text on channel 1; the client's data goes out on channel 0.
#include <atomic>

#include "kube/client_internal.hpp"

namespace wb::kube::detail {

namespace {

constexpr size_t kKeepErrorText = 4 << 10;
constexpr const char* kProtocol = "v4.channel.k8s.io";

class WsPortForward : public PortForwardConnection {
 public:
  explicit WsPortForward(std::unique_ptr<http::WebSocket> ws) : ws_(std::move(ws)) {}
  ~WsPortForward() override { close(); }

  util::Status send(std::string_view data) override {
    if (closed_) return Error(ErrorCode::Unavailable, "the forwarded connection is closed");
    if (data.empty()) return {};
    frame_.clear();
    frame_.reserve(data.size() + 1);
    frame_ += '\0';
    frame_.append(data);
    return ws_->send_binary(frame_);
  }

  Result<std::string> receive(std::chrono::milliseconds timeout) override {
    while (true) {
      if (ended_) return std::string();
      auto msg = ws_->receive(timeout);
      if (!msg) {
        if (msg.error().code == ErrorCode::Timeout || msg.error().code == ErrorCode::Interrupted) return msg.error();
        ended_ = true;
        if (closed_) return std::string();
        return Error(ErrorCode::Unavailable, "the forwarded connection broke off: " + msg.error().message);
      }
      if (msg->kind == http::WsMessage::Kind::Close) {
        ended_ = true;
        return std::string();
      }
      if (msg->kind != http::WsMessage::Kind::Binary || msg->data.empty()) continue;
      const unsigned char channel = static_cast<unsigned char>(msg->data[0]);
      if (channel > 1) continue;
      std::string_view payload(msg->data);
      payload.remove_prefix(1);
      bool& header_seen = channel == 0 ? data_header_seen_ : error_header_seen_;
      if (!header_seen) {  // the port, once per channel
        header_seen = true;
        payload.remove_prefix(std::min<size_t>(2, payload.size()));
      }
      if (payload.empty()) continue;
      if (channel == 0) return std::string(payload);
      ended_ = true;
      return Error(ErrorCode::Failure, std::string(payload.substr(0, kKeepErrorText)));
    }
  }

  void close() override {
    if (closed_.exchange(true)) return;
    ws_->stop_waiting_to_send();
    (void)ws_->close();
  }

 private:
  std::unique_ptr<http::WebSocket> ws_;
  std::string frame_;  // the sender's, reused
  std::atomic<bool> closed_{false};
  bool ended_ = false;  // the receiver's
  bool data_header_seen_ = false, error_header_seen_ = false;
};

}  // namespace

Result<std::unique_ptr<PortForwardConnection>> HttpClient::port_forward(const std::string& ns, const std::string& pod,
                                                                        uint16_t port) {
  const std::string path = resource_path(types::Pod, ns, pod) + "/portforward?ports=" + std::to_string(port);
  // kube-apiserver 1.32 answers 406 to a portforward upgrade that accepts only JSON.
  WB_ASSIGN_OR_RETURN(auto ws, upgrade(path, {kProtocol}, "*/*"));
  return std::unique_ptr<PortForwardConnection>(std::make_unique<WsPortForward>(std::move(ws)));
}

}  // namespace wb::kube::detail
