// The libcurl transport against tests/servers/httptest.py.
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http.hpp"
#include "http/test_server.hpp"
#include "util/encoding.hpp"
#include "util/interrupt.hpp"

using namespace wb::http;
using std::chrono::milliseconds;
using wb::test::TestServer;
using wb::util::ErrorCode;
using Clock = std::chrono::steady_clock;

namespace {

ClientOptions fast_retries(int max_retries = 3) {
  ClientOptions o;
  o.max_retries = max_retries;
  o.retry_base_delay = milliseconds(10);
  o.retry_max_delay = milliseconds(50);
  return o;
}

Response get(Transport& t, const std::string& url) {
  Request r;
  r.url = url;
  auto res = t.send(r);
  INFO(url);
  if (!res) FAIL(res.error().message);
  return *res;
}

int server_count(const std::string& id) {
  auto t = make_transport({});
  return nlohmann::json::parse(get(*t, TestServer::get().url("/count/" + id)).body)["count"].get<int>();
}

nlohmann::json send_json(Transport& t, const Request& r) {
  auto res = t.send(r);
  if (!res) FAIL(res.error().message);
  REQUIRE(res->status == 200);
  return nlohmann::json::parse(res->body);
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

char pattern_byte(size_t i) { return static_cast<char>(i % 251); }

// A body_reader handing out `total` pattern bytes in pieces of at most `piece` bytes.
BodyReader pattern_reader(std::shared_ptr<size_t> pos, size_t total, size_t piece) {
  return [pos, total, piece](char* buf, size_t size) -> wb::util::Result<size_t> {
    size_t n = std::min({size, piece, total - *pos});
    for (size_t i = 0; i < n; ++i) buf[i] = pattern_byte(*pos + i);
    *pos += n;
    return n;
  };
}

std::string pattern(size_t total) {
  std::string s(total, '\0');
  for (size_t i = 0; i < total; ++i) s[i] = pattern_byte(i);
  return s;
}

}  // namespace

TEST_CASE("plain requests return statuses and bodies", "[http][server]") {
  auto& srv = TestServer::get();
  auto t = make_transport({});
  auto ok = get(*t, srv.url("/status/200"));
  CHECK(ok.status == 200);
  CHECK(ok.body == "status 200\n");
  CHECK(ok.headers.get("content-type") == std::optional<std::string>("text/plain; charset=utf-8"));
  CHECK(get(*t, srv.url("/status/404")).status == 404);
}

TEST_CASE("connections are reused across requests", "[http][server]") {
  auto t = make_transport({});
  Request r;
  r.url = TestServer::get().url("/echo");
  int first = send_json(*t, r)["peer_port"];
  int second = send_json(*t, r)["peer_port"];
  CHECK(first == second);
}

TEST_CASE("methods, HEAD and content types", "[http][server]") {
  auto t = make_transport({});
  Request r;
  r.url = TestServer::get().url("/echo");
  for (std::string m : {"DELETE", "PATCH", "OPTIONS", "PUT", "POST"}) {
    r.method = m;
    CHECK(send_json(*t, r)["method"] == m);
  }
  SECTION("a body without Content-Type is sent as octet-stream, not a form") {
    r.method = "POST";
    r.body = "a=b";
    auto j = send_json(*t, r);
    CHECK(j["headers"]["Content-Type"] == "application/octet-stream");
    CHECK(j["body"] == "a=b");
    CHECK(j["headers"]["Content-Length"] == "3");
  }
  SECTION("the caller's Content-Type wins") {
    r.method = "PATCH";
    r.body = R"({"a":1})";
    r.headers.set("Content-Type", "application/merge-patch+json");
    auto j = send_json(*t, r);
    CHECK(j["headers"]["Content-Type"] == "application/merge-patch+json");
    CHECK(j["body"] == R"({"a":1})");
  }
  SECTION("an empty POST has no form content type") {
    r.method = "POST";
    auto j = send_json(*t, r);
    CHECK_FALSE(j["headers"].contains("Content-Type"));
    CHECK(j["headers"]["Content-Length"] == "0");
  }
  SECTION("HEAD has no body") {
    r.method = "HEAD";
    auto res = t->send(r);
    REQUIRE(res.ok());
    CHECK(res->status == 200);
    CHECK(res->body.empty());
  }
}

TEST_CASE("redirects are followed unless told otherwise", "[http][server]") {
  auto t = make_transport({});
  Request r;
  r.url = TestServer::get().url("/redirect/3");
  std::vector<int> seen;
  r.on_headers = [&](int status, const Headers&) { seen.push_back(status); };
  auto res = t->send(r);
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body == "arrived");
  CHECK(seen == std::vector<int>{200});
  CHECK(res->effective_url == TestServer::get().url("/redirect/0"));
  r.follow_redirects = false;
  seen.clear();
  res = t->send(r);
  REQUIRE(res.ok());
  CHECK(res->status == 302);
  CHECK(seen == std::vector<int>{302});
}

