// `wb push jar` without the command line: decisions, the push itself, and rolling the app.
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
#include "util/numbers.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "workbench/core/app.hpp"

namespace wb::workbench {

namespace fs = std::filesystem;
using util::Error;
using util::ErrorCode;

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

std::optional<std::string> env_value(const EnvLookup& env, const std::string& name) {
  if (!env) return std::nullopt;
  auto v = env(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

fs::path absolute_from(const fs::path& p, const fs::path& cwd) {
  if (p.is_absolute() || cwd.empty()) return p.lexically_normal();
  return (cwd / p).lexically_normal();
}

// "DIR[:TAG]": splits off a trailing ":TAG" when what follows the last ':' is a tag (no '/').
std::pair<std::string, std::string> split_path_tag(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return {text, ""};
  std::string tail = text.substr(colon + 1);
  if (tail.find('/') != std::string::npos || !is_valid_tag(tail)) return {text, ""};
  return {text.substr(0, colon), tail};
}

// Whether the reference text names a tag itself ("reg:5000/a/b:1.2" yes, "reg:5000/a/b" no).
bool reference_has_tag(const std::string& text) {
  std::string s = text.substr(0, text.find('@'));
  auto slash = s.rfind('/');
  std::string last = slash == std::string::npos ? s : s.substr(slash + 1);
  return last.find(':') != std::string::npos;
}

// A label value (Kubernetes): at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends.
bool is_label_value(const std::string& v) {
  static const std::regex re("^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$");
  return std::regex_match(v, re);
}

// The oci:/tar: stand-in reference of a local layout (its registry and repository are ignored).
oci::Reference layout_ref(const fs::path& dir, const std::string& name, const std::string& tag) {
  return oci::Reference{"oci:" + dir.string(), name, tag, ""};
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

// ---------------------------------------------------------------- parsing

std::string PushTarget::str() const {
  switch (kind) {
    case Kind::Layout:
      return "oci:" + path.string();
    case Kind::Archive:
      return "tar:" + path.string();
    case Kind::Registry:
      break;
  }
  return ref.name();
}

Result<PushTarget> parse_target(const std::string& text, const fs::path& cwd) {
  PushTarget t;
  if (text.rfind("oci:", 0) == 0) {
    auto [dir, tag] = split_path_tag(text.substr(4));
    if (dir.empty()) return Error(ErrorCode::Usage, "--to oci: needs a directory", "write it like oci:build/image");
    t.kind = PushTarget::Kind::Layout;
    t.path = absolute_from(dir, cwd);
    t.explicit_tag = tag;
    return t;
  }
  if (text.rfind("tar:", 0) == 0) {
    std::string file = text.substr(4);
    if (file.empty()) return Error(ErrorCode::Usage, "--to tar: needs a file name", "write it like tar:orders.tar");
    t.kind = PushTarget::Kind::Archive;
    t.path = absolute_from(file, cwd);
    return t;
  }
  WB_ASSIGN_OR_RETURN(t.ref, oci::parse_reference(text));
  if (!t.ref.digest.empty())
    return Error(ErrorCode::Usage, fmt::format("--to '{}' names a digest; an image is pushed to a repository", text),
                 "drop the @sha256:... part");
  if (reference_has_tag(text)) t.explicit_tag = t.ref.tag;
  t.ref.tag.clear();
  return t;
}

std::string BaseSource::str() const {
  switch (kind) {
    case Kind::Scratch:
      return "scratch";
    case Kind::Layout:
      return "oci:" + path.string() + ":" + ref.tag_or_digest();
    case Kind::Registry:
      break;
  }
  return ref.str();
}

Result<BaseSource> parse_base(const std::string& text, const fs::path& cwd) {
  BaseSource b;
  if (text == "scratch") {
    b.kind = BaseSource::Kind::Scratch;
    b.ref = oci::Reference{"wb", "scratch", "scratch", ""};
    return b;
  }
  if (text.rfind("oci:", 0) == 0) {
    std::string rest = text.substr(4);
    std::string digest;
    if (auto at = rest.rfind("@sha256:"); at != std::string::npos) {
      digest = rest.substr(at + 1);
      rest = rest.substr(0, at);
      if (!oci::is_valid_digest(digest))
        return Error(ErrorCode::Usage, fmt::format("base image '{}' has a malformed digest", text));
    }
    auto [dir, tag] = split_path_tag(rest);
    if (dir.empty()) return Error(ErrorCode::Usage, "base image oci: needs a directory", "write it like oci:DIR:17");
    b.kind = BaseSource::Kind::Layout;
    b.path = absolute_from(dir, cwd);
    b.ref = layout_ref(b.path, "base", digest.empty() ? (tag.empty() ? "latest" : tag) : "");
    b.ref.digest = digest;
    return b;
  }
  WB_ASSIGN_OR_RETURN(b.ref, oci::parse_reference(text));
  return b;
}

Result<std::string> choose_base_image(const std::map<std::string, std::string>& base_images, int java_version,
                                      const std::string& jar_name) {
  std::vector<std::pair<int, std::string>> versions;
  for (const auto& [key, ref] : base_images)
    if (auto v = util::parse_int<int>(key, ""); v && !ref.empty()) versions.emplace_back(*v, ref);
  std::sort(versions.begin(), versions.end());
  for (const auto& [v, ref] : versions)
    if (v >= java_version) return ref;
  std::vector<std::string> have;
  for (const auto& [v, ref] : versions) have.push_back(std::to_string(v));
  if (have.empty())
    return Error(ErrorCode::Usage, fmt::format("no base image for {}: the profile has no baseImages", jar_name),
                 "set baseImages in your profile, or pass --base IMAGE");
  return Error(ErrorCode::Usage,
               fmt::format("{} needs Java {} but the profile only has base images for {}", jar_name, java_version,
                           util::join(have, ", ")),
               "pass --base IMAGE with a newer Java, or ask your platform team for one");
}

std::string app_name_from(const std::string& text) {
  std::string out;
  for (char c : util::to_lower(text)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok)
      out += c;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  // Must start with a letter and end with a letter or digit.
  auto first = out.find_first_of("abcdefghijklmnopqrstuvwxyz");
  out = first == std::string::npos ? "" : out.substr(first);
  if (out.size() > kMaxAppNameLength) out.resize(kMaxAppNameLength);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool is_valid_tag(const std::string& tag) {
  static const std::regex re("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$");
  return std::regex_match(tag, re);
}

std::string tag_from_version(const std::string& version) {
  std::string out;
  for (char c : version) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    out += ok ? c : '-';
  }
  while (!out.empty() && (out[0] == '.' || out[0] == '-')) out.erase(0, 1);
  if (out.size() > 128) out.resize(128);
  return out;
}

std::string strip_url_credentials(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;  // scp-like "git@host:group/repo.git" has no secret
  auto host_start = scheme + 3;
  auto path_start = url.find('/', host_start);
  auto at = url.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + url.substr(at + 1);
}

// ---------------------------------------------------------------- git

std::function<std::optional<std::string>(const std::vector<std::string>&)> git_answers(gitops::GitRunner git,
                                                                                       fs::path cwd) {
  return
      [git = std::move(git), cwd = std::move(cwd)](const std::vector<std::string>& args) -> std::optional<std::string> {
        auto run = git(cwd, args);
        if (!run || run->exit_code != 0) return std::nullopt;
        std::string trimmed = util::trim(run->out);
        if (trimmed.empty()) return std::nullopt;
        return trimmed;
      };
}

// ---------------------------------------------------------------- planning

namespace {

Provenance provenance(const jar::JarInfo& info, const PushEnvironment& env) {
  Provenance p;
  auto git = [&](const std::vector<std::string>& args) -> std::string {
    if (!env.git) return "";
    return env.git(args).value_or("");
  };
  if (auto v = env_value(env.env, "CI_PROJECT_URL"))
    p.source = *v;
  else
    p.source = strip_url_credentials(git({"config", "--get", "remote.origin.url"}));
  if (auto v = env_value(env.env, "CI_COMMIT_SHA"))
    p.revision = *v;
  else
    p.revision = git({"rev-parse", "--verify", "-q", "HEAD"});
  if (auto v = env_value(env.env, "CI_COMMIT_TAG"))
    p.version = *v;
  else if (!info.implementation_version.empty())
    p.version = info.implementation_version;
  else if (auto ref = env_value(env.env, "CI_COMMIT_REF_NAME"))
    p.version = *ref;
  if (auto v = env_value(env.env, "CI_PIPELINE_URL")) p.pipeline = *v;
  if (auto v = env_value(env.env, "CI_JOB_URL")) p.job = *v;
  if (auto v = env_value(env.env, "CI_PROJECT_PATH")) p.project = *v;
  if (auto v = env_value(env.env, "CI_COMMIT_REF_NAME")) p.ref = *v;
  return p;
}

}  // namespace

Result<PushPlan> plan_push(const PushRequest& req, const Settings& settings, const PushEnvironment& env) {
  PushPlan plan;
  const fs::path jar_path = absolute_from(req.jar, env.cwd);
  plan.jar_name = req.jar.filename().string();
  {
    std::error_code ec;
    if (!fs::exists(jar_path, ec))
      return Error(ErrorCode::NotFound, fmt::format("{} not found", req.jar.string()), "pass the path of a jar");
    if (fs::is_directory(jar_path, ec))
      return Error(ErrorCode::Usage, fmt::format("{} is a directory, not a jar", req.jar.string()));
  }
  WB_ASSIGN_OR_RETURN(plan.jar, jar::inspect_jar(jar_path));
  WB_ASSIGN_OR_RETURN(plan.layers, jar::plan_layers(plan.jar));
  plan.warnings = plan.layers.warnings;

  // wb.yaml's app section: the name and the port.
  AppOverrides file;
  if (!env.cwd.empty()) {
    if (auto path = find_app_file(env.cwd)) {
      WB_ASSIGN_OR_RETURN(auto text, util::read_file(*path));
      WB_ASSIGN_OR_RETURN(file, parse_app_file(text, path->string()));
    }
  }

  // The app.
  if (!req.app.empty()) {
    WB_TRY(check_app_name(req.app));
    plan.app = req.app;
  } else if (file.name) {
    plan.app = *file.name;
  } else {
    plan.app = app_name_from(plan.jar.implementation_title);
    if (plan.app.empty()) plan.app = app_name_from(req.jar.stem().string());
    if (plan.app.empty())
      return Error(ErrorCode::Usage, fmt::format("cannot tell the app's name from {}", plan.jar_name),
                   "pass --app NAME");
  }

  // Where to.
  if (!req.to.empty()) {
    WB_ASSIGN_OR_RETURN(plan.target, parse_target(req.to, env.cwd));
  } else if (auto host = settings.get("registry.host"); host && !host->empty()) {
    std::string project = settings.text("registry.project");
    while (!project.empty() && project.back() == '/') project.pop_back();
    std::string repo = *host + "/" + (project.empty() ? "" : project + "/") + plan.app;
    auto ref = oci::parse_reference(repo);
    if (!ref)
      return Error(ErrorCode::Usage,
                   fmt::format("registry.host and registry.project make '{}', not an image repository", repo),
                   "check them with `wb profile show --resolved`");
    plan.target.ref = *ref;
    plan.target.ref.tag.clear();
  } else {
    plan.target.kind = PushTarget::Kind::Layout;
    plan.target.path = absolute_from("build/wb-image", env.cwd);
    plan.target.local_default = true;
    plan.notes.push_back(
        fmt::format("no registry configured (registry.host): writing the image to {}", plan.target.str()));
  }

  // Tags.
  for (const auto& t : req.tags)
    if (!is_valid_tag(t))
      return Error(ErrorCode::Usage, fmt::format("--tag '{}' is not a valid image tag", t),
                   "use letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')");
  plan.tags = req.tags;
  if (plan.tags.empty() && !plan.target.explicit_tag.empty()) plan.tags.push_back(plan.target.explicit_tag);
  if (plan.tags.empty()) {
    if (auto sha = env_value(env.env, "CI_COMMIT_SHORT_SHA"); sha && is_valid_tag(*sha))
      plan.tags.push_back(*sha);
    else if (auto v = tag_from_version(plan.jar.implementation_version); !v.empty())
      plan.tags.push_back(v);
    else
      plan.tags.push_back("latest");
  }
  std::vector<std::string> unique;
  for (const auto& t : plan.tags)
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(t);
  plan.tags = unique;

  // The base image.
  if (!req.base.empty()) {
    WB_ASSIGN_OR_RETURN(plan.base, parse_base(req.base, env.cwd));
  } else if (auto bases = settings.get_map("baseImages"); !bases.empty()) {
    WB_ASSIGN_OR_RETURN(std::string chosen, choose_base_image(bases, plan.layers.java_version, plan.jar_name));
    WB_ASSIGN_OR_RETURN(plan.base, parse_base(chosen, env.cwd));
  } else if (plan.target.kind != PushTarget::Kind::Registry) {
    WB_ASSIGN_OR_RETURN(plan.base, parse_base("scratch", env.cwd));
    plan.warnings.push_back(
        "no base image configured (baseImages in the profile): the image has no Java and cannot run as it is; "
        "pass --base IMAGE for one that can");
  } else {
    return Error(ErrorCode::Usage, fmt::format("no base image for {}: the profile has no baseImages", plan.jar_name),
                 "set baseImages in your profile, or pass --base IMAGE (--base scratch for an image without Java)");
  }
  if (plan.base.kind == BaseSource::Kind::Scratch && !req.base.empty())
    plan.warnings.push_back("an empty base image (scratch) has no Java: the image cannot run as it is");

  // Image options.
  image::ImageOptions& io = plan.image;
  if (auto sde = env_value(env.env, "SOURCE_DATE_EPOCH")) {
    auto v = util::parse_int<int64_t>(*sde, "", 0);
    if (!v)
      return Error(ErrorCode::Usage, fmt::format("SOURCE_DATE_EPOCH '{}' is not a number of seconds", *sde),
                   "set it to e.g. $(git log -1 --format=%ct), or unset it");
    io.source_date_epoch = *v;
  }
  io.jvm_flags = req.jvm_flags;
  for (const auto& kv : req.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(ErrorCode::Usage, fmt::format("--env '{}' must look like NAME=VALUE", kv));
    WB_TRY(check_env_name(kv.substr(0, eq)));
    io.env.push_back(kv);
  }
  io.ports.push_back(std::to_string(file.port.value_or(kDefaultAppPort)) + "/tcp");
  if (!req.platform.empty() && req.platform != "all") {
    for (auto& p : util::split(req.platform, ',')) {
      std::string t = util::trim(p);
      if (t.empty()) continue;
      if (!image::Platform::parse(t))
        return Error(ErrorCode::Usage, fmt::format("--platform: '{}' is not a platform", t),
                     "write them like linux/amd64,linux/arm64, or all");
      io.platforms.push_back(t);
    }
  }

  // Labels.
  plan.provenance = provenance(plan.jar, env);
  const Provenance& pv = plan.provenance;
  if (!pv.source.empty()) io.labels["org.opencontainers.image.source"] = pv.source;
  if (!pv.revision.empty()) io.labels["org.opencontainers.image.revision"] = pv.revision;
  if (!pv.version.empty()) io.labels["org.opencontainers.image.version"] = pv.version;
  // Where in GitLab CI it was built (absent outside CI).
  if (!pv.project.empty()) io.labels["dev.wb.ci.project"] = pv.project;
  if (!pv.ref.empty()) io.labels["dev.wb.ci.ref"] = pv.ref;
  if (!pv.pipeline.empty()) io.labels["dev.wb.ci.pipeline-url"] = pv.pipeline;
  if (!pv.job.empty()) io.labels["dev.wb.ci.job-url"] = pv.job;
  io.labels["org.opencontainers.image.title"] = plan.app;
  io.labels["org.opencontainers.image.created"] = image::created_time(io);
  return plan;
}

// ---------------------------------------------------------------- pushing

oci::RegistryOptions registry_options(const Settings& settings, const PushTarget& target, const EnvLookup& env,
                                      http::ClientOptions http) {
  oci::RegistryOptions o;
  o.http = std::move(http);
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

Result<image::PushResult> push_plan(const PushPlan& plan, const PushRun& run) {
  std::unique_ptr<oci::Registry> client;
  auto registry_client = [&]() -> oci::Registry& {
    if (!client) client = run.make_registry ? run.make_registry() : nullptr;
    if (!client) client = oci::make_registry_client({});
    return *client;
  };

  // The target.
  std::optional<TempDir> archive_dir;
  std::unique_ptr<oci::OciLayout> target_layout;
  oci::Registry* target = nullptr;
  oci::Reference target_ref;
  switch (plan.target.kind) {
    case PushTarget::Kind::Registry:
      target = &registry_client();
      target_ref = plan.target.ref;
      target_ref.tag = plan.tags.front();
      break;
    case PushTarget::Kind::Layout: {
      WB_ASSIGN_OR_RETURN(target_layout, oci::OciLayout::open(plan.target.path, true));
      target = target_layout.get();
      target_ref = layout_ref(plan.target.path, plan.app, plan.tags.front());
      break;
    }
    case PushTarget::Kind::Archive: {
      // The layout is made beside the tar (it holds the whole image; /tmp may be small).
      WB_ASSIGN_OR_RETURN(
          auto dir, TempDir::make(plan.target.path.parent_path(), "." + plan.target.path.filename().string() + ".wb-"));
      archive_dir.emplace(std::move(dir));
      WB_ASSIGN_OR_RETURN(target_layout, oci::OciLayout::open(archive_dir->path() / "layout", true));
      target = target_layout.get();
      target_ref = layout_ref(plan.target.path, plan.app, plan.tags.front());
      break;
    }
  }

  // The base.
  std::optional<TempDir> scratch_dir;
  std::unique_ptr<oci::OciLayout> base_layout;
  oci::Registry* base = nullptr;
  oci::Reference base_ref = plan.base.ref;
  switch (plan.base.kind) {
    case BaseSource::Kind::Registry:
      base = &registry_client();
      break;
    case BaseSource::Kind::Layout: {
      std::error_code ec;
      if (!fs::is_directory(plan.base.path, ec))
        return Error(ErrorCode::NotFound, fmt::format("base image {}: no such directory", plan.base.str()),
                     "write it like oci:DIR:TAG, DIR being an OCI image layout");
      WB_ASSIGN_OR_RETURN(base_layout, oci::OciLayout::open(plan.base.path, false));
      base = base_layout.get();
      break;
    }
    case BaseSource::Kind::Scratch: {
      WB_ASSIGN_OR_RETURN(auto dir, TempDir::make(fs::temp_directory_path(), "wb-scratch-"));
      scratch_dir.emplace(std::move(dir));
      WB_ASSIGN_OR_RETURN(base_layout, oci::OciLayout::open(scratch_dir->path(), true));
      WB_TRY(write_scratch_base(*base_layout));
      base = base_layout.get();
      base_ref = layout_ref(scratch_dir->path(), "scratch", "scratch");
      break;
    }
  }

  // A registry that cannot be reached or refuses us is found out before anything is built.
  if (plan.target.kind == PushTarget::Kind::Registry) {
    auto head = target->head_manifest(target_ref);
    if (!head && head.error().code != ErrorCode::NotFound) return registry_error(std::move(head).error());
  }

  image::PushOptions o;
  o.image = plan.image;
  o.cache_file = run.cache_file;
  o.parallel = std::max(1, run.parallel);
  o.observer = run.observer;
  auto pushed = image::push_image(*target, target_ref, plan.tags, *base, base_ref, plan.layers, o);
  if (!pushed) return registry_error(std::move(pushed).error());
  image::PushResult result = std::move(*pushed);
  if (plan.target.kind == PushTarget::Kind::Archive)
    WB_TRY(oci::write_oci_archive(archive_dir->path() / "layout", plan.target.path));
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
      tmpl_meta.value("/annotations"_json_pointer, json::object()).value(annotations::kJar, "") == jar_name;
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
  out.stopped = out.deployment.value("/spec/replicas"_json_pointer, 0) == 0;
  return out;
}

}  // namespace wb::workbench
