// BytePipe: bytes between two threads, bounded, with an end, failures from either side and stops.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "util/byte_pipe.hpp"

using namespace wb::util;
using namespace std::chrono_literals;

TEST_CASE("byte pipe: chunks in order, then the end", "[util][byte_pipe]") {
  BytePipe pipe(1 << 20);
  REQUIRE(pipe.write("hello "));
  REQUIRE(pipe.write("world"));
  pipe.close();
  std::string chunk;
  CHECK(pipe.read_chunk(chunk).value());
  CHECK(chunk == "hello ");
  char buf[3];
  CHECK(pipe.read(buf, sizeof buf).value() == 3);
  CHECK(std::string(buf, 3) == "wor");
  CHECK(pipe.read_chunk(chunk).value());  // the rest of a chunk partly read
  CHECK(chunk == "ld");
  CHECK_FALSE(pipe.read_chunk(chunk).value());
  CHECK(pipe.read(buf, sizeof buf).value() == 0);
}

TEST_CASE("byte pipe: the producer waits while it is full, so memory stays bounded", "[util][byte_pipe]") {
  constexpr size_t kCapacity = 64 << 10;
  BytePipe pipe(kCapacity);
  std::atomic<size_t> written{0};
  const std::string chunk(16 << 10, 'x');
  std::thread producer([&] {
    for (int i = 0; i < 256; ++i) {  // 4 MiB
      REQUIRE(pipe.write(chunk));
      written += chunk.size();
    }
    pipe.close();
  });
  std::this_thread::sleep_for(50ms);
  // Nothing read yet: the producer stopped at the capacity (plus the chunk that crossed it).
  CHECK(written.load() <= kCapacity + chunk.size());
  size_t read = 0, most_ahead = 0;
  std::string got;
  while (pipe.read_chunk(got).value()) {
    read += got.size();
    most_ahead = std::max(most_ahead, written.load() - std::min(written.load(), read));
  }
  producer.join();
  CHECK(read == 256 * chunk.size());
  CHECK(most_ahead <= kCapacity + 2 * chunk.size());
}

TEST_CASE("byte pipe: a failure reaches the other end", "[util][byte_pipe]") {
  SECTION("the producer's failure is the consumer's read error") {
    BytePipe pipe(1024);
    std::thread producer([&] {
      REQUIRE(pipe.write("partial"));
      pipe.fail(Error(ErrorCode::Unavailable, "the registry went away"));
    });
    producer.join();
    std::string chunk;
    auto r = pipe.read_chunk(chunk);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "the registry went away");
    CHECK(r.error().code == ErrorCode::Unavailable);
    pipe.fail(Error(ErrorCode::Failure, "later"));  // the first failure wins
    CHECK(pipe.read_chunk(chunk).error().message == "the registry went away");
  }
  SECTION("the consumer going away wakes a producer waiting for room") {
    BytePipe pipe(4);
    REQUIRE(pipe.write("full"));
    std::atomic<bool> result{true};
    std::thread producer([&] { result = pipe.write("more"); });
    std::this_thread::sleep_for(20ms);
    pipe.close_reader();
    producer.join();
    CHECK_FALSE(result.load());
    CHECK_FALSE(pipe.write("after"));
  }
  SECTION("a consumer's failure stops the producer too") {
    BytePipe pipe(4);
    pipe.fail(Error(ErrorCode::Failure, "disk full"));
    CHECK_FALSE(pipe.write("x"));
  }
}

TEST_CASE("byte pipe: a stop request wakes both ends at once", "[util][byte_pipe]") {
  std::stop_source stop;
  BytePipe pipe(4, stop.get_token());
  REQUIRE(pipe.write("full"));
  std::atomic<bool> wrote{true};
  std::thread producer([&] { wrote = pipe.write("more"); });
  BytePipe empty(4, stop.get_token());
  Result<size_t> read = size_t{0};
  std::thread consumer([&] {
    char buf[4];
    read = empty.read(buf, sizeof buf);
  });
  std::this_thread::sleep_for(20ms);
  const auto start = std::chrono::steady_clock::now();
  stop.request_stop();
  producer.join();
  consumer.join();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK_FALSE(wrote.load());
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code == ErrorCode::Interrupted);
}
