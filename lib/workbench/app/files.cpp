#include "workbench/app/files.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

#include "util/archive.hpp"
#include "util/byte_pipe.hpp"
#include "util/fd.hpp"
#include "util/interrupt.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/app/logs.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
using util::Status;
namespace fs = std::filesystem;
namespace k = wb::kube;

namespace {

constexpr size_t kQueueBytes = 4 << 20;   // download: at most this much waits between socket and disk
constexpr size_t kStdinChunk = 32 << 10;  // upload: bytes per stdin frame (what kubectl sends; larger
                                          // frames stall the server's frame-to-pipe copy: 2x slower)
constexpr size_t kReadChunk = 256 << 10;  // upload: bytes per read of a local file
constexpr size_t kKeepStderr = 8 << 10;

struct Captured {
  k::ExecResult result;
  std::string out, err;
};

bool no_such_command(const k::ExecResult& r) { return r.no_such_command; }

std::string first_line(const std::string& text) {
  std::string t = util::trim(text);
  auto nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl);
}

Result<Captured> run_capture(k::Client& client, const std::string& ns, const std::string& pod,
                             const std::string& container, std::vector<std::string> command) {
  Captured c;
  k::ExecOptions eo;
  eo.container = container;
  eo.command = std::move(command);
  auto session = client.exec(
      ns, pod, eo,
      [&](std::string_view d) {
        if (c.out.size() < (64 << 20)) c.out.append(d);
        return true;
      },
      [&](std::string_view d) {
        if (c.err.size() < kKeepStderr) c.err.append(d);
        return true;
      });
  if (!session) return std::move(session).error();
  WB_ASSIGN_OR_RETURN(c.result, (*session)->wait());
  return c;
}

struct Target {
  json pod;
  std::string name, replica, container;
};

Result<Target> pick_pod(k::Client& client, const std::string& ns, const std::string& app, const std::string& replica,
                        const std::string& container) {
  WB_ASSIGN_OR_RETURN(auto pods, app_pods(client, ns, app));
  const json* best = nullptr;
  int best_score = -1;
  for (const auto& p : pods) {
    if (!replica_matches(p, app, replica)) continue;
    int score = 0;
    if (fields::str(p, "/status/phase") == "Running") score += 2;
    for (const auto& c : p.value("/status/conditions"_json_pointer, json::array()))
      if (c.value("type", "") == "Ready" && c.value("status", "") == "True") score += 1;
    if (score > best_score) {
      best = &p;
      best_score = score;
    }
  }
  if (!best) {
    if (!replica.empty())
      return Error(ErrorCode::NotFound, fmt::format("app '{}' has no replica '{}'", app, replica),
                   fmt::format("`wb app status {}` lists its replicas", app));
    return Error(ErrorCode::NotFound, fmt::format("app '{}' runs no replica, so there are no files to reach", app),
                 fmt::format("`wb app start {}` starts it", app));
  }
  Target t;
  t.pod = *best;
  t.name = fields::str(*best, "/metadata/name");
  t.replica = replica_name(t.name, app);
  t.container = pick_container(*best, app, container);
  return t;
}

// What `ls -ldn` says about a path; nullopt when ls is not there to ask.
Result<std::optional<RemoteEntry>> stat_remote(k::Client& client, const std::string& ns, const Target& t,
                                               const std::string& path) {
  WB_ASSIGN_OR_RETURN(auto c, run_capture(client, ns, t.name, t.container, {"ls", "-ldn", "--full-time", "--", path}));
  if (!c.result.failure_message.empty()) {
    if (no_such_command(c.result)) return std::optional<RemoteEntry>();
    return Error(ErrorCode::Failure,
                 fmt::format("cannot look at '{}' in replica {}: {}", path, t.replica, c.result.failure_message));
  }
  if (c.result.exit_code != 0) {
    if (c.err.find("No such file") != std::string::npos)
      return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist in replica {}", path, t.replica),
                   "`wb files ls APP:/DIR` shows what is there");
    if (c.err.find("unrecognized option") != std::string::npos || c.err.find("invalid option") != std::string::npos)
      return std::optional<RemoteEntry>();  // not GNU ls: go on without knowing
    return Error(ErrorCode::Failure,
                 fmt::format("cannot look at '{}' in replica {}: {}", path, t.replica, first_line(c.err)));
  }
  auto entries = parse_ls(c.out);
  if (entries.empty()) return std::optional<RemoteEntry>();
  return std::optional<RemoteEntry>(entries.front());
}

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::pair<std::string, std::string> split_remote(const std::string& path) {
  auto slash = path.rfind('/');
  if (path == "/") return {"/", "."};
  if (slash == std::string::npos) return {".", path};
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  return {dir, path.substr(slash + 1)};
}

