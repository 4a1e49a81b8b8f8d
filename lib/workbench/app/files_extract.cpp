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
using util::ErrorCode;
using util::Fd;
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
  // Resolve lexically from the symlink's directory. '..' may only lead the link: after a name it
  // climbs out of whatever that name is, and the name may be (or later become) another symlink of
  // this copy ("b -> ." then "a -> b/.." is the folder above the copy).
  auto parts = components(entry);
  if (!parts.empty()) parts.pop_back();
  bool named = false;
  for (auto& c : util::split(link, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (parts.empty())
        return refused(entry_name, t, fmt::format("a symlink to '{}' would lead outside {}", shown(link), where));
      if (named)
        return refused(entry_name, t,
                       fmt::format("a symlink to '{}' could lead outside {} ('..' after a name)", shown(link), where));
      parts.pop_back();
    } else {
      parts.push_back(c);
      named = true;
    }
  }
  return {};
}

// ---------------------------------------------------------------- extraction

namespace {

// An entry about to be written: where it goes, with its parent directory open (created as
// needed, never through a symlink) and what is already there under its name.
struct Placed {
  std::string name;  // as the archive names it
  std::string rel;   // under the root
  std::string leaf;
  Fd parent;
  bool exists = false;
  struct stat existing {};
  unsigned perm = 0;
  struct timespec mtime {};
};

// Only files, directories and links come out of a container.
Status check_entry_type(const std::string& name, mode_t type, const char* hardlink, const ExtractTarget& t) {
  if (hardlink || type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK) return {};
  const char* what = type == AE_IFCHR || type == AE_IFBLK ? "it is a device node"
                     : type == AE_IFIFO                   ? "it is a FIFO"
                     : type == AE_IFSOCK                  ? "it is a socket"
                                                          : "it is of an unknown type";
  return refused(name, t, std::string(what) + " (only files, directories and links are copied)");
}

// Makes way for a link: what is there under its name goes, unless it is a directory.
Status clear_for_link(const Placed& p, const ExtractTarget& t) {
  if (!p.exists) return {};
  if (S_ISDIR(p.existing.st_mode)) return refused(p.name, t, "a directory of that name is in the way");
  ::unlinkat(p.parent.get(), p.leaf.c_str(), 0);
  return {};
}

// One tar stream being written under the target.
class TarExtraction {
 public:
  TarExtraction(const std::function<Result<std::string_view>()>& read, const ExtractTarget& t, ExtractStats& stats,
                const std::function<void(const CopyProgress&)>& on_progress)
      : src_{&read, std::nullopt}, t_(t), stats_(stats), on_progress_(on_progress) {}
  TarExtraction(const TarExtraction&) = delete;
  TarExtraction& operator=(const TarExtraction&) = delete;

  // Starts reading the stream and opens the root.
  Status open() {
    struct archive* a = reader_.get();
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open(a, &src_, nullptr, on_read, nullptr) != ARCHIVE_OK) {
      if (src_.error) return *src_.error;
      return Error(ErrorCode::Failure,
                   fmt::format("cannot read the archive from {}: {}", t_.source_words,
                               archive_error_string(a) ? archive_error_string(a) : "unknown error"));
    }
    root_.reset(::open(t_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_.ok())
      return Error(ErrorCode::Failure, fmt::format("cannot open '{}': {}", t_.root.string(), strerror(errno)));
    return {};
  }

  // Writes every entry, stopping at the first refusal; directories get their modes and times last.
  Status run() {
    while (true) {
      struct archive_entry* e = nullptr;
      WB_ASSIGN_OR_RETURN(bool more, next_header(e));
      if (!more) break;
      WB_TRY(extract_entry(e));
    }
    finish_dirs();
    return {};
  }

 private:
  struct Source {
    const std::function<Result<std::string_view>()>* read;
    std::optional<Error> error;  // what the reader failed with, rather than libarchive's words for it
  };

  static la_ssize_t on_read(struct archive* ar, void* data, const void** buf) {
    auto* s = static_cast<Source*>(data);
    auto chunk = (*s->read)();
    if (!chunk) {
      s->error = chunk.error();
      archive_set_error(ar, EIO, "%s", chunk.error().message.c_str());
      return -1;
    }
    *buf = chunk->data();
    return static_cast<la_ssize_t>(chunk->size());
  }

