// EntryReader: random access to a jar's entries through the zip central directory
// (APPNOTE.TXT: end of central directory, zip64, local headers; methods stored and deflate).
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "jar/jar.hpp"
#include "util/fd.hpp"

namespace wb::jar {

using util::Error;
using util::ErrorCode;

namespace {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kEocd64Sig = 0x06064b50;
constexpr uint32_t kEocd64LocatorSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;

uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const unsigned char* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

struct ZipEntry {
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0;
  uint64_t usize = 0;
  uint64_t local_offset = 0;  // already corrected for data before the zip (launch scripts)
};

}  // namespace

struct EntryReader::State {
  std::filesystem::path path;
  util::Fd fd;
  uint64_t file_size = 0;
  std::unordered_map<std::string, ZipEntry> entries;

  // The current entry.
  std::string name;
  bool open = false;
  ZipEntry cur;
  uint64_t pos = 0;    // file offset of the next compressed byte
  uint64_t cleft = 0;  // compressed bytes left
  uint64_t produced = 0;
  uint32_t crc = 0;
  z_stream z{};
  bool z_open = false;
  bool z_done = false;
  std::vector<unsigned char> in = std::vector<unsigned char>(64 * 1024);
  size_t in_len = 0;
  size_t in_off = 0;

  ~State() {
    if (z_open) inflateEnd(&z);
  }

  Error corrupt(const std::string& why) const {
    return Error(ErrorCode::Usage, path.string() + " is not a valid jar (" + why + ")");
  }

