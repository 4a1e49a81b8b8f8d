// cp-files into an app: a tar stream written as it is read from disk, or dd for a single file
// when the replica has no tar.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "util/archive.hpp"
#include "util/fd.hpp"
#include "util/interrupt.hpp"
#include "workbench/app/files.hpp"
#include "workbench/app/files_internal.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
using util::Status;
namespace fs = std::filesystem;
namespace k = wb::kube;
using namespace files_detail;

namespace {

// Upload: bytes per stdin frame. On a real API server (1.32, measured on the kit) 256 KiB frames
// cost it a fifth less CPU than kubectl's 32 KiB ones and make the upload as fast as a raw
// `kubectl exec -i -- cat`; the test fake, which copies a whole frame before reading the next,
// is the slower for it.
constexpr size_t kStdinChunk = 256 << 10;
constexpr size_t kReadChunk = 256 << 10;  // upload: bytes per read of a local file

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
  const std::string final_path = remote_child(dir, name);
  const std::string part = remote_child(dir, "." + name.substr(0, 200) + ".wb-part");
  util::Fd file(::open(o.local.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return Error(ErrorCode::Failure, fmt::format("cannot read '{}': {}", o.local.string(), strerror(errno)));
  Captured c;
  k::ExecOptions eo;
  eo.container = t.container;
  eo.stdin = true;
  eo.bulk = true;
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

// What is sent: the local path's lstat and the name it goes by.
struct LocalSource {
  struct stat st {};
  std::string name;
};

// Checks the local path (exists; a directory only with recursive; no devices) and names it.
Result<LocalSource> local_source(const CopyOptions& o) {
  LocalSource src;
  if (::lstat(o.local.c_str(), &src.st) != 0)
    return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist", o.local.string()));
  if (S_ISDIR(src.st.st_mode) && !o.recursive)
    return Error(ErrorCode::Usage, fmt::format("'{}' is a directory; add -r to copy it", o.local.string()));
  if (!S_ISDIR(src.st.st_mode) && !S_ISREG(src.st.st_mode) && !S_ISLNK(src.st.st_mode))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a file or directory", o.local.string()));
  src.name = fs::path(o.local).lexically_normal().filename().string();
  if (src.name.empty()) src.name = fs::absolute(o.local).lexically_normal().parent_path().filename().string();
  if (src.name.empty() || src.name == "." || src.name == "..")
    src.name = fs::absolute(o.local).lexically_normal().filename().string();
  if (src.name.empty()) return Error(ErrorCode::Usage, "cannot copy '/' into a container");
  return src;
}

// Where an upload lands in the replica: into `remote` when it is a directory there, else as it.
Result<std::pair<std::string, std::string>> remote_destination(k::Client& client, const std::string& ns,
                                                               const Target& t, const std::string& remote,
                                                               const LocalSource& src) {
  auto info = stat_remote(client, ns, t, remote);
  if (info && *info && (*info)->type == 'd') return std::make_pair(remote, src.name);
  if (!info && info.error().code != ErrorCode::NotFound) return std::move(info).error();
  if (info && *info && S_ISDIR(src.st.st_mode))
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' is a file in replica {}; a directory cannot replace it", remote, t.replica));
  return split_remote(remote);
}

// Writes the local path as a tar stream to the session's stdin, counting into `res`; then, when
// `marker` is not empty, an empty file of that name: whoever finds it has the whole archive.
Status send_tar(k::ExecSession& session, const CopyOptions& o, const LocalSource& src, const std::string& name,
                const std::string& marker, CopyResult& res) {
  Upload u;
  u.session = &session;
  u.result = &res;
  u.options = &o;
  if (S_ISREG(src.st.st_mode)) u.progress.total = local_size(o.local);

  util::ArchiveWriter writer = util::new_archive_writer();
  struct archive* a = writer.get();
  archive_write_set_format_pax_restricted(a);
  // The last block is padded to a whole 10 KiB record: GNU tar reading a pipe waits for full
  // records, and under v4.channel.k8s.io stdin cannot be closed to end a short one.
  if (archive_write_open(a, &u, nullptr, on_write, nullptr) != ARCHIVE_OK)
    return archive_failed(a, u, o.local.string());
  Status sent = add_path(a, u, o.local, name);
  if (sent && !marker.empty()) {
    util::ArchiveEntry entry = util::new_archive_entry();
    archive_entry_set_pathname(entry.get(), marker.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0600);
    archive_entry_set_size(entry.get(), 0);
    if (archive_write_header(a, entry.get()) != ARCHIVE_OK) sent = archive_failed(a, u, o.local.string());
  }
  if (sent && archive_write_close(a) != ARCHIVE_OK) sent = archive_failed(a, u, o.local.string());
  if (sent) sent = u.flush();
  return sent;
}

// A folder beside the destination for tar to extract into (nothing lands under its final name
// before the whole archive has arrived), also the name of the archive's last entry.
std::string staging_name() {
  std::random_device rd;
  return fmt::format(".wb-upload-{:08x}{:08x}", rd(), rd());
}

// m SRC DST: moves SRC to DST with one rename (`mv -f`), merging a directory into one already
// there entry by entry as tar would (its mtime copied over). A symlink at DST is replaced, not
// followed.
constexpr const char* kMoveIntoPlace = R"(m() {
  if [ -d "$1" ] && [ ! -L "$1" ] && [ -d "$2" ] && [ ! -L "$2" ]; then
    for c in "$1"/* "$1"/.[!.]* "$1"/..?*; do
      if [ -e "$c" ] || [ -L "$c" ]; then m "$c" "$2/${c##*/}" || return 1; fi
    done
    touch -r "$1" "$2" 2>/dev/null
    return 0
  fi
  if [ -L "$2" ]; then rm -f "$2" || return 1; fi
  if [ -d "$2" ]; then echo "cannot overwrite directory '$2' with a file" >&2; return 1; fi
  mv -f "$1" "$2"
}
)";