  // The next entry's header; false at the end of the archive.
  Result<bool> next_header(struct archive_entry*& e) {
    int r = archive_read_next_header(reader_.get(), &e);
    if (r == ARCHIVE_EOF) return false;
    if (r == ARCHIVE_WARN) r = ARCHIVE_OK;
    if (r == ARCHIVE_OK) return true;
    if (src_.error) return *src_.error;
    const char* msg = archive_error_string(reader_.get());
    return Error(ErrorCode::Failure,
                 fmt::format("the archive from {} is broken: {}", t_.source_words, msg ? msg : "unreadable header"),
                 "files copied before it stay");
  }

  Status extract_entry(struct archive_entry* e) {
    const char* raw_name = archive_entry_pathname(e);
    const std::string name = raw_name ? raw_name : "";
    WB_ASSIGN_OR_RETURN(std::string rel, checked_entry_path(name, t_));
    const mode_t type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    WB_TRY(check_entry_type(name, type, hardlink, t_));
    WB_ASSIGN_OR_RETURN(Placed p, place(name, rel));
    p.perm = archive_entry_perm(e) & 0777;
    p.mtime.tv_sec = archive_entry_mtime(e);
    p.mtime.tv_nsec = archive_entry_mtime_nsec(e);
    progress_.current = rel;
    if (hardlink) return write_hardlink(p, hardlink);
    if (type == AE_IFDIR) return write_dir(p);
    if (type == AE_IFLNK) {
      const char* link = archive_entry_symlink(e);
      return write_symlink(p, link ? link : "");
    }
    return write_file(p, archive_entry_size_is_set(e) ? archive_entry_size(e) : -1);
  }

  // Opens the entry's parent directory, creating it as needed, never through a symlink.
  Result<Placed> place(const std::string& name, const std::string& rel) {
    Placed p;
    p.name = name;
    p.rel = rel;
    auto parts = components(rel);
    p.leaf = parts.back();
    std::string blocked;
    auto parent = open_dir(root_.get(), parts, parts.size() - 1, true, blocked);
    if (!parent) {
      if (parent.error().detail<ThroughSymlink>())
        return refused(name, t_, fmt::format("it would be written through the symlink '{}'", blocked));
      return refused(name, t_, parent.error().message);
    }
    p.parent = std::move(*parent);
    p.exists = ::fstatat(p.parent.get(), p.leaf.c_str(), &p.existing, AT_SYMLINK_NOFOLLOW) == 0;
    return p;
  }

