// A bounded pipe of bytes between two threads: a producer writes chunks as they come (a socket's
// callback), a consumer reads them when it can (a tar extractor, an upload's body reader). The
// producer waits while `capacity` bytes wait, so memory stays flat whatever the speeds.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace wb::util {

class BytePipe {
 public:
  // A stop request on `stop` wakes both ends at once: writes return false, reads an Interrupted
  // error.
  explicit BytePipe(size_t capacity, std::stop_token stop = {});
  BytePipe(const BytePipe&) = delete;
  BytePipe& operator=(const BytePipe&) = delete;

  // Producer: queues a copy of `data`, waiting while the pipe is full. False when the consumer
  // has gone (close_reader, fail) or on a stop: the producer should give up.
  bool write(std::string_view data);
  // Producer: the end of the data; the consumer reads what is queued, then the end.
  void close();

  // Either end: fails the pipe. The consumer's reads return `error` (the first failure wins),
  // the producer's writes false.
  void fail(Error error);

  // Consumer: up to `size` bytes; 0 at the end.
  Result<size_t> read(char* buffer, size_t size);
  // Consumer: the next chunk as it was written (no copy); false at the end.
  Result<bool> read_chunk(std::string& chunk);
  // Consumer: reads no more. The producer's writes return false; what waits is dropped.
  void close_reader();

 private:
  // Waits for data, the end, a failure or a stop; an error for the last two.
  Status wait_readable(std::unique_lock<std::mutex>& lock);
  // Removes the front chunk (`whole` bytes) and wakes a waiting producer.
  void drop_front(size_t whole);

  const size_t capacity_;
  std::stop_token stop_;
  std::mutex mu_;
  std::condition_variable_any changed_;
  std::deque<std::string> chunks_;
  size_t front_offset_ = 0;  // bytes of the front chunk already read
  size_t queued_ = 0;        // bytes in chunks_, the front one whole
  bool closed_ = false, reader_closed_ = false;
  std::optional<Error> failure_;
};

}  // namespace wb::util
