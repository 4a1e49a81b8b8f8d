// Building and pushing a jar's image: base layers are skipped, mounted or copied; application
// layers are skipped when the registry has them, else built, hashed (and gzipped, when worth it)
// while they are uploaded, in one pass;
// then the config, the manifest per platform and, last, the index/tags, so a failed push never
// tags a partial image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/config.hpp"
#include "image/layer.hpp"
#include "jar/plan.hpp"
#include "oci/oci.hpp"

namespace wb::image {

enum class LayerFate {
  Uploaded,  // built and streamed to the registry
  Skipped,   // the registry had it
  Mounted,   // mounted from the base image's repository (same registry)
  Copied,    // read from the base registry and written to the target
};
const char* fate_name(LayerFate fate);  // "uploaded", "skipped", "mounted", "copied"

struct LayerReport {
  std::string name;     // the plan's layer name, or "base"
  std::string digest;
  std::string diff_id;  // application layers only
  int64_t size = 0;     // as stored (gzipped or not)
  std::string media_type;
  LayerFate fate = LayerFate::Uploaded;
  bool from_base = false;
};

struct PlatformReport {
  std::string platform;        // "linux/amd64"
  std::string digest;          // of its manifest
  std::string config_digest;
};

struct PushResult {
  std::string digest;       // what the tags point at: the index, or the only manifest
  std::string media_type;
  std::string reference;    // registry/repository@digest
  std::vector<std::string> tags;
  std::vector<PlatformReport> platforms;
  std::vector<LayerReport> layers;  // base layers (each once), then application layers, bottom first
};

// Progress of a push. push_image serialises the calls, so an observer need not be thread-safe.
class PushObserver {
 public:
  virtual ~PushObserver() = default;
  // A phase: "resolving base image", "pushing layers", "pushing manifests".
  virtual void on_step(std::string_view /*step*/) {}
  // `size` is -1 when not known yet (an application layer before it is compressed).
  virtual void on_layer_started(const std::string& /*name*/, const std::string& /*digest*/, int64_t /*size*/) {}
  virtual void on_layer_bytes(const std::string& /*name*/, int64_t /*done*/, int64_t /*total*/) {}
  virtual void on_layer_finished(const LayerReport& /*report*/) {}
};

// Maps a layer's key (LayerChoice::key) -> (diff_id, digest, size) of the layer earlier builds
// made of it. A known key is worth one hashing pass (is the tar still that diff_id? then the
// registry may have the digest); an unknown one goes straight to the upload. A JSON file;
// thread-safe.
class LayerCache {
 public:
  // "" = no cache (nothing is read or written).
  explicit LayerCache(std::filesystem::path file);
  struct Hit {
    std::string diff_id;
    std::string digest;
    int64_t size = 0;
  };
  std::optional<Hit> find(const std::string& key) const;
  void put(const std::string& key, const Hit& layer);
  // Merges into the file on disk (another build may have written it meanwhile) and writes it
  // atomically; keeps the newest 2000 entries.
  Status save();

 private:
  std::filesystem::path file_;
  mutable std::mutex mu_;
  struct Entry {
    std::string diff_id;
    std::string digest;
    int64_t size = 0;
    int64_t time = 0;
  };
  std::map<std::string, Entry> entries_;
  bool dirty_ = false;
};

struct PushOptions {
  ImageOptions image;
  std::filesystem::path cache_file;  // e.g. ~/.cache/wb/layers.json; "" = no cache
  int parallel = 3;                  // layers in flight at once (the Registry must be thread-safe if > 1)
  PushObserver* observer = nullptr;
};

// Builds the image of `plan` on `base_ref` (read through `base`) and pushes it to `target_ref`'s
// repository (through `target`, which may be the same object), tagged with `tags` (empty: the
// tag of target_ref, if any; none: pushed by digest only). A multi-platform base gives one image
// per platform (ImageOptions::platforms filters) sharing the application layers, and an index.
Result<PushResult> push_image(oci::Registry& target, const oci::Reference& target_ref,
                              const std::vector<std::string>& tags, oci::Registry& base,
                              const oci::Reference& base_ref, const jar::LayerPlan& plan, const PushOptions& options);

}  // namespace wb::image
