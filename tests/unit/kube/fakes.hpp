// Test doubles for the kube unit tests: an HTTP mock that fails on unexpected requests and on
// unused stubs, a scripted WebSocket, and temporary directories.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "http/http.hpp"
#include "kube/client.hpp"

namespace wb::kube::test {

// A temp dir named wb-kube-test-XXXXXX.
class TempDir : public wb::test::TempDir {
 public:
  TempDir() : wb::test::TempDir("wb-kube-test") {}
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct FakeWsState {
  std::string subprotocol;
  std::deque<util::Result<http::WsMessage>> incoming;
  std::vector<std::string> sent;  // binary frames, in order
  bool closed = false;
};

class FakeWebSocket : public http::WebSocket {
 public:
  explicit FakeWebSocket(std::shared_ptr<FakeWsState> s) : s_(std::move(s)) {}
  const std::string& subprotocol() const override { return s_->subprotocol; }
  util::Status send_binary(std::string_view data) override {
    s_->sent.emplace_back(data);
    return {};
  }
  util::Status send_text(std::string_view data) override {
    s_->sent.emplace_back(data);
    return {};
  }
  util::Result<http::WsMessage> receive(std::chrono::milliseconds) override {
    if (s_->incoming.empty()) return util::Error(util::ErrorCode::Unavailable, "connection reset by peer");
    auto m = std::move(s_->incoming.front());
    s_->incoming.pop_front();
    return m;
  }
  util::Status close(uint16_t, std::string_view) override {
    s_->closed = true;
    return {};
  }

 private:
  std::shared_ptr<FakeWsState> s_;
};

inline http::WsMessage binary(unsigned char channel, std::string_view payload) {
  http::WsMessage m;
  m.kind = http::WsMessage::Kind::Binary;
  m.data = std::string(1, static_cast<char>(channel));
  m.data.append(payload);
  return m;
}

// A connection upgraded to SPDY: `incoming` is what the server sends (read hands it out in pieces
// of `piece` bytes, then reports the connection closed), `written` what the client wrote.
struct FakeUpgradedState {
  http::Headers headers;
  std::string incoming;
  size_t piece = 7;
  std::string written;
};

class FakeUpgraded : public http::UpgradedConnection {
 public:
  explicit FakeUpgraded(std::shared_ptr<FakeUpgradedState> s) : s_(std::move(s)) {}
  const http::Headers& headers() const override { return s_->headers; }
  util::Result<size_t> read(char* buf, size_t size, std::chrono::milliseconds) override {
    const size_t n = std::min({size, s_->piece, s_->incoming.size() - at_});
    std::copy_n(s_->incoming.data() + at_, n, buf);
    at_ += n;
    return n;
  }
  util::Status write(std::string_view data) override {
    s_->written.append(data);
    return {};
  }
  void stop_waiting_to_send() override {}

 private:
  std::shared_ptr<FakeUpgradedState> s_;
  size_t at_ = 0;
};

struct Stub {
  std::string method;
  std::string path;                      // path?query after the server URL
  int status = 200;
  std::string body;
  std::vector<std::string> chunks;       // streamed pieces (on_body); `body` if empty
  std::optional<util::Error> error;      // a transport error instead of a response
  std::function<void(const http::Request&)> check;
  bool used = false;
  http::Headers headers;                 // response headers
};

struct WsStub {
  std::string path;
  std::shared_ptr<FakeWsState> state;    // success
  std::optional<util::Error> error;      // or failure
  bool used = false;
};

// Each stub answers one matching request, in order of registration.
class FakeTransport : public http::Transport {
 public:
  explicit FakeTransport(std::string server = "https://k8s.test:6443") : server_(std::move(server)) {}

  Stub& on(std::string method, std::string path, int status = 200, std::string body = "{}") {
    stubs_.push_back(Stub{std::move(method), std::move(path), status, std::move(body), {}, {}, {}, false, {}});
    return stubs_.back();
  }
  Stub& stream(std::string path, std::vector<std::string> chunks, int status = 200) {
    Stub& s = on("GET", std::move(path), status, "");
    s.chunks = std::move(chunks);
    return s;
  }
  Stub& fail(std::string method, std::string path, util::Error e) {
    Stub& s = on(std::move(method), std::move(path));
    s.error = std::move(e);
    return s;
  }
  std::shared_ptr<FakeWsState> websocket(std::string path, std::string protocol) {
    auto st = std::make_shared<FakeWsState>();
    st->subprotocol = std::move(protocol);
    ws_stubs_.push_back(WsStub{std::move(path), st, {}, false});
    return st;
  }
  void websocket_error(std::string path, util::Error e) { ws_stubs_.push_back(WsStub{std::move(path), nullptr, e, false}); }
  // The next SPDY/3.1 upgrade of `path` succeeds, choosing `channel_protocol`; without one, an
  // upgrade fails as a transport that cannot (or a server that refuses) would.
  std::shared_ptr<FakeUpgradedState> spdy(std::string path, std::string channel_protocol = "v4.channel.k8s.io") {
    auto st = std::make_shared<FakeUpgradedState>();
    st->headers.add("X-Stream-Protocol-Version", std::move(channel_protocol));
    spdy_stubs_.emplace_back(std::move(path), st);
    return st;
  }

