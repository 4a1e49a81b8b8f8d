// Fd and Pipe: descriptors that close themselves, once.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include "util/fd.hpp"

using namespace wb::util;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST_CASE("Fd closes what it holds, once, and moves", "[util][fd]") {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  {
    Fd a(raw);
    CHECK(a.ok());
    Fd b(std::move(a));
    CHECK_FALSE(a.ok());
    CHECK(b.get() == raw);
    Fd c;
    c = std::move(b);
    CHECK(c.get() == raw);
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));

  Fd d(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int kept = d.release();
  CHECK_FALSE(d.ok());
  CHECK(is_open(kept));
  d.reset(kept);
  CHECK(d.close() == 0);
  CHECK_FALSE(is_open(kept));
  CHECK(d.close() == 0);  // nothing held: nothing to do
}

TEST_CASE("Pipe carries bytes, with write_all and read_some", "[util][fd]") {
  auto p = Pipe::create();
  REQUIRE(p.ok());
  CHECK((::fcntl(p->read.get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(write_all(p->write.get(), "hello") == 0);
  p->write.reset();
  char buf[16];
  CHECK(read_some(p->read.get(), buf, sizeof buf) == 5);
  CHECK(std::string(buf, 5) == "hello");
  CHECK(read_some(p->read.get(), buf, sizeof buf) == 0);
  CHECK(write_all(-1, "x") == EBADF);
}
