#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "workbench/app/files.hpp"

using namespace wb::workbench;
namespace fs = std::filesystem;

namespace {

struct Member {
  Member(std::string n, unsigned t = AE_IFREG, std::string d = "", std::string l = "", std::string h = "",
         unsigned m = 0644)
      : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)), hardlink(std::move(h)), mode(m) {}
  std::string name;
  unsigned type;
  std::string data;
  std::string link;  // symlink target
  std::string hardlink;
  unsigned mode;
  int64_t size = -1;  // declared size (default: data.size())
};

// A tar made with libarchive.
std::string make_tar(const std::vector<Member>& members) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  std::string out;
  archive_write_open2(
      a, &out, nullptr,
      [](struct archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr, nullptr);
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, m.mode);
    archive_entry_set_mtime(e, 1600000000, 0);
    if (!m.hardlink.empty()) {
      archive_entry_set_hardlink(e, m.hardlink.c_str());
    } else {
      archive_entry_set_filetype(e, m.type);
    }
    if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
    if (m.type == AE_IFREG && m.hardlink.empty())
      archive_entry_set_size(e, m.size >= 0 ? m.size : static_cast<int64_t>(m.data.size()));
    archive_write_header(a, e);
    if (!m.data.empty()) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wb-files-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Feeds `tar` in small chunks (lines crossing chunk boundaries, like the exec stream).
