// The progress line of a copy (cp-files, wb jvm heap and jfr).
#include "commands/copy_progress.hpp"

#include <fmt/format.h>

#include <ostream>

#include "util/time.hpp"

namespace wb::cli::commands {

namespace wbw = wb::workbench;

std::string human_bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", n, units[u]) : fmt::format("{:.1f} {}", n, units[u]);
}

ProgressLine::ProgressLine(Context& ctx) : ctx_(ctx), enabled_(ctx.show_progress()), start_(ctx.ticks()) {}

void ProgressLine::update(const wbw::CopyProgress& p) {
  if (!enabled_) return;
  auto now = ctx_.ticks();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(p.bytes) / secs : 0;
  std::string line = human_bytes(static_cast<double>(p.bytes));
  if (p.total && *p.total > 0) {
    line += fmt::format(" of {} ({:.0f}%)", human_bytes(static_cast<double>(*p.total)),
                        100.0 * static_cast<double>(p.bytes) / static_cast<double>(*p.total));
  }
  line += fmt::format("  {}/s", human_bytes(rate));
  if (p.resumes > 0 && !p.restarted)
    line += fmt::format("  (resumed{})", p.resumes > 1 ? fmt::format(" {}x", p.resumes) : "");
  if (p.restarted) line += "  (started over)";
  if (p.total && rate > 0 && *p.total > p.bytes) {
    auto eta = std::chrono::seconds(static_cast<int64_t>(static_cast<double>(*p.total - p.bytes) / rate));
    line += "  ETA " + util::format_age(eta);
  }
  if (!p.current.empty()) {
    std::string cur = p.current.size() > 40 ? "..." + p.current.substr(p.current.size() - 37) : p.current;
    line += "  " + cur;
  }
  ctx_.err() << "\r\033[2K" << line << std::flush;
  drawn_ = true;
}

ProgressLine::~ProgressLine() {
  if (drawn_) ctx_.err() << "\r\033[2K" << std::flush;
}

}  // namespace wb::cli::commands
