// OCI/Docker image references, descriptors and the registry client interface.
// Shared by the image builder (which reads a base image and writes layers) and push targets
// (a registry, an OCI image layout directory, or an oci-archive tar).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http.hpp"
#include "util/result.hpp"

namespace wb::oci {

using json = nlohmann::json;
using util::Result;
using util::Status;

namespace media {
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
}  // namespace media

// A parsed image reference, by the docker reference grammar:
// "orders" -> docker.io/library/orders:latest; "127.0.0.1:5000/shop/orders:1.2@sha256:...".
struct Reference {
  std::string registry;    // "docker.io", "127.0.0.1:5000"
  std::string repository;  // "library/orders", "shop/orders"
  std::string tag;         // "" when only a digest is given; "latest" by default
  std::string digest;      // "sha256:..." or ""

  // Canonical string: registry/repository[:tag][@digest].
  std::string str() const;
  // registry/repository@digest (digest required).
  std::string with_digest(const std::string& d) const;
  // registry/repository (no tag, no digest).
  std::string name() const;
  // The tag, else the digest: what a manifest is addressed by in a URL.
  std::string tag_or_digest() const;
};
// Parses a reference; Usage error naming what is wrong ("'Orders' is not a valid image reference: ...").
Result<Reference> parse_reference(const std::string& text);

// True for "sha256:" followed by 64 lower-case hex digits.
bool is_valid_digest(const std::string& digest);
// "sha256:" + hex SHA-256 of `data`.
std::string digest_of(std::string_view data);

// A content descriptor (OCI image spec).
struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<json> platform;  // in indexes

  json to_json() const;
  static Result<Descriptor> from_json(const json& j);
};

// Registry access (OCI distribution spec). Implemented over http::Transport with auth.
class Registry {
 public:
  virtual ~Registry() = default;
  // GET a manifest or index by tag or digest; returns the raw bytes, media type and digest.
  struct Manifest {
    std::string bytes;
    std::string media_type;
    std::string digest;
  };
  virtual Result<Manifest> get_manifest(const Reference& ref) = 0;
  // HEAD a blob: does the repository have it?
  virtual Result<bool> has_blob(const Reference& repo, const std::string& digest) = 0;
  // Streams a blob's bytes to `sink` (verifying its digest).
  virtual Status get_blob(const Reference& repo, const std::string& digest, const http::BodySink& sink) = 0;
  // Tries a cross-repository mount from `from_repo` (same registry); true if mounted.
  virtual Result<bool> mount_blob(const Reference& repo, const std::string& digest, const std::string& from_repo) = 0;
  // Uploads a blob whose bytes come from `reader` (size may be unknown: -1, chunked). When the
  // digest is not known in advance it is computed while streaming and returned.
  virtual Result<Descriptor> put_blob(const Reference& repo, const http::BodyReader& reader, int64_t size,
                                      const std::string& known_digest, const std::string& media_type) = 0;
  // PUT a manifest/index under a tag or digest; returns its digest.
  virtual Result<std::string> put_manifest(const Reference& ref, const std::string& bytes,
                                           const std::string& media_type) = 0;

  // Opens the blob's bytes from the start. Called once per attempt: an upload that broke off and
  // cannot be resumed where the registry stopped starts again from a fresh reader.
  using BlobOpener = std::function<Result<http::BodyReader>()>;
  // Like put_blob(reader...), but can retry/resume after transient failures because the source
  // can be re-read.
  virtual Result<Descriptor> put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                                      const std::string& known_digest, const std::string& media_type) = 0;
  // HEAD a manifest: its descriptor (media type, digest, size). NotFound when absent.
  virtual Result<Descriptor> head_manifest(const Reference& ref) = 0;
  // Deletes the manifest `ref.digest` (every tag on it goes).
  virtual Status delete_manifest(const Reference& ref_with_digest) = 0;
  // Every tag of the repository `repo` (its tag/digest ignored), all pages, in the registry's
  // order; empty when the repository does not exist.
  virtual Result<std::vector<std::string>> list_tags(const Reference& repo) = 0;
  // Reaches the registry's /v2/ endpoint (an answer that asks for credentials counts as reached).
  // Unavailable when nothing answers.
  virtual Status ping(const std::string& registry) = 0;
  // Proves push access to `repo` without leaving anything behind: opens a blob upload session
  // and cancels it (DELETE of the upload URL). Auth when pushing is not allowed.
  virtual Status check_push(const Reference& repo) = 0;
};

// The descriptor of a manifest fetched whole (for registries that cannot HEAD it).
Descriptor descriptor_of(const Registry::Manifest& manifest);
// A BlobOpener that hands out `reader` (which must outlive it) once: for sources that cannot be
// read a second time.
Registry::BlobOpener open_once(const http::BodyReader& reader);

// Uploads bytes held in memory (configs, small layers) through put_blob.
Result<Descriptor> put_blob_data(Registry& registry, const Reference& repo, std::string_view data,
                                 const std::string& media_type);
// A BlobOpener over a file (each call opens it afresh).
Registry::BlobOpener open_file_blob(const std::string& path);

}  // namespace wb::oci