wb::util::Status extract(const std::string& tar, const ExtractTarget& t, ExtractStats& stats) {
  size_t pos = 0;
  std::string chunk;
  auto read = [&]() -> wb::util::Result<std::string_view> {
    size_t n = std::min<size_t>(777, tar.size() - pos);
    chunk = tar.substr(pos, n);
    pos += n;
    return std::string_view(chunk);
  };
  return extract_tar(read, t, stats);
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("remote paths are APP:/path with an app name that is a DNS label") {
  auto r = parse_remote_path("orders:/app/logs");
  REQUIRE(r);
  CHECK(r->app == "orders");
  CHECK(r->path == "/app/logs");
  CHECK_FALSE(parse_remote_path("./orders:/x"));
  CHECK_FALSE(parse_remote_path("/tmp/x"));
  CHECK_FALSE(parse_remote_path("Orders:/x"));
  CHECK_FALSE(parse_remote_path("orders:"));
}

TEST_CASE("entry paths: renamed under the target, refused when they would leave it") {
  ExtractTarget t{"/home/me/out", "logs", "copy", "replica orders-x2x9z"};
  CHECK(*checked_entry_path("logs", t) == "copy");
  CHECK(*checked_entry_path("logs/a/b.txt", t) == "copy/a/b.txt");
  CHECK(*checked_entry_path("./logs//a/./b.txt", t) == "copy/a/b.txt");
  auto abs = checked_entry_path("/etc/passwd", t);
  REQUIRE_FALSE(abs);
  CHECK(abs.error().message ==
        "refused '/etc/passwd' from replica orders-x2x9z: it would be written outside /home/me/out (an absolute path)");
  auto dots = checked_entry_path("logs/../../etc/passwd", t);
  REQUIRE_FALSE(dots);
  CHECK(dots.error().message ==
        "refused 'logs/../../etc/passwd' from replica orders-x2x9z: it would be written outside /home/me/out");
  CHECK(dots.error().hint.find("nothing after it was written") != std::string::npos);
  CHECK_FALSE(checked_entry_path("logs/a/../b", t));  // any ".." at all
  CHECK_FALSE(checked_entry_path("other/x", t));
  CHECK_FALSE(checked_entry_path("logsx/y", t));
  CHECK_FALSE(checked_entry_path("logs/" + std::string(256, 'n'), t));
  CHECK_FALSE(checked_entry_path("", t));

  ExtractTarget any{"/out", ".", "", "the container"};
  CHECK(*checked_entry_path("./a", any) == "a");
}

TEST_CASE("symlink targets must stay under the target, judged lexically") {
  ExtractTarget t{"/out", "logs", "logs", "the container"};
  CHECK(check_symlink_target("logs/a", "logs/a", "b.txt", t));
  CHECK(check_symlink_target("logs/sub/a", "logs/sub/a", "../b.txt", t));
  CHECK(check_symlink_target("logs/sub/a", "logs/sub/a", "../..", t));  // the root itself
  CHECK_FALSE(check_symlink_target("logs/sub/a", "logs/sub/a", "../../..", t));
  CHECK_FALSE(check_symlink_target("logs/a", "logs/a", "/etc", t));
  CHECK_FALSE(check_symlink_target("logs/a", "logs/a", "x/../../../y", t));
  CHECK_FALSE(check_symlink_target("logs/a", "logs/a", "", t));
}

TEST_CASE("extract_tar writes files, dirs and links with modes and mtimes") {
  TempDir d;
  std::string big(300000, 'x');
  std::mt19937 rng(7);
  for (auto& c : big) c = static_cast<char>(rng());
  auto tar = make_tar({{"logs", AE_IFDIR, "", "", "", 0750},
                       {"logs/a.txt", AE_IFREG, "alpha\n", "", "", 0640},
                       {"logs/sub/deep/big.bin", AE_IFREG, big, "", "", 0600},
                       {"logs/link", AE_IFLNK, "", "a.txt"},
                       {"logs/hard", AE_IFREG, "", "", "logs/a.txt"}});
  ExtractTarget t{d.path, "logs", "out", "the container"};
  ExtractStats stats;
  auto st = extract(tar, t, stats);
  REQUIRE(st.ok());
  CHECK(stats.files == 2);
  CHECK(stats.links == 2);
  CHECK(slurp(d.path / "out/a.txt") == "alpha\n");
  CHECK(slurp(d.path / "out/sub/deep/big.bin") == big);
  CHECK(slurp(d.path / "out/hard") == "alpha\n");
  CHECK(fs::read_symlink(d.path / "out/link") == "a.txt");
  struct stat sb {};
  REQUIRE(::stat((d.path / "out/a.txt").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0640);
  CHECK(sb.st_mtime == 1600000000);
  REQUIRE(::stat((d.path / "out").c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0750);
  CHECK(sb.st_mtime == 1600000000);
}

TEST_CASE("extract_tar refuses by name and writes nothing after the bad entry") {
  TempDir d;
  fs::create_directories(d.path / "target");
  fs::create_directories(d.path / "outside");
  const std::string outside = (d.path / "outside").string();
  struct Case {
    std::vector<Member> bad;
    std::string message;
  };
  std::vector<Case> cases = {
      {{{"logs/../../outside/x", AE_IFREG, "x"}}, "refused 'logs/../../outside/x'"},
      {{{outside + "/x", AE_IFREG, "x"}}, "an absolute path"},
      {{{"logs/esc", AE_IFLNK, "", "../../outside"}, {"logs/esc/x", AE_IFREG, "x"}},
       "refused 'logs/esc' from the container: a symlink to '../../outside' would lead outside"},
      {{{"logs/in", AE_IFLNK, "", "."}, {"logs/in/x", AE_IFREG, "x"}},
       "refused 'logs/in/x' from the container: it would be written through the symlink 'logs/in'"},
      {{{"logs/self", AE_IFLNK, "", "ok.txt"}, {"logs/self", AE_IFREG, "x"}},
       "refused 'logs/self' from the container: it would be written through the symlink 'logs/self'"},
      // Each link alone stays inside; together "a" is the folder above the copy (found by fuzzing).
      {{{"logs/b", AE_IFLNK, "", "."}, {"logs/a", AE_IFLNK, "", "b/../.."}},
       "refused 'logs/a' from the container: a symlink to 'b/../..' could lead outside"},
      {{{"logs/a", AE_IFLNK, "", "b/../.."}, {"logs/b", AE_IFLNK, "", "."}},
       "refused 'logs/a' from the container: a symlink to 'b/../..' could lead outside"},
      {{{"logs/h", AE_IFREG, "", "", "../outside/x"}}, "a hard link to '../outside/x' would lead outside"},
      {{{"logs/h", AE_IFREG, "", "", "logs/missing"}}, "not a file of this copy"},
      {{{"logs/dev", AE_IFCHR}}, "it is a device node"},
      {{{"logs/fifo", AE_IFIFO}}, "it is a FIFO"},
  };
  int i = 0;
  for (const auto& c : cases) {
    CAPTURE(c.message);
    fs::path root = d.path / "target" / std::to_string(i++);
    fs::create_directories(root);
    std::vector<Member> members = {{"logs", AE_IFDIR, "", "", "", 0755}, {"logs/ok.txt", AE_IFREG, "ok"}};
    members.insert(members.end(), c.bad.begin(), c.bad.end());
    members.push_back({"logs/after.txt", AE_IFREG, "after"});
    ExtractTarget t{root, "logs", "logs", "the container"};
    ExtractStats stats;
    auto st = extract(make_tar(members), t, stats);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find(c.message) != std::string::npos);
    CHECK(fs::exists(root / "logs/ok.txt"));
    CHECK_FALSE(fs::exists(root / "logs/after.txt"));
    CHECK(fs::is_empty(d.path / "outside"));
  }
}

TEST_CASE("a truncated archive removes the half-written file and says how much was declared") {
  TempDir d;
  auto tar = make_tar({{"logs/ok.txt", AE_IFREG, "ok"}, {"logs/big.bin", AE_IFREG, std::string(5000, 'z')}});
  tar.resize(tar.size() - 10240 + 512 + 512 + 2000);  // cut inside big.bin's data (after pax headers)
  auto pos = tar.find(std::string(100, 'z'));
  REQUIRE(pos != std::string::npos);
  tar.resize(pos + 1000);
  ExtractTarget t{d.path, "logs", "logs", "the container"};
  ExtractStats stats;
  auto st = extract(tar, t, stats);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message.find("broke off in 'logs/big.bin' (declared 5000 bytes") != std::string::npos);
  CHECK(fs::exists(d.path / "logs/ok.txt"));
  CHECK_FALSE(fs::exists(d.path / "logs/big.bin"));
}

TEST_CASE("parse_ls reads GNU and busybox ls -lan --full-time") {
  // GNU coreutils: nanoseconds, the container's own UTC offset.
  auto entries = parse_ls(
      "total 12\n"
      "drwxr-xr-x 3 0 0 4096 2023-11-14 22:13:20.000000000 +0000 .\n"
      "drwxr-xr-x 9 0 0 4096 2023-11-14 22:13:20.000000000 +0000 ..\n"
      "-rw-r----- 1 1000 1000 5000 2022-04-15 05:20:00.123456789 +0000 app.log\n"
      "drwxr-x--- 2 0 0 4096 2022-04-15 07:20:01.000000000 +0200 dir with space\n"
      "lrwxrwxrwx 1 0 0 5 2022-04-15 00:20:02.5 -0500 cur -> a.txt\n"
      "crw-rw-rw- 1 0 0 1, 3 2022-04-15 05:20:03.000000000 +0000 null\n"
      "-rwsr-xr-x 1 0 0 10 2022-04-15 05:20:04.000000000 +0000 suid\n");
  REQUIRE(entries.size() == 5);
  CHECK(entries[0].name == "app.log");
  CHECK(entries[0].size == 5000);
  CHECK(entries[0].mode == 0640);
  CHECK(entries[0].mtime == 1650000000);
  CHECK(entries[0].mtime_nsec == 123456789);
  CHECK(entries[1].name == "dir with space");
  CHECK(entries[1].type == 'd');
  CHECK(entries[1].mtime == 1650000001);  // 07:20:01 at +02:00 is 05:20:01 UTC
  CHECK(entries[2].name == "cur");
  CHECK(entries[2].target == "a.txt");
  CHECK(entries[2].mtime == 1650000002);
  CHECK(entries[2].mtime_nsec == 500000000);
  CHECK(entries[3].type == 'c');
  CHECK(entries[3].name == "null");
  CHECK(entries[4].mode == 04755);

  // busybox (Alpine images): wider columns, whole seconds.
  entries = parse_ls(
      "total 24\n"
      "drwxr-xr-x    3 0        0             4096 2026-11-26 05:02:37 +0100 .\n"
      "-rw-r--r--    1 0        0                3 2022-04-15 07:20:00 +0200 a b\n"
      "crw-rw-rw-    1 0        0           1,   3 2022-04-15 05:20:00 +0000 null\n"
      "lrwxrwxrwx    1 0        0                1 2022-04-15 05:20:00 +0000 l -> a b\n");
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "a b");
  CHECK(entries[0].size == 3);
  CHECK(entries[0].mtime == 1650000000);
  CHECK(entries[0].mtime_nsec == 0);
  CHECK(entries[1].name == "null");
  CHECK(entries[2].target == "a b");

  // Lines that are not ls's long format are skipped, not misread.
  CHECK(parse_ls("-rw-r--r-- 1 0 0 3 1650000000 old-style\n").empty());
  CHECK(parse_ls("-rw-r--r-- 1 0 0 3 2022-13-99 05:20:00 +0000 x\n").empty());
  CHECK(parse_ls("-rw-r--r-- 1 0 0 3 2022-04-15 05:20:00.x +0000 x\n").empty());
}

