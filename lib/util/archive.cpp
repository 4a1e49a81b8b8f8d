#include "util/archive.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <new>

namespace wb::util {

void ArchiveReadFree::operator()(archive* a) const { archive_read_free(a); }
void ArchiveWriteFree::operator()(archive* a) const { archive_write_free(a); }
void ArchiveEntryFree::operator()(archive_entry* e) const { archive_entry_free(e); }

ArchiveReader new_archive_reader() {
  ArchiveReader a(archive_read_new());
  if (!a) throw std::bad_alloc();
  return a;
}

ArchiveWriter new_archive_writer() {
  ArchiveWriter a(archive_write_new());
  if (!a) throw std::bad_alloc();
  return a;
}

ArchiveEntry new_archive_entry() {
  ArchiveEntry e(archive_entry_new());
  if (!e) throw std::bad_alloc();
  return e;
}

std::string archive_error(archive* a) {
  const char* text = a ? archive_error_string(a) : nullptr;
  return text && *text ? text : "unknown error";
}

}  // namespace wb::util
