// Retry timing, HTTP dates and sizes in words (see http.hpp: parse_http_date, parse_retry_after,
// backoff_delay, retry_after_delay, size_words).
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "http/http.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::http {

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view value) {
  const std::string v = util::trim(value);
  // Every HTTP-date form starts with a day name; curl_getdate alone would also take "10" or "now".
  if (v.empty() || !std::isalpha(static_cast<unsigned char>(v[0]))) return std::nullopt;
  const time_t when = curl_getdate(v.c_str(), nullptr);
  // A date the clock cannot hold (after 2262 with nanosecond ticks) is no date, not an overflow.
  const auto latest =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::time_point::max().time_since_epoch());
  if (when < 0 || when >= latest.count()) return std::nullopt;
  return std::chrono::system_clock::from_time_t(when);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  const std::string v = util::trim(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (v.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
    return std::chrono::seconds(util::parse_int<int>(v, "Retry-After").value_or(0));
  }
  const auto when = parse_http_date(v);
  if (!when) return std::nullopt;
  const auto delay = *when - std::chrono::system_clock::now();
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(delay));
}

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        double random01) {
  const double cap = static_cast<double>(max.count());
  const double grown = static_cast<double>(base.count()) * std::pow(2.0, std::clamp(attempt, 0, 60));
  const double full = std::min(grown, cap);
  const double jitter = 0.5 + 0.5 * std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(full * jitter)));
}

std::chrono::milliseconds retry_after_delay(std::chrono::milliseconds after, std::chrono::milliseconds max,
                                            double random01) {
  const auto wait = std::clamp(after, std::chrono::milliseconds(0), max);
  const double jitter = 0.1 * std::clamp(random01, 0.0, 1.0);
  return wait +
         std::chrono::milliseconds(static_cast<int64_t>(std::llround(static_cast<double>(wait.count()) * jitter)));
}

std::string size_words(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

}  // namespace wb::http