  util::Result<std::unique_ptr<http::UpgradedConnection>> open_upgraded(const http::Request& req,
                                                                       const std::string& protocol) override {
    requests.push_back(req);
    upgrades.push_back(protocol);
    for (auto it = spdy_stubs_.begin(); it != spdy_stubs_.end(); ++it) {
      if (server_ + it->first != req.url) continue;
      auto st = it->second;
      spdy_stubs_.erase(it);
      return std::unique_ptr<http::UpgradedConnection>(std::make_unique<FakeUpgraded>(st));
    }
    if (spdy_refusals_.empty()) return util::Error(util::ErrorCode::Failure, "upgrade refused", "", 400);
    auto e = spdy_refusals_.front();
    spdy_refusals_.pop_front();
    return e;
  }
  // The next SPDY upgrades that find no stub fail with these errors, in order (then: 400).
  void spdy_refusal(util::Error e) { spdy_refusals_.push_back(std::move(e)); }

  util::Result<http::Response> send(const http::Request& req) override {
    requests.push_back(req);
    for (auto& s : stubs_) {
      if (s.used || s.method != req.method || server_ + s.path != req.url) continue;
      s.used = true;
      if (s.check) s.check(req);
      if (s.error) return *s.error;
      http::Response resp;
      resp.status = s.status;
      resp.effective_url = req.url;
      resp.headers = s.headers;
      if (req.on_body) {
        if (req.on_headers) req.on_headers(s.status, resp.headers);
        std::vector<std::string> pieces = s.chunks;
        if (pieces.empty() && !s.body.empty()) pieces.push_back(s.body);
        for (const auto& p : pieces)
          if (!req.on_body(p)) return util::Error(util::ErrorCode::Interrupted, "stopped by the body callback");
      } else {
        resp.body = s.body;
      }
      return resp;
    }
    unexpected.push_back(req.method + " " + req.url);
    return util::Error(util::ErrorCode::Failure, "unexpected request " + req.method + " " + req.url);
  }

  util::Result<std::unique_ptr<http::WebSocket>> open_websocket(const http::Request& req,
                                                               const std::vector<std::string>& protocols) override {
    requests.push_back(req);
    offered_protocols = protocols;
    for (auto& s : ws_stubs_) {
      if (s.used || server_ + s.path != req.url) continue;
      s.used = true;
      if (s.error) return *s.error;
      return std::unique_ptr<http::WebSocket>(std::make_unique<FakeWebSocket>(s.state));
    }
    unexpected.push_back("WEBSOCKET " + req.url);
    return util::Error(util::ErrorCode::Failure, "unexpected websocket " + req.url);
  }

  // Fails the test on unexpected requests and on stubs nobody asked for.
  void verify() const {
    for (const auto& u : unexpected) FAIL_CHECK("unexpected request: " << u);
    for (const auto& s : stubs_)
      if (!s.used) FAIL_CHECK("stub not used: " << s.method << " " << s.path);
    for (const auto& s : ws_stubs_)
      if (!s.used) FAIL_CHECK("websocket stub not used: " << s.path);
  }

  std::vector<http::Request> requests;
  std::vector<std::string> unexpected;
  std::vector<std::string> offered_protocols;
  std::vector<std::string> upgrades;  // protocols asked of open_upgraded, in order

 private:
  std::string server_;
  std::deque<Stub> stubs_;  // deque: references returned by on() stay valid
  std::deque<WsStub> ws_stubs_;
  std::vector<std::pair<std::string, std::shared_ptr<FakeUpgradedState>>> spdy_stubs_;
  std::deque<util::Error> spdy_refusals_;
};

// An output sink that appends what arrives to `into`.
inline StreamSink append_to(std::string& into) {
  return [&into](std::string_view d) {
    into.append(d);
    return true;
  };
}

// A client of https://k8s.test:6443 with a static token, over `fake`.
inline std::unique_ptr<Client> client_for(std::shared_ptr<FakeTransport> fake) {
  RestConfig rc;
  rc.server = "https://k8s.test:6443";
  rc.credentials = static_token_source("t0k3n");
  return make_client(rc, std::move(fake));
}

}  // namespace wb::kube::test