// sh -c SCRIPT sh STAGE DIR NAME: moves STAGE/NAME to DIR/NAME, then removes STAGE.
std::string put_in_place_script() {
  return std::string(kMoveIntoPlace) + R"(m "$1/$3" "$2/$3"; s=$?; rm -rf "$1"; exit $s)";
}

// sh -c SCRIPT sh DEST NAME MARKER [d]: the whole upload in one exec (each exec costs the node a
// runc start), the destination decided in it too: into DEST as NAME when DEST is a directory (not
// a symlink), else as DEST itself; "d" says the local path is a directory, which cannot replace
// a file. tar extracts stdin into a staging folder named MARKER beside where the copy lands (made
// first); the copy is moved into place only if the archive's last entry, MARKER, arrived, so a
// cut stream leaves nothing under the final name. The script prints "ready d" (into DEST) or
// "ready f" (as DEST) when tar is about to read: wb sends nothing before it, because a command
// that ends while stdin is still being sent can hang the exec (seen on containerd 1.6).
// Exit status before that line: 123 a directory onto a file, 127 no tar, 126 the staging folder
// not made; after it: 124 the move failed, 125 no MARKER, else tar's.
std::string unpack_in_place_script() {
  return std::string(kMoveIntoPlace) + R"(if [ -d "$1" ] && [ ! -L "$1" ]; then
  d=${1%/}/ n=$2 k=d
else
  if [ -n "$4" ] && { [ -e "$1" ] || [ -L "$1" ]; }; then exit 123; fi
  case $1 in */*) d=${1%/*}/ ;; *) d= ;; esac
  n=${1##*/} k=f
fi
command -v tar >/dev/null 2>&1 || exit 127
mkdir -m 700 -- "$d$3" || exit 126
echo "ready $k"
tar xf - -C "$d$3"; s=$?
if [ $s -eq 0 ] && [ ! -e "$d$3/$3" ]; then s=125; fi
if [ $s -ne 0 ]; then rm -rf "$d$3"; exit $s; fi
m "$d$3/$2" "$d$n"; s=$?; rm -rf "$d$3"; [ $s -eq 0 ] || exit 124)";
}

// Puts an upload extracted into `stage` in place as `dir`/`name`; the stage is removed either way.
Status put_in_place(k::Client& client, const std::string& ns, const Target& t, const std::string& stage,
                    const std::string& dir, const std::string& name) {
  const std::string final_path = remote_child(dir, name);
  auto discard = [&] { remove_remote(client, ns, t, stage); };
  auto moved =
      run_capture(client, ns, t.name, t.container, {"sh", "-c", put_in_place_script(), "sh", stage, dir, name});
  if (moved && no_such_command(moved->result)) {
    // No shell: a single rename, which is all a new name needs.
    moved = run_capture(client, ns, t.name, t.container, {"mv", "-f", "--", stage + "/" + name, final_path});
    discard();
  }
  if (!moved) {
    discard();
    return std::move(moved).error();
  }
  if (!moved->result.failure_message.empty() || moved->result.exit_code != 0) {
    discard();
    return exec_error("mv", t, *moved);
  }
  return {};
}

