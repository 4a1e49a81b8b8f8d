#include "image/layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "util/archive.hpp"
#include "util/encoding.hpp"
#include "util/strings.hpp"

namespace wb::image {

using util::Error;
using util::ErrorCode;

namespace {

constexpr size_t kChunk = 64 * 1024;

struct TarEntry {
  std::string name;                      // "app/BOOT-INF/lib/x.jar", directories end with '/'
  const jar::LayerItem* item = nullptr;  // null for directories
};

bool safe_image_path(const std::string& p) {
  if (p.empty()) return false;
  for (const std::string& seg : util::split(p, '/')) {
    if (seg == ".." || seg == ".") return false;
  }
  return true;
}

}  // namespace

struct LayerStream::Impl {
  std::filesystem::path jar;
  LayerOptions options;
  Output output = Output::Gzip;
  bool discard = false;  // drain(): produce, hash, but keep nothing

  std::vector<TarEntry> entries;
  size_t next = 0;
  std::unique_ptr<jar::EntryReader> reader;
  std::FILE* file = nullptr;
  std::string source_name;  // the entry or file being copied, for messages
  bool in_entry = false;
  int64_t remaining = 0;

  util::ArchiveWriter tar;
  z_stream z{};
  bool z_open = false;
  util::Sha256 tar_sha;
  util::Sha256 out_sha;
  int64_t tar_size = 0;
  int64_t out_size = 0;
  std::string pending;  // produced, not yet handed out
  size_t pending_off = 0;
  std::string callback_error;
  std::vector<char> chunk = std::vector<char>(kChunk);
  std::vector<unsigned char> zbuf = std::vector<unsigned char>(kChunk);

  ~Impl() {
    tar.reset();  // closing it may still write through write_cb, which needs z
    if (z_open) deflateEnd(&z);
    if (file) std::fclose(file);
  }

  void emit(const void* data, size_t len) {
    out_sha.update(data, len);
    out_size += static_cast<int64_t>(len);
    if (!discard) pending.append(static_cast<const char*>(data), len);
  }

  // Runs `flush` through deflate until it has consumed its input (and, for Z_FINISH, ended).
  bool deflate_some(int flush) {
    for (;;) {
      z.next_out = zbuf.data();
      z.avail_out = static_cast<uInt>(zbuf.size());
      int r = deflate(&z, flush);
      if (r == Z_STREAM_ERROR) return false;
      size_t produced = zbuf.size() - z.avail_out;
      if (produced) emit(zbuf.data(), produced);
      if (flush == Z_FINISH) {
        if (r == Z_STREAM_END) return true;
      } else if (z.avail_in == 0 && z.avail_out != 0) {
        return true;
      }
    }
  }

  la_ssize_t on_tar(const void* buf, size_t len) {
    tar_sha.update(buf, len);
    tar_size += static_cast<int64_t>(len);
    if (output == Output::Tar) {  // the tar is the output: its hash is the diff_id
      if (!discard) pending.append(static_cast<const char*>(buf), len);
      return static_cast<la_ssize_t>(len);
    }
    z.next_in = static_cast<Bytef*>(const_cast<void*>(buf));
    z.avail_in = static_cast<uInt>(len);
    if (!deflate_some(Z_NO_FLUSH)) {
      callback_error = "gzip compression failed";
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  }

  static la_ssize_t write_cb(archive*, void* self, const void* buf, size_t len) {
    return static_cast<Impl*>(self)->on_tar(buf, len);
  }

  // The steps of LayerStream::step: copy a piece of the current entry's bytes; start the next
  // entry (its header, and its source opened); end the tar and the gzip stream.
  Status copy_some();
  Status start_entry(const TarEntry& te);
  Result<int64_t> open_source(const jar::LayerItem& item);
  Status finish();

  Error archive_failure(const std::string& what) {
    std::string why = !callback_error.empty()           ? callback_error
                      : archive_error_string(tar.get()) ? archive_error_string(tar.get())
                                                        : "unknown error";
    return Error(ErrorCode::Failure, what + ": " + why);
  }
};

LayerStream::LayerStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LayerStream::~LayerStream() = default;

Result<std::unique_ptr<LayerStream>> LayerStream::open(const std::filesystem::path& jar, const jar::Layer& layer,
                                                       const LayerOptions& options, Output output) {
  if (options.gzip_level < 0 || options.gzip_level > 9) {
    return Error(ErrorCode::Usage, "gzip level " + std::to_string(options.gzip_level) + " is not between 0 and 9");
  }
  auto impl = std::make_unique<Impl>();
  impl->jar = jar;
  impl->options = options;
  impl->output = output;

  // Sorted entries with every parent directory made explicit.
  std::map<std::string, const jar::LayerItem*> files;
  std::set<std::string> dirs;
  for (const jar::LayerItem& item : layer.items) {
    std::string name = item.to;
    while (!name.empty() && name.front() == '/') name.erase(0, 1);
    if (!safe_image_path(name) || name.back() == '/') {
      return Error(ErrorCode::Failure, "layer " + layer.name + ": '" + item.to + "' is not a file path");
    }
    files.emplace(name, &item);  // the first of two items with the same path wins
    for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      dirs.insert(name.substr(0, slash + 1));
    }
  }
  for (const std::string& d : dirs) impl->entries.push_back(TarEntry{d, nullptr});
  for (const auto& [name, item] : files) impl->entries.push_back(TarEntry{name, item});
  std::sort(impl->entries.begin(), impl->entries.end(),
            [](const TarEntry& a, const TarEntry& b) { return a.name < b.name; });

