// Reading log lines: their timestamps, the kubelet's error text, and resuming where a stream broke.
#include <chrono>
#include <string>

#include "util/time.hpp"
#include "workbench/app/logs.hpp"

namespace wb::workbench {

std::optional<int64_t> parse_log_time(std::string_view text) {
  // Split off the fraction; util::parse_rfc3339 handles the rest. Consecutive lines mostly share
  // their second, so the last one parsed is remembered.
  thread_local std::string last_base;
  thread_local int64_t last_secs = 0;
  size_t dot = text.find('.');
  int64_t frac = 0;
  std::string_view head = text, tail;
  if (dot != std::string_view::npos) {
    size_t end = dot + 1;
    int digits = 0;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (text[end] - '0');
        ++digits;
      }
      ++end;
    }
    if (end == dot + 1) return std::nullopt;
    for (; digits < 9; ++digits) frac *= 10;
    head = text.substr(0, dot);
    tail = text.substr(end);
  }
  if (head.size() + tail.size() == last_base.size() && last_base.compare(0, head.size(), head) == 0 &&
      last_base.compare(head.size(), tail.size(), tail) == 0)
    return last_secs * 1'000'000'000LL + frac;
  std::string base;
  base.reserve(head.size() + tail.size());
  base.append(head).append(tail);
  auto t = util::parse_rfc3339(base);
  if (!t) return std::nullopt;
  last_secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  last_base = std::move(base);
  return last_secs * 1'000'000'000LL + frac;
}

bool kubelet_log_error(std::string_view body) {
  if (body.empty() || body.find('\n') != std::string_view::npos) return false;
  for (std::string_view prefix :
       {"unable to retrieve container logs for ", "failed to try resolving symlinks in path "})
    if (body.substr(0, prefix.size()) == prefix) return true;
  return false;
}

std::pair<std::string_view, std::string_view> split_log_timestamp(std::string_view line) {
  size_t sp = line.find(' ');
  std::string_view first = sp == std::string_view::npos ? line : line.substr(0, sp);
  // A cheap check before parsing: "2024-05-01T..."
  if (first.size() < 20 || first[4] != '-' || first[10] != 'T' || !parse_log_time(first))
    return {std::string_view(), line};
  return {first, sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1)};
}

bool ResumePoint::accept(int64_t nanos) {
  if (last_ && nanos < *last_) return false;
  if (last_ && nanos == *last_) {
    ++replayed_at_last_;
    if (replayed_at_last_ <= count_at_last_) return false;
    ++count_at_last_;
    return true;
  }
  last_ = nanos;
  count_at_last_ = 1;
  replayed_at_last_ = 1;
  return true;
}

std::string ResumePoint::since_time() const {
  if (!last_) return "";
  util::TimePoint t{std::chrono::duration_cast<util::Clock::duration>(std::chrono::seconds(*last_ / 1'000'000'000LL))};
  return util::format_rfc3339(t);
}

}  // namespace wb::workbench