Error exec_error(const std::string& what, const Target& t, const Captured& c) {
  if (!c.result.failure_message.empty())
    return Error(ErrorCode::Failure,
                 fmt::format("{} in replica {} failed: {}", what, t.replica, c.result.failure_message));
  std::string detail = first_line(c.err);
  return Error(ErrorCode::Failure, fmt::format("{} in replica {} failed (exit code {}){}", what, t.replica,
                                               c.result.exit_code, detail.empty() ? "" : ": " + detail));
}

// A broken connection: the exec stream ended without the command's exit status.
bool broke(const std::optional<Error>& e) { return e && e->code == ErrorCode::Unavailable; }

// Opens a PartFile for `name` in the local directory `root`.
Result<std::unique_ptr<PartFile>> open_part(const fs::path& root, const std::string& name) {
  util::Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error(ErrorCode::Failure, fmt::format("cannot open '{}': {}", root.string(), strerror(errno)));
  struct stat existing {};
  const bool exists = ::fstatat(dir.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && (S_ISLNK(existing.st_mode) || S_ISDIR(existing.st_mode))) {
    return Error(ErrorCode::Failure, fmt::format("cannot write '{}': it is a {}", (root / name).string(),
                                                 S_ISLNK(existing.st_mode) ? "symlink" : "directory"));
  }
  return PartFile::create(dir.get(), name, (root / name).string());
}

enum class Fetched { Done, Broke, NoTool };

// Streams `command`'s stdout into `part` (appending); Broke when the connection dropped.
Result<Fetched> fetch_into(k::Client& client, const std::string& ns, const Target& t, std::vector<std::string> command,
                           PartFile& part, CopyProgress& progress, const CopyOptions& o) {
  std::optional<Error> write_error;
  Captured c;
  k::ExecOptions eo;
  eo.container = t.container;
  const std::string what = command.front();
  eo.command = std::move(command);
  auto session = client.exec(
      ns, t.name, eo,
      [&](std::string_view d) {
        if (auto st = part.write(d); !st) {
          write_error = st.error();
          return false;
        }
        progress.bytes = part.size();
        if (o.on_progress) o.on_progress(progress);
        return !util::interrupted();
      },
      [&](std::string_view d) {
        if (c.err.size() < kKeepStderr) c.err.append(d);
        return true;
      });
  if (!session) return std::move(session).error();
  auto r = (*session)->wait();
  if (write_error) return *write_error;
  if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
  if (!r) {
    if (r.error().code == ErrorCode::Unavailable) return Fetched::Broke;
    return std::move(r).error();
  }
  c.result = *r;
  if (no_such_command(c.result)) return Fetched::NoTool;
  if (!c.result.failure_message.empty() || c.result.exit_code != 0) {
    if (c.err.find("No such file") != std::string::npos)
      return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist in replica {}", eo.command.back(), t.replica));
    return exec_error(what, t, c);
  }
  return Fetched::Done;
}

// Picks up a single file whose stream broke: while the file in the container is still the one
// we started on (same size and mtime), fetches the rest from the part file's size with
// `tail -c +N` (coreutils and busybox both have it). True when the file is complete and in
// place; false when it has to start over (the file changed, or there is no `tail`).
Result<bool> resume_file(k::Client& client, const std::string& ns, const Target& t, const std::string& remote,
                         PartFile& part, int& retries_left, CopyProgress& progress, CopyResult& res,
                         const CopyOptions& o) {
  while (true) {
    if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
    WB_ASSIGN_OR_RETURN(auto now, stat_remote(client, ns, t, remote));
    if (!now || now->type != '-' || part.declared < 0 || now->size != static_cast<uint64_t>(part.declared) ||
        now->mtime != part.mtime.tv_sec || now->mtime_nsec != part.mtime.tv_nsec || part.size() > now->size)
      return false;
    if (part.size() < now->size) {
      ++res.resumed;
      progress.resumes = res.resumed;
      progress.restarted = false;
      progress.bytes = part.size();
      if (o.on_progress) o.on_progress(progress);
      WB_ASSIGN_OR_RETURN(
          Fetched f, fetch_into(client, ns, t, {"tail", "-c", fmt::format("+{}", part.size() + 1), "--", remote}, part,
                                progress, o));
      if (f == Fetched::NoTool) return false;
      if (f == Fetched::Broke) {
        if (retries_left-- <= 0)
          return Error(ErrorCode::Unavailable,
                       fmt::format("the connection to replica {} kept breaking while copying '{}' ({} of {} bytes "
                                   "arrived)",
                                   t.replica, remote, part.size(), now->size),
                       "try again; a stable network path to the cluster helps");
        continue;
      }
    }
    if (part.size() != static_cast<uint64_t>(part.declared)) return false;  // changed meanwhile
    WB_TRY(part.commit(part.perm, part.mtime));
    return true;
  }
}

