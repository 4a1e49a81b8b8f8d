// The libarchive handle owners: a tar written and read back through them, and freed on every way
// out (the sanitizer preset sees a leak).
#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "util/archive.hpp"

using namespace wb::util;

namespace {

std::string tar_of(const std::string& name, const std::string& content) {
  std::string out;
  ArchiveWriter w = new_archive_writer();
  archive_write_set_format_pax_restricted(w.get());
  auto on_write = [](archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  REQUIRE(archive_write_open(w.get(), &out, nullptr, on_write, nullptr) == ARCHIVE_OK);
  ArchiveEntry e = new_archive_entry();
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
  REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_data(w.get(), content.data(), content.size()) == static_cast<la_ssize_t>(content.size()));
  REQUIRE(archive_write_close(w.get()) == ARCHIVE_OK);
  return out;
}

}  // namespace

TEST_CASE("archive handles: a tar written and read back", "[util][archive]") {
  const std::string tar = tar_of("app/hello.txt", "hello");
  CHECK(tar.size() % 512 == 0);
  ArchiveReader r = new_archive_reader();
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), tar.data(), tar.size()) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  REQUIRE(archive_read_next_header(r.get(), &e) == ARCHIVE_OK);
  CHECK(std::string(archive_entry_pathname(e)) == "app/hello.txt");
  char buf[16];
  CHECK(archive_read_data(r.get(), buf, sizeof buf) == 5);
  CHECK(std::string(buf, 5) == "hello");
  CHECK(archive_read_next_header(r.get(), &e) == ARCHIVE_EOF);
}

TEST_CASE("archive handles are freed when an exception leaves the scope", "[util][archive]") {
  auto half_written = [] {
    ArchiveWriter w = new_archive_writer();
    archive_write_set_format_pax_restricted(w.get());
    REQUIRE(archive_write_open_filename(w.get(), "/dev/null") == ARCHIVE_OK);
    ArchiveEntry e = new_archive_entry();
    archive_entry_set_pathname(e.get(), "x");
    ArchiveReader r = new_archive_reader();
    throw std::runtime_error("in the middle");
  };
  CHECK_THROWS_AS(half_written(), std::runtime_error);
  // Moving hands the handle over; the moved-from owner frees nothing.
  ArchiveEntry a = new_archive_entry();
  archive_entry* raw = a.get();
  ArchiveEntry b = std::move(a);
  CHECK(a == nullptr);
  CHECK(b.get() == raw);
}
