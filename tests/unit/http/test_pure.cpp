// Pure helpers: redaction, HTTP dates, Retry-After and backoff.
#include <catch2/catch.hpp>
#include <ctime>

#include "http/http.hpp"

using namespace wb::http;
using std::chrono::milliseconds;

TEST_CASE("secret headers are redacted", "[http][redact]") {
  CHECK(redact_header("Authorization", "Bearer abc.def") == "Authorization: <redacted>");
  CHECK(redact_header("authorization", "Basic dXNlcjpwYXNz") == "authorization: <redacted>");
  CHECK(redact_header("Proxy-Authorization", "x") == "Proxy-Authorization: <redacted>");
  CHECK(redact_header("Cookie", "session=1") == "Cookie: <redacted>");
  CHECK(redact_header("set-cookie", "session=1") == "set-cookie: <redacted>");
  CHECK(redact_header("X-Registry-Auth", "eyJ") == "X-Registry-Auth: <redacted>");
  CHECK(redact_header("Content-Type", "application/json") == "Content-Type: application/json");
  CHECK(redact_header("Location", "https://h/x?token=s3cr3t&a=1") == "Location: https://h/x?token=<redacted>&a=1");
  CHECK(redact_header("WWW-Authenticate", "Bearer realm=\"https://auth\",service=\"r\"").find("realm") !=
        std::string::npos);
}

