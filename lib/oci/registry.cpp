// Blob sources for Registry::put_blob, and a manifest's descriptor.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "oci/oci.hpp"

namespace wb::oci {

using util::Error;
using util::ErrorCode;

Descriptor descriptor_of(const Registry::Manifest& manifest) {
  Descriptor d;
  d.media_type = manifest.media_type;
  d.digest = manifest.digest;
  d.size = static_cast<int64_t>(manifest.bytes.size());
  return d;
}

Registry::BlobOpener open_once(const http::BodyReader& reader) {
  auto used = std::make_shared<bool>(false);
  return [&reader, used]() -> Result<http::BodyReader> {
    if (*used) return Error(ErrorCode::Failure, "the blob source cannot be read a second time");
    *used = true;
    return reader;
  };
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
