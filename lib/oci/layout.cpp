// OCI image layout directories and oci-archive tars.
#include "oci/layout.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "util/archive.hpp"
#include "util/encoding.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"

namespace wb::oci {

namespace fs = std::filesystem;
using util::Error;
using util::ErrorCode;

namespace {

constexpr const char* kLayoutFile = "oci-layout";
constexpr const char* kLayoutContent = "{\"imageLayoutVersion\":\"1.0.0\"}";

Error io_error(const std::string& what, const fs::path& p, int err) {
  return Error(ErrorCode::Failure, "cannot " + what + " " + p.string() + ": " + std::strerror(err));
}

struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

}  // namespace

Result<std::unique_ptr<OciLayout>> OciLayout::open(const fs::path& dir, bool create) {
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec))
    return Error(ErrorCode::Usage, dir.string() + " is not a directory (an OCI layout is a directory)");
  const bool has_layout = fs::exists(dir / kLayoutFile, ec);
  if (!has_layout) {
    if (!create) return Error(ErrorCode::NotFound, dir.string() + " is not an OCI image layout (no oci-layout file)");
    if (exists && !fs::is_empty(dir, ec))
      return Error(ErrorCode::Usage, dir.string() + " is neither empty nor an OCI image layout",
                   "choose a new or empty directory");
    fs::create_directories(dir / "blobs" / "sha256", ec);
    if (ec) return Error(ErrorCode::Failure, "cannot create " + dir.string() + ": " + ec.message());
    WB_TRY(util::write_file_atomic(dir / kLayoutFile, kLayoutContent));
    json index = {{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", json::array()}};
    WB_TRY(util::write_file_atomic(dir / "index.json", index.dump()));
  } else {
    WB_ASSIGN_OR_RETURN(std::string text, util::read_file(dir / kLayoutFile));
    json j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("imageLayoutVersion"))
      return Error(ErrorCode::Usage, (dir / kLayoutFile).string() + " is not a valid oci-layout file");
    fs::create_directories(dir / "blobs" / "sha256", ec);
  }
  return std::unique_ptr<OciLayout>(new OciLayout(dir));
}

fs::path OciLayout::blob_path(const std::string& digest) const {
  const size_t colon = digest.find(':');
  return dir_ / "blobs" / digest.substr(0, colon) / digest.substr(colon + 1);
}

