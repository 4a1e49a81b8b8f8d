// A tar stream from a container (`wb cp-files` out of an app), extracted by
// workbench::extract_tar into a fresh directory. The container is not trusted: after each input
// nothing may exist beside the target, no symlink under it may lead out of it, and no file under
// it may be a hard link to a file outside. Input: first byte the chunk size the stream arrives in
// (bits 0-6) and keep_partial (bit 7); the rest is the tar stream.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <system_error>

#include "fuzz_support.hpp"
#include "workbench/app/files.hpp"

namespace {

namespace fs = std::filesystem;

bool under(const fs::path& p, const fs::path& root) {
  auto rel = p.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

// Exactly one entry, `only`, in `dir`.
void expect_only(const fs::path& dir, const std::string& only) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != only) {
      std::fprintf(stderr, "fuzz_tar_extract: %s was written outside the target\n", e.path().c_str());
      std::abort();
    }
}

void check_inside(const fs::path& root) {
  std::error_code ec;
  const fs::path real_root = fs::canonical(root);
  std::map<std::pair<dev_t, ino_t>, nlink_t> seen;  // regular files: links found under root
  std::map<std::pair<dev_t, ino_t>, nlink_t> nlink;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      // Where the link leads, resolved as the kernel would (what does not exist yet, lexically).
      auto to = fs::weakly_canonical(it->path(), ec);
      if (!ec && !under(to, real_root) && to != real_root) {
        std::fprintf(stderr, "fuzz_tar_extract: symlink %s leads out to %s\n", it->path().c_str(), to.c_str());
        std::abort();
      }
      ec.clear();
    } else if (S_ISREG(st.st_mode)) {
      seen[{st.st_dev, st.st_ino}]++;
      nlink[{st.st_dev, st.st_ino}] = st.st_nlink;
    }
  }
  for (const auto& [id, n] : nlink)
    if (seen[id] != n) {
      std::fprintf(stderr, "fuzz_tar_extract: a file has %lu links but %lu under the target\n",
                   static_cast<unsigned long>(n), static_cast<unsigned long>(seen[id]));
      std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb;
  if (size < 1) return 0;
  const size_t chunk = (data[0] & 0x7f) * 37 + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  const fs::path sandbox = fuzz::scratch_dir() / "tar";
  const fs::path outer = sandbox / "outer";
  const fs::path root = outer / "root";
  std::error_code ec;
  fs::remove_all(sandbox, ec);
  fs::create_directories(root);

  workbench::ExtractTarget target;
  target.root = root;
  target.top = ".";
  target.keep_partial = data[0] & 0x80;
  workbench::ExtractStats stats;
  size_t at = 0;
  auto read = [&]() -> util::Result<std::string_view> {
    auto piece = stream.substr(std::min(at, stream.size()), chunk);
    at += piece.size();
    return piece;
  };
  (void)workbench::extract_tar(read, target, stats);
  stats.partial.reset();

  expect_only(sandbox, "outer");
  expect_only(outer, "root");
  check_inside(root);
  return 0;
}