// Fetches one file with `cat` (for containers without tar), into a part file renamed into place
// when complete; a broken stream resumes like the tar path's.
Result<CopyResult> cat_file(k::Client& client, const std::string& ns, const Target& t, const std::string& remote,
                            const std::optional<RemoteEntry>& info, const fs::path& root, const std::string& name,
                            const CopyOptions& o, CopyResult res, bool* no_cat = nullptr) {
  CopyProgress progress;
  progress.current = name;
  if (info) progress.total = info->size;
  int retries_left = o.retries;
  while (true) {
    WB_ASSIGN_OR_RETURN(auto part, open_part(root, name));
    if (info) {
      part->declared = static_cast<int64_t>(info->size);
      part->perm = info->mode & 0777;
      part->mtime = {info->mtime, info->mtime_nsec};
    } else {
      part->mtime = {0, UTIME_OMIT};
    }
    progress.bytes = 0;
    WB_ASSIGN_OR_RETURN(Fetched f, fetch_into(client, ns, t, {"cat", "--", remote}, *part, progress, o));
    if (f == Fetched::NoTool) {
      if (no_cat) {
        *no_cat = true;
        return Error(ErrorCode::Failure, "no cat");
      }
      return Error(ErrorCode::Failure,
                   fmt::format("replica {} has neither `tar` nor `cat` to copy files with", t.replica),
                   "add tar to the image");
    }
    bool done = f == Fetched::Done;
    if (done) {
      WB_TRY(part->commit(part->perm, part->mtime));
    } else if (retries_left-- > 0) {
      if (info) {
        WB_ASSIGN_OR_RETURN(done, resume_file(client, ns, t, remote, *part, retries_left, progress, res, o));
      }
      if (!done) {
        ++res.restarted;
        progress.restarted = true;
        continue;
      }
    } else {
      return Error(ErrorCode::Unavailable,
                   fmt::format("the connection to replica {} kept breaking while copying '{}'", t.replica, remote),
                   "try again; a stable network path to the cluster helps");
    }
    res.bytes = part->size();
    res.files = 1;
    res.method = "cat";
    res.replica = t.replica;
    res.written = root / name;
    return res;
  }
}

}  // namespace

std::optional<RemotePath> parse_remote_path(const std::string& arg) {
  auto colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string app = arg.substr(0, colon);
  if (!util::is_dns1123_label(app)) return std::nullopt;
  std::string path = arg.substr(colon + 1);
  if (path.empty()) return std::nullopt;
  return RemotePath{app, path};
}

// ---------------------------------------------------------------- download