Result<json> OciLayout::read_index() const {
  auto text = util::read_file(dir_ / "index.json");
  if (!text && text.error().code == ErrorCode::NotFound)
    return json{{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", json::array()}};
  if (!text) return text.error();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return Error(ErrorCode::Failure, (dir_ / "index.json").string() + " is not valid JSON");
  if (!j.contains("manifests") || !j["manifests"].is_array()) j["manifests"] = json::array();
  return j;
}

Status OciLayout::write_index(const json& index) const {
  return util::write_file_atomic(dir_ / "index.json", index.dump());
}

Result<std::vector<Descriptor>> OciLayout::index() const {
  std::lock_guard<std::mutex> lock(mu_);
  WB_ASSIGN_OR_RETURN(json j, read_index());
  std::vector<Descriptor> out;
  for (const json& m : j["manifests"]) {
    WB_ASSIGN_OR_RETURN(Descriptor d, Descriptor::from_json(m));
    out.push_back(std::move(d));
  }
  return out;
}

Result<Registry::Manifest> OciLayout::get_manifest(const Reference& ref) {
  std::optional<Descriptor> found;
  {
    WB_ASSIGN_OR_RETURN(std::vector<Descriptor> entries, index());
    for (const Descriptor& d : entries) {
      bool match = ref.digest.empty()
                       ? (d.annotations.count(kRefNameAnnotation) && d.annotations.at(kRefNameAnnotation) == ref.tag)
                       : d.digest == ref.digest;
      if (match) {
        found = d;
        break;
      }
    }
  }
  Manifest m;
  if (found) {
    m.digest = found->digest;
    m.media_type = found->media_type;
  } else if (!ref.digest.empty() && fs::exists(blob_path(ref.digest))) {
    m.digest = ref.digest;  // a manifest that is a blob but not listed (e.g. inside an index)
  } else {
    return Error(ErrorCode::NotFound, "image '" + ref.tag_or_digest() + "' not found in OCI layout " + dir_.string());
  }
  WB_ASSIGN_OR_RETURN(m.bytes, util::read_file(blob_path(m.digest)));
  if (digest_of(m.bytes) != m.digest)
    return Error(ErrorCode::Failure, "blob " + m.digest + " in " + dir_.string() + " is corrupt (digest mismatch)");
  if (m.media_type.empty()) {
    json j = json::parse(m.bytes, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
      m.media_type = j["mediaType"].get<std::string>();
  }
  return m;
}

Result<bool> OciLayout::has_blob(const Reference&, const std::string& digest) {
  if (!is_valid_digest(digest)) return Error(ErrorCode::Usage, "'" + digest + "' is not a sha256 digest");
  std::error_code ec;
  return fs::is_regular_file(blob_path(digest), ec);
}

Status OciLayout::get_blob(const Reference&, const std::string& digest, const http::BodySink& sink) {
  if (!is_valid_digest(digest)) return Error(ErrorCode::Usage, "'" + digest + "' is not a sha256 digest");
  const fs::path p = blob_path(digest);
  File f{std::fopen(p.c_str(), "rb")};
  if (!f.f) {
    if (errno == ENOENT)
      return Error(ErrorCode::NotFound, "blob " + digest + " not found in OCI layout " + dir_.string());
    return io_error("read", p, errno);
  }
  util::Sha256 hasher;
  std::string buf(1 << 16, '\0');
  while (true) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f.f);
    if (n == 0) {
      if (std::ferror(f.f)) return io_error("read", p, errno);
      break;
    }
    std::string_view chunk(buf.data(), n);
    hasher.update(chunk);
    if (!sink(chunk)) return Error(ErrorCode::Interrupted, "stopped reading blob " + digest);
  }
  if ("sha256:" + hasher.hex_digest() != digest)
    return Error(ErrorCode::Failure, "blob " + digest + " in " + dir_.string() + " is corrupt (digest mismatch)");
  return {};
}

Result<bool> OciLayout::mount_blob(const Reference& repo, const std::string& digest, const std::string&) {
  return has_blob(repo, digest);
}

Result<Descriptor> OciLayout::put_blob(const Reference& repo, const http::BodyReader& reader, int64_t size,
                                       const std::string& known_digest, const std::string& media_type) {
  if (!known_digest.empty()) {
    if (!is_valid_digest(known_digest)) return Error(ErrorCode::Usage, "'" + known_digest + "' is not a sha256 digest");
    WB_ASSIGN_OR_RETURN(bool present, has_blob(repo, known_digest));
    if (present) {
      std::error_code ec;
      Descriptor d;
      d.digest = known_digest;
      d.media_type = media_type;
      d.size = static_cast<int64_t>(fs::file_size(blob_path(known_digest), ec));
      return d;
    }
  }
  const fs::path dir = dir_ / "blobs" / "sha256";
  std::string tmp = (dir / ".tmp-XXXXXX").string();
  util::Fd fd(::mkstemp(tmp.data()));
  if (!fd) return io_error("write to", dir, errno);
  // Removes the temporary file unless it became the blob.
  struct Cleanup {
    std::string path;
    bool keep = false;
    ~Cleanup() {
      if (!keep) ::unlink(path.c_str());
    }
  } cleanup{tmp};
  ::fchmod(fd.get(), 0644);
  util::Sha256 hasher;
  int64_t total = 0;
  std::string buf(1 << 16, '\0');
  while (true) {
    WB_ASSIGN_OR_RETURN(size_t n, reader(buf.data(), buf.size()));
    if (n == 0) break;
    hasher.update(buf.data(), n);
    total += static_cast<int64_t>(n);
    if (int err = util::write_all(fd.get(), std::string_view(buf.data(), n))) return io_error("write to", dir, err);
  }
  if (size >= 0 && total != size)
    return Error(ErrorCode::Failure,
                 "the blob has " + std::to_string(total) + " bytes, not the " + std::to_string(size) + " announced");
  Descriptor d;
  d.digest = "sha256:" + hasher.hex_digest();
  d.size = total;
  d.media_type = media_type;
  if (!known_digest.empty() && known_digest != d.digest)
    return Error(ErrorCode::Failure, "the blob's content has digest " + d.digest + ", not " + known_digest);
  if (int err = fd.close()) return io_error("write to", dir, err);
  if (std::rename(tmp.c_str(), blob_path(d.digest).c_str()) != 0) return io_error("write", blob_path(d.digest), errno);
  cleanup.keep = true;
  return d;
}

Result<std::string> OciLayout::put_manifest(const Reference& ref, const std::string& bytes,
                                            const std::string& media_type) {
  WB_ASSIGN_OR_RETURN(Descriptor d, put_blob_data(*this, ref, bytes, media_type));
  if (!ref.digest.empty() && ref.digest != d.digest)
    return Error(ErrorCode::Usage, "the manifest's digest is " + d.digest + ", not " + ref.digest);
  std::lock_guard<std::mutex> lock(mu_);
  WB_ASSIGN_OR_RETURN(json index, read_index());
  json& manifests = index["manifests"];
  json kept = json::array();
  bool listed = false;
  for (const json& m : manifests) {
    const bool same_tag = !ref.tag.empty() && m.contains("annotations") && m["annotations"].is_object() &&
                          util::json_value(m["annotations"], kRefNameAnnotation, "") == ref.tag;
    if (same_tag) continue;
    if (ref.tag.empty() && util::json_value(m, "digest", "") == d.digest) listed = true;
    kept.push_back(m);
  }
  if (!listed) {
    if (!ref.tag.empty()) d.annotations[kRefNameAnnotation] = ref.tag;
    kept.push_back(d.to_json());
  }
  manifests = kept;
  WB_TRY(write_index(index));
  return d.digest;
}

Status OciLayout::delete_manifest(const Reference& ref) {
  if (ref.digest.empty()) return Error(ErrorCode::Usage, "deleting needs a digest: " + ref.str() + " has none");
  std::lock_guard<std::mutex> lock(mu_);
  WB_ASSIGN_OR_RETURN(json index, read_index());
  json kept = json::array();
  bool removed = false;
  for (const json& m : index["manifests"]) {
    if (util::json_value(m, "digest", "") == ref.digest)
      removed = true;
    else
      kept.push_back(m);
  }
  if (!removed) return Error(ErrorCode::NotFound, "manifest " + ref.digest + " is not listed in " + dir_.string());
  index["manifests"] = kept;
  return write_index(index);
}

Result<Descriptor> OciLayout::put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                                       const std::string& known_digest, const std::string& media_type) {
  WB_ASSIGN_OR_RETURN(http::BodyReader reader, open());
  return put_blob(repo, reader, size, known_digest, media_type);
}

