// Extracting a tar stream that came out of a container, under one local directory only.
//
// Every path is walked component by component from a descriptor of the root with
// openat(O_NOFOLLOW): a symlink (one from the archive or one that was there) is never followed
// when creating anything, so "a symlink first, a file through it later" cannot write outside.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/archive.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"
#include "workbench/app/files.hpp"

namespace wb::workbench {

using util::Error;
using util::Fd;
using util::ErrorCode;
using util::Result;
using util::Status;

namespace {

constexpr size_t kNameMax = 255;
constexpr size_t kPathMax = 4095;

std::string shown(std::string_view name) {
  std::string s(name.substr(0, 120));
  if (name.size() > 120) s += "...";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return s;
}

Error refused(std::string_view name, const ExtractTarget& t, const std::string& why) {
  RefusedEntry facts;
  facts.name = std::string(name);
  return Error(ErrorCode::Failure, fmt::format("refused '{}' from {}: {}", shown(name), t.source_words, why),
               "nothing after it was written; files copied before it stay")
      .with(std::move(facts));
}

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  for (auto& c : util::split(path, '/'))
    if (!c.empty() && c != ".") out.push_back(c);
  return out;
}

// The refusal of open_dir when a component of the path is a symlink (named by `blocked`).
struct ThroughSymlink : util::ErrorDetail {};

Error through_symlink(const std::string& path) {
  return Error(ErrorCode::Failure, fmt::format("'{}' is a symlink", path)).with(ThroughSymlink{});
}

// Opens (creating with `create`) the directory `rel` below `root_fd`, never following a symlink.
// On a refusal, `blocked` names the component that is in the way.
Result<Fd> open_dir(int root_fd, const std::vector<std::string>& parts, size_t count, bool create,
                    std::string& blocked) {
  Fd cur(::dup(root_fd));
  if (!cur.ok()) return Error(ErrorCode::Failure, std::string("cannot open the target directory: ") + strerror(errno));
  std::string sofar;
  for (size_t i = 0; i < count; ++i) {
    const std::string& c = parts[i];
    sofar += (sofar.empty() ? "" : "/") + c;
    struct stat st {};
    if (::fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT || !create) {
        blocked = sofar;
        return Error(ErrorCode::Failure, fmt::format("cannot open '{}': {}", sofar, strerror(errno)));
      }
      if (::mkdirat(cur.get(), c.c_str(), 0700) != 0 && errno != EEXIST) {
        blocked = sofar;
        return Error(ErrorCode::Failure, fmt::format("cannot create directory '{}': {}", sofar, strerror(errno)));
      }
    } else if (S_ISLNK(st.st_mode)) {
      blocked = sofar;
      return through_symlink(sofar);
    } else if (!S_ISDIR(st.st_mode)) {
      blocked = sofar;
      return Error(ErrorCode::Failure, fmt::format("'{}' is not a directory", sofar));
    }
    Fd next(::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.ok()) {
      blocked = sofar;
      return errno == ELOOP ? through_symlink(sofar)
                            : Error(ErrorCode::Failure, fmt::format("cannot open '{}': {}", sofar, strerror(errno)));
    }
    cur = std::move(next);
  }
  return cur;
}

struct PendingDir {
  std::string rel;
  unsigned mode;
  struct timespec mtime;
};

}  // namespace

