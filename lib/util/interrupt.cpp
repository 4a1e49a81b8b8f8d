#include "util/interrupt.hpp"

#include <semaphore.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <thread>

namespace wb::util {

namespace {

// A signal handler may do very little: set a flag and post a semaphore. A thread of ours waits on
// the semaphore and requests the stop (which runs callbacks, takes locks: never in a handler).
struct Interrupts {
  std::atomic<bool> flag{false};
  std::mutex mu;
  std::stop_source source;
  sem_t wake;
  std::jthread watcher;

  Interrupts() { sem_init(&wake, 0, 0); }
  ~Interrupts() {
    if (watcher.joinable()) {
      watcher.request_stop();
      sem_post(&wake);
      watcher.join();
    }
  }

  void request() {
    flag.store(true);
    std::lock_guard<std::mutex> lock(mu);
    source.request_stop();
  }
};

Interrupts& interrupts() {
  static Interrupts state;
  return state;
}

extern "C" void on_signal(int) {
  Interrupts& s = interrupts();
  s.flag.store(true);
  sem_post(&s.wake);
}

}  // namespace

void install_interrupt_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    Interrupts& s = interrupts();
    s.watcher = std::jthread([&s](std::stop_token quit) {
      while (!quit.stop_requested()) {
        if (sem_wait(&s.wake) != 0) continue;  // EINTR
        if (!quit.stop_requested()) s.request();
      }
    });
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
  });
}

bool interrupted() { return interrupts().flag.load(); }

std::stop_token interrupt_token() {
  Interrupts& s = interrupts();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.source.get_token();
}

void set_interrupted(bool value) {
  Interrupts& s = interrupts();
  if (value) {
    s.request();
    return;
  }
  s.flag.store(false);
  std::lock_guard<std::mutex> lock(s.mu);
  s.source = std::stop_source();
}

}  // namespace wb::util
