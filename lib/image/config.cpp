#include "image/config.hpp"

#include <algorithm>

#include "image/layer.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"

namespace wb::image {

using util::Error;
using util::ErrorCode;

const char* manifest_media_type(MediaFamily f) {
  return f == MediaFamily::Docker ? oci::media::kDockerManifest : oci::media::kOciManifest;
}
const char* index_media_type(MediaFamily f) {
  return f == MediaFamily::Docker ? oci::media::kDockerManifestList : oci::media::kOciIndex;
}
const char* config_media_type(MediaFamily f) {
  return f == MediaFamily::Docker ? oci::media::kDockerConfig : oci::media::kOciConfig;
}
const char* layer_media_type(MediaFamily f, bool gzip) {
  if (f == MediaFamily::Docker) return gzip ? oci::media::kDockerLayerGzip : oci::media::kDockerLayer;
  return gzip ? oci::media::kOciLayerGzip : oci::media::kOciLayer;
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

std::optional<Platform> Platform::parse(const std::string& text) {
  auto parts = util::split(util::trim(text), '/');
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  for (const auto& p : parts) {
    if (p.empty()) return std::nullopt;
  }
  Platform p{util::to_lower(parts[0]), util::to_lower(parts[1]), parts.size() == 3 ? util::to_lower(parts[2]) : ""};
  return p;
}

Platform Platform::from_json(const json& j) {
  Platform p;
  if (!j.is_object()) return p;
  p.os = util::json_value(j, "os", "");
  p.architecture = util::json_value(j, "architecture", "");
  p.variant = util::json_value(j, "variant", "");
  return p;
}

bool Platform::matches(const Platform& wanted) const {
  if (os != wanted.os || architecture != wanted.architecture) return false;
  if (wanted.variant.empty()) return true;
  auto norm = [&](const std::string& v) { return v.empty() && architecture == "arm64" ? std::string("v8") : v; };
  return norm(variant) == norm(wanted.variant);
}

namespace {

bool is_index_type(const std::string& mt) {
  return mt == oci::media::kOciIndex || mt == oci::media::kDockerManifestList;
}

Result<json> parse_json(const std::string& bytes, const std::string& what) {
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(ErrorCode::Failure, what + " is not valid JSON");
  return j;
}

Result<std::string> fetch_small_blob(oci::Registry& registry, const oci::Reference& ref, const std::string& digest,
                                     const std::string& what) {
  std::string bytes;
  bool too_large = false;
  auto st = registry.get_blob(ref, digest, [&](std::string_view chunk) {
    if (bytes.size() + chunk.size() > (64u << 20)) {
      too_large = true;
      return false;
    }
    bytes.append(chunk);
    return true;
  });
  if (too_large) return Error(ErrorCode::Failure, what + " is larger than 64 MiB");
  if (!st.ok()) return std::move(st).error().with_context("cannot read " + what);
  if (oci::digest_of(bytes) != digest) {
    return Error(ErrorCode::Failure, what + " does not match its digest " + digest);
  }
  return bytes;
}

Result<BaseImage> load_image(oci::Registry& registry, const oci::Reference& ref, const std::string& manifest_bytes,
                             const std::string& manifest_digest) {
  const std::string what = "base image " + ref.str();
  WB_ASSIGN_OR_RETURN(json manifest, parse_json(manifest_bytes, "the manifest of " + what));
  if (util::json_value(manifest, "schemaVersion", 0) != 2 || !manifest.contains("config") ||
      !manifest["config"].is_object()) {
    return Error(ErrorCode::Failure, what + " uses a manifest format wb cannot build on (only Docker schema 2 and OCI)",
                 "pick a base image published with a current tool");
  }
  if (!manifest.contains("layers") || !manifest["layers"].is_array()) manifest["layers"] = json::array();
  WB_ASSIGN_OR_RETURN(oci::Descriptor config_desc, oci::Descriptor::from_json(manifest["config"]));
  WB_ASSIGN_OR_RETURN(std::string config_bytes,
                      fetch_small_blob(registry, ref, config_desc.digest, "the config of " + what));
  WB_ASSIGN_OR_RETURN(json config, parse_json(config_bytes, "the config of " + what));
  BaseImage image;
  image.platform = Platform::from_json(config);
  image.manifest_digest = manifest_digest;
  image.manifest = std::move(manifest);
  image.config = std::move(config);
  image.config_digest = config_desc.digest;
  return image;
}

Result<std::vector<Platform>> parse_platforms(const std::vector<std::string>& platforms) {
  std::vector<Platform> wanted;
  for (const std::string& text : platforms) {
    auto p = Platform::parse(text);
    if (!p)
      return Error(ErrorCode::Usage, "'" + text + "' is not a platform", "write it like linux/amd64 or linux/arm64");
    wanted.push_back(*p);
  }
  return wanted;
}

// A base that is one image (no index): its family from its media type, and its platform checked.
Status resolve_single_image(oci::Registry& registry, const std::string& mt, const json& top_json,
                            const std::string& top_bytes, const std::vector<Platform>& wanted,
                            const std::vector<std::string>& platforms, Base& base) {
  const oci::Reference& ref = base.ref;
  if (mt == oci::media::kDockerManifest) {
    base.family = MediaFamily::Docker;
  } else if (mt == oci::media::kOciManifest) {
    base.family = MediaFamily::Oci;
  } else if (mt.empty()) {
    std::string cmt = top_json.contains("config") && top_json["config"].is_object()
                          ? util::json_value(top_json["config"], "mediaType", "")
                          : "";
    base.family = cmt == oci::media::kDockerConfig ? MediaFamily::Docker : MediaFamily::Oci;
  } else {
    return Error(ErrorCode::Failure, "base image " + ref.str() + " is a " + mt + ", not an image",
                 "pick a base image published with a current tool");
  }
  WB_ASSIGN_OR_RETURN(BaseImage image, load_image(registry, ref, top_bytes, base.digest));
  if (!wanted.empty() &&
      std::none_of(wanted.begin(), wanted.end(), [&](const Platform& w) { return image.platform.matches(w); })) {
    return Error(ErrorCode::NotFound,
                 "base image " + ref.str() + " is " + image.platform.str() + ", not " + util::join(platforms, ", "),
                 "pick a multi-platform base image or drop the platform option");
  }
  base.images.push_back(std::move(image));
  return {};
}

// A base that is an index: the runnable platforms it lists (attestations and unknown/unknown
// left out), those wanted loaded; a wanted one it lacks is NotFound, naming what it has.
Status resolve_index(oci::Registry& registry, const std::string& mt, const json& top_json,
                     const std::vector<Platform>& wanted, const std::vector<std::string>& platforms, Base& base) {
  const oci::Reference& ref = base.ref;
  base.is_index = true;
  base.family = mt == oci::media::kDockerManifestList ? MediaFamily::Docker : MediaFamily::Oci;
  if (!top_json.contains("manifests") || !top_json["manifests"].is_array()) {
    return Error(ErrorCode::Failure, "the index of base image " + ref.str() + " lists no manifests");
  }
  std::vector<std::string> available;
  std::vector<bool> found(wanted.size(), false);
  for (const json& entry : top_json["manifests"]) {
    auto desc = oci::Descriptor::from_json(entry);
    if (!desc.ok() || is_index_type(desc->media_type) || !desc->platform) continue;
    if (desc->annotations.count("vnd.docker.reference.type")) continue;  // attestations
    Platform p = Platform::from_json(*desc->platform);
    if (p.os.empty() || p.os == "unknown" || p.architecture == "unknown") continue;
    available.push_back(p.str());
    bool selected = wanted.empty();
    for (size_t i = 0; i < wanted.size(); ++i) {
      if (p.matches(wanted[i])) {
        selected = true;
        found[i] = true;
      }
    }
    if (!selected) continue;
    oci::Reference by_digest = ref;
    by_digest.tag.clear();
    by_digest.digest = desc->digest;
    WB_ASSIGN_OR_RETURN(oci::Registry::Manifest m, registry.get_manifest(by_digest));
    if (oci::digest_of(m.bytes) != desc->digest) {
      return Error(ErrorCode::Failure, "the " + p.str() + " manifest of base image " + ref.str() +
                                           " does not match its digest " + desc->digest);
    }
    WB_ASSIGN_OR_RETURN(BaseImage image, load_image(registry, ref, m.bytes, desc->digest));
    image.platform = p;
    image.index_platform = *desc->platform;
    base.images.push_back(std::move(image));
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!found[i]) {
      return Error(ErrorCode::NotFound,
                   "base image " + ref.str() + " has no " + platforms[i] + " image (it has " +
                       (available.empty() ? std::string("none") : util::join(available, ", ")) + ")",
                   "pick another platform or another base image");
    }
  }
  if (base.images.empty()) {
    return Error(ErrorCode::NotFound, "base image " + ref.str() + " lists no runnable platform");
  }
  return {};
}

}  // namespace

Result<Base> resolve_base(oci::Registry& registry, const oci::Reference& ref,
                          const std::vector<std::string>& platforms) {
  WB_ASSIGN_OR_RETURN(std::vector<Platform> wanted, parse_platforms(platforms));
  WB_ASSIGN_OR_RETURN(oci::Registry::Manifest top, registry.get_manifest(ref));
  WB_ASSIGN_OR_RETURN(json top_json, parse_json(top.bytes, "the manifest of base image " + ref.str()));
  std::string mt = top.media_type.empty() ? util::json_value(top_json, "mediaType", "") : top.media_type;
  if (auto semi = mt.find(';'); semi != std::string::npos) mt = util::trim(mt.substr(0, semi));

  Base base;
  base.ref = ref;
  base.digest = top.digest.empty() ? oci::digest_of(top.bytes) : top.digest;
  if (is_index_type(mt) || (mt.empty() && top_json.contains("manifests")))
    WB_TRY(resolve_index(registry, mt, top_json, wanted, platforms, base));
  else
    WB_TRY(resolve_single_image(registry, mt, top_json, top.bytes, wanted, platforms, base));
  return base;
}

std::string created_time(const ImageOptions& options) {
  if (options.created_now) return util::format_rfc3339(options.clock ? options.clock() : util::Clock::now());
  return util::format_rfc3339(util::TimePoint(std::chrono::seconds(layer_mtime(options))));
}

int64_t layer_mtime(const ImageOptions& options) { return options.source_date_epoch.value_or(kDefaultEpoch); }

json build_config(const json& base_config, const jar::LayerPlan& plan, const std::vector<AppLayer>& layers,
                  const ImageOptions& options) {
  json c = base_config.is_object() ? base_config : json::object();
  if (!c.contains("config") || !c["config"].is_object()) c["config"] = json::object();
  json& cfg = c["config"];

  json entrypoint = json::array({options.java});
  for (const auto& f : options.jvm_flags) entrypoint.push_back(f);
  for (const auto& a : plan.java_args) entrypoint.push_back(a);
  cfg["Entrypoint"] = entrypoint;
  // The base's Cmd (e.g. "jshell") would become arguments of our entrypoint.
  if (options.args.empty()) {
    cfg.erase("Cmd");
  } else {
    cfg["Cmd"] = options.args;
  }
  cfg["WorkingDir"] = plan.working_dir;

  json env = cfg.contains("Env") && cfg["Env"].is_array() ? cfg["Env"] : json::array();
  for (const std::string& kv : options.env) {
    std::string key = kv.substr(0, kv.find('='));
    auto same = std::find_if(env.begin(), env.end(), [&](const json& e) {
      return e.is_string() && e.get<std::string>().substr(0, e.get<std::string>().find('=')) == key;
    });
    if (same != env.end()) {
      *same = kv;
    } else {
      env.push_back(kv);
    }
  }
  if (!env.empty()) cfg["Env"] = env;
  if (!options.user.empty()) cfg["User"] = options.user;
  if (!options.labels.empty()) {
    if (!cfg.contains("Labels") || !cfg["Labels"].is_object()) cfg["Labels"] = json::object();
    for (const auto& [k, v] : options.labels) cfg["Labels"][k] = v;
  }
  if (!options.ports.empty()) {
    if (!cfg.contains("ExposedPorts") || !cfg["ExposedPorts"].is_object()) cfg["ExposedPorts"] = json::object();
    for (const auto& p : options.ports)
      cfg["ExposedPorts"][p.find('/') == std::string::npos ? p + "/tcp" : p] = json::object();
  }

  const std::string created = created_time(options);
  c["created"] = created;
  if (!c.contains("history") || !c["history"].is_array()) c["history"] = json::array();
  if (!c.contains("rootfs") || !c["rootfs"].is_object()) c["rootfs"] = {{"type", "layers"}};
  if (!c["rootfs"].contains("diff_ids") || !c["rootfs"]["diff_ids"].is_array()) c["rootfs"]["diff_ids"] = json::array();
  for (const AppLayer& l : layers) {
    c["history"].push_back({{"created", created}, {"created_by", "wb: " + l.name}});
    c["rootfs"]["diff_ids"].push_back(l.diff_id);
  }
  return c;
}

json build_manifest(MediaFamily family, const oci::Descriptor& config, const json& base_manifest,
                    const std::vector<AppLayer>& layers) {
  json m = {{"schemaVersion", 2}, {"mediaType", manifest_media_type(family)}, {"config", config.to_json()}};
  json all =
      base_manifest.contains("layers") && base_manifest["layers"].is_array() ? base_manifest["layers"] : json::array();
  for (const AppLayer& l : layers) {
    all.push_back({{"mediaType", layer_media_type(family, l.gzip)}, {"digest", l.digest}, {"size", l.size}});
  }
  m["layers"] = all;
  return m;
}

json build_index(MediaFamily family, const std::vector<oci::Descriptor>& manifests) {
  json list = json::array();
  for (const auto& d : manifests) list.push_back(d.to_json());
  return {{"schemaVersion", 2}, {"mediaType", index_media_type(family)}, {"manifests", list}};
}

std::string to_bytes(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace wb::image
