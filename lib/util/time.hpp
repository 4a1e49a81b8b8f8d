// Time: RFC 3339 timestamps and ages ("3d", "5m"); durations are read in util/numbers.hpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace wb::util {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// Parses RFC 3339 ("2024-05-01T10:00:00Z", fractional seconds and offsets allowed).
std::optional<TimePoint> parse_rfc3339(std::string_view text);
// Formats as RFC 3339 UTC with seconds precision ("2024-05-01T10:00:00Z").
std::string format_rfc3339(TimePoint t);
// kubectl-style age: "45s", "12m", "5h", "3d", "2y".
std::string format_age(std::chrono::seconds age);

}  // namespace wb::util
