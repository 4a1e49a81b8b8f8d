// OCI image layout directories (oci-layout, index.json, blobs/sha256/<hex>) as a push target and
// a base-image source, and oci-archive tars of them.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "oci/oci.hpp"

namespace wb::oci {

inline constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";

// A layout directory behind the Registry interface. References are matched by tag (the
// index entry's org.opencontainers.image.ref.name annotation) or digest; their registry and
// repository are ignored. Thread-safe.
class OciLayout final : public Registry {
 public:
  // Opens the layout at `dir`; with `create`, makes the directory, oci-layout and an empty
  // index.json when missing. Usage error when `dir` is something else.
  static Result<std::unique_ptr<OciLayout>> open(const std::filesystem::path& dir, bool create);

  const std::filesystem::path& dir() const { return dir_; }
  // The manifests listed in index.json.
  Result<std::vector<Descriptor>> index() const;
  // Path of a blob file (whether or not it exists).
  std::filesystem::path blob_path(const std::string& digest) const;

  Result<Manifest> get_manifest(const Reference& ref) override;
  Result<bool> has_blob(const Reference& repo, const std::string& digest) override;
  Status get_blob(const Reference& repo, const std::string& digest, const http::BodySink& sink) override;
  // True when the blob is present already (a layout has one blob store).
  Result<bool> mount_blob(const Reference& repo, const std::string& digest, const std::string& from_repo) override;
  // Writes to a temporary file, checks size and digest, then renames into blobs/sha256/.
  Result<Descriptor> put_blob(const Reference& repo, const http::BodyReader& reader, int64_t size,
                              const std::string& known_digest, const std::string& media_type) override;
  // Reads `open`'s source once (a local write is not retried).
  Result<Descriptor> put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                              const std::string& known_digest, const std::string& media_type) override;
  // The descriptor of the manifest, read whole.
  Result<Descriptor> head_manifest(const Reference& ref) override;
  // Stores the manifest blob; with a tag, adds (or replaces) the index entry with that ref.name;
  // without one, adds an untagged entry unless the digest is listed already.
  Result<std::string> put_manifest(const Reference& ref, const std::string& bytes,
                                   const std::string& media_type) override;
  // Removes the index entries for ref.digest (the blobs stay).
  Status delete_manifest(const Reference& ref_with_digest) override;
  // A layout is no registry to list, reach or check: these fail, saying so.
  Result<std::vector<std::string>> list_tags(const Reference& repo) override;
  Status ping(const std::string& registry) override;
  Status check_push(const Reference& repo) override;

 private:
  explicit OciLayout(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<json> read_index() const;
  Status write_index(const json& index) const;

  std::filesystem::path dir_;
  mutable std::mutex mu_;  // serialises index.json updates
};

// Writes `layout_dir` as an oci-archive tar (what `skopeo copy oci-archive:` and `podman load`
// read): oci-layout, index.json, then blobs in sorted order, fixed times (0) and owners (0/0).
// Written to a temporary file and renamed.
Status write_oci_archive(const std::filesystem::path& layout_dir, const std::filesystem::path& tar_path);

// Unpacks an oci-archive into `layout_dir` (created). Only oci-layout, index.json and
// blobs/<algorithm>/<hex> regular files are taken; anything else (links, absolute or ".." paths)
// is refused.
Status extract_oci_archive(const std::filesystem::path& tar_path, const std::filesystem::path& layout_dir);

}  // namespace wb::oci