TEST_CASE("with keep_partial the file a stream broke off in stays as a part file to resume, never under its name") {
  TempDir d;
  fs::create_directories(d.path / "logs");
  {
    std::ofstream old(d.path / "logs/big.bin");
    old << "the previous copy";  // an older copy stays untouched until the new one is whole
  }
  auto tar = make_tar({{"logs/big.bin", AE_IFREG, std::string(5000, 'z'), "", "", 0640}});
  auto pos = tar.find(std::string(100, 'z'));
  REQUIRE(pos != std::string::npos);
  tar.resize(pos + 1000);
  ExtractTarget t{d.path, "logs", "logs", "the container"};
  t.keep_partial = true;
  ExtractStats stats;
  auto st = extract(tar, t, stats);
  REQUIRE_FALSE(st.ok());
  REQUIRE(stats.partial);
  CHECK(stats.partial->size() == 1000);
  CHECK(stats.partial->declared == 5000);
  CHECK(stats.partial->rel == "logs/big.bin");
  CHECK(slurp(d.path / "logs/big.bin") == "the previous copy");
  CHECK(fs::file_size(d.path / "logs/.big.bin.wb-part") == 1000);
  // The rest arrives (as from `tail -c +1001`); commit renames it into place with mode and mtime.
  REQUIRE(stats.partial->write(std::string(4000, 'z')).ok());
  REQUIRE(stats.partial->commit(stats.partial->perm, stats.partial->mtime).ok());
  CHECK(slurp(d.path / "logs/big.bin") == std::string(5000, 'z'));
  CHECK((fs::status(d.path / "logs/big.bin").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK_FALSE(fs::exists(d.path / "logs/.big.bin.wb-part"));
  stats.partial.reset();
  CHECK(fs::exists(d.path / "logs/big.bin"));  // a committed part file is not removed

  // Abandoned (not committed): the part file goes, the old file stays.
  ExtractStats again;
  REQUIRE_FALSE(extract(tar, t, again).ok());
  REQUIRE(again.partial);
  again.partial.reset();
  CHECK_FALSE(fs::exists(d.path / "logs/.big.bin.wb-part"));
  CHECK(slurp(d.path / "logs/big.bin") == std::string(5000, 'z'));
}
