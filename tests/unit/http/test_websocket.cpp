// WebSocket client against tests/servers/httptest.py.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http.hpp"
#include "http/test_server.hpp"
#include "util/interrupt.hpp"

using namespace wb::http;
using std::chrono::milliseconds;
using wb::test::TestServer;
using wb::util::ErrorCode;

namespace {

std::unique_ptr<WebSocket> open(Transport& t, const std::string& url, std::vector<std::string> protocols = {},
                                Headers headers = {}) {
  Request r;
  r.url = url;
  r.headers = std::move(headers);
  auto ws = t.open_websocket(r, protocols);
  if (!ws) FAIL(ws.error().message);
  return std::move(ws).value();
}

WsMessage receive(WebSocket& ws) {
  auto m = ws.receive(milliseconds(5000));
  if (!m) FAIL(m.error().message);
  return *m;
}

std::string ws_url(const std::string& path) {
  std::string url = TestServer::get().url(path);
  return "ws" + url.substr(4);
}

}  // namespace

TEST_CASE("websocket echo of text and binary messages", "[ws][server]") {
  auto t = make_transport({});
  auto ws = open(*t, ws_url("/ws/echo"), {"v4.channel.k8s.io", "v5.channel.k8s.io"});
  CHECK(ws->subprotocol() == "v5.channel.k8s.io");

  REQUIRE(ws->send_text("hello").ok());
  auto m = receive(*ws);
  CHECK(m.kind == WsMessage::Kind::Text);
  CHECK(m.data == "hello");

  std::string big(70000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 13);
  REQUIRE(ws->send_binary(big).ok());
  REQUIRE(ws->send_binary(std::string(200, 'm')).ok());
  m = receive(*ws);
  CHECK(m.kind == WsMessage::Kind::Binary);
  CHECK(m.data == big);
  CHECK(receive(*ws).data == std::string(200, 'm'));

  CHECK(ws->close().ok());
  CHECK_FALSE(ws->send_text("late").ok());
}

TEST_CASE("websocket subprotocol is one of those offered", "[ws][server]") {
  auto t = make_transport({});
  CHECK(open(*t, TestServer::get().url("/ws/echo"), {"a.example", "b.example"})->subprotocol() == "a.example");
  CHECK(open(*t, TestServer::get().url("/ws/echo"))->subprotocol().empty());
}

TEST_CASE("websocket fragments are reassembled and pings answered", "[ws][server]") {
  auto t = make_transport({});
  auto ws = open(*t, ws_url("/ws/fragmented"));
  auto m = receive(*ws);
  CHECK(m.kind == WsMessage::Kind::Text);
  CHECK(m.data == "Hello world");
  CHECK(receive(*ws).data == "pong:ping!");
  CHECK(ws->close(1000, "done").ok());
}

TEST_CASE("websocket close from the server carries code and reason", "[ws][server]") {
  auto t = make_transport({});
  auto ws = open(*t, ws_url("/ws/close"));
  auto m = receive(*ws);
  CHECK(m.kind == WsMessage::Kind::Close);
  CHECK(m.close_code == 4001);
  CHECK(m.data == "bye now");
  auto after = ws->receive(milliseconds(500));
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == ErrorCode::Unavailable);
  CHECK(ws->close().ok());
}

TEST_CASE("a refused websocket upgrade is an error with the status and body", "[ws][server]") {
  auto t = make_transport({});
  Request r;
  r.url = ws_url("/ws/reject");
  auto ws = t->open_websocket(r, {"v5.channel.k8s.io"});
  REQUIRE_FALSE(ws.ok());
  CHECK(ws.error().http_status == 401);
  CHECK(ws.error().code == ErrorCode::Auth);
  auto body = nlohmann::json::parse(ws.error().message);
  CHECK(body["message"] == "Unauthorized");
  const auto* refused = ws.error().detail<UpgradeRefused>();
  REQUIRE(refused);
  CHECK(refused->status == 401);
  CHECK(nlohmann::json::parse(refused->body) == body);
}

TEST_CASE("websocket receive times out and honours Ctrl-C", "[ws][server]") {
  auto t = make_transport({});
  auto ws = open(*t, ws_url("/ws/echo"));
  auto m = ws->receive(milliseconds(200));
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().code == ErrorCode::Timeout);

  std::thread ctrl_c([] {
    std::this_thread::sleep_for(milliseconds(200));
    wb::util::set_interrupted(true);
  });
  m = ws->receive();
  ctrl_c.join();
  wb::util::set_interrupted(false);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().code == ErrorCode::Interrupted);
}

