// What a hostile or overloaded registry can make the client do, against tests/servers/httptest.py's
// minimal registry: read at most 4 MiB of a manifest and 1 MiB of a token answer, and wait on
// 429/503 as Retry-After says instead of asking again at once.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "http/test_server.hpp"
#include "oci/registry_client.hpp"

using namespace wb::oci;
using wb::test::TestServer;
using wb::util::ErrorCode;
using Clock = std::chrono::steady_clock;

namespace {

// The test server's plain-HTTP port as a loopback registry (reached over HTTP after https fails).
std::string registry(const std::string& host = "127.0.0.1") {
  return host + ":" + std::to_string(TestServer::get().port);
}

RegistryOptions options() {
  RegistryOptions o;
  o.http.retry_base_delay = std::chrono::milliseconds(10);
  o.http.max_retries = 2;
  return o;
}

std::vector<double> server_times(const std::string& id) {
  auto t = wb::http::make_transport({});
  wb::http::Request r;
  r.url = TestServer::get().url("/count/" + id);
  auto res = t->send(r);
  REQUIRE(res);
  return nlohmann::json::parse(res->body)["times"].get<std::vector<double>>();
}

}  // namespace

TEST_CASE("a manifest larger than 4 MiB is refused, not read on", "[registry][limits]") {
  auto reg = make_registry_client(options());
  const auto start = Clock::now();
  auto m = reg->get_manifest(parse_reference(registry() + "/big:1").value());
  REQUIRE_FALSE(m);
  CHECK(m.error().message ==
        "registry " + registry() + " sent a manifest for " + registry() + "/big:1 larger than 4 MiB");
  CHECK_THAT(m.error().hint, Catch::Contains("distribution spec"));
  CHECK(Clock::now() - start < std::chrono::seconds(20));
}

TEST_CASE("a token answer larger than 1 MiB is refused", "[registry][limits]") {
  auto reg = make_registry_client(options());
  auto m = reg->get_manifest(parse_reference(registry("localhost") + "/app:1").value());
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message, Catch::StartsWith("token service http://127.0.0.1:"));
  CHECK_THAT(m.error().message,
             Catch::EndsWith("/endless/200 sent a token answer larger than 1 MiB for " + registry("localhost")));
}

TEST_CASE("a registry answering 429 with Retry-After is asked again after it, then named", "[registry][retry]") {
  auto reg = make_registry_client(options());
  // The tag is the Retry-After the test registry sends: 1 second.
  auto m = reg->get_manifest(parse_reference(registry() + "/throttled-oci429:1").value());
  REQUIRE_FALSE(m);
  CHECK(m.error().code == ErrorCode::Unavailable);
  CHECK(m.error().message == "registry " + registry() + " answered 429 (too many requests) for manifest " + registry() +
                                 "/throttled-oci429:1: TOOMANYREQUESTS: slow down");
  CHECK_THAT(m.error().hint, Catch::Contains("wait a while"));
  const auto times = server_times("oci429");
  REQUIRE(times.size() == 3);  // the first request and max_retries more
  for (size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= 0.98);
}

TEST_CASE("a registry answering 503 with a Retry-After of an hour is asked again after the cap", "[registry][retry]") {
  RegistryOptions o = options();
  o.http.retry_after_max = std::chrono::milliseconds(300);
  auto reg = make_registry_client(o);
  const auto start = Clock::now();
  auto m = reg->get_manifest(parse_reference(registry() + "/busy-oci503:3600").value());
  REQUIRE_FALSE(m);
  CHECK(m.error().http_status == 503);
  CHECK_THAT(m.error().hint, Catch::Contains("try again later"));
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  const auto times = server_times("oci503");
  REQUIRE(times.size() == 3);
  for (size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= 0.29);
}

TEST_CASE("a tag list that links to a next page for ever stops after 1000 pages", "[registry][limits]") {
  auto reg = make_registry_client(options());
  auto tags = reg->list_tags(parse_reference(registry() + "/endless").value());
  REQUIRE_FALSE(tags);
  CHECK(tags.error().message == "registry " + registry() + " sent more than 1000 pages of tags of " + registry() +
                                    "/endless: not read further");
}