  if (std::any_of(files.begin(), files.end(),
                  [](const auto& f) { return f.second->source == jar::LayerItem::Source::JarEntry; })) {
    WB_ASSIGN_OR_RETURN(impl->reader, jar::EntryReader::open(jar));
  }

  if (output == Output::Gzip) {
    // windowBits 15+16: a gzip wrapper with mtime 0, no name, OS "unix": the same bytes every time.
    if (deflateInit2(&impl->z, options.gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Error(ErrorCode::Failure, "cannot start gzip compression");
    }
    impl->z_open = true;
  }
  impl->tar = util::new_archive_writer();
  archive_write_set_format_pax_restricted(impl->tar.get());  // ustar, plus pax records only for long names
  archive_write_add_filter_none(impl->tar.get());
  archive_write_set_bytes_per_block(impl->tar.get(), 512);
  archive_write_set_bytes_in_last_block(impl->tar.get(), 1);
  if (archive_write_open(impl->tar.get(), impl.get(), nullptr, &Impl::write_cb, nullptr) != ARCHIVE_OK) {
    return impl->archive_failure("cannot start the layer tar");
  }
  return std::unique_ptr<LayerStream>(new LayerStream(std::move(impl)));
}

Status LayerStream::Impl::copy_some() {
  size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(chunk.size()), remaining + 1));
  size_t got = 0;
  if (file) {
    got = std::fread(chunk.data(), 1, want, file);
    if (got == 0 && std::ferror(file)) {
      return Error(ErrorCode::Failure, "cannot read " + source_name + ": " + std::strerror(errno));
    }
  } else {
    WB_ASSIGN_OR_RETURN(got, reader->read(chunk.data(), want));
  }
  if (static_cast<int64_t>(got) > remaining || (got == 0 && remaining > 0)) {
    return Error(ErrorCode::Failure, source_name + " changed while the image was being built",
                 "build again once the jar is written");
  }
  if (got == 0) {
    if (file) std::fclose(file);
    file = nullptr;
    in_entry = false;
    if (archive_write_finish_entry(tar.get()) != ARCHIVE_OK) return archive_failure("cannot write the layer tar");
    return {};
  }
  if (archive_write_data(tar.get(), chunk.data(), got) < 0) return archive_failure("cannot write the layer tar");
  remaining -= static_cast<int64_t>(got);
  return {};
}

Result<int64_t> LayerStream::Impl::open_source(const jar::LayerItem& item) {
  if (item.source == jar::LayerItem::Source::File) {
    source_name = item.from;
    file = std::fopen(item.from.c_str(), "rb");
    if (!file) {
      int err = errno;
      return Error(err == ENOENT ? ErrorCode::NotFound : ErrorCode::Failure,
                   "cannot read " + item.from + ": " + std::strerror(err));
    }
    std::error_code ec;
    auto fs_size = std::filesystem::file_size(item.from, ec);
    if (ec) return Error(ErrorCode::Failure, "cannot read " + item.from + ": " + ec.message());
    return static_cast<int64_t>(fs_size);
  }
  source_name = item.from + " in " + jar.string();
  WB_TRY(reader->seek(item.from));
  return item.size;
}