  util::Status pread_all(uint64_t off, void* buf, size_t len) const {
    if (off + len > file_size) return corrupt("a record points past the end of the file");
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pread(fd.get(), static_cast<char*>(buf) + done, len - done, static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error(ErrorCode::Failure, "cannot read " + path.string() + ": " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    return {};
  }

  // Where the central directory is and how many entries it says it has.
  struct CentralDirectory {
    uint64_t count = 0;
    uint64_t size = 0;
    uint64_t offset = 0;  // as recorded (before any shift)
    uint64_t end = 0;     // where it really ends: the end record
  };

  // Reads the end-of-central-directory record (in the last 22 + 65535 bytes), and the zip64 one
  // when a locator precedes it.
  util::Result<CentralDirectory> find_central_directory() {
    size_t tail_len = static_cast<size_t>(std::min<uint64_t>(file_size, 22 + 65535));
    if (tail_len < 22) return Error(ErrorCode::Usage, path.string() + " is not a jar (not a zip archive)");
    std::vector<unsigned char> tail(tail_len);
    WB_TRY(pread_all(file_size - tail_len, tail.data(), tail_len));
    size_t at = std::string::npos;
    for (size_t i = tail_len - 22 + 1; i-- > 0;) {
      if (le32(&tail[i]) == kEocdSig) {
        at = i;
        break;
      }
    }
    if (at == std::string::npos) return Error(ErrorCode::Usage, path.string() + " is not a jar (not a zip archive)");
    const uint64_t eocd_pos = file_size - tail_len + at;
    const unsigned char* e = &tail[at];
    CentralDirectory cd{le16(e + 10), le32(e + 12), le32(e + 16), eocd_pos};
    if (eocd_pos < 20) return cd;
    unsigned char loc[20];
    WB_TRY(pread_all(eocd_pos - 20, loc, sizeof loc));
    if (le32(loc) != kEocd64LocatorSig) return cd;
    // zip64: the real record sits just before the locator (its offset may be shifted, see index()).
    uint64_t rec_pos = eocd_pos - 20 - 56;
    unsigned char rec[56];
    WB_TRY(pread_all(rec_pos, rec, sizeof rec));
    if (le32(rec) != kEocd64Sig) {  // a record with extensible data: trust the locator
      rec_pos = le64(loc + 8);
      WB_TRY(pread_all(rec_pos, rec, sizeof rec));
      if (le32(rec) != kEocd64Sig) return corrupt("broken zip64 end record");
    }
    return CentralDirectory{le64(rec + 32), le64(rec + 40), le64(rec + 48), rec_pos};
  }

  // zip64 extended information: the fields that are 0xFFFFFFFF in the header, in order.
  static void read_zip64_extra(const unsigned char* x, size_t extra_len, ZipEntry& z) {
    for (size_t q = 0; q + 4 <= extra_len;) {
      uint16_t id = le16(x + q), len = le16(x + q + 2);
      if (q + 4 + len > extra_len) break;
      if (id == 0x0001) {
        const unsigned char* f = x + q + 4;
        size_t left = len;
        auto take = [&](uint64_t& field) {
          if (left >= 8) {
            field = le64(f);
            f += 8;
            left -= 8;
          }
        };
        if (z.usize == 0xFFFFFFFFu) take(z.usize);
        if (z.csize == 0xFFFFFFFFu) take(z.csize);
        if (z.local_offset == 0xFFFFFFFFu) take(z.local_offset);
      }
      q += 4 + len;
    }
  }

  // Reads the central directory into `entries`.
  util::Status index() {
    WB_ASSIGN_OR_RETURN(CentralDirectory dir, find_central_directory());
    if (dir.size > dir.end) return corrupt("the central directory does not fit");
    // Bytes before the zip (a launch script) shift every recorded offset.
    const uint64_t cd_pos = dir.end - dir.size;
    if (cd_pos < dir.offset) return corrupt("the central directory is not where it says");
    const uint64_t shift = cd_pos - dir.offset;

    std::vector<unsigned char> cd(static_cast<size_t>(dir.size));
    WB_TRY(pread_all(cd_pos, cd.data(), cd.size()));
    entries.reserve(static_cast<size_t>(std::min<uint64_t>(dir.count, 1u << 20)));
    size_t p = 0;
    while (p + 46 <= cd.size() && le32(&cd[p]) == kCentralSig) {
      const unsigned char* h = &cd[p];
      ZipEntry z;
      z.flags = le16(h + 8);
      z.method = le16(h + 10);
      z.crc = le32(h + 16);
      z.csize = le32(h + 20);
      z.usize = le32(h + 24);
      size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
      z.local_offset = le32(h + 42);
      if (p + 46 + name_len + extra_len + comment_len > cd.size()) return corrupt("a truncated central directory");
      std::string name(reinterpret_cast<const char*>(h + 46), name_len);
      read_zip64_extra(h + 46 + name_len, extra_len, z);
      z.local_offset += shift;
      entries.emplace(std::move(name), z);  // the first of duplicate names wins, as with java
      p += 46 + name_len + extra_len + comment_len;
    }
    return {};
  }

  void close_entry() {
    if (z_open) inflateEnd(&z);
    z_open = false;
    open = false;
    name.clear();
  }

  util::Status start(const std::string& entry_name, const ZipEntry& e) {
    close_entry();
    unsigned char lh[30];
    WB_TRY(pread_all(e.local_offset, lh, sizeof lh));
    if (le32(lh) != kLocalSig) return corrupt("no local header for " + entry_name);
    uint64_t data = e.local_offset + 30 + le16(lh + 26) + le16(lh + 28);
    if (data + e.csize > file_size) return corrupt(entry_name + " extends past the end of the file");
    if (e.flags & 1) return Error(ErrorCode::Usage, entry_name + " in " + path.string() + " is encrypted");
    if (e.method != 0 && e.method != 8) {
      return Error(ErrorCode::Usage, entry_name + " in " + path.string() + " uses zip compression method " +
                                         std::to_string(e.method) + "; jars use only stored or deflate");
    }
    if (e.method == 8) {
      z = z_stream{};
      if (inflateInit2(&z, -15) != Z_OK) return Error(ErrorCode::Failure, "cannot start inflating " + entry_name);
      z_open = true;
    }
    name = entry_name;
    cur = e;
    pos = data;
    cleft = e.csize;
    produced = 0;
    crc = crc32(0L, Z_NULL, 0);
    z_done = false;
    in_len = in_off = 0;
    open = true;
    return {};
  }

  util::Status fill() {
    if (in_off < in_len || cleft == 0) return {};
    size_t n = static_cast<size_t>(std::min<uint64_t>(cleft, in.size()));
    WB_TRY(pread_all(pos, in.data(), n));
    pos += n;
    cleft -= n;
    in_len = n;
    in_off = 0;
    return {};
  }

  Result<size_t> read(char* buf, size_t size) {
    if (!open || size == 0) return size_t{0};
    size_t got = 0;
    if (cur.method == 0) {
      WB_TRY(fill());
      got = std::min(size, in_len - in_off);
      std::memcpy(buf, in.data() + in_off, got);
      in_off += got;
    } else {
      while (got == 0 && !z_done) {
        WB_TRY(fill());
        z.next_in = in.data() + in_off;
        z.avail_in = static_cast<uInt>(in_len - in_off);
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
        int r = inflate(&z, Z_NO_FLUSH);
        in_off = in_len - z.avail_in;
        got = std::min<size_t>(size, 1u << 30) - z.avail_out;
        if (r == Z_STREAM_END) {
          z_done = true;
        } else if (r != Z_OK && !(r == Z_BUF_ERROR && got > 0)) {
          return corrupt(name + " does not inflate");
        } else if (got == 0 && in_off == in_len && cleft == 0) {
          return corrupt(name + " is truncated");
        }
      }
    }
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf), static_cast<uInt>(got));
    produced += got;
    if (produced > cur.usize) return corrupt(name + " is longer than its recorded size");
    if (got == 0) {
      if (produced != cur.usize) return corrupt(name + " is shorter than its recorded size");
      if (crc != cur.crc) return corrupt(name + " fails its CRC-32 check");
      close_entry();
    }
    return got;
  }
};

EntryReader::EntryReader(std::unique_ptr<State> state) : st_(std::move(state)) {}
EntryReader::~EntryReader() = default;

Result<std::unique_ptr<EntryReader>> EntryReader::open(const std::filesystem::path& jar) {
  auto st = std::make_unique<State>();
  st->path = jar;
  st->fd.reset(::open(jar.c_str(), O_RDONLY | O_CLOEXEC));
  if (!st->fd) {
    int err = errno;
    return Error(ErrorCode::NotFound, "cannot read " + jar.string() + ": " + std::strerror(err));
  }
  off_t end = ::lseek(st->fd.get(), 0, SEEK_END);
  if (end < 0) return Error(ErrorCode::Failure, "cannot read " + jar.string() + ": " + std::strerror(errno));
  st->file_size = static_cast<uint64_t>(end);
  WB_TRY(st->index());
  return std::unique_ptr<EntryReader>(new EntryReader(std::move(st)));
}

Status EntryReader::seek(const std::string& entry_path) {
  auto it = st_->entries.find(entry_path);
  if (it == st_->entries.end() || entry_path.empty() || entry_path.back() == '/') {
    return Error(ErrorCode::NotFound, st_->path.string() + " has no entry " + entry_path,
                 "the jar changed while it was being read; build again");
  }
  return st_->start(entry_path, it->second);
}

Result<size_t> EntryReader::read(char* buf, size_t size) { return st_->read(buf, size); }

std::optional<uint32_t> EntryReader::crc_of(const std::string& entry_path) const {
  auto it = st_->entries.find(entry_path);
  if (it == st_->entries.end()) return std::nullopt;
  return it->second.crc;
}

Result<std::string> EntryReader::read_all(const std::string& entry_path) {
  WB_TRY(seek(entry_path));
  std::string out;
  char buf[16384];
  for (;;) {
    WB_ASSIGN_OR_RETURN(size_t n, read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

}  // namespace wb::jar
