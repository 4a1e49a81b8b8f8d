// Waiting that a stop request ends at once, instead of sleeping in slices and polling a flag.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <initializer_list>
#include <stop_token>

#include "util/interrupt.hpp"

namespace wb::util {

// Waits `duration`, or less when `stop` is requested (by default: Ctrl-C). False when stopped.
bool sleep_for(std::chrono::milliseconds duration, std::stop_token stop = interrupt_token());

// A stop requested as soon as any of the given ones is (or by request_stop()): "this replica is
// gone, or we are all done, or Ctrl-C".
class StopAny {
 public:
  explicit StopAny(std::initializer_list<std::stop_token> tokens);
  StopAny(const StopAny&) = delete;
  StopAny& operator=(const StopAny&) = delete;

  std::stop_token token() const { return source_.get_token(); }
  bool stop_requested() const { return source_.stop_requested(); }
  void request_stop() { source_.request_stop(); }

 private:
  std::stop_source source_;
  std::deque<std::stop_callback<std::function<void()>>> links_;
};

}  // namespace wb::util
