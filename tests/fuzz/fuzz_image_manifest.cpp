// A base image as a registry describes it: its manifest or index (Docker schema 2 or OCI), the
// per-platform manifests and config JSON, read by image::resolve_base through a fake registry
// (no network); then what wb writes on top (config, manifest, index) from what was read. Also
// descriptors and image references. Input: documents separated by "\n--doc--\n", answered in
// order (the first for the reference asked for, the next for each digest or config blob).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/config.hpp"
#include "jar/plan.hpp"
#include "oci/oci.hpp"

namespace {

using namespace wb;

struct FakeRegistry : oci::Registry {
  std::vector<std::string> docs;
  size_t next = 0;
  const std::string* take() { return next < docs.size() ? &docs[next++] : nullptr; }

  util::Result<Manifest> get_manifest(const oci::Reference&) override {
    const std::string* d = take();
    if (!d) return util::Error(util::ErrorCode::NotFound, "manifest unknown");
    Manifest m;
    m.bytes = *d;
    auto j = nlohmann::json::parse(*d, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) m.media_type = j["mediaType"];
    m.digest = oci::digest_of(*d);
    return m;
  }
  util::Result<bool> has_blob(const oci::Reference&, const std::string&) override { return false; }
  util::Status get_blob(const oci::Reference&, const std::string&, const http::BodySink& sink) override {
    const std::string* d = take();
    if (!d) return util::Error(util::ErrorCode::NotFound, "blob unknown");
    if (!sink(*d)) return util::Error(util::ErrorCode::Interrupted, "stopped");
    return {};
  }
  util::Result<bool> mount_blob(const oci::Reference&, const std::string&, const std::string&) override {
    return false;
  }
  util::Result<oci::Descriptor> put_blob(const oci::Reference&, const http::BodyReader&, int64_t,
                                         const std::string&, const std::string&) override {
    return util::Error(util::ErrorCode::Failure, "read-only");
  }
  util::Result<oci::Descriptor> put_blob(const oci::Reference&, const BlobOpener&, int64_t, const std::string&,
                                         const std::string&) override {
    return util::Error(util::ErrorCode::Failure, "read-only");
  }
  util::Result<std::string> put_manifest(const oci::Reference&, const std::string&, const std::string&) override {
    return util::Error(util::ErrorCode::Failure, "read-only");
  }
  util::Result<oci::Descriptor> head_manifest(const oci::Reference&) override {
    return util::Error(util::ErrorCode::NotFound, "manifest unknown");
  }
  util::Status delete_manifest(const oci::Reference&) override {
    return util::Error(util::ErrorCode::Failure, "read-only");
  }
  util::Result<std::vector<std::string>> list_tags(const oci::Reference&) override {
    return std::vector<std::string>{};
  }
  util::Status ping(const std::string&) override { return {}; }
  util::Status check_push(const oci::Reference&) override { return util::Error(util::ErrorCode::Failure, "read-only"); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  FakeRegistry registry;
  for (size_t at = 0; registry.docs.size() < 16;) {
    auto sep = all.find("\n--doc--\n", at);
    registry.docs.emplace_back(all.substr(at, sep == std::string_view::npos ? std::string_view::npos : sep - at));
    if (sep == std::string_view::npos) break;
    at = sep + 9;
  }
  for (const auto& d : registry.docs) {
    if (d.size() < 256 && d.find('\n') == std::string::npos)
      if (auto ref = oci::parse_reference(d); ref.ok()) (void)oci::parse_reference(ref->str());
    (void)oci::is_valid_digest(d);
    (void)image::Platform::parse(d);
    auto j = nlohmann::json::parse(d, nullptr, false);
    if (j.is_object())
      for (const char* list : {"manifests", "layers"})
        if (auto it = j.find(list); it != j.end() && it->is_array())
          for (const auto& item : *it) (void)oci::Descriptor::from_json(item);
  }

  auto ref = oci::parse_reference("registry.example/base/jre:17");
  if (!ref.ok()) std::abort();
  for (const std::vector<std::string>& platforms :
       {std::vector<std::string>{}, std::vector<std::string>{"linux/amd64", "linux/arm64"}}) {
    registry.next = 0;
    auto base = image::resolve_base(registry, *ref, platforms);
    if (!base.ok()) continue;
    jar::LayerPlan plan;
    plan.main_class = "com.example.Main";
    plan.java_args = {"-jar", "/app/app.jar"};
    std::vector<image::AppLayer> layers = {{"application", "sha256:" + std::string(64, 'a'),
                                            "sha256:" + std::string(64, 'b'), 1234}};
    image::ImageOptions options;
    options.source_date_epoch = 0;
    options.ports = {"8080"};
    options.env = {"TZ=UTC"};
    std::vector<oci::Descriptor> manifests;
    for (const auto& img : base->images) {
      auto config = image::build_config(img.config, plan, layers, options);
      oci::Descriptor cd;
      cd.media_type = image::config_media_type(base->family);
      cd.digest = oci::digest_of(image::to_bytes(config));
      cd.size = static_cast<int64_t>(image::to_bytes(config).size());
      auto manifest = image::build_manifest(base->family, cd, img.manifest, layers);
      oci::Descriptor md;
      md.media_type = image::manifest_media_type(base->family);
      md.digest = oci::digest_of(image::to_bytes(manifest));
      md.size = static_cast<int64_t>(image::to_bytes(manifest).size());
      md.platform = img.index_platform ? *img.index_platform
                                       : nlohmann::json{{"os", img.platform.os}, {"architecture", img.platform.architecture}};
      (void)md.to_json();
      manifests.push_back(md);
    }
    (void)image::build_index(base->family, manifests);
  }
  return 0;
}