TEST_CASE("idempotent requests are retried on 503 and 429", "[http][server][retry]") {
  auto& srv = TestServer::get();
  auto t = make_transport(fast_retries(3));
  SECTION("until they succeed") {
    auto res = get(*t, srv.url("/flaky/retry-ok/2?retry_after=0"));
    CHECK(res.status == 200);
    CHECK(nlohmann::json::parse(res.body)["attempts"] == 3);
  }
  SECTION("429 without Retry-After backs off") {
    auto res = get(*t, srv.url("/flaky/retry-429/2?code=429&retry_after=none"));
    CHECK(res.status == 200);
  }
  SECTION("500 and 502 too") {
    CHECK(get(*t, srv.url("/flaky/retry-500/1?code=500&retry_after=0")).status == 200);
    CHECK(get(*t, srv.url("/flaky/retry-502/1?code=502&retry_after=0")).status == 200);
  }
  SECTION("giving up after max_retries with the last status") {
    auto res = get(*t, srv.url("/flaky/retry-give-up/10?retry_after=0"));
    CHECK(res.status == 503);
    CHECK(res.body == "try again");
    CHECK(server_count("retry-give-up") == 4);
  }
  SECTION("404 is not retried") { CHECK(get(*t, srv.url("/status/404")).status == 404); }
}

TEST_CASE("Retry-After is honoured", "[http][server][retry]") {
  auto t = make_transport(fast_retries(2));
  const auto start = Clock::now();
  auto res = get(*t, TestServer::get().url("/flaky/retry-after/1?retry_after=1"));
  CHECK(res.status == 200);
  CHECK(ms_since(start) >= 950);
}

TEST_CASE("POST is not retried unless marked idempotent", "[http][server][retry]") {
  auto& srv = TestServer::get();
  auto t = make_transport(fast_retries(3));
  Request r;
  r.method = "POST";
  r.body = "x";
  r.url = srv.url("/flaky/post-once/1?retry_after=0");
  auto res = t->send(r);
  REQUIRE(res.ok());
  CHECK(res->status == 503);
  CHECK(server_count("post-once") == 1);

  r.url = srv.url("/flaky/post-forced/1?retry_after=0");
  r.idempotent = true;
  res = t->send(r);
  REQUIRE(res.ok());
  CHECK(res->status == 200);
}

TEST_CASE("a cut connection is retried; a started stream is not", "[http][server][retry]") {
  auto& srv = TestServer::get();
  auto t = make_transport(fast_retries(3));
  auto res = get(*t, srv.url("/cut/cut-retry/2"));
  CHECK(res.status == 200);
  CHECK(res.body == "whole body");

  Request r;
  r.url = srv.url("/cut/cut-stream/5");
  size_t got = 0;
  r.on_body = [&](std::string_view chunk) {
    got += chunk.size();
    return true;
  };
  auto cut = t->send(r);
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().code == ErrorCode::Unavailable);
  CHECK(cut.error().message.find("broke off") != std::string::npos);
  CHECK(got == 100);
  CHECK(server_count("cut-stream") == 1);
}

TEST_CASE("connection refused is Unavailable with a clear message", "[http][server]") {
  auto t = make_transport(fast_retries(1));
  Request r;
  r.url = "http://127.0.0.1:1/x";
  auto res = t->send(r);
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().code == ErrorCode::Unavailable);
  CHECK(res.error().message == "cannot connect to http://127.0.0.1:1: connection refused");
  const auto* failure = res.error().detail<TransportFailure>();
  REQUIRE(failure);
  CHECK(failure->kind == TransportFailure::Kind::Refused);
  CHECK(failure->origin == "http://127.0.0.1:1");
  CHECK(failure->named == "http://127.0.0.1:1");
  CHECK(failure->curl_code == 7);  // CURLE_COULDNT_CONNECT
}

