// The progress line of a copy out of or into a container (cp-files, jvm heap and jfr).
#pragma once

#include <chrono>
#include <string>

#include "context.hpp"
#include "workbench/app/files.hpp"

namespace wb::cli::commands {

// "512 B", "1.5 MiB".
std::string human_bytes(double n);

// One progress line on stderr (when progress shows), redrawn at most ten times a second and
// cleared when it goes.
class ProgressLine {
 public:
  explicit ProgressLine(Context& ctx);
  void update(const workbench::CopyProgress& p);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  Context& ctx_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_, last_;
};

}  // namespace wb::cli::commands