Status LayerStream::Impl::start_entry(const TarEntry& te) {
  int64_t size = 0;
  if (te.item) {
    WB_ASSIGN_OR_RETURN(size, open_source(*te.item));
  }
  util::ArchiveEntry e = util::new_archive_entry();
  archive_entry_set_pathname_utf8(e.get(), te.name.c_str());
  archive_entry_set_filetype(e.get(), te.item ? AE_IFREG : AE_IFDIR);
  bool exec = te.item && (te.item->mode & 0111) != 0;
  archive_entry_set_perm(e.get(), !te.item || exec ? 0755 : 0644);
  archive_entry_set_size(e.get(), size);
  archive_entry_set_mtime(e.get(), options.mtime, 0);
  archive_entry_set_uid(e.get(), options.uid);
  archive_entry_set_gid(e.get(), options.gid);
  if (archive_write_header(tar.get(), e.get()) != ARCHIVE_OK) return archive_failure("cannot write the layer tar");
  if (te.item) {
    in_entry = true;
    remaining = size;
  }
  return {};
}

Status LayerStream::Impl::finish() {
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return archive_failure("cannot finish the layer tar");
  if (z_open) {
    z.next_in = nullptr;
    z.avail_in = 0;
    if (!deflate_some(Z_FINISH)) return Error(ErrorCode::Failure, "gzip compression failed");
    deflateEnd(&z);
    z_open = false;
  }
  reader.reset();
  return {};
}

Status LayerStream::step() {
  Impl& s = *impl_;
  if (s.in_entry) return s.copy_some();
  if (s.next < s.entries.size()) return s.start_entry(s.entries[s.next++]);
  // Everything written: end the tar, then the gzip stream.
  WB_TRY(s.finish());
  digests_.diff_id = "sha256:" + s.tar_sha.hex_digest();
  digests_.digest = s.output == Output::Tar ? digests_.diff_id : "sha256:" + s.out_sha.hex_digest();
  digests_.size = s.output == Output::Tar ? s.tar_size : s.out_size;
  digests_.tar_size = s.tar_size;
  finished_ = true;
  return {};
}

Result<size_t> LayerStream::read(char* buf, size_t size) {
  Impl& s = *impl_;
  while (s.pending_off >= s.pending.size() && !finished_) {
    s.pending.clear();
    s.pending_off = 0;
    WB_TRY(step());
  }
  size_t n = std::min(size, s.pending.size() - s.pending_off);
  if (n) std::memcpy(buf, s.pending.data() + s.pending_off, n);
  s.pending_off += n;
  return n;
}

Status LayerStream::drain() {
  impl_->discard = true;
  impl_->pending.clear();
  impl_->pending_off = 0;
  while (!finished_) WB_TRY(step());
  return {};
}

http::BodyReader body_reader(LayerStream& stream) {
  return [&stream](char* buf, size_t size) { return stream.read(buf, size); };
}

std::optional<Compression> parse_compression(std::string_view text) {
  if (text == "auto") return Compression::Auto;
  if (text == "gzip") return Compression::Gzip;
  if (text == "none") return Compression::None;
  return std::nullopt;
}

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::Auto:
      return "auto";
    case Compression::Gzip:
      return "gzip";
    case Compression::None:
      return "none";
  }
  return "?";
}