TEST_CASE("connection failures are retried, then reported", "[http][server][retry]") {
  std::vector<std::string> lines;
  ClientOptions o = fast_retries(2);
  o.verbosity = 1;
  o.trace = [&](std::string_view line) { lines.emplace_back(line); };
  Request r;
  r.url = "http://127.0.0.1:1/x";
  auto res = make_transport(o)->send(r);
  REQUIRE_FALSE(res.ok());
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("* retrying", 0) == 0; }) ==
        2);
}

TEST_CASE("an unreachable proxy is named in the error", "[http][server]") {
  ClientOptions o = fast_retries(0);
  o.proxy = "http://user:pw@127.0.0.1:1";
  Request r;
  r.url = TestServer::get().url("/status/200");
  auto res = make_transport(o)->send(r);
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().code == ErrorCode::Unavailable);
  CHECK(res.error().message == "cannot connect to " + TestServer::get().url("") +
                                   " through proxy http://user:<redacted>@127.0.0.1:1: connection refused");
}

TEST_CASE("a slow answer times out", "[http][server]") {
  auto t = make_transport(fast_retries(2));
  Request r;
  r.url = TestServer::get().url("/slow?s=5");
  r.timeout = milliseconds(300);
  const auto start = Clock::now();
  auto res = t->send(r);
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().code == ErrorCode::Timeout);
  CHECK(res.error().message.find("timed out after 300 ms") != std::string::npos);
  CHECK(ms_since(start) < 2000);
}

TEST_CASE("Ctrl-C interrupts a request", "[http][server]") {
  auto t = make_transport({});
  Request r;
  r.url = TestServer::get().url("/slow?s=5");
  std::thread ctrl_c([] {
    std::this_thread::sleep_for(milliseconds(200));
    wb::util::set_interrupted(true);
  });
  const auto start = Clock::now();
  auto res = t->send(r);
  ctrl_c.join();
  wb::util::set_interrupted(false);
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().code == ErrorCode::Interrupted);
  CHECK(ms_since(start) < 2500);
}

TEST_CASE("TLS verification", "[http][server][tls]") {
  auto& srv = TestServer::get();
  ClientOptions o = fast_retries(0);
  SECTION("the right CA file") {
    o.tls.ca_file = srv.cert("ca.pem");
    CHECK(get(*make_transport(o), srv.tls_url("/status/200")).status == 200);
    CHECK(get(*make_transport(o), srv.tls_url("/status/200", "localhost")).status == 200);
  }
  SECTION("the right CA as PEM data") {
    o.tls.ca_data = srv.cert_pem("ca.pem");
    CHECK(get(*make_transport(o), srv.tls_url("/status/200")).status == 200);
  }
  SECTION("a wrong CA fails clearly") {
    o.tls.ca_data = srv.cert_pem("other-ca.pem");
    Request r;
    r.url = srv.tls_url("/status/200");
    auto res = make_transport(o)->send(r);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message == "TLS: the certificate of " + srv.tls_url("") + " is not signed by a trusted CA");
    CHECK(res.error().hint.find("certificate-authority") != std::string::npos);
    REQUIRE(res.error().detail<TransportFailure>());
    CHECK(res.error().detail<TransportFailure>()->kind == TransportFailure::Kind::UntrustedCa);
    CHECK(res.error().detail<TransportFailure>()->named == srv.tls_url(""));
  }
  SECTION("insecure skips verification") {
    o.tls.ca_data = srv.cert_pem("other-ca.pem");
    o.tls.insecure = true;
    CHECK(get(*make_transport(o), srv.tls_url("/status/200")).status == 200);
  }
  SECTION("server_name overrides the name checked") {
    o.tls.ca_file = srv.cert("ca.pem");
    o.tls.server_name = "localhost";
    Request r;
    r.url = srv.tls_url("/echo");
    auto j = send_json(*make_transport(o), r);
    CHECK(j["headers"]["Host"] == "127.0.0.1:" + std::to_string(srv.tls_port));
  }
  SECTION("a name mismatch fails clearly") {
    o.tls.ca_file = srv.cert("ca.pem");
    o.tls.server_name = "wrong.example";
    Request r;
    r.url = srv.tls_url("/status/200");
    auto res = make_transport(o)->send(r);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message ==
          "TLS: the server's certificate is not valid for wrong.example (it is for localhost, 127.0.0.1)");
    REQUIRE(res.error().detail<TransportFailure>());
    CHECK(res.error().detail<TransportFailure>()->kind == TransportFailure::Kind::HostnameMismatch);
    CHECK(res.error().detail<TransportFailure>()->named.empty());
  }
}