TEST_CASE("secret JSON fields are redacted", "[http][redact]") {
  CHECK(redact_text(R"({"token":"s3cr3t","kind":"x"})") == R"({"token":"<redacted>","kind":"x"})");
  CHECK(redact_text(R"({"access_token": "aaa", "refresh_token":"bbb", "expires_in": 300})") ==
        R"({"access_token": "<redacted>", "refresh_token":"<redacted>", "expires_in": 300})");
  CHECK(redact_text(R"({"password":"p\"w","username":"me"})") == R"({"password":"<redacted>","username":"me"})");
  CHECK(redact_text(R"({"client-key-data":"LS0tLS1","secret":"x"})") ==
        R"({"client-key-data":"<redacted>","secret":"<redacted>"})");
  CHECK(redact_text(R"({"auth":"dXNlcjpwYXNz"})") == R"({"auth":"<redacted>"})");
  // Objects named like secrets are kept (their fields are redacted on their own).
  CHECK(redact_text(R"({"secret":{"name":"db"}})") == R"({"secret":{"name":"db"}})");
  CHECK(redact_text(R"({"token":null})") == R"({"token":null})");
  // JSON inside a JSON string (an echoed request body).
  CHECK(redact_text(R"({"body":"{\"password\":\"pw\",\"user\":\"me\"}"})") ==
        R"({"body":"{\"password\":\"<redacted>\",\"user\":\"me\"}"})");
  // A truncated excerpt never shows the beginning of a secret.
  CHECK(redact_text(R"({"token":"abcdefgh)") == R"({"token":"<redacted>)");
  CHECK(redact_text(R"({"tokenizer":"x","mytoken":"y"})") == R"({"tokenizer":"x","mytoken":"y"})");
}

TEST_CASE("secret query parameters and credentials in lines are redacted", "[http][redact]") {
  CHECK(redact_text("GET https://r/token?scope=pull&token=abc123") ==
        "GET https://r/token?scope=pull&token=<redacted>");
  CHECK(redact_text("/login?password=hunter2&user=me") == "/login?password=<redacted>&user=me");
  CHECK(redact_text("a=1&access_token=zzz") == "a=1&access_token=<redacted>");
  CHECK(redact_text("header Authorization: Bearer eyJhbGciOi.xyz done") ==
        "header Authorization: Bearer <redacted> done");
  CHECK(redact_text("Basic dXNlcjpwYXNzd29yZA==") == "Basic <redacted>");
  CHECK(redact_text("https://user:pa55@registry.example/v2/") == "https://user:<redacted>@registry.example/v2/");
  CHECK(redact_text("password: hunter2") == "password: <redacted>");
  CHECK(redact_text("nothing secret here") == "nothing secret here");
  // Redaction is idempotent.
  std::string once = redact_text(R"({"token":"s3cr3t1"} Bearer s3cr3t2 token=s3cr3t3)");
  CHECK(redact_text(once) == once);
  CHECK(once.find("s3cr3t") == std::string::npos);
}

std::string utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST_CASE("HTTP dates are read in the three RFC 9110 forms", "[http][date]") {
  auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(t);
  CHECK(utc(*t) == "1994-11-06T08:49:37Z");
  CHECK(parse_http_date("Wed, 25 Nov 2026 18:00:00 GMT"));
  CHECK(parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT ") == t);
  // The obsolete forms a recipient must still accept: RFC 850 and asctime.
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == t);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == t);
  CHECK_FALSE(parse_http_date(""));
  CHECK_FALSE(parse_http_date("soon"));
  CHECK_FALSE(parse_http_date("1994-11-06"));
  CHECK_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  // After what the clock holds (2262 in nanoseconds): no date, not an overflow (found by fuzzing).
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 2894 08:49:37 GMT"));
  // A zone other than GMT is not an IMF-fixdate's, but curl reads it for what it says.
  auto cet = parse_http_date("Sun, 06 Nov 1994 09:49:37 CET");
  REQUIRE(cet);
  CHECK(cet == t);
}

TEST_CASE("Retry-After accepts seconds and HTTP dates", "[http][retry]") {
  CHECK(parse_retry_after("0") == milliseconds(0));
  CHECK(parse_retry_after(" 7 ") == milliseconds(7000));
  CHECK_FALSE(parse_retry_after(""));
  CHECK_FALSE(parse_retry_after("soon"));
  CHECK_FALSE(parse_retry_after("-3"));
  CHECK_FALSE(parse_retry_after("1.5"));

  const std::time_t future = std::time(nullptr) + 5;
  char buf[64];
  std::tm tm{};
  gmtime_r(&future, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  auto d = parse_retry_after(buf);
  REQUIRE(d);
  CHECK(*d > milliseconds(3000));
  CHECK(*d <= milliseconds(5000));

  auto past = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(past);
  CHECK(*past == milliseconds(0));
}

TEST_CASE("backoff grows, is capped and jitters within [50%, 100%]", "[http][retry]") {
  const milliseconds base(100), max(1000);
  CHECK(backoff_delay(0, base, max, 0.999999) == milliseconds(100));
  CHECK(backoff_delay(1, base, max, 0.999999) == milliseconds(200));
  CHECK(backoff_delay(2, base, max, 0.999999) == milliseconds(400));
  CHECK(backoff_delay(3, base, max, 0.999999) == milliseconds(800));
  CHECK(backoff_delay(4, base, max, 0.999999) == milliseconds(1000));
  CHECK(backoff_delay(100, base, max, 0.999999) == milliseconds(1000));
  CHECK(backoff_delay(0, base, max, 0.0) == milliseconds(50));
  CHECK(backoff_delay(10, base, max, 0.0) == milliseconds(500));
  for (double r = 0.0; r < 1.0; r += 0.05) {
    auto d = backoff_delay(2, base, max, r);
    CHECK(d >= milliseconds(200));
    CHECK(d <= milliseconds(400));
  }
}

TEST_CASE("Retry-After is waited up to a cap, plus up to 10% jitter", "[http][retry]") {
  const milliseconds cap(60000);
  CHECK(retry_after_delay(milliseconds(1000), cap, 0.0) == milliseconds(1000));
  CHECK(retry_after_delay(milliseconds(1000), cap, 0.999999) == milliseconds(1100));
  CHECK(retry_after_delay(milliseconds(0), cap, 0.7) == milliseconds(0));
  CHECK(retry_after_delay(std::chrono::hours(1), cap, 0.0) == cap);
  CHECK(retry_after_delay(std::chrono::hours(1), cap, 0.5) == milliseconds(63000));
  CHECK(retry_after_delay(milliseconds(-5), cap, 0.5) == milliseconds(0));
}

TEST_CASE("sizes of limits in words", "[http]") {
  CHECK(size_words(4u << 20) == "4 MiB");
  CHECK(size_words(256u << 10) == "256 KiB");
  CHECK(size_words(1000) == "1000 bytes");
  CHECK(size_words(1) == "1 byte");
}