Result<Descriptor> OciLayout::head_manifest(const Reference& ref) {
  WB_ASSIGN_OR_RETURN(Manifest m, get_manifest(ref));
  return descriptor_of(m);
}

Result<std::vector<std::string>> OciLayout::list_tags(const Reference& repo) {
  return Error(ErrorCode::Failure, "listing the tags of " + repo.name() + " is not supported here");
}

Status OciLayout::ping(const std::string& registry) {
  return Error(ErrorCode::Failure, "checking registry " + registry + " is not supported here");
}

Status OciLayout::check_push(const Reference& repo) {
  return Error(ErrorCode::Failure, "checking push access to " + repo.name() + " is not supported here");
}

namespace {

Status archive_fail(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return Error(ErrorCode::Failure, what + (msg ? std::string(": ") + msg : std::string()));
}

Status add_entry(archive* a, const std::string& name, const fs::path* file, bool dir, const std::string& target) {
  util::ArchiveEntry entry = util::new_archive_entry();
  archive_entry* e = entry.get();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_mtime(e, 0, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_uname(e, "");
  archive_entry_set_gname(e, "");
  std::error_code ec;
  if (dir) {
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    archive_entry_set_size(e, 0);
  } else {
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(fs::file_size(*file, ec)));
  }
  if (archive_write_header(a, e) != ARCHIVE_OK) return archive_fail(a, "cannot write " + target);
  if (dir) return {};
  File f{std::fopen(file->c_str(), "rb")};
  if (!f.f) return io_error("read", *file, errno);
  std::string buf(1 << 16, '\0');
  while (size_t n = std::fread(buf.data(), 1, buf.size(), f.f)) {
    if (archive_write_data(a, buf.data(), n) < 0) return archive_fail(a, "cannot write " + target);
  }
  if (std::ferror(f.f)) return io_error("read", *file, errno);
  return {};
}

bool safe_layout_path(const std::string& name) {
  if (name == "oci-layout" || name == "index.json") return true;
  auto parts = util::split(name, '/');
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // "blobs/" directory entries
  if (parts.empty() || parts[0] != "blobs" || parts.size() > 3) return false;
  for (const std::string& p : parts)
    if (p.empty() || p == "." || p == "..") return false;
  if (parts.size() >= 2)
    for (char c : parts[1])
      if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  if (parts.size() == 3)
    for (char c : parts[2])
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

Status write_oci_archive(const fs::path& layout_dir, const fs::path& tar_path) {
  std::error_code ec;
  if (!fs::exists(layout_dir / kLayoutFile, ec))
    return Error(ErrorCode::Usage, layout_dir.string() + " is not an OCI image layout (no oci-layout file)");
  std::vector<std::pair<std::string, fs::path>> blobs;
  std::vector<std::string> dirs{"blobs/"};
  for (auto it = fs::directory_iterator(layout_dir / "blobs", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!it->is_directory()) continue;
    const std::string algo = it->path().filename().string();
    dirs.push_back("blobs/" + algo + "/");
    for (auto b = fs::directory_iterator(it->path(), ec); !ec && b != fs::directory_iterator(); b.increment(ec)) {
      const std::string name = b->path().filename().string();
      if (!b->is_regular_file() || name.empty() || name[0] == '.') continue;  // skip temporary files
      blobs.emplace_back("blobs/" + algo + "/" + name, b->path());
    }
  }
  if (ec) return Error(ErrorCode::Failure, "cannot list " + layout_dir.string() + ": " + ec.message());
  std::sort(dirs.begin() + 1, dirs.end());
  std::sort(blobs.begin(), blobs.end());

  if (tar_path.has_parent_path()) fs::create_directories(tar_path.parent_path(), ec);
  const std::string tmp = tar_path.string() + ".tmp";
  util::ArchiveWriter writer = util::new_archive_writer();
  archive* a = writer.get();
  archive_write_set_format_pax_restricted(a);
  if (archive_write_open_filename(a, tmp.c_str()) != ARCHIVE_OK) return archive_fail(a, "cannot write " + tmp);
  const fs::path layout_file = layout_dir / kLayoutFile;
  const fs::path index_file = layout_dir / "index.json";
  Status st = add_entry(a, kLayoutFile, &layout_file, false, tar_path.string());
  if (st) st = add_entry(a, "index.json", &index_file, false, tar_path.string());
  for (size_t i = 0; st && i < dirs.size(); ++i) st = add_entry(a, dirs[i], nullptr, true, tar_path.string());
  for (size_t i = 0; st && i < blobs.size(); ++i)
    st = add_entry(a, blobs[i].first, &blobs[i].second, false, tar_path.string());
  if (st && archive_write_close(a) != ARCHIVE_OK) st = archive_fail(a, "cannot write " + tar_path.string());
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (std::rename(tmp.c_str(), tar_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error("write", tar_path, err);
  }
  return {};
}

Status extract_oci_archive(const fs::path& tar_path, const fs::path& layout_dir) {
  util::ArchiveReader reader = util::new_archive_reader();
  archive* a = reader.get();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  if (archive_read_open_filename(a, tar_path.c_str(), 1 << 16) != ARCHIVE_OK)
    return archive_fail(a, "cannot read " + tar_path.string());
  std::error_code ec;
  fs::create_directories(layout_dir, ec);
  if (ec) return Error(ErrorCode::Failure, "cannot create " + layout_dir.string() + ": " + ec.message());
  archive_entry* e = nullptr;
  while (true) {
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return archive_fail(a, "cannot read " + tar_path.string());
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (name.rfind("./", 0) == 0) name.erase(0, 2);
    if (name.empty()) continue;
    const auto type = archive_entry_filetype(e);
    if (!safe_layout_path(name) || (type != AE_IFREG && type != AE_IFDIR))
      return Error(ErrorCode::Usage, tar_path.string() + " is not an oci-archive: unexpected entry '" + name + "'");
    const fs::path out = layout_dir / name;
    if (type == AE_IFDIR) {
      fs::create_directories(out, ec);
      continue;
    }
    fs::create_directories(out.parent_path(), ec);
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    if (!f) return io_error("write", out, errno);
    const void* block;
    size_t size;
    la_int64_t offset;
    while ((rc = archive_read_data_block(a, &block, &size, &offset)) == ARCHIVE_OK)
      f.write(static_cast<const char*>(block), static_cast<std::streamsize>(size));
    if (rc != ARCHIVE_EOF) return archive_fail(a, "cannot read " + tar_path.string());
    if (!f) return io_error("write", out, errno);
  }
  if (!fs::exists(layout_dir / kLayoutFile, ec))
    return Error(ErrorCode::Usage, tar_path.string() + " is not an oci-archive (no oci-layout file)");
  return {};
}

}  // namespace wb::oci