// The replica has no tar: a single file still goes with dd, which stops at the end of stdin, and
// only v5 (or SPDY) can signal that.
Result<CopyResult> upload_without_tar(k::Client& client, const std::string& ns, const Target& t, const CopyOptions& o,
                                      const LocalSource& src, const std::string& dir, const std::string& name,
                                      const std::string& protocol, bool closable, CopyResult res) {
  if (!S_ISREG(src.st.st_mode))
    return Error(ErrorCode::Failure,
                 fmt::format("replica {} has no `tar`, which copying a directory into it needs", t.replica),
                 "copy single files instead (wb uses `dd` for those), or add tar to the image");
  if (!closable)
    return Error(ErrorCode::Failure,
                 fmt::format("replica {} has no `tar`, and without it a file can only be sent by closing the "
                             "command's stdin, which the API server's exec protocol ({}) cannot do",
                             t.replica, protocol.empty() ? "an old one" : protocol),
                 "add tar to the image, or use a cluster whose API server speaks v5.channel.k8s.io (1.30+)");
  res.bytes = 0;
  res.files = 0;
  return dd_upload(client, ns, t, o, src.st, dir, name, res);
}

// How one tar exec went: the archive sent whole or not, and the command's status or why it did
// not arrive.
struct TarRun {
  Status sent;
  std::string first_line;  // the command's first line of output, once whole
  std::optional<Error> not_waited;
  Captured c;
  std::string protocol;
  bool closable = false;  // the session could close the command's stdin
};

// Runs `command` in the replica and writes the local path's archive (named `name`, then `marker`)
// to its stdin, after the command's first line of output when `await_ready` (it ended without one:
// nothing is sent); the session's own failure to start is the error. Output after the first line
// is dropped.
Result<TarRun> run_tar(k::Client& client, const std::string& ns, const Target& t, const CopyOptions& o,
                       const LocalSource& src, const std::string& name, std::vector<std::string> command,
                       const std::string& marker, bool await_ready, CopyResult& res) {
  TarRun run;
  k::ExecOptions eo;
  eo.container = t.container;
  eo.stdin = true;
  eo.bulk = true;
  eo.command = std::move(command);
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false, ended = false;
  std::string line;
  auto on_stdout = [&](std::string_view d) {
    if (ready) return true;
    const auto nl = d.find('\n');
    if (line.size() < 4096) line.append(d.substr(0, std::min(nl, size_t{4096})));
    if (nl != std::string_view::npos) {
      std::lock_guard<std::mutex> lock(mu);
      run.first_line = line;
      ready = true;
      cv.notify_all();
    }
    return true;
  };
  auto on_stderr = [&run](std::string_view d) {
    if (run.c.err.size() < kKeepStderr) run.c.err.append(d);
    return true;
  };
  auto session = client.exec(ns, t.name, eo, on_stdout, on_stderr);
  if (!session) return std::move(session).error();
  k::ExecSession& exec = **session;
  Result<k::ExecResult> waited = Error(ErrorCode::Failure, "not waited");
  std::thread pump([&] {
    waited = exec.wait();
    std::lock_guard<std::mutex> lock(mu);
    ended = true;
    cv.notify_all();
  });
  bool go = true;
  if (await_ready) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready || ended; });
    go = ready;
  }
  run.sent =
      go ? send_tar(exec, o, src, name, marker, res)
         : Status(Error(ErrorCode::Failure, fmt::format("replica {} ended the upload before it began", t.replica)));
  // v5 closes stdin; on v4 tar stops at the archive's end marker.
  if (run.sent) (void)exec.close_stdin();
  pump.join();
  if (waited)
    run.c.result = *waited;
  else
    run.not_waited = std::move(waited).error();
  run.protocol = exec.protocol();
  run.closable = exec.can_close_stdin();
  return run;
}

bool missing_command(const TarRun& run) { return !run.not_waited && no_such_command(run.c.result); }

// What went wrong, if anything: the command's failure (the step named by unpack_in_place_script()'s exit
// status), else the sending, else the wait.
std::optional<Error> tar_failure(const TarRun& run, const Target& t) {
  if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
  const k::ExecResult& r = run.c.result;
  if (!run.not_waited && (!r.failure_message.empty() || r.exit_code != 0))
    return exec_error(r.exit_code == 126 ? "mkdir" : r.exit_code == 124 ? "mv" : "tar", t, run.c);
  if (!run.sent) return run.sent.error();
  return run.not_waited;
}

