// File descriptors that close themselves, pipes, and the read/write loops every user of a raw
// descriptor needs (EINTR retried, short writes continued).
#pragma once

#include <cstddef>
#include <string_view>

#include "util/result.hpp"

namespace wb::util {

// Owns one file descriptor (or none: -1) and closes it when destroyed. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  explicit operator bool() const { return ok(); }
  // Gives the descriptor up without closing it.
  int release() noexcept;
  // Closes the one held (errors ignored) and holds `fd` instead.
  void reset(int fd = -1) noexcept;
  // Closes now; 0, or close()'s errno (where a file system reports a failed write-back).
  int close() noexcept;

 private:
  int fd_ = -1;
};

// A pipe whose ends are closed on exec.
struct Pipe {
  Fd read;
  Fd write;
  // Failure ("cannot create a pipe: ...") when the process is out of descriptors.
  static Result<Pipe> create();
};

// Writes all of `data` to `fd`: 0, or the errno that stopped it.
int write_all(int fd, std::string_view data);
// One read() into `buffer`, retried on EINTR: the count (0 at the end), or -1 with errno set.
long read_some(int fd, void* buffer, size_t size);

}  // namespace wb::util