Result<std::string> checked_entry_path(std::string_view name, const ExtractTarget& t) {
  const std::string where = t.root.string();
  if (name.empty()) return refused(name, t, "it has no name");
  if (name.find('\0') != std::string_view::npos) return refused(name, t, "its name holds a NUL byte");
  if (name.front() == '/' || name.front() == '\\')
    return refused(name, t, fmt::format("it would be written outside {} (an absolute path)", where));
  std::vector<std::string> parts;
  for (auto& c : util::split(name, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") return refused(name, t, fmt::format("it would be written outside {}", where));
    if (c.size() > kNameMax)
      return refused(name, t, fmt::format("a name in it is longer than the {} bytes a file name may have", kNameMax));
    parts.push_back(c);
  }
  if (parts.empty()) {
    if (t.top == ".") return std::string(t.rename);
    return refused(name, t, fmt::format("it is not part of '{}'", t.top));
  }
  std::vector<std::string> rest;
  if (t.top == "." || t.top.empty()) {
    rest = parts;
  } else {
    auto top = components(t.top);
    if (parts.size() < top.size() || !std::equal(top.begin(), top.end(), parts.begin()))
      return refused(name, t, fmt::format("it is not part of '{}'", t.top));
    rest.assign(parts.begin() + static_cast<long>(top.size()), parts.end());
  }
  std::string out = t.rename;
  for (const auto& c : rest) out += (out.empty() ? "" : "/") + c;
  if (out.empty()) return refused(name, t, "it has no name");
  if (out.size() > kPathMax)
    return refused(name, t, fmt::format("its path is longer than the {} bytes a path may have", kPathMax));
  return out;
}

Status check_symlink_target(std::string_view entry_name, const std::string& entry, std::string_view link,
                            const ExtractTarget& t) {
  const std::string where = t.root.string();
  if (link.empty()) return refused(entry_name, t, "it is a symlink to nothing");
  if (link.front() == '/')
    return refused(entry_name, t, fmt::format("a symlink to '{}' would lead outside {}", shown(link), where));
  // Resolve lexically from the symlink's directory.
  auto parts = components(entry);
  if (!parts.empty()) parts.pop_back();
  for (auto& c : util::split(link, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (parts.empty())
        return refused(entry_name, t, fmt::format("a symlink to '{}' would lead outside {}", shown(link), where));
      parts.pop_back();
    } else {
      parts.push_back(c);
    }
  }
  return {};
}

Status extract_tar(const std::function<Result<std::string_view>()>& read, const ExtractTarget& t, ExtractStats& stats,
                   const std::function<void(const CopyProgress&)>& on_progress) {
  struct Source {
    const std::function<Result<std::string_view>()>* read;
    std::optional<Error> error;
  } src{&read, std::nullopt};

  util::ArchiveReader reader = util::new_archive_reader();
  struct archive* a = reader.get();
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  auto on_read = [](struct archive* ar, void* data, const void** buf) -> la_ssize_t {
    auto* s = static_cast<Source*>(data);
    auto chunk = (*s->read)();
    if (!chunk) {
      s->error = chunk.error();
      archive_set_error(ar, EIO, "%s", chunk.error().message.c_str());
      return -1;
    }
    *buf = chunk->data();
    return static_cast<la_ssize_t>(chunk->size());
  };
  if (archive_read_open(a, &src, nullptr, on_read, nullptr) != ARCHIVE_OK) {
    if (src.error) return *src.error;
    return Error(ErrorCode::Failure, fmt::format("cannot read the archive from {}: {}", t.source_words,
                                                 archive_error_string(a) ? archive_error_string(a) : "unknown error"));
  }

  Fd root(::open(t.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok())
    return Error(ErrorCode::Failure, fmt::format("cannot open '{}': {}", t.root.string(), strerror(errno)));

  std::vector<PendingDir> dirs;
  CopyProgress progress;
  std::vector<char> buffer;

  auto finish_dirs = [&] {
    // Deepest first, so setting a parent's time is not undone by its children.
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      std::string blocked;
      auto parts = components(it->rel);
      auto fd = open_dir(root.get(), parts, parts.size(), false, blocked);
      if (!fd) continue;
      (void)::fchmod(fd->get(), it->mode & 0777);
      struct timespec times[2] = {it->mtime, it->mtime};
      (void)::futimens(fd->get(), times);
    }
  };

  while (true) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r == ARCHIVE_WARN) r = ARCHIVE_OK;
    if (r != ARCHIVE_OK) {
      if (src.error) return *src.error;
      const char* msg = archive_error_string(a);
      return Error(ErrorCode::Failure,
                   fmt::format("the archive from {} is broken: {}", t.source_words, msg ? msg : "unreadable header"),
                   "files copied before it stay");
    }
    const char* raw_name = archive_entry_pathname(e);
    const std::string name = raw_name ? raw_name : "";
    WB_ASSIGN_OR_RETURN(std::string rel, checked_entry_path(name, t));
    auto parts = components(rel);
    const std::string leaf = parts.back();
    const mode_t type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    const unsigned perm = archive_entry_perm(e) & 0777;
    struct timespec mtime {};
    mtime.tv_sec = archive_entry_mtime(e);
    mtime.tv_nsec = archive_entry_mtime_nsec(e);

    if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      const char* what = type == AE_IFCHR || type == AE_IFBLK ? "it is a device node"
                         : type == AE_IFIFO                   ? "it is a FIFO"
                         : type == AE_IFSOCK                  ? "it is a socket"
                                                              : "it is of an unknown type";
      return refused(name, t, std::string(what) + " (only files, directories and links are copied)");
    }
    // The parent directory, created as needed, never through a symlink.
    std::string blocked;
    auto parent = open_dir(root.get(), parts, parts.size() - 1, true, blocked);
    if (!parent) {
      if (parent.error().detail<ThroughSymlink>())
        return refused(name, t, fmt::format("it would be written through the symlink '{}'", blocked));
      return refused(name, t, parent.error().message);
    }
    struct stat existing {};
    const bool exists = ::fstatat(parent->get(), leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
    progress.current = rel;

    if (hardlink) {
      auto target_rel = checked_entry_path(hardlink, t);
      if (!target_rel)
        return refused(name, t,
                       fmt::format("a hard link to '{}' would lead outside {}", shown(hardlink), t.root.string()));
      auto tparts = components(*target_rel);
      std::string tblocked;
      auto tdir = open_dir(root.get(), tparts, tparts.size() - 1, false, tblocked);
      if (!tdir)
        return refused(name, t, fmt::format("a hard link to '{}', which is not a file of this copy", shown(hardlink)));
      struct stat ts {};
      if (::fstatat(tdir->get(), tparts.back().c_str(), &ts, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(ts.st_mode))
        return refused(name, t, fmt::format("a hard link to '{}', which is not a file of this copy", shown(hardlink)));
      if (exists) {
        if (S_ISDIR(existing.st_mode)) return refused(name, t, "a directory of that name is in the way");
        ::unlinkat(parent->get(), leaf.c_str(), 0);
      }
      if (::linkat(tdir->get(), tparts.back().c_str(), parent->get(), leaf.c_str(), 0) != 0)
        return Error(ErrorCode::Failure, fmt::format("cannot link '{}': {}", rel, strerror(errno)));
      ++stats.links;
      continue;
    }
    if (type == AE_IFDIR) {
      if (exists && !S_ISDIR(existing.st_mode)) {
        if (S_ISLNK(existing.st_mode))
          return refused(name, t, fmt::format("it would be written through the symlink '{}'", rel));
        return refused(name, t, "a file of that name is in the way");
      }
      if (!exists && ::mkdirat(parent->get(), leaf.c_str(), 0700) != 0)
        return Error(ErrorCode::Failure, fmt::format("cannot create directory '{}': {}", rel, strerror(errno)));
      dirs.push_back({rel, perm, mtime});  // applied at the end: the owner keeps access while copying
      ++stats.dirs;
      continue;
    }
    if (type == AE_IFLNK) {
      const char* link = archive_entry_symlink(e);
      WB_TRY(check_symlink_target(name, rel, link ? link : "", t));
      if (exists) {
        if (S_ISDIR(existing.st_mode)) return refused(name, t, "a directory of that name is in the way");
        ::unlinkat(parent->get(), leaf.c_str(), 0);
      }
      if (::symlinkat(link, parent->get(), leaf.c_str()) != 0)
        return Error(ErrorCode::Failure, fmt::format("cannot create symlink '{}': {}", rel, strerror(errno)));
      struct timespec times[2] = {mtime, mtime};
      (void)::utimensat(parent->get(), leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
      ++stats.links;
      continue;
    }
    // A regular file: written as ".NAME.wb-part", renamed into place once complete.
    if (exists && S_ISLNK(existing.st_mode))
      return refused(name, t, fmt::format("it would be written through the symlink '{}'", rel));
    if (exists && S_ISDIR(existing.st_mode)) return refused(name, t, "a directory of that name is in the way");
    auto part = PartFile::create(parent->get(), leaf, rel);
    if (!part) return std::move(part).error();
    std::unique_ptr<PartFile> out = std::move(*part);
    const la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    out->declared = declared;
    out->perm = perm;
    out->mtime = mtime;
    out->rel = rel;
    uint64_t written = 0;
    while (true) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int rr = archive_read_data_block(a, &block, &size, &offset);
      if (rr == ARCHIVE_EOF) break;
      if (rr != ARCHIVE_OK && rr != ARCHIVE_WARN) {
        const bool resumable = t.keep_partial && static_cast<uint64_t>(out->size()) == written;
        if (resumable)
          stats.partial = std::move(out);
        else
          out.reset();  // removes the part file
        if (src.error) return *src.error;
        const char* msg = archive_error_string(a);
        return Error(ErrorCode::Failure,
                     fmt::format("the archive from {} broke off in '{}'{}: {}", t.source_words, shown(name),
                                 declared >= 0 ? fmt::format(" (declared {} bytes, got {})", declared, written) : "",
                                 msg ? msg : "read error"),
                     "that file was removed; files copied before it stay");
      }
      // Sparse files: seek to the offset (holes stay holes).
      if (static_cast<uint64_t>(offset) != written) {
        WB_TRY(out->seek(static_cast<uint64_t>(offset)));
        written = static_cast<uint64_t>(offset);
      }
      WB_TRY(out->write(std::string_view(static_cast<const char*>(block), size)));
      written += size;
      stats.bytes += size;
      progress.bytes += size;
      if (on_progress) on_progress(progress);
    }
    std::optional<uint64_t> final_size;
    if (declared >= 0 && static_cast<uint64_t>(declared) > written) final_size = static_cast<uint64_t>(declared);
    WB_TRY(out->commit(perm, mtime, final_size));
    ++stats.files;
  }
  finish_dirs();
  return {};
}