TEST_CASE("TLS client certificates", "[http][server][tls]") {
  auto& srv = TestServer::get();
  ClientOptions o = fast_retries(0);
  o.tls.ca_file = srv.cert("ca.pem");
  SECTION("files") {
    o.tls.client_cert_file = srv.cert("client.pem");
    o.tls.client_key_file = srv.cert("client-key.pem");
    CHECK(get(*make_transport(o), srv.mtls_url("/status/200")).status == 200);
  }
  SECTION("PEM data") {
    o.tls.client_cert_data = srv.cert_pem("client.pem");
    o.tls.client_key_data = srv.cert_pem("client-key.pem");
    CHECK(get(*make_transport(o), srv.mtls_url("/status/200")).status == 200);
  }
  SECTION("missing") {
    Request r;
    r.url = srv.mtls_url("/status/200");
    auto res = make_transport(o)->send(r);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().code == ErrorCode::Auth);
    CHECK(res.error().message ==
          "TLS: " + srv.mtls_url("") + " did not accept the client certificate (or none was set)");
  }
}

TEST_CASE("streaming upload arrives intact", "[http][server][stream]") {
  auto t = make_transport({});
  const size_t total = 1 << 20;
  auto pos = std::make_shared<size_t>(0);
  Request r;
  r.method = "PUT";
  r.url = TestServer::get().url("/echo");
  r.body_reader = pattern_reader(pos, total, 7000);
  SECTION("with a known size") {
    r.body_size = static_cast<int64_t>(total);
    auto j = send_json(*t, r);
    CHECK(j["headers"]["Content-Length"] == std::to_string(total));
    CHECK(j["body_len"] == total);
    CHECK(j["body_sha256"] == wb::util::sha256_hex(pattern(total)));
    CHECK(j["headers"]["Content-Type"] == "application/octet-stream");
  }
  SECTION("chunked, as a POST") {
    r.method = "POST";
    r.headers.set("Content-Type", "application/vnd.oci.image.layer.v1.tar+gzip");
    auto j = send_json(*t, r);
    CHECK(j["method"] == "POST");
    CHECK(j["headers"]["Transfer-Encoding"] == "chunked");
    CHECK(j["body_sha256"] == wb::util::sha256_hex(pattern(total)));
    CHECK(j["headers"]["Content-Type"] == "application/vnd.oci.image.layer.v1.tar+gzip");
  }
  SECTION("a reader error ends the request with that error") {
    r.body_reader = [](char*, size_t) -> wb::util::Result<size_t> {
      return wb::util::Error(ErrorCode::NotFound, "layer.tar vanished");
    };
    auto res = t->send(r);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message == "layer.tar vanished");
  }
}

TEST_CASE("streaming uploads are retried only after a rewind", "[http][server][stream][retry]") {
  auto& srv = TestServer::get();
  auto t = make_transport(fast_retries(3));
  auto pos = std::make_shared<size_t>(0);
  Request r;
  r.method = "PUT";
  r.body_reader = pattern_reader(pos, 5000, 5000);
  r.body_size = 5000;
  SECTION("with rewind") {
    int rewinds = 0;
    r.rewind = [&] {
      ++rewinds;
      *pos = 0;
      return true;
    };
    r.url = srv.url("/flaky/upload-rewind/2?retry_after=0");
    auto res = t->send(r);
    REQUIRE(res.ok());
    CHECK(res->status == 200);
    CHECK(rewinds == 2);
  }
  SECTION("without rewind") {
    r.url = srv.url("/flaky/upload-norewind/2?retry_after=0");
    auto res = t->send(r);
    REQUIRE(res.ok());
    CHECK(res->status == 503);
    CHECK(server_count("upload-norewind") == 1);
  }
}

TEST_CASE("streaming download delivers every byte in chunks", "[http][server][stream]") {
  auto t = make_transport({});
  const size_t total = 5'000'000;
  Request r;
  r.url = TestServer::get().url("/big/" + std::to_string(total));
  size_t got = 0, chunks = 0;
  bool intact = true, headers_first = false;
  r.on_headers = [&](int status, const Headers& h) {
    headers_first = got == 0 && status == 200 && h.get("content-length") == std::to_string(total);
  };
  r.on_body = [&](std::string_view chunk) {
    for (size_t i = 0; i < chunk.size() && intact; ++i) intact = chunk[i] == pattern_byte(got + i);
    got += chunk.size();
    ++chunks;
    return true;
  };
  auto res = t->send(r);
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body.empty());
  CHECK(got == total);
  CHECK(chunks > 1);
  CHECK(intact);
  CHECK(headers_first);

  SECTION("a sink returning false stops the transfer") {
    r.on_body = [](std::string_view) { return false; };
    auto stopped = t->send(r);
    REQUIRE_FALSE(stopped.ok());
    CHECK(stopped.error().code == ErrorCode::Interrupted);
  }
}

