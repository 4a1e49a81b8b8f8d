// files ls: listing a directory in a replica and reading what `ls -lan --full-time` says.
#include <fmt/format.h>

#include <ctime>

#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/app/files.hpp"
#include "workbench/app/files_internal.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
namespace k = wb::kube;
using namespace files_detail;

namespace {

// "2026-11-26" "05:02:37.253048038" "+0100" (the fraction optional) as seconds since the epoch and
// nanoseconds.
std::optional<std::pair<int64_t, long>> parse_full_time(std::string_view date, std::string_view time,
                                                        std::string_view offset) {
  auto number = [](std::string_view t, size_t pos, size_t n) -> int {
    if (pos + n > t.size()) return -1;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' || time.size() < 8 || time[2] != ':' || time[5] != ':' ||
      offset.size() != 5 || (offset[0] != '+' && offset[0] != '-'))
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = number(date, 0, 4) - 1900;
  tm.tm_mon = number(date, 5, 2) - 1;
  tm.tm_mday = number(date, 8, 2);
  tm.tm_hour = number(time, 0, 2);
  tm.tm_min = number(time, 3, 2);
  tm.tm_sec = number(time, 6, 2);
  const int oh = number(offset, 1, 2), om = number(offset, 3, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60 || oh < 0 || om < 0)
    return std::nullopt;
  long nsec = 0;
  if (time.size() > 8) {
    if (time[8] != '.' || time.size() == 9 || time.size() > 18) return std::nullopt;
    const std::string_view digits = time.substr(9);
    const int n = number(digits, 0, digits.size());
    if (n < 0) return std::nullopt;
    nsec = n;
    for (size_t i = digits.size(); i < 9; ++i) nsec *= 10;
  }
  const int64_t shift = (oh * 3600 + om * 60) * (offset[0] == '-' ? -1 : 1);
  return std::make_pair(static_cast<int64_t>(::timegm(&tm)) - shift, nsec);
}

}  // namespace

std::vector<RemoteEntry> parse_ls(std::string_view text) {
  std::vector<RemoteEntry> out;
  for (const auto& raw : util::split(text, '\n')) {
    std::string_view line = raw;
    if (line.empty() || line.rfind("total ", 0) == 0) continue;
    // mode links uid gid size date time offset name; devices have "major, minor" in place of size.
    size_t pos = 0;
    auto next = [&]() -> std::string_view {
      while (pos < line.size() && line[pos] == ' ') ++pos;
      size_t start = pos;
      while (pos < line.size() && line[pos] != ' ') ++pos;
      return line.substr(start, pos - start);
    };
    std::string_view mode = next();
    if (mode.size() < 10) continue;
    next();  // links
    next();  // uid
    next();  // gid
    std::string_view size = next();
    if (!size.empty() && size.back() == ',') size = next();
    std::string_view date = next();
    std::string_view time = next();
    std::string_view offset = next();
    if (pos < line.size()) ++pos;  // the one space before the name
    std::string_view name = pos <= line.size() ? line.substr(pos) : std::string_view();
    if (name.empty()) continue;
    RemoteEntry e;
    e.type = mode[0] == '-' ? '-' : mode[0];
    unsigned bits = 0;
    static const char kLetters[] = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) {
      char ch = mode[1 + i];
      if (ch == kLetters[i] || ch == 's' || ch == 't') bits |= 1u << (8 - i);
    }
    if (mode[3] == 's' || mode[3] == 'S') bits |= 04000;
    if (mode[6] == 's' || mode[6] == 'S') bits |= 02000;
    if (mode[9] == 't' || mode[9] == 'T') bits |= 01000;
    e.mode = bits;
    auto bytes = util::parse_int<uint64_t>(size, "");
    if (!bytes) continue;
    e.size = *bytes;
    auto when = parse_full_time(date, time, offset);
    if (!when) continue;
    e.mtime = when->first;
    e.mtime_nsec = when->second;
    std::string n(name);
    if (e.type == 'l') {
      auto arrow = n.find(" -> ");
      if (arrow != std::string::npos) {
        e.target = n.substr(arrow + 4);
        n = n.substr(0, arrow);
      }
    }
    if (n == "." || n == "..") continue;
    e.name = n;
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<RemoteEntry>> list_app_files(k::Client& client, const std::string& ns, const std::string& app,
                                                const std::string& path, const std::string& replica,
                                                const std::string& container, std::string* replica_used) {
  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, app, replica, container));
  if (replica_used) *replica_used = t.replica;
  WB_ASSIGN_OR_RETURN(auto c, run_capture(client, ns, t.name, t.container, {"ls", "-lan", "--full-time", "--", path}));
  if (no_such_command(c.result))
    return Error(ErrorCode::Failure, fmt::format("replica {} has no `ls` to list files with", t.replica));
  if (!c.result.failure_message.empty() || c.result.exit_code != 0) {
    if (c.err.find("No such file") != std::string::npos)
      return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist in replica {}", path, t.replica));
    return exec_error("ls", t, c);
  }
  return parse_ls(c.out);
}

}  // namespace wb::workbench