// The replica has no sh: mkdir, tar and the move as three execs.
Result<CopyResult> upload_in_steps(k::Client& client, const std::string& ns, const Target& t, const CopyOptions& o,
                                   const LocalSource& src, const std::string& dir, const std::string& name,
                                   const std::string& stage, CopyResult res) {
  // Made here, not by tar from the entries' names: after a cut, removing it stops a tar that is
  // still writing, which cannot make files in a removed folder.
  WB_ASSIGN_OR_RETURN(auto made, run_capture(client, ns, t.name, t.container, {"mkdir", "-m", "700", "--", stage}));
  // (No mkdir: tar is asked anyway, so that an image with neither gets the no-tar answer.)
  if (!no_such_command(made.result) && (!made.result.failure_message.empty() || made.result.exit_code != 0))
    return exec_error("mkdir", t, made);
  const CopyResult fresh = res;
  auto run = run_tar(client, ns, t, o, src, name, {"tar", "xf", "-", "-C", stage}, "", false, res);
  if (run && !util::interrupted() && missing_command(*run)) {
    remove_remote(client, ns, t, stage);
    return upload_without_tar(client, ns, t, o, src, dir, name, run->protocol, run->closable, fresh);
  }
  std::optional<Error> failed = run ? tar_failure(*run, t) : std::optional<Error>(std::move(run).error());
  if (failed) {
    remove_remote(client, ns, t, stage);
    return *failed;
  }
  WB_TRY(put_in_place(client, ns, t, stage, dir, name));
  return res;
}

}  // namespace

Result<CopyResult> copy_to_app(k::Client& client, const std::string& ns, const CopyOptions& o) {
  WB_ASSIGN_OR_RETURN(LocalSource src, local_source(o));
  WB_ASSIGN_OR_RETURN(Target t, pick_pod(client, ns, o.app, o.replica, o.container));
  const std::string remote = strip_trailing_slashes(o.remote);

  CopyResult res;
  res.replica = t.replica;
  res.method = "tar";
  const CopyResult fresh = res;
  // One exec: the script looks at the destination, makes a staging folder beside where the copy
  // lands, says which it chose, and tar extracts into the folder; NAME is moved out of it once the
  // whole archive has arrived.
  const std::string marker = staging_name();
  std::vector<std::string> command = {"sh", "-c", unpack_in_place_script(), "sh", remote, src.name, marker};
  if (S_ISDIR(src.st.st_mode)) command.push_back("d");
  WB_ASSIGN_OR_RETURN(auto run, run_tar(client, ns, t, o, src, src.name, std::move(command), marker, true, res));
  const bool chosen = run.first_line == "ready d" || run.first_line == "ready f";
  const bool ended_early = !util::interrupted() && !run.not_waited && run.c.result.failure_message.empty() && !chosen;
  // No sh, or no tar: the destination is looked at with a separate exec, then the fallbacks.
  if (!util::interrupted() && (missing_command(run) || (ended_early && run.c.result.exit_code == 127))) {
    WB_ASSIGN_OR_RETURN(auto where, remote_destination(client, ns, t, remote, src));
    const auto& [dir, name] = where;
    CopyResult again = fresh;
    again.written = remote_child(dir, name);
    if (missing_command(run))
      return upload_in_steps(client, ns, t, o, src, dir, name, remote_child(dir, marker), again);
    return upload_without_tar(client, ns, t, o, src, dir, name, run.protocol, run.closable, again);
  }
  if (ended_early && run.c.result.exit_code == 123)
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' is a file in replica {}; a directory cannot replace it", remote, t.replica));
  // Where the script put the copy (and its staging folder): into DEST, or as DEST.
  const auto into = std::make_pair(remote, src.name);
  const auto as = split_remote(remote);
  if (auto failed = tar_failure(run, t)) {
    // The script removes the staging folder itself; not when the connection broke before it ended
    // (where it is, beside DEST or in it, is known only from the ready line).
    if (run.not_waited || !run.sent || util::interrupted()) {
      if (run.first_line != "ready f") remove_remote(client, ns, t, remote_child(into.first, marker));
      if (run.first_line != "ready d") remove_remote(client, ns, t, remote_child(as.first, marker));
    }
    return *failed;
  }
  const auto& [dir, name] = run.first_line == "ready d" ? into : as;
  res.written = remote_child(dir, name);
  return res;
}

}  // namespace wb::workbench