TEST_CASE("the trace shows requests but never secrets", "[http][server][trace]") {
  std::vector<std::string> lines;
  ClientOptions o;
  o.verbosity = 3;
  o.trace = [&](std::string_view line) { lines.emplace_back(line); };
  auto t = make_transport(o);
  Request r;
  r.method = "POST";
  r.url = TestServer::get().url("/echo?token=SECRET-QUERY&watch=true");
  r.headers.set("Authorization", "Bearer SECRET-BEARER");
  r.headers.set("Content-Type", "application/json");
  r.body = R"({"password":"SECRET-PASSWORD","user":"me"})";
  auto res = t->send(r);
  REQUIRE(res.ok());
  REQUIRE(res->body.find("SECRET-BEARER") != std::string::npos);  // echoed back, so it was in the body

  std::string all;
  for (const auto& l : lines) all += l + "\n";
  INFO(all);
  CHECK(all.find("SECRET") == std::string::npos);
  CHECK(all.find("> POST " + TestServer::get().url("/echo?token=<redacted>&watch=true")) != std::string::npos);
  CHECK(all.find("> Authorization: <redacted>") != std::string::npos);
  CHECK(all.find("> Content-Type: application/json") != std::string::npos);
  CHECK(all.find(R"("user":"me")") != std::string::npos);
  CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("< 200 (", 0) == 0; }));
}

TEST_CASE("retries appear in the trace at verbosity 1", "[http][server][trace]") {
  std::vector<std::string> lines;
  ClientOptions o = fast_retries(2);
  o.verbosity = 1;
  o.trace = [&](std::string_view line) { lines.emplace_back(line); };
  auto t = make_transport(o);
  get(*t, TestServer::get().url("/flaky/trace-retry/1?retry_after=0"));
  REQUIRE(lines.size() == 5);
  CHECK(lines[1].rfind("< 503 (", 0) == 0);
  CHECK(lines[2] == "* retrying GET in 0 ms (503)");
  CHECK(lines[4].rfind("< 200 (", 0) == 0);
}

TEST_CASE("one transport serves several threads", "[http][server]") {
  auto t = make_transport({});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        Request r;
        r.url = TestServer::get().url("/status/200");
        auto res = t->send(r);
        if (res && res->status == 200) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 40);
}

TEST_CASE("invalid URLs are usage errors", "[http]") {
  auto t = make_transport({});
  Request r;
  r.url = "ftp://example.com/x";
  auto res = t->send(r);
  REQUIRE_FALSE(res.ok());
  CHECK(res.error().code == ErrorCode::Usage);
  REQUIRE(res.error().detail<TransportFailure>());
  CHECK(res.error().detail<TransportFailure>()->kind == TransportFailure::Kind::BadUrl);
  CHECK(res.error().detail<TransportFailure>()->named.empty());
  r.url = "not a url";
  auto bad = t->send(r);
  CHECK(bad.error().code == ErrorCode::Usage);
  REQUIRE(bad.error().detail<TransportFailure>());
  CHECK(bad.error().detail<TransportFailure>()->named == "not a url");
}

TEST_CASE("an exception in a callback reaches the caller after the transfer", "[http][server]") {
  auto t = make_transport({});
  Request r;
  r.url = TestServer::get().url("/big/100000");
  r.on_body = [](std::string_view) -> bool { throw std::logic_error("bug in the sink"); };
  CHECK_THROWS_WITH(t->send(r), "bug in the sink");
  r.on_body = nullptr;
  CHECK(t->send(r)->status == 200);  // the pooled handle still works
}

namespace {

// When the test server saw each /flaky request for `id`, in seconds.
std::vector<double> server_times(const std::string& id) {
  auto t = make_transport({});
  return nlohmann::json::parse(get(*t, TestServer::get().url("/count/" + id)).body)["times"].get<std::vector<double>>();
}

const TransportFailure* failure_of(const Result<Response>& r) {
  return r ? nullptr : r.error().detail<TransportFailure>();
}

}  // namespace

