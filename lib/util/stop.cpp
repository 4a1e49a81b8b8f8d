#include "util/stop.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <thread>

#include "util/fd.hpp"

namespace wb::util {

// poll() with a relative timeout, woken through an eventfd: a condition variable's timed wait
// takes an absolute time, which a shifted clock (libfaketime in the tests) moves by the shift.
bool sleep_for(std::chrono::milliseconds duration, std::stop_token stop) {
  if (stop.stop_requested()) return false;
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.stop_possible() || !wake) {
    std::this_thread::sleep_for(duration);
    return !stop.stop_requested();
  }
  const int fd = wake.get();
  std::stop_callback on_stop(stop, [fd] {
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  });
  const auto until = std::chrono::steady_clock::now() + duration;
  for (;;) {
    if (stop.stop_requested()) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return true;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
  }
}

StopAny::StopAny(std::initializer_list<std::stop_token> tokens) {
  for (const std::stop_token& t : tokens)
    links_.emplace_back(t, std::function<void()>([source = source_]() mutable { source.request_stop(); }));
}

}  // namespace wb::util