// ---------------------------------------------------------------- part files

Result<std::unique_ptr<PartFile>> PartFile::create(int dir_fd, const std::string& leaf, std::string shown) {
  std::unique_ptr<PartFile> p(new PartFile());
  p->leaf_ = leaf;
  p->part_ = "." + leaf.substr(0, kNameMax - 9) + ".wb-part";
  p->shown_ = std::move(shown);
  p->dir_.reset(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!p->dir_) return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", p->shown_, strerror(errno)));
  // A leftover of an earlier copy (or anything planted under that name) goes first; O_EXCL
  // with O_NOFOLLOW then never writes through a symlink.
  ::unlinkat(p->dir_.get(), p->part_.c_str(), 0);
  p->fd_.reset(
      ::openat(p->dir_.get(), p->part_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!p->fd_)
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", p->shown_,
                                                 errno == ELOOP ? "it is a symlink" : strerror(errno)));
  return p;
}

PartFile::~PartFile() {
  fd_.reset();  // closed before the unlink
  if (!committed_ && dir_) ::unlinkat(dir_.get(), part_.c_str(), 0);
}

Status PartFile::write(std::string_view data) {
  if (int err = util::write_all(fd_.get(), data))
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", shown_, strerror(err)));
  size_ += data.size();
  return {};
}

Status PartFile::seek(uint64_t offset) {
  if (::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", shown_, strerror(errno)));
  size_ = offset;
  return {};
}

Status PartFile::commit(unsigned mode, struct timespec when, std::optional<uint64_t> final_size) {
  if (final_size && ::ftruncate(fd_.get(), static_cast<off_t>(*final_size)) != 0)
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", shown_, strerror(errno)));
  (void)::fchmod(fd_.get(), mode & 0777);
  struct timespec times[2] = {when, when};
  (void)::futimens(fd_.get(), times);
  if (int err = fd_.close())
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", shown_, strerror(err)));
  if (::renameat(dir_.get(), part_.c_str(), dir_.get(), leaf_.c_str()) != 0)
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': {}", shown_, strerror(errno)));
  committed_ = true;
  return {};
}

}  // namespace wb::workbench