TEST_CASE("429 and 503 are waited on, not hammered: Retry-After up to a cap, jittered backoff",
          "[http][server][retry]") {
  auto& srv = TestServer::get();
  SECTION("Retry-After: 1 spaces the retries by 1 to 1.1 s; the last answer comes back") {
    auto t = make_transport(fast_retries(3));
    auto res = get(*t, srv.url("/flaky/ra-spaced/10?code=429&retry_after=1"));
    CHECK(res.status == 429);
    const auto times = server_times("ra-spaced");
    REQUIRE(times.size() == 4);
    for (size_t i = 1; i < times.size(); ++i) {
      INFO("gap " << i);
      CHECK(times[i] - times[i - 1] >= 0.98);
      CHECK(times[i] - times[i - 1] <= 1.1 + 0.3);
    }
  }
  SECTION("a Retry-After beyond retry_after_max is waited that long only") {
    ClientOptions o = fast_retries(2);
    o.retry_after_max = milliseconds(200);
    auto t = make_transport(o);
    const auto start = Clock::now();
    CHECK(get(*t, srv.url("/flaky/ra-capped/10?code=503&retry_after=3600")).status == 503);
    CHECK(ms_since(start) < 3000);
    const auto times = server_times("ra-capped");
    REQUIRE(times.size() == 3);
    for (size_t i = 1; i < times.size(); ++i) {
      CHECK(times[i] - times[i - 1] >= 0.19);
      CHECK(times[i] - times[i - 1] <= 0.22 + 0.3);
    }
  }
  SECTION("without Retry-After the waits grow from the base, each in [50%, 100%] of its step") {
    ClientOptions o;
    o.max_retries = 3;
    o.retry_base_delay = milliseconds(200);
    o.retry_max_delay = milliseconds(500);
    auto t = make_transport(o);
    CHECK(get(*t, srv.url("/flaky/ra-backoff/10?code=429&retry_after=none")).status == 429);
    const auto times = server_times("ra-backoff");
    REQUIRE(times.size() == 4);
    const double steps[] = {0.2, 0.4, 0.5};
    for (size_t i = 1; i < times.size(); ++i) {
      INFO("gap " << i);
      CHECK(times[i] - times[i - 1] >= steps[i - 1] * 0.5 - 0.01);
      CHECK(times[i] - times[i - 1] <= steps[i - 1] + 0.3);
    }
  }
}

TEST_CASE("a server cannot make wb read an answer without end", "[http][server][limits]") {
  auto& srv = TestServer::get();
  auto t = make_transport({});
  SECTION("a 2xx body past max_body fails, naming the limit") {
    Request r;
    r.url = srv.url("/endless/200");
    r.max_body = size_t{1} << 20;
    auto res = t->send(r);
    REQUIRE_FALSE(res);
    CHECK(res.error().message == srv.url("") + " sent an answer larger than 1 MiB: not read further");
    REQUIRE(failure_of(res));
    CHECK(failure_of(res)->kind == TransportFailure::Kind::TooLarge);
    CHECK(failure_of(res)->limit == size_t{1} << 20);
  }
  SECTION("an endless error answer is cut at kMaxErrorBody and keeps its status") {
    Request r;
    r.url = srv.url("/endless/403");
    auto res = t->send(r);
    REQUIRE(res);
    CHECK(res->status == 403);
    CHECK(res->body.size() == kMaxErrorBody);
  }
  SECTION("headers without end stop: many lines at kMaxHeaderBytes, one line at libcurl's limit") {
    const std::pair<std::string, std::string> cases[] = {
        {"/endless-headers", "sent more than 256 KiB of headers"},
        {"/endless-headers?one_line", "sent a header line longer than 100 KiB"}};
    for (const auto& [path, words] : cases) {
      Request r;
      r.url = srv.url(path);
      auto res = t->send(r);
      INFO(path);
      REQUIRE_FALSE(res);
      CHECK_THAT(res.error().message, Catch::Contains(words));
      REQUIRE(failure_of(res));
      CHECK(failure_of(res)->kind == TransportFailure::Kind::TooLarge);
    }
  }
  SECTION("a streamed body is the caller's to bound: all of it arrives") {
    Request r;
    r.url = srv.url("/big/100000");
    r.max_body = 1000;
    size_t got = 0;
    r.on_body = [&](std::string_view chunk) {
      got += chunk.size();
      return true;
    };
    auto res = t->send(r);
    REQUIRE(res);
    CHECK(got == 100000);
  }
  CHECK(get(*t, srv.url("/status/204")).status == 204);  // the transport still works
}
