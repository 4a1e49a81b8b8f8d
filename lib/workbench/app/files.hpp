// Files in an app's containers: copying out of and into a replica over exec (tar in the
// container, libarchive on our side, streamed with flat memory), and listing a directory.
//
// Safe by construction (the kubectl cp CVEs are the list of mistakes not to repeat): what comes
// out of a container is written only under the local target, never through a symlink, never as
// a device or FIFO; the first entry that would break that is refused by name and nothing after
// it is written. Nothing here prints.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace wb::workbench {

// "orders:/app/logs" -> {"orders", "/app/logs"}; nullopt for a local path ("./x", "/tmp/x",
// "C:x" is local too when no such app syntax fits: an app name is a DNS-1123 label).
struct RemotePath {
  std::string app;
  std::string path;  // absolute, as given
};
std::optional<RemotePath> parse_remote_path(const std::string& arg);

struct CopyProgress {
  uint64_t bytes = 0;             // file data moved so far
  std::optional<uint64_t> total;  // when known (a single file)
  std::string current;            // the entry being copied
  int resumes = 0;                // broken streams picked up again so far
  bool restarted = false;         // the last break made the copy start over (not resumable)
};

struct CopyOptions {
  std::string app;
  std::string remote;  // path in the container
  std::filesystem::path local;
  bool recursive = false;                                // directories need it
  int retries = 3;                                       // broken exec streams picked up again (download)
  std::string replica;                                   // default: the first ready replica
  std::string container;                                 // default: the app's container
  std::function<void(const CopyProgress&)> on_progress;  // called often; throttle on your side
};

struct CopyResult {
  std::string replica;            // "orders-x2x9z"
  std::string method;             // "tar" or "cat"
  std::filesystem::path written;  // local path written (download) / remote path (upload)
  uint64_t files = 0, dirs = 0, links = 0, bytes = 0;
  uint64_t skipped = 0;  // local special files not uploaded (devices, FIFOs, sockets)
  int resumed = 0;       // download: broken streams continued from where they broke
  int restarted = 0;     // download: broken streams that had to start over
};

// Copies a file (or with recursive a directory) out of a replica to `local` (like cp: into it
// when it is a directory, else as that name).
util::Result<CopyResult> copy_from_app(kube::Client& client, const std::string& ns, const CopyOptions& options);
// Copies a local file or directory into a replica (into `remote` when it is a directory there).
util::Result<CopyResult> copy_to_app(kube::Client& client, const std::string& ns, const CopyOptions& options);

// One entry of a container directory.
struct RemoteEntry {
  std::string name;
  char type = '-';  // '-' file, 'd' directory, 'l' symlink, 'c' 'b' 'p' 's' others
  uint64_t size = 0;
  unsigned mode = 0;   // permission bits (07777)
  int64_t mtime = 0;   // seconds since the epoch
  long mtime_nsec = 0; // and the fraction of that second, when ls tells it (GNU does, busybox not)
  std::string target;  // of a symlink
};
// Parses `ls -lan --full-time` output, GNU's ("2026-11-26 05:02:37.253048038 +0100") and
// busybox's ("2026-11-26 05:02:37 +0100"); the "total" line and "." ".." are skipped.
std::vector<RemoteEntry> parse_ls(std::string_view text);
// Lists `path` in a replica of the app (a file lists as itself).
util::Result<std::vector<RemoteEntry>> list_app_files(kube::Client& client, const std::string& ns,
                                                      const std::string& app, const std::string& path,
                                                      const std::string& replica, const std::string& container,
                                                      std::string* replica_used = nullptr);

// ---------------------------------------------------------------- safe extraction (exposed for tests)

// Where an archive's entries land: under `root` (an existing local directory); entries must be
// `top` or under it (the thing that was asked for; "." = anything) and are renamed to `rename`.
struct ExtractTarget {
  std::filesystem::path root;
  std::string top;
  std::string rename;
  std::string source_words = "the container";  // for messages: "refused 'x' from the container"
  bool keep_partial = false;  // a file that broke off stays as a PartFile in ExtractStats::partial
};

// A file written under a temporary name next to its final one (".NAME.wb-part" in the same
// directory, through a descriptor of that directory), renamed over NAME only by commit(): a
// copy that breaks never leaves a half file under the final name. Removed unless committed.
class PartFile {
 public:
  // Creates (truncates) the part file for `leaf` in the directory `dir_fd` (duplicated). `shown`
  // is the path for messages.
  static util::Result<std::unique_ptr<PartFile>> create(int dir_fd, const std::string& leaf, std::string shown);
  ~PartFile();
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  util::Status write(std::string_view data);
  util::Status seek(uint64_t offset);  // sparse files: the next write lands there
  uint64_t size() const { return size_; }  // bytes written so far (the resume offset)
  const std::string& shown() const { return shown_; }
  // Sets mode and mtime, extends to `final_size` when given (a sparse tail), renames into place.
  util::Status commit(unsigned perm, struct timespec mtime, std::optional<uint64_t> final_size = std::nullopt);

  // What the entry promised, for the resume.
  int64_t declared = -1;
  unsigned perm = 0600;
  struct timespec mtime {};
  std::string rel;  // relative path under the target root

 private:
  PartFile() = default;
  util::Fd dir_, fd_;
  std::string leaf_, part_, shown_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

// The local relative path for an entry name ("logs/a.txt" -> "out/a.txt"), or a refusal naming
// the entry: absolute, "..", empty or over-long components, outside `top`.
util::Result<std::string> checked_entry_path(std::string_view name, const ExtractTarget& target);
// Whether a symlink at relative path `entry` pointing to `link` stays under the root (lexically;
// absolute targets never do). The refusal names the entry.
util::Status check_symlink_target(std::string_view entry_name, const std::string& entry, std::string_view link,
                                  const ExtractTarget& target);

// The facts of extract_tar refusing an entry (unsafe: outside the target, through a symlink, a
// device, ...): nothing after it was written.
struct RefusedEntry : util::ErrorDetail {
  std::string name;  // the entry as the archive names it
};

struct ExtractStats {
  uint64_t files = 0, dirs = 0, links = 0, bytes = 0;
  std::unique_ptr<PartFile> partial;  // with keep_partial: the file the stream broke off in
};
// Pulls a tar stream from `read` (returns the next chunk; empty = end; an Error stops) and writes
// its entries under the target. Refusals stop at the bad entry; the files before it stay.
util::Status extract_tar(const std::function<util::Result<std::string_view>()>& read, const ExtractTarget& target,
                         ExtractStats& stats, const std::function<void(const CopyProgress&)>& on_progress = {});

}  // namespace wb::workbench