namespace {

constexpr size_t kSampleFiles = 8;
constexpr size_t kSampleBytes = 32 * 1024;

// The first bytes of one file of a layer.
Result<std::string> sample_of(const jar::LayerItem& item, jar::EntryReader* reader) {
  std::string buf(kSampleBytes, '\0');
  size_t got = 0;
  if (item.source == jar::LayerItem::Source::File) {
    std::FILE* f = std::fopen(item.from.c_str(), "rb");
    if (!f) return Error(ErrorCode::Failure, "cannot read " + item.from + ": " + std::strerror(errno));
    got = std::fread(buf.data(), 1, buf.size(), f);
    std::fclose(f);
  } else {
    WB_TRY(reader->seek(item.from));
    while (got < buf.size()) {
      WB_ASSIGN_OR_RETURN(size_t n, reader->read(buf.data() + got, buf.size() - got));
      if (n == 0) break;
      got += n;
    }
  }
  buf.resize(got);
  return buf;
}

// True unless deflating the layer's sample saves less than a tenth.
Result<bool> worth_gzip(const jar::Layer& layer, jar::EntryReader* reader) {
  std::vector<const jar::LayerItem*> items;
  for (const jar::LayerItem& item : layer.items) items.push_back(&item);
  const size_t n = std::min(kSampleFiles, items.size());
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(n), items.end(),
                    [](const jar::LayerItem* a, const jar::LayerItem* b) {
                      return a->size != b->size ? a->size > b->size : a->to < b->to;
                    });
  uLong in = 0;
  uLong out = 0;
  std::vector<Bytef> packed(compressBound(kSampleBytes));
  for (size_t i = 0; i < n; ++i) {
    WB_ASSIGN_OR_RETURN(std::string sample, sample_of(*items[i], reader));
    uLongf len = static_cast<uLongf>(packed.size());
    if (compress2(packed.data(), &len, reinterpret_cast<const Bytef*>(sample.data()), sample.size(), 1) != Z_OK) {
      return Error(ErrorCode::Failure, "gzip compression failed");
    }
    in += sample.size();
    out += len;
  }
  return in == 0 || out * 10 < in * 9;
}

}  // namespace

Result<LayerChoice> choose_layer_output(const std::filesystem::path& jar, const jar::Layer& layer,
                                        const LayerOptions& options, Compression compression) {
  std::unique_ptr<jar::EntryReader> reader;
  if (std::any_of(layer.items.begin(), layer.items.end(),
                  [](const jar::LayerItem& i) { return i.source == jar::LayerItem::Source::JarEntry; })) {
    WB_ASSIGN_OR_RETURN(reader, jar::EntryReader::open(jar));
  }
  LayerChoice choice;
  bool gzip = compression == Compression::Gzip;
  if (compression == Compression::Auto) {
    WB_ASSIGN_OR_RETURN(gzip, worth_gzip(layer, reader.get()));
  }
  choice.output = gzip ? LayerStream::Output::Gzip : LayerStream::Output::Tar;

  util::Sha256 h;
  auto add = [&h](const std::string& field) { h.update(field.data(), field.size() + 1); };  // with its NUL
  add("wb-layer-1");
  add(gzip ? "gzip-" + std::to_string(options.gzip_level) : "tar");
  add(std::to_string(options.mtime) + "/" + std::to_string(options.uid) + "/" + std::to_string(options.gid));
  for (const jar::LayerItem& item : layer.items) {
    add(item.to);
    add(item.from);
    add(std::to_string(item.size) + "/" + std::to_string(item.mode));
    if (item.source == jar::LayerItem::Source::JarEntry) {
      add("crc " + std::to_string(reader->crc_of(item.from).value_or(0)));
    } else {
      std::error_code ec;
      auto size = std::filesystem::file_size(item.from, ec);
      auto time = std::filesystem::last_write_time(item.from, ec);
      add("file " + std::to_string(ec ? -1 : static_cast<int64_t>(size)) + "/" +
          std::to_string(ec ? 0 : time.time_since_epoch().count()));
    }
  }
  choice.key = "sha256:" + h.hex_digest();
  return choice;
}

Result<LayerDigests> compute_diff_id(const std::filesystem::path& jar, const jar::Layer& layer,
                                     const LayerOptions& options) {
  WB_ASSIGN_OR_RETURN(auto stream, LayerStream::open(jar, layer, options, LayerStream::Output::Tar));
  WB_TRY(stream->drain());
  LayerDigests d = stream->digests();
  d.digest.clear();
  d.size = 0;
  return d;
}

Result<LayerDigests> compute_layer_digests(const std::filesystem::path& jar, const jar::Layer& layer,
                                           const LayerOptions& options) {
  WB_ASSIGN_OR_RETURN(auto stream, LayerStream::open(jar, layer, options, LayerStream::Output::Gzip));
  WB_TRY(stream->drain());
  return stream->digests();
}

}  // namespace wb::image
