#include "util/numbers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace wb::util {

namespace {

// "--timeout must ..." / "must ..." when the caller names the place itself.
std::string must(std::string_view source, const std::string& rest) {
  return source.empty() ? "must " + rest : std::string(source) + " must " + rest;
}

Error usage(std::string_view source, const std::string& rest) { return Error(ErrorCode::Usage, must(source, rest)); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error not_a_duration(std::string_view text, std::string_view source) {
  return usage(source, "be a duration such as 30s, 5m or 1h30m, not '" + std::string(text) + "'");
}

Error too_long(std::string_view text, std::string_view source) {
  return usage(source, "be a shorter duration, not '" + std::string(text) + "'");
}

// Milliseconds in one unit of a duration; 0 when the unit is unknown.
double unit_ms(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1e3;
  if (unit == "m") return 60e3;
  if (unit == "h") return 3600e3;
  if (unit == "d") return 86400e3;
  return 0;
}

}  // namespace

namespace detail {

Error not_an_integer(std::string_view text, std::string_view source, bool whole) {
  return usage(source,
               std::string(whole ? "be a whole number" : "be an integer") + ", not '" + std::string(text) + "'");
}

Error out_of_range(std::string_view text, std::string_view source, const std::string& min, const std::string& max,
                   bool too_large) {
  return usage(source, (too_large ? "be at most " + max : "be at least " + min) + ", not '" + std::string(text) + "'");
}

}  // namespace detail

Result<double> parse_decimal(std::string_view text, std::string_view source) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value, std::chars_format::general);
  if (ec != std::errc() || p != end || !std::isfinite(value))
    return usage(source, "be a number, not '" + std::string(text) + "'");
  return value;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::string_view source) {
  constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max();
  if (text.empty()) return not_a_duration(text, source);
  if (std::all_of(text.begin(), text.end(), is_digit)) {
    int64_t seconds = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || seconds > kMaxMs / 1000) return too_long(text, source);
    return std::chrono::milliseconds(seconds * 1000);
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && (is_digit(text[i]) || text[i] == '.')) ++i;
    const size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const double per_unit = unit_ms(text.substr(unit_start, i - unit_start));
    double n = 0;
    auto [p, ec] = std::from_chars(text.data() + start, text.data() + unit_start, n, std::chars_format::fixed);
    if (ec == std::errc::result_out_of_range && per_unit != 0) return too_long(text, source);
    if (start == unit_start || ec != std::errc() || p != text.data() + unit_start || per_unit == 0)
      return not_a_duration(text, source);
    total_ms += n * per_unit;
  }
  // 2^63 is the first double beyond int64_t.
  if (!(total_ms < 9223372036854775808.0)) return too_long(text, source);
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

}  // namespace wb::util
