// Numbers and durations from text: the whole text or a usage error naming the value and its place.
#include <catch2/catch.hpp>

#include "util/numbers.hpp"

using namespace wb::util;
using std::chrono::milliseconds;

namespace {

template <class T>
std::string message(const Result<T>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Usage);
  CHECK(r.error().message.find('\n') == std::string::npos);
  return r.error().message;
}

}  // namespace

TEST_CASE("integers: the whole text, in range", "[util][numbers]") {
  CHECK(parse_int<int>("0", "n").value() == 0);
  CHECK(parse_int<int>("42", "n").value() == 42);
  CHECK(parse_int<int>("-7", "n").value() == -7);
  CHECK(parse_int<int64_t>("9223372036854775807", "n").value() == INT64_MAX);
  CHECK(parse_int<uint64_t>("18446744073709551615", "n").value() == UINT64_MAX);
  CHECK(parse_int<int>("007", "n").value() == 7);
  CHECK(parse_int<int>("16", "n", 1, 16).value() == 16);
}

TEST_CASE("integers: overflow, sign, junk and empty are usage errors", "[util][numbers]") {
  // Overflow of the type and of the range say the limit.
  CHECK(message(parse_int<int>("99999999999999999999", "--replicas")) ==
        "--replicas must be at most 2147483647, not '99999999999999999999'");
  CHECK(message(parse_int<int>("-99999999999999999999", "n")) ==
        "n must be at least -2147483648, not '-99999999999999999999'");
  CHECK(message(parse_int<int>("17", "--parallel", 1, 16)) == "--parallel must be at most 16, not '17'");
  CHECK(message(parse_int<int>("0", "--parallel", 1, 16)) == "--parallel must be at least 1, not '0'");
  // A sign: '-' only where negative numbers are allowed, '+' never.
  CHECK(message(parse_int<int>("-1", "wb.yaml:2:13: app.replicas", 0)) ==
        "wb.yaml:2:13: app.replicas must be a whole number, not '-1'");
  CHECK(message(parse_int<unsigned>("-1", "n")) == "n must be a whole number, not '-1'");
  CHECK(message(parse_int<int>("+1", "n")) == "n must be an integer, not '+1'");
  CHECK(message(parse_int<int>("-", "n")) == "n must be an integer, not '-'");
  // Junk anywhere, spaces, fractions and exponents.
  for (const char* bad : {"12x", "x12", " 12", "12 ", "1.5", "1e3", "0x10", "1_000"})
    CHECK(message(parse_int<int>(bad, "setting retention.configs", 0)) ==
          std::string("setting retention.configs must be a whole number, not '") + bad + "'");
  CHECK(message(parse_int<int>("", "--port", 0)) == "--port must be a whole number, not ''");
  // Without a source the caller names the place (a CLI11 check).
  CHECK(message(parse_int<int>("x", "", 0)) == "must be a whole number, not 'x'");
}

TEST_CASE("decimals", "[util][numbers]") {
  CHECK(parse_decimal("1.5", "cpu").value() == 1.5);
  CHECK(parse_decimal("-2", "cpu").value() == -2);
  CHECK(parse_decimal("1e3", "cpu").value() == 1000);
  CHECK(parse_decimal(".5", "cpu").value() == 0.5);
  CHECK(parse_decimal("5.", "cpu").value() == 5);
  for (const char* bad : {"", "+1", "1.5x", " 1", "inf", "nan", "0x1p3", "1e999", "."})
    CHECK(message(parse_decimal(bad, "cpu")) == std::string("cpu must be a number, not '") + bad + "'");
}

TEST_CASE("durations: units, sums, fractions and bare seconds", "[util][numbers]") {
  CHECK(parse_duration("500ms", "t").value() == milliseconds(500));
  CHECK(parse_duration("90s", "t").value() == milliseconds(90'000));
  CHECK(parse_duration("10m", "t").value() == milliseconds(600'000));
  CHECK(parse_duration("1h30m", "t").value() == milliseconds(5'400'000));
  CHECK(parse_duration("2d", "t").value() == milliseconds(172'800'000));
  CHECK(parse_duration("45", "t").value() == milliseconds(45'000));
  CHECK(parse_duration("0", "t").value() == milliseconds(0));
  // Fractions in any component; below a millisecond is dropped.
  CHECK(parse_duration("1.5h", "t").value() == milliseconds(5'400'000));
  CHECK(parse_duration("0.5s", "t").value() == milliseconds(500));
  CHECK(parse_duration(".25m", "t").value() == milliseconds(15'000));
  CHECK(parse_duration("1.5ms", "t").value() == milliseconds(1));
}

TEST_CASE("durations: junk, signs, fractions of bare seconds and overflow are usage errors", "[util][numbers]") {
  for (const char* bad : {"", "soon", "10x", "h", "1h30", "-5s", "+5s", "1.5", "1..5s", ".s", "5 s", "1e3s"})
    CHECK(message(parse_duration(bad, "--timeout")) ==
          std::string("--timeout must be a duration such as 30s, 5m or 1h30m, not '") + bad + "'");
  CHECK(message(parse_duration("99999999999999999999", "--request-timeout")) ==
        "--request-timeout must be a shorter duration, not '99999999999999999999'");
  CHECK(message(parse_duration("9223372036854776", "--request-timeout")) ==
        "--request-timeout must be a shorter duration, not '9223372036854776'");
  CHECK(message(parse_duration("99999999999999999999h", "t")) ==
        "t must be a shorter duration, not '99999999999999999999h'");
  CHECK(parse_duration("9223372036854775", "t").value() == milliseconds(9'223'372'036'854'775'000));
}