Result<CopyResult> copy_from_app(k::Client& client, const std::string& ns, const CopyOptions& o) {
  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, o.app, o.replica, o.container));
  const std::string remote = strip_trailing_slashes(o.remote);
  WB_ASSIGN_OR_RETURN(auto info, stat_remote(client, ns, t, remote));
  if (info && info->type == 'd' && !o.recursive)
    return Error(ErrorCode::Usage, fmt::format("'{}' is a directory; add -r to copy it", remote));
  if (info && info->type != 'd' && info->type != '-' && info->type != 'l')
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a file or directory", remote));
  auto [dir, base] = split_remote(remote);

  // Like cp: into an existing directory, else as the named path.
  fs::path root;
  std::string rename;
  std::error_code ec;
  if (fs::is_directory(o.local, ec)) {
    root = o.local;
    rename = base == "." ? "" : base;
  } else {
    root = o.local.parent_path();
    if (root.empty()) root = ".";
    rename = o.local.filename().string();
    if (!fs::is_directory(root, ec))
      return Error(ErrorCode::NotFound, fmt::format("local directory '{}' does not exist", root.string()));
  }
  if (rename.empty() && base != ".") rename = base;

  // A regular file whose size, mode and mtime ls told comes with cat: the raw stream, without
  // tar's 10 KiB records (a third faster), and resumable the same way. Without cat: tar.
  if (info && info->type == '-') {
    bool no_cat = false;
    auto r = cat_file(client, ns, t, remote, info, root, rename.empty() ? base : rename, o, CopyResult{}, &no_cat);
    if (!no_cat) return r;
  }
  ExtractTarget target{root, base, rename, fmt::format("replica {}", t.replica)};
  // A single file's part file is kept when the stream breaks, to be continued from there.
  target.keep_partial = info && info->type == '-';
  CopyResult res;
  res.replica = t.replica;
  res.method = "tar";
  res.written = rename.empty() ? root : root / rename;
  int retries_left = o.retries;
  int resumes = 0;
  bool restarted = false;
  std::function<void(const CopyProgress&)> progress;
  CopyProgress last;
  if (o.on_progress) {
    progress = [&](const CopyProgress& p) {
      last = p;
      if (info && info->type == '-') last.total = info->size;
      last.resumes = resumes;
      last.restarted = restarted;
      o.on_progress(last);
    };
  }
  while (true) {
    util::BytePipe queue(kQueueBytes);
    Captured c;
    std::optional<Error> exec_failure;
    k::ExecOptions eo;
    eo.container = t.container;
    eo.command = {"tar", "cf", "-", "-C", dir, base};
    auto session = client.exec(
        ns, t.name, eo, [&](std::string_view d) { return queue.write(d); },
        [&](std::string_view d) {
          if (c.err.size() < kKeepStderr) c.err.append(d);
          return true;
        });
    if (!session) return std::move(session).error();
    std::thread pump([&] {
      auto r = (*session)->wait();
      if (r)
        c.result = *r;
      else
        exec_failure = std::move(r).error();
      queue.close();
    });
    std::string chunk;
    auto read = [&]() -> Result<std::string_view> {
      if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
      WB_ASSIGN_OR_RETURN(bool more, queue.read_chunk(chunk));
      return more ? std::string_view(chunk) : std::string_view();
    };
    ExtractStats stats;
    Status st = extract_tar(read, target, stats, progress);
    if (!st) queue.close_reader();
    // Drain what is left (a tar stream may have padding after its end).
    while (queue.read_chunk(chunk).value_or(false)) {
    }
    pump.join();

    const bool refused = !st && st.error().detail<RefusedEntry>();
    if (refused) return st.error();
    if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
    if (no_such_command(c.result)) {
      // No tar in the container: a single file still comes with cat.
      if (info && info->type == 'd')
        return Error(ErrorCode::Failure,
                     fmt::format("replica {} has no `tar`, which copying a directory needs", t.replica),
                     "copy single files instead (wb uses `cat` for those), or add tar to the image");
      return cat_file(client, ns, t, remote, info, root, rename.empty() ? base : rename, o, res);
    }
    // The whole archive of a single file arrived and only the exit status was lost: done.
    const bool complete_single = st && target.keep_partial && stats.files == 1;
    if (broke(exec_failure) && !complete_single) {
      if (retries_left-- <= 0)
        return Error(ErrorCode::Unavailable,
                     fmt::format("the connection to replica {} kept breaking while copying '{}' ({})", t.replica,
                                 remote, exec_failure->message),
                     "try again; a stable network path to the cluster helps");
      if (stats.partial) {
        CopyProgress p = last;
        p.current = stats.partial->rel;
        if (info) p.total = info->size;
        WB_ASSIGN_OR_RETURN(bool done, resume_file(client, ns, t, remote, *stats.partial, retries_left, p, res, o));
        resumes = res.resumed;
        if (done) {
          res.files = 1;
          res.bytes = stats.partial->size();
          return res;
        }
      }
      // Start over: a directory's archive (files already complete are written again, each
      // renamed into place whole), or a file that changed or cannot be continued.
      ++res.restarted;
      restarted = true;
      if (target.keep_partial) {
        auto fresh = stat_remote(client, ns, t, remote);
        if (fresh && *fresh) info = *fresh;
      }
      continue;
    }
    if (exec_failure && !complete_single) return *exec_failure;
    if (!c.result.failure_message.empty() || c.result.exit_code != 0) {
      if (c.err.find("No such file") != std::string::npos)
        return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist in replica {}", remote, t.replica));
      return exec_error("tar", t, c);
    }
    if (!st) return st.error();
    if (stats.files + stats.dirs + stats.links == 0)
      return Error(ErrorCode::Failure, fmt::format("replica {} sent nothing for '{}'", t.replica, remote));
    res.files = stats.files;
    res.dirs = stats.dirs;
    res.links = stats.links;
    res.bytes = stats.bytes;
    return res;
  }
}

