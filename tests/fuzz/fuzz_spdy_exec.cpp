// What a server sends on a SPDY/3.1 exec connection: the frame reader fed in chunks of every
// size (each data frame re-encodes to the same bytes), then a whole bulk exec session reading
// the same bytes through the client (output, exit status, PINGs answered, the end of the
// connection) must end, with a result or an error, never hang or crash. First byte: the chunk
// size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/http.hpp"
#include "kube/client.hpp"
#include "kube/spdy.hpp"

namespace {

using namespace wb;

class Connection : public http::UpgradedConnection {
 public:
  Connection(std::string_view in, size_t chunk) : in_(in), chunk_(chunk) {
    headers_.add("X-Stream-Protocol-Version", "v4.channel.k8s.io");
  }
  const http::Headers& headers() const override { return headers_; }
  util::Result<size_t> read(char* buf, size_t size, std::chrono::milliseconds) override {
    const size_t n = std::min({size, chunk_, in_.size()});
    std::copy_n(in_.data(), n, buf);
    in_.remove_prefix(n);
    return n;
  }
  util::Status write(std::string_view data) override {
    written_ += data.size();
    if (written_ > (size_t{64} << 20)) std::abort();  // answers must stay in proportion to the input
    return {};
  }
  void stop_waiting_to_send() override {}

 private:
  http::Headers headers_;
  std::string_view in_;
  size_t chunk_;
  size_t written_ = 0;
};

class Transport : public http::Transport {
 public:
  Transport(std::string_view in, size_t chunk) : in_(in), chunk_(chunk) {}
  util::Result<http::Response> send(const http::Request&) override {
    return util::Error(util::ErrorCode::Failure, "no requests here");
  }
  util::Result<std::unique_ptr<http::WebSocket>> open_websocket(const http::Request&,
                                                                const std::vector<std::string>&) override {
    return util::Error(util::ErrorCode::Failure, "no websockets here");
  }
  util::Result<std::unique_ptr<http::UpgradedConnection>> open_upgraded(const http::Request&,
                                                                        const std::string&) override {
    return std::unique_ptr<http::UpgradedConnection>(std::make_unique<Connection>(in_, chunk_));
  }

 private:
  std::string_view in_;
  size_t chunk_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = data[0] + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  kube::spdy::FrameReader reader;
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    reader.feed(bytes.substr(at, chunk));
    while (true) {
      auto f = reader.next();
      if (!f.ok()) break;
      if (!*f) break;
      const auto& frame = **f;
      if (frame.control || frame.payload.size() > kube::spdy::kMaxLength) continue;
      std::string again;
      kube::spdy::append_data_header(again, frame.stream_id, frame.flags, static_cast<uint32_t>(frame.payload.size()));
      again += frame.payload;
      kube::spdy::FrameReader check;
      check.feed(again);
      auto back = check.next();
      if (!back.ok() || !*back || (*back)->payload != frame.payload || (*back)->stream_id != frame.stream_id ||
          (*back)->flags != frame.flags)
        std::abort();
    }
  }

  kube::RestConfig rc;
  rc.server = "https://k8s.test:6443";
  auto client = kube::make_client(rc, std::make_shared<Transport>(bytes, chunk));
  kube::ExecOptions o;
  o.command = {"cat"};
  o.stdin = true;
  o.bulk = true;
  size_t out = 0;
  auto sink = [&out](std::string_view d) {
    out += d.size();
    return out < (size_t{1} << 20);
  };
  auto session = client->exec("ns", "pod", o, sink, sink);
  if (!session.ok()) std::abort();  // the connection was handed over: opening streams cannot fail
  (void)(*session)->write_stdin("x");
  (void)(*session)->close_stdin();
  auto r = (*session)->wait();
  (void)r;
  return 0;
}
