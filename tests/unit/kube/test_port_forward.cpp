// pods/portforward over WebSocket: the request, the channel framing and refusals.
#include "fakes.hpp"
#include "kube/client.hpp"

using namespace wb;
using namespace wb::kube;
using util::ErrorCode;
using wb::kube::test::binary;
using wb::kube::test::client_for;
using wb::kube::test::FakeTransport;

namespace {

constexpr const char* kPath = "/api/v1/namespaces/shop/pods/web-1/portforward?ports=8080";

const std::string kPort8080("\x90\x1f", 2);

}  // namespace

TEST_CASE("port-forward: the port headers are skipped, data passes both ways on channel 0", "[client][portforward]") {
  auto fake = std::make_shared<FakeTransport>();
  auto ws = fake->websocket(kPath, "v4.channel.k8s.io");
  ws->incoming.push_back(binary(0, kPort8080));
  ws->incoming.push_back(binary(1, kPort8080));
  ws->incoming.push_back(binary(0, "HTTP/1.1 200 OK\r\n"));
  ws->incoming.push_back(binary(0, ""));
  ws->incoming.push_back(binary(0, std::string("\r\n\0", 3)));
  http::WsMessage close;
  close.kind = http::WsMessage::Kind::Close;
  close.close_code = 1000;
  ws->incoming.push_back(close);
  auto client = client_for(fake);
  auto pf = client->port_forward("shop", "web-1", 8080);
  REQUIRE(pf.ok());
  CHECK(fake->offered_protocols == std::vector<std::string>{"v4.channel.k8s.io"});
  REQUIRE((*pf)->send("GET / HTTP/1.1\r\n\r\n").ok());
  REQUIRE((*pf)->send("").ok());
  REQUIRE(ws->sent.size() == 1);
  CHECK(ws->sent[0] == std::string("\0GET / HTTP/1.1\r\n\r\n", 19));
  auto a = (*pf)->receive(std::chrono::milliseconds(0));
  REQUIRE(a.ok());
  CHECK(*a == "HTTP/1.1 200 OK\r\n");
  auto b = (*pf)->receive(std::chrono::milliseconds(0));
  REQUIRE(b.ok());
  CHECK(*b == std::string("\r\n\0", 3));  // a NUL in the data is data
  auto end = (*pf)->receive(std::chrono::milliseconds(0));
  REQUIRE(end.ok());
  CHECK(end->empty());
  (*pf)->close();
  CHECK(ws->closed);
  CHECK_FALSE((*pf)->send("more").ok());
  fake->verify();
}

TEST_CASE("port-forward: text on the error channel is the error", "[client][portforward]") {
  auto fake = std::make_shared<FakeTransport>();
  auto ws = fake->websocket(kPath, "v4.channel.k8s.io");
  ws->incoming.push_back(binary(0, kPort8080));
  ws->incoming.push_back(binary(1, kPort8080));
  ws->incoming.push_back(binary(1, "an error occurred forwarding 8080 -> 8080: connection refused"));
  auto client = client_for(fake);
  auto pf = client->port_forward("shop", "web-1", 8080);
  REQUIRE(pf.ok());
  auto r = (*pf)->receive(std::chrono::milliseconds(0));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Failure);
  CHECK(r.error().message == "an error occurred forwarding 8080 -> 8080: connection refused");
}

TEST_CASE("port-forward: a broken connection is Unavailable, a refused upgrade keeps its status",
          "[client][portforward]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->websocket(kPath, "v4.channel.k8s.io");  // nothing comes: the fake's receive says the peer reset
  fake->websocket_error(
      kPath,
      http::upgrade_refused_error(
          "https://k8s.test:6443", 400, "Bad Request",
          R"({"kind":"Status","status":"Failure","message":"Upgrade request required","reason":"BadRequest","code":400})"));
  auto client = client_for(fake);
  auto pf = client->port_forward("shop", "web-1", 8080);
  REQUIRE(pf.ok());
  auto r = (*pf)->receive(std::chrono::milliseconds(0));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Unavailable);
  auto refused = client->port_forward("shop", "web-1", 8080);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("Upgrade request required") != std::string::npos);
  REQUIRE(refused.error().detail<http::UpgradeRefused>());
  CHECK(refused.error().detail<http::UpgradeRefused>()->status == 400);
  CHECK(fake->requests.back().headers.get("Accept").value_or("") == "*/*");
  fake->verify();
}
