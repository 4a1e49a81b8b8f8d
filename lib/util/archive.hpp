// One owner per libarchive handle, so every path out of a function (an early return, an
// exception) frees it: a read archive, a write archive, an entry.
#pragma once

#include <memory>
#include <string>

struct archive;
struct archive_entry;

namespace wb::util {

struct ArchiveReadFree {
  void operator()(archive* a) const;
};
struct ArchiveWriteFree {
  void operator()(archive* a) const;
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const;
};

// archive_read_free()s (closing it) when it goes.
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
// archive_write_free()s when it goes: that closes it too, which writes the end of a tar that
// was not closed yet; call archive_write_close() first to see whether the end was written.
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
// archive_entry_free()s when it goes.
using ArchiveEntry = std::unique_ptr<archive_entry, ArchiveEntryFree>;

// New handles (archive_read_new, archive_write_new, archive_entry_new); std::bad_alloc when
// libarchive has no memory for one.
ArchiveReader new_archive_reader();
ArchiveWriter new_archive_writer();
ArchiveEntry new_archive_entry();

// What libarchive says went wrong with `a`, or "unknown error" when it says nothing (it may
// return no text, e.g. for a damaged entry header).
std::string archive_error(archive* a);

}  // namespace wb::util
