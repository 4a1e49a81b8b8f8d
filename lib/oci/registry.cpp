// Default implementations of the optional Registry operations and blob sources.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "oci/oci.hpp"

namespace wb::oci {

using util::Error;
using util::ErrorCode;

Result<Descriptor> Registry::put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                                      const std::string& known_digest, const std::string& media_type) {
  WB_ASSIGN_OR_RETURN(http::BodyReader reader, open());
  return put_blob(repo, reader, size, known_digest, media_type);
}

Result<Descriptor> Registry::head_manifest(const Reference& ref) {
  WB_ASSIGN_OR_RETURN(Manifest m, get_manifest(ref));
  Descriptor d;
  d.media_type = m.media_type;
  d.digest = m.digest;
  d.size = static_cast<int64_t>(m.bytes.size());
  return d;
}

Status Registry::delete_manifest(const Reference& ref_with_digest) {
  return Error(ErrorCode::Failure, "deleting " + ref_with_digest.str() + " is not supported here");
}

Result<std::vector<std::string>> Registry::list_tags(const Reference& repo) {
  return Error(ErrorCode::Failure, "listing the tags of " + repo.name() + " is not supported here");
}

Status Registry::ping(const std::string& registry) {
  return Error(ErrorCode::Failure, "checking registry " + registry + " is not supported here");
}

Status Registry::check_push(const Reference& repo) {
  return Error(ErrorCode::Failure, "checking push access to " + repo.name() + " is not supported here");
}

Result<Descriptor> put_blob_data(Registry& registry, const Reference& repo, std::string_view data,
                                 const std::string& media_type) {
  auto data_copy = std::make_shared<std::string>(data);
  Registry::BlobOpener open = [data_copy]() -> Result<http::BodyReader> {
    auto offset = std::make_shared<size_t>(0);
    return http::BodyReader([data_copy, offset](char* buf, size_t size) -> Result<size_t> {
      size_t n = std::min(size, data_copy->size() - *offset);
      std::memcpy(buf, data_copy->data() + *offset, n);
      *offset += n;
      return n;
    });
  };
  return registry.put_blob(repo, open, static_cast<int64_t>(data.size()), digest_of(data), media_type);
}

Registry::BlobOpener open_file_blob(const std::string& path) {
  return [path]() -> Result<http::BodyReader> {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
      int err = errno;
      return Error(err == ENOENT ? ErrorCode::NotFound : ErrorCode::Failure,
                   "cannot read " + path + ": " + std::strerror(err));
    }
    auto file = std::shared_ptr<std::FILE>(f, [](std::FILE* p) { std::fclose(p); });
    return http::BodyReader([file, path](char* buf, size_t size) -> Result<size_t> {
      size_t n = std::fread(buf, 1, size, file.get());
      if (n == 0 && std::ferror(file.get()))
        return Error(ErrorCode::Failure, "cannot read " + path + ": " + std::strerror(errno));
      return n;
    });
  };
}

}  // namespace wb::oci
