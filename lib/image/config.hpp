// The base image (one manifest, or an index with several platforms) and what wb writes on top of
// it: the image config, the manifest per platform and the index.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/layer.hpp"
#include "jar/plan.hpp"
#include "oci/oci.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace wb::image {

using json = nlohmann::json;
using util::Result;
using util::Status;

// The media types of an image follow its base: Docker schema 2 or OCI.
enum class MediaFamily { Docker, Oci };
const char* manifest_media_type(MediaFamily f);
const char* index_media_type(MediaFamily f);
const char* config_media_type(MediaFamily f);
const char* layer_media_type(MediaFamily f, bool gzip = true);  // gzip: a gzipped tar, else the plain tar

// "linux/amd64", "linux/arm64/v8". An arm64 without variant equals arm64/v8.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string str() const;
  // Parses "os/arch[/variant]"; nullopt when malformed.
  static std::optional<Platform> parse(const std::string& text);
  static Platform from_json(const json& j);  // {"os":..,"architecture":..,"variant":..}
  // True if `wanted` (perhaps without variant) selects this platform.
  bool matches(const Platform& wanted) const;
};

// One runnable image of the base: its manifest and config.
struct BaseImage {
  Platform platform;
  std::optional<json> index_platform;  // the platform object of the index entry, kept as-is
  std::string manifest_digest;
  json manifest;           // its layers are referenced as they are
  json config;             // the config JSON
  std::string config_digest;
};

struct Base {
  oci::Reference ref;
  MediaFamily family = MediaFamily::Oci;
  bool is_index = false;   // a manifest list / image index
  std::string digest;      // of what ref resolved to (index or manifest)
  std::vector<BaseImage> images;  // one per selected platform, in the index's order
};

// Fetches the base: its manifest or index, then per selected platform the manifest and config.
// `platforms` ("linux/amd64", ...) filters an index; empty = every runnable platform (attestation
// and unknown/unknown entries are skipped). A platform the base lacks is a NotFound error naming
// what it has.
Result<Base> resolve_base(oci::Registry& registry, const oci::Reference& ref, const std::vector<std::string>& platforms);

// What the caller sets in the config.
struct ImageOptions {
  std::optional<int64_t> source_date_epoch;  // layer mtimes and "created"; else 1980-01-01T00:00:01Z
  bool created_now = false;                  // "created" = clock() (the digest then changes every build)
  std::function<util::TimePoint()> clock;    // for created_now; default: the system clock
  int gzip_level = 1;
  Compression compression = Compression::Auto;  // of the application layers
  int uid = 0;  // owner of the application's files (0 = root, like Jib)
  int gid = 0;
  std::string java = "java";                 // the java launcher, found on the base's PATH
  // Fixed JVM flags, put in the entrypoint. Flags that change per deployment belong in the
  // JAVA_TOOL_OPTIONS environment variable (java reads it itself; distroless bases have no shell
  // to expand $JAVA_OPTS).
  std::vector<std::string> jvm_flags;
  std::vector<std::string> args;             // program arguments (the config's Cmd)
  std::vector<std::string> env;              // "K=V", replacing the base's K
  std::string user;                          // "" keeps the base's User
  std::map<std::string, std::string> labels; // org.opencontainers.image.source/revision/... from the caller
  std::vector<std::string> ports;            // "8080" or "8080/tcp": ExposedPorts
  std::vector<std::string> platforms;        // for a multi-platform base; empty = all
};

// The fixed or current creation time, RFC 3339.
std::string created_time(const ImageOptions& options);
// The mtime for layer entries.
int64_t layer_mtime(const ImageOptions& options);

// One layer that wb adds.
struct AppLayer {
  std::string name;
  std::string diff_id;
  std::string digest;
  int64_t size = 0;
  bool gzip = true;  // a gzipped tar (else the plain tar, whose digest is its diff_id)
};

// The base config with wb's Entrypoint (java, flags, the plan's java args), Cmd, WorkingDir,
// Env, User, Labels, ExposedPorts, created, history and rootfs.diff_ids.
json build_config(const json& base_config, const jar::LayerPlan& plan, const std::vector<AppLayer>& layers,
                  const ImageOptions& options);
// The manifest: config, then the base's layer descriptors as they are, then wb's layers.
json build_manifest(MediaFamily family, const oci::Descriptor& config, const json& base_manifest,
                    const std::vector<AppLayer>& layers);
// The index over per-platform manifests (descriptors with platform set).
json build_index(MediaFamily family, const std::vector<oci::Descriptor>& manifests);
// Canonical bytes of a manifest/config/index (compact, keys sorted).
std::string to_bytes(const json& j);

}  // namespace wb::image