// ---------------------------------------------------------------- upload

namespace {

struct Upload {
  k::ExecSession* session = nullptr;
  std::string buffer;
  std::optional<Error> error;
  CopyResult* result = nullptr;
  CopyProgress progress;
  const CopyOptions* options = nullptr;

  Status flush() {
    if (buffer.empty()) return {};
    auto st = session->write_stdin(buffer);
    buffer.clear();
    return st;
  }
};

la_ssize_t on_write(struct archive* a, void* data, const void* buf, size_t size) {
  auto* u = static_cast<Upload*>(data);
  if (util::interrupted()) {
    u->error = Error(ErrorCode::Interrupted, "interrupted");
    archive_set_error(a, EINTR, "interrupted");
    return -1;
  }
  u->buffer.append(static_cast<const char*>(buf), size);
  if (u->buffer.size() >= kStdinChunk) {
    auto st = u->flush();
    if (!st) {
      u->error = st.error();
      archive_set_error(a, EIO, "%s", st.error().message.c_str());
      return -1;
    }
  }
  return static_cast<la_ssize_t>(size);
}

Status archive_failed(struct archive* a, Upload& u, const std::string& what) {
  if (u.error) return *u.error;
  const char* msg = archive_error_string(a);
  return Error(ErrorCode::Failure, fmt::format("cannot send '{}': {}", what, msg ? msg : "archive error"));
}

Status add_path(struct archive* a, Upload& u, const fs::path& path, const std::string& name) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", path.string(), strerror(errno)));
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    ++u.result->skipped;
    return {};
  }
  util::ArchiveEntry entry = util::new_archive_entry();
  struct archive_entry* e = entry.get();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_perm(e, st.st_mode & 07777);
  archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  if (S_ISLNK(st.st_mode)) {
    std::string link(static_cast<size_t>(st.st_size) + 256, '\0');
    ssize_t n = ::readlink(path.c_str(), link.data(), link.size());
    if (n < 0) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", path.string(), strerror(errno)));
    link.resize(static_cast<size_t>(n));
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, link.c_str());
    if (archive_write_header(a, e) != ARCHIVE_OK) return archive_failed(a, u, path.string());
    ++u.result->links;
    return {};
  }
  if (S_ISDIR(st.st_mode)) {
    archive_entry_set_filetype(e, AE_IFDIR);
    if (archive_write_header(a, e) != ARCHIVE_OK) return archive_failed(a, u, path.string());
    ++u.result->dirs;
    std::vector<fs::path> children;
    std::error_code ec;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) children.push_back(it->path());
    if (ec) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", path.string(), ec.message()));
    std::sort(children.begin(), children.end());
    for (const auto& child : children) WB_TRY(add_path(a, u, child, name + "/" + child.filename().string()));
    return {};
  }
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, st.st_size);
  util::Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", path.string(), strerror(errno)));
  if (archive_write_header(a, e) != ARCHIVE_OK) return archive_failed(a, u, path.string());
  std::vector<char> buf(kReadChunk);
  u.progress.current = name;
  uint64_t sent = 0;
  while (sent < static_cast<uint64_t>(st.st_size)) {
    long n = util::read_some(file.get(), buf.data(), buf.size());
    if (n < 0) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", path.string(), strerror(errno)));
    if (n == 0) break;  // shrank while we read: libarchive pads the rest
    n = static_cast<long>(std::min<uint64_t>(static_cast<uint64_t>(n), static_cast<uint64_t>(st.st_size) - sent));
    if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0) return archive_failed(a, u, path.string());
    sent += static_cast<uint64_t>(n);
    u.result->bytes += static_cast<uint64_t>(n);
    u.progress.bytes += static_cast<uint64_t>(n);
    if (u.options->on_progress) u.options->on_progress(u.progress);
  }
  ++u.result->files;
  return {};
}

