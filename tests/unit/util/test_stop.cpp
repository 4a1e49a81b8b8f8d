// Waits that a stop ends at once, StopAny, and Ctrl-C as a stop request.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "util/interrupt.hpp"
#include "util/stop.hpp"

using namespace wb::util;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

TEST_CASE("sleep_for waits the whole time unless stopped", "[util][stop]") {
  std::stop_source source;
  auto start = Steady::now();
  CHECK(sleep_for(50ms, source.get_token()));
  CHECK(Steady::now() - start >= 50ms);
  CHECK(sleep_for(10ms, std::stop_token()));  // a token nobody can stop

  std::thread stopper([&] {
    std::this_thread::sleep_for(30ms);
    source.request_stop();
  });
  start = Steady::now();
  CHECK_FALSE(sleep_for(10s, source.get_token()));
  stopper.join();
  CHECK(Steady::now() - start < 2s);
  CHECK_FALSE(sleep_for(10s, source.get_token()));  // already stopped: at once
}

TEST_CASE("StopAny stops when any of its tokens does", "[util][stop]") {
  std::stop_source replica_gone, all_done;
  StopAny stop{replica_gone.get_token(), all_done.get_token()};
  CHECK_FALSE(stop.stop_requested());
  all_done.request_stop();
  CHECK(stop.stop_requested());
  CHECK(stop.token().stop_requested());
  CHECK_FALSE(replica_gone.stop_requested());

  StopAny own{std::stop_token()};
  own.request_stop();
  CHECK(own.stop_requested());

  std::stop_source early;
  early.request_stop();
  StopAny already{early.get_token()};
  CHECK(already.stop_requested());
}

TEST_CASE("interrupted is a stop request that sleep_for sees by default", "[util][stop]") {
  set_interrupted(false);
  auto before = interrupt_token();
  CHECK_FALSE(interrupted());
  CHECK(sleep_for(1ms));
  set_interrupted(true);
  CHECK(interrupted());
  CHECK(before.stop_requested());
  const auto start = Steady::now();
  CHECK_FALSE(sleep_for(10s));
  CHECK(Steady::now() - start < 1s);
  set_interrupted(false);
  CHECK_FALSE(interrupted());
  CHECK_FALSE(interrupt_token().stop_requested());
  CHECK(before.stop_requested());  // a token taken before keeps what it saw
}

TEST_CASE("Ctrl-C wakes a wait at once", "[util][stop]") {
  set_interrupted(false);
  install_interrupt_handler();
  std::thread presser([] {
    std::this_thread::sleep_for(50ms);
    ::kill(::getpid(), SIGINT);
  });
  const auto start = Steady::now();
  CHECK_FALSE(sleep_for(10s));
  presser.join();
  CHECK(Steady::now() - start < 2s);
  CHECK(interrupted());
  set_interrupted(false);
}
