#include <catch2/catch.hpp>

#include "util/encoding.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

using namespace wb::util;

TEST_CASE("dns1123 labels", "[util]") {
  CHECK(is_dns1123_label("orders"));
  CHECK(is_dns1123_label("a-1"));
  CHECK_FALSE(is_dns1123_label("Orders"));
  CHECK_FALSE(is_dns1123_label("-a"));
  CHECK_FALSE(is_dns1123_label("a_b"));
  CHECK_FALSE(is_dns1123_label(std::string(64, 'a')));
  CHECK(is_dns1123_subdomain("a.b-c.d"));
}

TEST_CASE("closest match suggests near words only", "[util]") {
  std::vector<std::string> verbs{"create", "delete", "list", "status"};
  CHECK(closest_match("creat", verbs) == "create");
  CHECK(closest_match("lst", verbs) == "list");
  CHECK(closest_match("stauts", verbs) == "status");
  CHECK(closest_match("zzzzzz", verbs).empty());
}

TEST_CASE("base64 round trips and rejects garbage", "[util]") {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto enc = base64_encode(s);
    auto dec = base64_decode(enc);
    REQUIRE(dec);
    CHECK(*dec == s);
  }
  CHECK(base64_encode("hello") == "aGVsbG8=");
  CHECK_FALSE(base64_decode("a$b="));
  CHECK(base64url_decode("aGVsbG8").value() == "hello");
  // Padding optional, whitespace (line breaks of PEM-style text) ignored.
  CHECK(base64_decode("aGVsbG8").value() == "hello");
  CHECK(base64_decode("aGVs\nbG8=\n").value() == "hello");
  CHECK(base64_decode(" aGVsbG8 = ").value() == "hello");
  CHECK(base64_decode("").value().empty());
  CHECK_FALSE(base64_decode("aGVsbG8=x"));  // data after padding
  CHECK_FALSE(base64_decode("aGVsbG8==="));
  CHECK_FALSE(base64_decode("aGVsb"));  // a length no encoder writes
  // The two alphabets: + and / in standard base64, - and _ in base64url (JWTs).
  const std::string bytes("\xfb\xff\xbf", 3);
  CHECK(base64_encode(bytes) == "+/+/");
  CHECK(base64_decode("+/+/").value() == bytes);
  CHECK(base64url_decode("-_-_").value() == bytes);
  CHECK_FALSE(base64url_decode("+/+/"));
  CHECK_FALSE(base64_decode("-_-_"));
}

TEST_CASE("sha256 of known vectors", "[util]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  CHECK(h.hex_digest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("rfc3339 and ages", "[util]") {
  auto t = parse_rfc3339("2024-05-01T10:00:00Z");
  REQUIRE(t);
  CHECK(format_rfc3339(*t) == "2024-05-01T10:00:00Z");
  auto t2 = parse_rfc3339("2024-05-01T12:00:00.123456789+02:00");
  REQUIRE(t2);
  CHECK(format_rfc3339(*t2) == "2024-05-01T10:00:00Z");
  CHECK_FALSE(parse_rfc3339("yesterday"));
  // Far-future expiry times (exec credentials say 2999) stay in the future.
  auto far = parse_rfc3339("2999-01-01T00:00:00Z");
  REQUIRE(far);
  CHECK(*far > Clock::now());
  // Before 1970 no server stamps anything, and before 1677 system_clock cannot hold it (fuzzing
  // found an exec credential expiring in 1015 overflowing it): no time, not a wrapped one.
  CHECK_FALSE(parse_rfc3339("1015-01-02T03:04:05Z"));
  CHECK_FALSE(parse_rfc3339("1969-12-31T23:59:59Z"));
  CHECK_FALSE(parse_rfc3339("1970-01-01T00:30:00+01:00"));
  REQUIRE(parse_rfc3339("1970-01-01T00:00:00Z"));
  CHECK(format_age(std::chrono::seconds(30)) == "30s");
  CHECK(format_age(std::chrono::seconds(3 * 86400)) == "3d");
}