  // A hard link only to a regular file this copy already wrote under the root.
  Status write_hardlink(const Placed& p, const char* hardlink) {
    auto target_rel = checked_entry_path(hardlink, t_);
    if (!target_rel)
      return refused(p.name, t_,
                     fmt::format("a hard link to '{}' would lead outside {}", shown(hardlink), t_.root.string()));
    auto tparts = components(*target_rel);
    std::string tblocked;
    auto tdir = open_dir(root_.get(), tparts, tparts.size() - 1, false, tblocked);
    if (!tdir)
      return refused(p.name, t_, fmt::format("a hard link to '{}', which is not a file of this copy", shown(hardlink)));
    struct stat ts {};
    if (::fstatat(tdir->get(), tparts.back().c_str(), &ts, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(ts.st_mode))
      return refused(p.name, t_, fmt::format("a hard link to '{}', which is not a file of this copy", shown(hardlink)));
    WB_TRY(clear_for_link(p, t_));
    if (::linkat(tdir->get(), tparts.back().c_str(), p.parent.get(), p.leaf.c_str(), 0) != 0)
      return Error(ErrorCode::Failure, fmt::format("cannot link '{}': {}", p.rel, strerror(errno)));
    ++stats_.links;
    return {};
  }

  Status write_dir(const Placed& p) {
    if (p.exists && !S_ISDIR(p.existing.st_mode)) {
      if (S_ISLNK(p.existing.st_mode))
        return refused(p.name, t_, fmt::format("it would be written through the symlink '{}'", p.rel));
      return refused(p.name, t_, "a file of that name is in the way");
    }
    if (!p.exists && ::mkdirat(p.parent.get(), p.leaf.c_str(), 0700) != 0)
      return Error(ErrorCode::Failure, fmt::format("cannot create directory '{}': {}", p.rel, strerror(errno)));
    dirs_.push_back({p.rel, p.perm, p.mtime});  // applied at the end: the owner keeps access while copying
    ++stats_.dirs;
    return {};
  }

  // A symlink only to somewhere under the root.
  Status write_symlink(const Placed& p, const char* link) {
    WB_TRY(check_symlink_target(p.name, p.rel, link, t_));
    WB_TRY(clear_for_link(p, t_));
    if (::symlinkat(link, p.parent.get(), p.leaf.c_str()) != 0)
      return Error(ErrorCode::Failure, fmt::format("cannot create symlink '{}': {}", p.rel, strerror(errno)));
    struct timespec times[2] = {p.mtime, p.mtime};
    (void)::utimensat(p.parent.get(), p.leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
    ++stats_.links;
    return {};
  }

  // A regular file: written as ".NAME.wb-part", renamed into place once complete.
  Status write_file(const Placed& p, la_int64_t declared) {
    if (p.exists && S_ISLNK(p.existing.st_mode))
      return refused(p.name, t_, fmt::format("it would be written through the symlink '{}'", p.rel));
    if (p.exists && S_ISDIR(p.existing.st_mode)) return refused(p.name, t_, "a directory of that name is in the way");
    WB_ASSIGN_OR_RETURN(std::unique_ptr<PartFile> out, PartFile::create(p.parent.get(), p.leaf, p.rel));
    out->declared = declared;
    out->perm = p.perm;
    out->mtime = p.mtime;
    out->rel = p.rel;
    uint64_t written = 0;
    while (true) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int rr = archive_read_data_block(reader_.get(), &block, &size, &offset);
      if (rr == ARCHIVE_EOF) break;
      if (rr != ARCHIVE_OK && rr != ARCHIVE_WARN) return broke_off(p.name, std::move(out), written);
      // Sparse files: seek to the offset (holes stay holes).
      if (static_cast<uint64_t>(offset) != written) {
        WB_TRY(out->seek(static_cast<uint64_t>(offset)));
        written = static_cast<uint64_t>(offset);
      }
      WB_TRY(out->write(std::string_view(static_cast<const char*>(block), size)));
      written += size;
      stats_.bytes += size;
      progress_.bytes += size;
      if (on_progress_) on_progress_(progress_);
    }
    std::optional<uint64_t> final_size;
    if (declared >= 0 && static_cast<uint64_t>(declared) > written) final_size = static_cast<uint64_t>(declared);
    WB_TRY(out->commit(p.perm, p.mtime, final_size));
    ++stats_.files;
    return {};
  }

  // The stream broke off inside a file: the part file is kept to resume (with keep_partial, when
  // it holds all that arrived), else removed.
  Error broke_off(const std::string& name, std::unique_ptr<PartFile> out, uint64_t written) {
    const int64_t declared = out->declared;
    const bool resumable = t_.keep_partial && static_cast<uint64_t>(out->size()) == written;
    if (resumable)
      stats_.partial = std::move(out);
    else
      out.reset();  // removes the part file
    if (src_.error) return *src_.error;
    const char* msg = archive_error_string(reader_.get());
    return Error(ErrorCode::Failure,
                 fmt::format("the archive from {} broke off in '{}'{}: {}", t_.source_words, shown(name),
                             declared >= 0 ? fmt::format(" (declared {} bytes, got {})", declared, written) : "",
                             msg ? msg : "read error"),
                 "that file was removed; files copied before it stay");
  }

  // Deepest first, so setting a parent's time is not undone by its children.
  void finish_dirs() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      std::string blocked;
      auto parts = components(it->rel);
      auto fd = open_dir(root_.get(), parts, parts.size(), false, blocked);
      if (!fd) continue;
      (void)::fchmod(fd->get(), it->mode & 0777);
      struct timespec times[2] = {it->mtime, it->mtime};
      (void)::futimens(fd->get(), times);
    }
  }

  Source src_;
  const ExtractTarget& t_;
  ExtractStats& stats_;
  const std::function<void(const CopyProgress&)>& on_progress_;
  util::ArchiveReader reader_ = util::new_archive_reader();
  Fd root_;
  std::vector<PendingDir> dirs_;
  CopyProgress progress_;
};

}  // namespace

Status extract_tar(const std::function<Result<std::string_view>()>& read, const ExtractTarget& t, ExtractStats& stats,
                   const std::function<void(const CopyProgress&)>& on_progress) {
  TarExtraction extraction(read, t, stats, on_progress);
  WB_TRY(extraction.open());
  return extraction.run();
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
  p->fd_.reset(::openat(p->dir_.get(), p->part_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!p->fd_)
    return Error(ErrorCode::Failure,
                 fmt::format("cannot write '{}': {}", p->shown_, errno == ELOOP ? "it is a symlink" : strerror(errno)));
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