// Uploads one file into a container without tar: `dd of=DIR/.NAME.wb-part` reads stdin until it
// is closed (the v5 close signal), then `chmod`, `touch -d @MTIME` (best effort) and `mv` put it
// in place, so a broken upload never leaves a half file under the final name. dd runs under a
// shell that waits for it: dd (GNU and busybox) reopens its stdout as the file, and containerd
// closes an exec's stdin once the command's stdout or stderr ends, dropping what had not reached it.
Result<CopyResult> dd_upload(k::Client& client, const std::string& ns, const Target& t, const CopyOptions& o,
                             const struct stat& st, const std::string& dir, const std::string& name, CopyResult res) {
  const std::string base = dir == "/" ? "/" : dir + "/";
  const std::string final_path = base + name;
  const std::string part = base + "." + name.substr(0, 200) + ".wb-part";
  util::Fd file(::open(o.local.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", o.local.string(), strerror(errno)));
  Captured c;
  k::ExecOptions eo;
  eo.container = t.container;
  eo.stdin = true;
  eo.command = {"sh", "-c", "dd of=\"$1\" bs=65536; exit $?", "sh", part};
  auto collect = [&](std::string_view d) {
    if (c.err.size() < kKeepStderr) c.err.append(d);
    return true;
  };
  auto session = client.exec(ns, t.name, eo, collect, collect);
  if (!session) return std::move(session).error();
  CopyProgress progress;
  progress.current = name;
  progress.total = static_cast<uint64_t>(st.st_size);
  std::vector<char> buf(kStdinChunk);
  Status sent;
  uint64_t total = 0;
  while (sent && total < static_cast<uint64_t>(st.st_size)) {
    if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
    const long n = util::read_some(file.get(), buf.data(), buf.size());
    if (n < 0) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", o.local.string(), strerror(errno)));
    if (n == 0) break;
    sent = (*session)->write_stdin(std::string_view(buf.data(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
    progress.bytes = total;
    if (o.on_progress) o.on_progress(progress);
  }
  if (sent) sent = (*session)->close_stdin();
  auto r = (*session)->wait();
  auto cleanup = [&] { (void)run_capture(client, ns, t.name, t.container, {"rm", "-f", "--", part}); };
  if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
  if (r) c.result = *r;
  // No sh (the exec fails) or no dd (sh says "not found", exit status 127).
  if (r && (no_such_command(c.result) || c.result.exit_code == 127))
    return Error(ErrorCode::Failure,
                 fmt::format("replica {} has neither `tar` nor `sh` with `dd`, which copying into it needs", t.replica),
                 "add tar to the image");
  if (r && (!c.result.failure_message.empty() || c.result.exit_code != 0)) {
    cleanup();
    return exec_error("dd", t, c);
  }
  if (!sent || !r) {
    cleanup();
    return !sent ? sent.error() : std::move(r).error();
  }
  (void)run_capture(client, ns, t.name, t.container, {"chmod", fmt::format("{:o}", st.st_mode & 0777), "--", part});
  (void)run_capture(client, ns, t.name, t.container,
                    {"touch", "-d", fmt::format("@{}", static_cast<int64_t>(st.st_mtim.tv_sec)), "--", part});
  WB_ASSIGN_OR_RETURN(auto mv, run_capture(client, ns, t.name, t.container, {"mv", "-f", "--", part, final_path}));
  if (!mv.result.failure_message.empty() || mv.result.exit_code != 0) {
    cleanup();
    return exec_error("mv", t, mv);
  }
  res.method = "dd";
  res.files = 1;
  res.bytes = total;
  return res;
}

uint64_t local_size(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(fs::symlink_status(p, ec))) return fs::file_size(p, ec);
  return 0;
}

}  // namespace

Result<CopyResult> copy_to_app(k::Client& client, const std::string& ns, const CopyOptions& o) {
  struct stat st {};
  if (::lstat(o.local.c_str(), &st) != 0)
    return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist", o.local.string()));
  if (S_ISDIR(st.st_mode) && !o.recursive)
    return Error(ErrorCode::Usage, fmt::format("'{}' is a directory; add -r to copy it", o.local.string()));
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a file or directory", o.local.string()));
  std::string local_name = fs::path(o.local).lexically_normal().filename().string();
  if (local_name.empty()) local_name = fs::absolute(o.local).lexically_normal().parent_path().filename().string();
  if (local_name.empty() || local_name == "." || local_name == "..")
    local_name = fs::absolute(o.local).lexically_normal().filename().string();
  if (local_name.empty()) return Error(ErrorCode::Usage, "cannot copy '/' into a container");

  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, o.app, o.replica, o.container));
  const std::string remote = strip_trailing_slashes(o.remote);
  auto info = stat_remote(client, ns, t, remote);
  std::string dir, name;
  if (info && *info && (*info)->type == 'd') {
    dir = remote;
    name = local_name;
  } else if (!info && info.error().code != ErrorCode::NotFound) {
    return std::move(info).error();
  } else {
    if (info && *info && S_ISDIR(st.st_mode))
      return Error(ErrorCode::Usage,
                   fmt::format("'{}' is a file in replica {}; a directory cannot replace it", remote, t.replica));
    auto [d, b] = split_remote(remote);
    dir = d;
    name = b;
  }

  CopyResult res;
  res.replica = t.replica;
  res.method = "tar";
  res.written = (dir == "/" ? "/" : dir + "/") + name;
  Captured c;
  k::ExecOptions eo;
  eo.container = t.container;
  eo.stdin = true;
  eo.command = {"tar", "xf", "-", "-C", dir};
  auto collect = [&](std::string_view d) {
    if (c.err.size() < kKeepStderr) c.err.append(d);
    return true;
  };
  auto session = client.exec(ns, t.name, eo, collect, collect);
  if (!session) return std::move(session).error();
  Upload u;
  u.session = session->get();
  u.result = &res;
  u.options = &o;
  if (S_ISREG(st.st_mode)) u.progress.total = local_size(o.local);

  util::ArchiveWriter writer = util::new_archive_writer();
  struct archive* a = writer.get();
  archive_write_set_format_pax_restricted(a);
  // The last block is padded to a whole 10 KiB record: GNU tar reading a pipe waits for full
  // records, and under v4.channel.k8s.io stdin cannot be closed to end a short one.
  Status sent;
  if (archive_write_open(a, &u, nullptr, on_write, nullptr) != ARCHIVE_OK) {
    sent = archive_failed(a, u, o.local.string());
  } else {
    sent = add_path(a, u, o.local, name);
    if (sent && archive_write_close(a) != ARCHIVE_OK) sent = archive_failed(a, u, o.local.string());
    if (sent) sent = u.flush();
  }
  writer.reset();
  // v5 closes stdin; on v4 tar stops at the archive's end marker.
  if (sent) (void)(*session)->close_stdin();
  auto r = (*session)->wait();
  if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
  if (r) c.result = *r;
  if (r && no_such_command(c.result)) {
    if (!S_ISREG(st.st_mode))
      return Error(ErrorCode::Failure,
                   fmt::format("replica {} has no `tar`, which copying a directory into it needs", t.replica),
                   "copy single files instead (wb uses `dd` for those), or add tar to the image");
    // A single file goes with dd, which stops at the end of stdin: only v5 can signal that.
    if ((*session)->protocol() != "v5.channel.k8s.io")
      return Error(ErrorCode::Failure,
                   fmt::format("replica {} has no `tar`, and without it a file can only be sent by closing the "
                               "command's stdin, which the API server's exec protocol ({}) cannot do",
                               t.replica, (*session)->protocol().empty() ? "an old one" : (*session)->protocol()),
                   "add tar to the image, or use a cluster whose API server speaks v5.channel.k8s.io (1.30+)");
    res.bytes = 0;
    res.files = 0;
    return dd_upload(client, ns, t, o, st, dir, name, res);
  }
  if (r && (!c.result.failure_message.empty() || c.result.exit_code != 0)) return exec_error("tar", t, c);
  if (!sent) return sent.error();
  if (!r) return std::move(r).error();
  return res;
}

// ---------------------------------------------------------------- listing

namespace {

// "2026-11-26" "05:02:37.253048038" "+0100" (the fraction optional) as seconds since the epoch and
// nanoseconds.
std::optional<std::pair<int64_t, long>> parse_full_time(std::string_view date, std::string_view time,
                                                        std::string_view offset) {
  auto number = [](std::string_view t, size_t pos, size_t n) -> int {
    if (pos + n > t.size()) return -1;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' || time.size() < 8 || time[2] != ':' || time[5] != ':' ||
      offset.size() != 5 || (offset[0] != '+' && offset[0] != '-'))
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = number(date, 0, 4) - 1900;
  tm.tm_mon = number(date, 5, 2) - 1;
  tm.tm_mday = number(date, 8, 2);
  tm.tm_hour = number(time, 0, 2);
  tm.tm_min = number(time, 3, 2);
  tm.tm_sec = number(time, 6, 2);
  const int oh = number(offset, 1, 2), om = number(offset, 3, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60 || oh < 0 || om < 0)
    return std::nullopt;
  long nsec = 0;
  if (time.size() > 8) {
    if (time[8] != '.' || time.size() == 9 || time.size() > 18) return std::nullopt;
    const std::string_view digits = time.substr(9);
    const int n = number(digits, 0, digits.size());
    if (n < 0) return std::nullopt;
    nsec = n;
    for (size_t i = digits.size(); i < 9; ++i) nsec *= 10;
  }
  const int64_t shift = (oh * 3600 + om * 60) * (offset[0] == '-' ? -1 : 1);
  return std::make_pair(static_cast<int64_t>(::timegm(&tm)) - shift, nsec);
}

}  // namespace

std::vector<RemoteEntry> parse_ls(std::string_view text) {
  std::vector<RemoteEntry> out;
  for (const auto& raw : util::split(text, '\n')) {
    std::string_view line = raw;
    if (line.empty() || line.rfind("total ", 0) == 0) continue;
    // mode links uid gid size date time offset name; devices have "major, minor" in place of size.
    size_t pos = 0;
    auto next = [&]() -> std::string_view {
      while (pos < line.size() && line[pos] == ' ') ++pos;
      size_t start = pos;
      while (pos < line.size() && line[pos] != ' ') ++pos;
      return line.substr(start, pos - start);
    };
    std::string_view mode = next();
    if (mode.size() < 10) continue;
    next();  // links
    next();  // uid
    next();  // gid
    std::string_view size = next();
    if (!size.empty() && size.back() == ',') size = next();
    std::string_view date = next();
    std::string_view time = next();
    std::string_view offset = next();
    if (pos < line.size()) ++pos;  // the one space before the name
    std::string_view name = pos <= line.size() ? line.substr(pos) : std::string_view();
    if (name.empty()) continue;
    RemoteEntry e;
    e.type = mode[0] == '-' ? '-' : mode[0];
    unsigned bits = 0;
    static const char kLetters[] = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) {
      char ch = mode[1 + i];
      if (ch == kLetters[i] || ch == 's' || ch == 't') bits |= 1u << (8 - i);
    }
    if (mode[3] == 's' || mode[3] == 'S') bits |= 04000;
    if (mode[6] == 's' || mode[6] == 'S') bits |= 02000;
    if (mode[9] == 't' || mode[9] == 'T') bits |= 01000;
    e.mode = bits;
    auto bytes = util::parse_int<uint64_t>(size, "");
    if (!bytes) continue;
    e.size = *bytes;
    auto when = parse_full_time(date, time, offset);
    if (!when) continue;
    e.mtime = when->first;
    e.mtime_nsec = when->second;
    std::string n(name);
    if (e.type == 'l') {
      auto arrow = n.find(" -> ");
      if (arrow != std::string::npos) {
        e.target = n.substr(arrow + 4);
        n = n.substr(0, arrow);
      }
    }
    if (n == "." || n == "..") continue;
    e.name = n;
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<RemoteEntry>> list_app_files(k::Client& client, const std::string& ns, const std::string& app,
                                                const std::string& path, const std::string& replica,
                                                const std::string& container, std::string* replica_used) {
  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, app, replica, container));
  if (replica_used) *replica_used = t.replica;
  WB_ASSIGN_OR_RETURN(auto c, run_capture(client, ns, t.name, t.container, {"ls", "-lan", "--full-time", "--", path}));
  if (no_such_command(c.result))
    return Error(ErrorCode::Failure, fmt::format("replica {} has no `ls` to list files with", t.replica));
  if (!c.result.failure_message.empty() || c.result.exit_code != 0) {
    if (c.err.find("No such file") != std::string::npos)
      return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist in replica {}", path, t.replica));
    return exec_error("ls", t, c);
  }
  return parse_ls(c.out);
}

}  // namespace wb::workbench
