// `wb push jar`'s plan: the words of the command, the jar, wb.yaml, the profile and CI made into a PushPlan.
#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "util/fs.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/delivery/push_jar.hpp"
#include "workbench/delivery/push_jar_internal.hpp"

namespace wb::workbench {

namespace fs = std::filesystem;
using util::Error;
using util::ErrorCode;
using namespace push_detail;

namespace {

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

// The jar must be there and be a file.
Status check_jar_path(const fs::path& jar_path, const fs::path& as_given) {
  std::error_code ec;
  if (!fs::exists(jar_path, ec))
    return Error(ErrorCode::NotFound, fmt::format("{} not found", as_given.string()), "pass the path of a jar");
  if (fs::is_directory(jar_path, ec))
    return Error(ErrorCode::Usage, fmt::format("{} is a directory, not a jar", as_given.string()));
  return {};
}

// wb.yaml's app section: the name and the port (nothing when there is no wb.yaml).
Result<AppOverrides> read_app_overrides(const fs::path& cwd) {
  AppOverrides file;
  if (!cwd.empty()) {
    if (auto path = find_app_file(cwd)) {
      WB_ASSIGN_OR_RETURN(auto text, util::read_file(*path));
      WB_ASSIGN_OR_RETURN(file, parse_app_file(text, path->string()));
    }
  }
  return file;
}

// The app: --app, else wb.yaml's name, else the jar's title or file name.
Status choose_app(PushPlan& plan, const PushRequest& req, const AppOverrides& file) {
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
  return {};
}

// Where to: --to, else the profile's registry, else a local layout.
Status choose_target(PushPlan& plan, const PushRequest& req, const Settings& settings, const PushEnvironment& env) {
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
  return {};
}

// Tags: --tag, else the one in --to, else CI's short commit, the jar's version or "latest"; each once.
Status choose_tags(PushPlan& plan, const PushRequest& req, const PushEnvironment& env) {
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
  return {};
}

// The base image: --base, else the profile's for the jar's Java, else scratch for a local target.
Status choose_base(PushPlan& plan, const PushRequest& req, const Settings& settings, const PushEnvironment& env) {
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
  return {};
}

// How layers are stored: --compression, else push.compression.
Result<image::Compression> choose_compression(const PushRequest& req, const Settings& settings) {
  if (!req.compression.empty()) {
    if (auto c = image::parse_compression(req.compression)) return *c;
    return Error(ErrorCode::Usage, fmt::format("--compression '{}' is not auto, gzip or none", req.compression));
  }
  const std::string value = settings.text("push.compression");
  if (auto c = image::parse_compression(value)) return *c;
  auto it = settings.all().find("push.compression");
  const std::string origin =
      it != settings.all().end() && !it->second.origin.empty() ? " (" + it->second.origin + ")" : "";
  return Error(ErrorCode::Usage, fmt::format("push.compression '{}'{} is not auto, gzip or none", value, origin),
               "set it to auto (the default), gzip or none");
}

// Image options: the build time, JVM flags, --env, the port, the platforms and the compression.
Status set_image_options(PushPlan& plan, const PushRequest& req, const Settings& settings, const PushEnvironment& env,
                         const AppOverrides& file) {
  image::ImageOptions& io = plan.image;
  WB_ASSIGN_OR_RETURN(io.compression, choose_compression(req, settings));
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
  return {};
}

// Labels: where the image comes from (OCI annotations and, in GitLab CI, where it was built).
void set_labels(PushPlan& plan, const PushEnvironment& env) {
  image::ImageOptions& io = plan.image;
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
}

}  // namespace

Result<PushPlan> plan_push(const PushRequest& req, const Settings& settings, const PushEnvironment& env) {
  PushPlan plan;
  const fs::path jar_path = absolute_from(req.jar, env.cwd);
  plan.jar_name = req.jar.filename().string();
  WB_TRY(check_jar_path(jar_path, req.jar));
  WB_ASSIGN_OR_RETURN(plan.jar, jar::inspect_jar(jar_path));
  WB_ASSIGN_OR_RETURN(plan.layers, jar::plan_layers(plan.jar));
  plan.warnings = plan.layers.warnings;
  WB_ASSIGN_OR_RETURN(const AppOverrides file, read_app_overrides(env.cwd));
  WB_TRY(choose_app(plan, req, file));
  WB_TRY(choose_target(plan, req, settings, env));
  WB_TRY(choose_tags(plan, req, env));
  WB_TRY(choose_base(plan, req, settings, env));
  WB_TRY(set_image_options(plan, req, settings, env, file));
  set_labels(plan, env);
  return plan;
}

}  // namespace wb::workbench
