// `wb push jar` without the command line: the push itself and rolling the app (the plan: push_jar_plan.cpp).
#include "workbench/delivery/push_jar.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "oci/auth.hpp"
#include "oci/layout.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/delivery/gc.hpp"
#include "workbench/delivery/push_jar_internal.hpp"

namespace wb::workbench {

namespace fs = std::filesystem;
using util::Error;
using util::ErrorCode;

namespace push_detail {

std::optional<std::string> env_value(const EnvLookup& env, const std::string& name) {
  if (!env) return std::nullopt;
  auto v = env(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

oci::Reference layout_ref(const fs::path& dir, const std::string& name, const std::string& tag) {
  return oci::Reference{"oci:" + dir.string(), name, tag, ""};
}

}  // namespace push_detail

using namespace push_detail;

namespace {

// A directory removed (with its contents) when it goes out of scope.
class TempDir {
 public:
  static Result<TempDir> make(const fs::path& parent, const std::string& prefix) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string tmpl = (parent / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(tmpl.data()))
      return Error(ErrorCode::Failure,
                   fmt::format("cannot make a temporary directory in {}: {}", parent.string(), std::strerror(errno)));
    return TempDir(tmpl);
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit TempDir(fs::path p) : path_(std::move(p)) {}
  fs::path path_;
};

// A label value (Kubernetes): at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends.
bool is_label_value(const std::string& v) {
  static const std::regex re("^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$");
  return std::regex_match(v, re);
}

// An empty base image (linux/amd64, no layers) in a fresh layout, tagged "scratch".
Status write_scratch_base(oci::OciLayout& layout) {
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
  const oci::Reference ref = layout_ref(layout.dir(), "scratch", "scratch");
  const std::string config_bytes = image::to_bytes(config);
  WB_ASSIGN_OR_RETURN(oci::Descriptor cfg, oci::put_blob_data(layout, ref, config_bytes, oci::media::kOciConfig));
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", oci::media::kOciManifest},
                   {"config", {{"mediaType", oci::media::kOciConfig}, {"digest", cfg.digest}, {"size", cfg.size}}},
                   {"layers", json::array()}};
  auto put = layout.put_manifest(ref, image::to_bytes(manifest), oci::media::kOciManifest);
  if (!put) return std::move(put).error();
  return {};
}

// Registry errors in the profile's terms (the HTTP layer speaks of kubeconfig-like settings).
Error registry_error(Error e) {
  if (e.hint.find("certificate-authority") != std::string::npos)
    e.hint = "set registry.ca in your profile to the CA that signed it (registry.insecure only on a trusted network)";
  return e;
}

}  // namespace

// ---------------------------------------------------------------- pushing

oci::RegistryOptions registry_options(const Settings& settings, const PushTarget& target, const EnvLookup& env,
                                      http::ClientOptions http) {
  oci::RegistryOptions o;
  o.http = std::move(http);
  // Blobs over 1 MiB are streamed from their source as they go up: a push holds about 1 MiB per
  // layer in flight, whatever the jar's size.
  o.stream_uploads = true;
  o.monolithic_max = int64_t{1} << 20;
  if (auto ca = settings.get("registry.ca"); ca && !ca->empty()) o.http.tls.ca_file = util::expand_home(*ca).string();
  const std::string host = settings.text("registry.host");
  if (settings.get_bool("registry.insecure")) {
    if (!host.empty()) o.insecure_registries.push_back(host);
    if (target.kind == PushTarget::Kind::Registry) o.insecure_registries.push_back(target.ref.registry);
    if (o.insecure_registries.empty()) o.insecure_registries.push_back("*");
  }
  oci::CredentialSources sources;
  sources.getenv = env;
  if (auto user = env_value(env, "WB_REGISTRY_USER")) {
    sources.username = *user;
    sources.password = env_value(env, "WB_REGISTRY_PASSWORD").value_or("");
    // Meant for where we push: the target's registry, else the profile's.
    sources.explicit_registry = target.kind == PushTarget::Kind::Registry ? target.ref.registry : host;
  }
  o.credentials = [sources](const std::string& registry, const std::string& repository) {
    return oci::find_credentials(registry, repository, sources);
  };
  return o;
}

fs::path layer_cache_file(const EnvLookup& env) {
  if (auto xdg = env_value(env, "XDG_CACHE_HOME")) return fs::path(*xdg) / "wb" / "layers.json";
  if (auto home = env_value(env, "HOME")) return fs::path(*home) / ".cache" / "wb" / "layers.json";
  return {};
}

namespace {

// One end of a push (the base read from, or the target written to): a registry, or a layout wb opened,
// with the directory that holds it while it is made.
struct ImageEnd {
  std::optional<TempDir> dir;
  std::unique_ptr<oci::OciLayout> layout;
  oci::Registry* registry = nullptr;
  oci::Reference ref;
};

using RegistryClient = std::function<oci::Registry&()>;

Result<ImageEnd> open_target(const PushPlan& plan, const RegistryClient& registry_client) {
  ImageEnd target;
  switch (plan.target.kind) {
    case PushTarget::Kind::Registry:
      target.registry = &registry_client();
      target.ref = plan.target.ref;
      target.ref.tag = plan.tags.front();
      break;
    case PushTarget::Kind::Layout: {
      WB_ASSIGN_OR_RETURN(target.layout, oci::OciLayout::open(plan.target.path, true));
      target.registry = target.layout.get();
      target.ref = layout_ref(plan.target.path, plan.app, plan.tags.front());
      break;
    }
    case PushTarget::Kind::Archive: {
      // The layout is made beside the tar (it holds the whole image; /tmp may be small).
      WB_ASSIGN_OR_RETURN(
          auto dir, TempDir::make(plan.target.path.parent_path(), "." + plan.target.path.filename().string() + ".wb-"));
      target.dir.emplace(std::move(dir));
      WB_ASSIGN_OR_RETURN(target.layout, oci::OciLayout::open(target.dir->path() / "layout", true));
      target.registry = target.layout.get();
      target.ref = layout_ref(plan.target.path, plan.app, plan.tags.front());
      break;
    }
  }
  return target;
}

Result<ImageEnd> open_base(const PushPlan& plan, const RegistryClient& registry_client) {
  ImageEnd base;
  base.ref = plan.base.ref;
  switch (plan.base.kind) {
    case BaseSource::Kind::Registry:
      base.registry = &registry_client();
      break;
    case BaseSource::Kind::Layout: {
      std::error_code ec;
      if (!fs::is_directory(plan.base.path, ec))
        return Error(ErrorCode::NotFound, fmt::format("base image {}: no such directory", plan.base.str()),
                     "write it like oci:DIR:TAG, DIR being an OCI image layout");
      WB_ASSIGN_OR_RETURN(base.layout, oci::OciLayout::open(plan.base.path, false));
      base.registry = base.layout.get();
      break;
    }
    case BaseSource::Kind::Scratch: {
      WB_ASSIGN_OR_RETURN(auto dir, TempDir::make(fs::temp_directory_path(), "wb-scratch-"));
      base.dir.emplace(std::move(dir));
      WB_ASSIGN_OR_RETURN(base.layout, oci::OciLayout::open(base.dir->path(), true));
      WB_TRY(write_scratch_base(*base.layout));
      base.registry = base.layout.get();
      base.ref = layout_ref(base.dir->path(), "scratch", "scratch");
      break;
    }
  }
  return base;
}

// A registry that cannot be reached or refuses us is found out before anything is built.
Status check_target_reachable(const PushPlan& plan, const ImageEnd& target) {
  if (plan.target.kind != PushTarget::Kind::Registry) return {};
  auto head = target.registry->head_manifest(target.ref);
  if (!head && head.error().code != ErrorCode::NotFound) return registry_error(std::move(head).error());
  return {};
}

}  // namespace

Result<image::PushResult> push_plan(const PushPlan& plan, const PushRun& run) {
  std::unique_ptr<oci::Registry> client;
  auto registry_client = [&]() -> oci::Registry& {
    if (!client) client = run.make_registry ? run.make_registry() : nullptr;
    if (!client) client = oci::make_registry_client({});
    return *client;
  };
  WB_ASSIGN_OR_RETURN(ImageEnd target, open_target(plan, registry_client));
  WB_ASSIGN_OR_RETURN(ImageEnd base, open_base(plan, registry_client));
  WB_TRY(check_target_reachable(plan, target));

  image::PushOptions o;
  o.image = plan.image;
  o.cache_file = run.cache_file;
  o.parallel = std::max(1, run.parallel);
  o.observer = run.observer;
  auto pushed = image::push_image(*target.registry, target.ref, plan.tags, *base.registry, base.ref, plan.layers, o);
  if (!pushed) return registry_error(std::move(pushed).error());
  image::PushResult result = std::move(*pushed);
  if (plan.target.kind == PushTarget::Kind::Archive)
    WB_TRY(oci::write_oci_archive(target.dir->path() / "layout", plan.target.path));
  if (plan.target.kind != PushTarget::Kind::Registry) result.reference = pushed_reference(plan, result);
  return result;
}

std::string pushed_reference(const PushPlan& plan, const image::PushResult& result) {
  switch (plan.target.kind) {
    case PushTarget::Kind::Layout:
      return "oci:" + plan.target.path.string() + ":" + plan.tags.front();
    case PushTarget::Kind::Archive:
      return "oci-archive:" + plan.target.path.string() + ":" + plan.tags.front();
    case PushTarget::Kind::Registry:
      break;
  }
  return plan.target.ref.with_digest(result.digest);
}

std::string push_change_cause(const PushPlan& plan) {
  std::string cause = "push " + plan.jar_name;
  if (!plan.provenance.version.empty()) cause += " " + plan.provenance.version;
  std::vector<std::string> extra;
  const Provenance& pv = plan.provenance;
  if (!pv.project.empty())
    extra.push_back(pv.ref.empty() ? pv.project : pv.project + "@" + pv.ref);
  else if (!pv.ref.empty())
    extra.push_back("ref " + pv.ref);
  if (!pv.revision.empty()) extra.push_back("commit " + pv.revision.substr(0, 8));
  if (!pv.pipeline.empty()) extra.push_back(pv.pipeline);
  if (!pv.job.empty()) extra.push_back("job " + pv.job);
  if (!extra.empty()) cause += " (" + util::join(extra, ", ") + ")";
  return cause;
}

// ---------------------------------------------------------------- deploying

Result<bool> set_app_image(json& deployment, const std::string& app, const std::string& image,
                           const std::string& jar_name, const std::string& version) {
  json& containers = deployment["spec"]["template"]["spec"]["containers"];
  json* container = nullptr;
  if (containers.is_array()) {
    for (auto& c : containers)
      if (c.value("name", "") == app) container = &c;
    if (!container && containers.size() == 1) container = &containers[0];
  }
  if (!container)
    return Error(ErrorCode::Failure, fmt::format("app '{}' has no container named '{}'", app, app),
                 "was it changed outside wb? `wb app create --update` rebuilds it");
  json& tmpl_meta = deployment["spec"]["template"]["metadata"];
  const bool same =
      container->value("image", "") == image &&
      util::json_value(util::json_at(tmpl_meta, "/annotations", json::object()), annotations::kJar, "") == jar_name;
  if (same) return false;
  (*container)["image"] = image;
  auto annotate = [&](json& meta) {
    if (!meta["annotations"].is_object()) meta["annotations"] = json::object();
    meta["annotations"][annotations::kJar] = jar_name;
  };
  annotate(deployment["metadata"]);
  annotate(tmpl_meta);
  if (!version.empty() && is_label_value(version)) {
    json& l = deployment["metadata"]["labels"];
    if (!l.is_object()) l = json::object();
    l[labels::kVersion] = version;
  }
  return true;
}

Result<DeployResult> deploy_image(kube::Client& client, const std::string& ns, const std::string& app,
                                  const std::string& image, const PushPlan& plan, const ChangeInfo& change) {
  DeployResult out;
  auto written = update_app(
      client, ns, app,
      [&](json& d) -> Status {
        WB_ASSIGN_OR_RETURN(out.changed, set_app_image(d, app, image, plan.jar_name, plan.provenance.version));
        if (out.changed) record_change(d, change);
        return {};
      },
      /*dry_run=*/false);
  // update_app writes even when nothing changed; that is harmless (no new version is made).
  if (!written) return std::move(written).error();
  out.deployment = std::move(*written);
  out.stopped = util::json_at(out.deployment, "/spec/replicas", 0) == 0;
  // Each push is a version to roll back to: wait (briefly) until the deployment controller has
  // made it one. Pushes quicker than the controller (a stopped app, a CI loop) would otherwise
  // replace a template it never saw, leaving that image with no version and ranked as old by
  // retention.
  if (out.changed) wait_until_observed(client, ns, app, std::chrono::seconds(10));
  return out;
}

}  // namespace wb::workbench
