#include "util/time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace wb::util {

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
  int y, mo, d, h, mi, s;
  if (text.size() < 20) return std::nullopt;
  std::string str(text);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%*c%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) return std::nullopt;
  if (str[4] != '-' || str[7] != '-' || (str[10] != 'T' && str[10] != 't' && str[10] != ' ')) return std::nullopt;
  size_t pos = 19;
  long long nanos = 0;
  if (pos < str.size() && str[pos] == '.') {
    ++pos;
    long long scale = 100000000;
    while (pos < str.size() && std::isdigit(static_cast<unsigned char>(str[pos]))) {
      nanos += (str[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  long offset = 0;
  if (pos >= str.size()) return std::nullopt;
  if (str[pos] == 'Z' || str[pos] == 'z') {
    ++pos;
  } else if (str[pos] == '+' || str[pos] == '-') {
    int oh, om;
    if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (oh * 3600L + om * 60L) * (str[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != str.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  time_t t = timegm(&tm);
  // system_clock counts nanoseconds in 64 bits (1677 to 2262). No server stamps anything before
  // 1970, and a time that far back would overflow every age computed from it (now - t): refuse it.
  // Beyond ~2262 saturate instead of wrapping.
  constexpr time_t kMaxSeconds = 9'000'000'000;
  if (t - offset < 0) return std::nullopt;
  if (t - offset > kMaxSeconds) return TimePoint::max();
  auto tp = Clock::from_time_t(t - offset);
  return tp + std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(nanos));
}

std::string format_rfc3339(TimePoint t) {
  time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_age(std::chrono::seconds age) {
  long long s = age.count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 3600 * 2) return std::to_string(s / 60) + "m";
  if (s < 86400 * 2) return std::to_string(s / 3600) + "h";
  if (s < 86400 * 365 * 2) return std::to_string(s / 86400) + "d";
  return std::to_string(s / (86400 * 365)) + "y";
}

}  // namespace wb::util
