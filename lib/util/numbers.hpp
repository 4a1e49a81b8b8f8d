// Numbers and durations read from text with std::from_chars: the whole text or an error, no
// locale, no exceptions. An error is a Usage error, one line, that names the value and where it
// came from: `source` is how the user knows the place ("--request-timeout", "wb.yaml:2:9:
// app.port", "setting retention.configs"); "" when the caller adds it itself (a CLI11 check).
#pragma once

#include <charconv>
#include <chrono>
#include <concepts>
#include <limits>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace wb::util {

namespace detail {
Error not_an_integer(std::string_view text, std::string_view source, bool whole);
Error out_of_range(std::string_view text, std::string_view source, const std::string& min, const std::string& max,
                   bool too_large);
}  // namespace detail

// A decimal integer in [min, max]: digits, with a leading '-' only for a negative number; no '+',
// spaces, fraction or exponent. A "whole number" in messages when min >= 0.
template <std::integral T>
Result<T> parse_int(std::string_view text, std::string_view source, T min = std::numeric_limits<T>::min(),
                    T max = std::numeric_limits<T>::max()) {
  const bool whole = min >= 0;
  T value{};
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  const bool negative = !text.empty() && text[0] == '-';
  if (negative && whole) return detail::not_an_integer(text, source, whole);
  if (ec == std::errc::result_out_of_range && p == end)
    return detail::out_of_range(text, source, std::to_string(min), std::to_string(max), !negative);
  if (ec != std::errc() || p != end) return detail::not_an_integer(text, source, whole);
  if (value < min || value > max)
    return detail::out_of_range(text, source, std::to_string(min), std::to_string(max), value > max);
  return value;
}

// A finite decimal number ("1.5", "-2", "1e3", ".5"); no '+', spaces, hex, inf or nan.
Result<double> parse_decimal(std::string_view text, std::string_view source);

// A Go-style duration: "90s", "10m", "1h30m", "500ms", "1.5h", "2d"; a bare whole number means
// seconds. Never negative; beyond what milliseconds in 64 bits hold is an error; fractions of a
// millisecond are dropped.
Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::string_view source);

}  // namespace wb::util