TEST_CASE("websocket to a closed port is Unavailable", "[ws][server]") {
  auto t = make_transport({});
  Request r;
  r.url = "ws://127.0.0.1:1/ws";
  auto ws = t->open_websocket(r, {});
  REQUIRE_FALSE(ws.ok());
  CHECK(ws.error().code == ErrorCode::Unavailable);
  CHECK(ws.error().message == "cannot connect to http://127.0.0.1:1: connection refused");
  REQUIRE(ws.error().detail<TransportFailure>());
  CHECK(ws.error().detail<TransportFailure>()->kind == TransportFailure::Kind::Refused);
}

TEST_CASE("wss with the cluster CA, a client certificate and auth headers", "[ws][server][tls]") {
  auto& srv = TestServer::get();
  ClientOptions o;
  o.tls.ca_file = srv.cert("ca.pem");
  auto t = make_transport(o);
  SECTION("echo over TLS") {
    auto ws = open(*t, "wss://127.0.0.1:" + std::to_string(srv.tls_port) + "/ws/echo", {"v5.channel.k8s.io"});
    REQUIRE(ws->send_text(std::string(100000, 't')).ok());
    CHECK(receive(*ws).data == std::string(100000, 't'));
    CHECK(ws->close().ok());
  }
  SECTION("headers reach the server, but not the trace") {
    std::vector<std::string> lines;
    o.verbosity = 2;
    o.trace = [&](std::string_view line) { lines.emplace_back(line); };
    auto ws = open(*make_transport(o), srv.tls_url("/ws/headers"), {}, {{"Authorization", "Bearer abc-secret"}});
    auto headers = nlohmann::json::parse(receive(*ws).data);
    CHECK(headers["Authorization"] == "Bearer abc-secret");
    CHECK(headers["Sec-WebSocket-Version"] == "13");
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    INFO(all);
    CHECK(all.find("abc-secret") == std::string::npos);
    CHECK(all.find("> GET " + srv.tls_url("/ws/headers") + " (websocket)") != std::string::npos);
    CHECK(all.find("> Authorization: <redacted>") != std::string::npos);
    CHECK(all.find("< 101 (") != std::string::npos);
  }
  SECTION("server_name override") {
    o.tls.server_name = "localhost";
    auto ws = open(*make_transport(o), srv.tls_url("/ws/echo"));
    REQUIRE(ws->send_text("renamed").ok());
    CHECK(receive(*ws).data == "renamed");
  }
  SECTION("client certificate") {
    o.tls.client_cert_file = srv.cert("client.pem");
    o.tls.client_key_file = srv.cert("client-key.pem");
    auto ws = open(*make_transport(o), srv.mtls_url("/ws/echo"));
    REQUIRE(ws->send_text("over mtls").ok());
    CHECK(receive(*ws).data == "over mtls");
  }
  SECTION("a wrong CA fails clearly") {
    o.tls.ca_file = srv.cert("other-ca.pem");
    Request r;
    r.url = srv.tls_url("/ws/echo");
    auto ws = make_transport(o)->open_websocket(r, {});
    REQUIRE_FALSE(ws.ok());
    CHECK(ws.error().message.find("not signed by a trusted CA") != std::string::npos);
    REQUIRE(ws.error().detail<TransportFailure>());
    CHECK(ws.error().detail<TransportFailure>()->kind == TransportFailure::Kind::UntrustedCa);
  }
}

TEST_CASE("websocket sends from one thread while another receives", "[ws][server]") {
  auto t = make_transport({});
  auto ws = open(*t, ws_url("/ws/echo"));
  const int n = 200;
  std::thread sender([&] {
    for (int i = 0; i < n; ++i) REQUIRE(ws->send_text(std::to_string(i) + std::string(1000, 'x')).ok());
  });
  int received = 0;
  for (; received < n; ++received) {
    auto m = ws->receive(milliseconds(5000));
    if (!m || m->data != std::to_string(received) + std::string(1000, 'x')) break;
  }
  sender.join();
  CHECK(received == n);
  CHECK(ws->close().ok());
}

TEST_CASE("a frame claiming 1 TiB is refused at its header, not read", "[ws][server][limits]") {
  auto t = make_transport({});
  auto ws = open(*t, ws_url("/ws/huge"));
  const auto start = std::chrono::steady_clock::now();
  auto m = ws->receive(milliseconds(5000));
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find("frame of 1099511627776 bytes is too large") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}
