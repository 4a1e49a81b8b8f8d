// GitOps: app manifests in a config checkout (YAML, layout, kustomizations), the edits push jar and
// config set make there, and the git runner that commits and pushes them.
#include "workbench/delivery/gitops.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <regex>
#include <set>

#include "util/fs.hpp"
#include "util/numbers.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "util/yaml.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/versions/routes.hpp"

namespace wb::workbench::gitops {

using util::Error;
using util::ErrorCode;

namespace {

std::string str_at(const json& obj, const char* pointer) {
  const json& v = fields::at(obj, pointer);
  return v.is_string() ? v.get<std::string>() : "";
}

// ---------------------------------------------------------------- kustomizations

json new_kustomization() {
  return {{"apiVersion", "kustomize.config.k8s.io/v1beta1"}, {"kind", "Kustomization"}, {"resources", json::array()}};
}

Result<json> read_kustomization(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return new_kustomization();
  WB_ASSIGN_OR_RETURN(auto text, util::read_file(file));
  WB_ASSIGN_OR_RETURN(auto docs, parse_yaml(text, file.string()));
  if (docs.empty()) return new_kustomization();
  if (!docs[0].is_object())
    return Error(ErrorCode::Usage, fmt::format("{}: not a kustomization", file.string()), "fix or remove the file");
  json k = docs[0];
  if (!k.contains("resources") || !k["resources"].is_array()) k["resources"] = json::array();
  return k;
}

std::vector<std::string> resources_of(const json& k) {
  std::vector<std::string> out;
  for (const auto& r : k.value("resources", json::array()))
    if (r.is_string()) out.push_back(r.get<std::string>());
  return out;
}

void set_resources(json& k, std::vector<std::string> list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  k["resources"] = list;
}

// A file wb itself names (and may therefore replace or remove).
bool is_wb_file(const std::string& name) {
  static const std::regex re("^(deployment|service|ingress|(config|routes)-v[0-9]+)\\.yaml$");
  return std::regex_match(name, re);
}

std::string rel_path(const fs::path& p, const fs::path& root) { return p.lexically_relative(root).generic_string(); }

}  // namespace

// ---------------------------------------------------------------- YAML

std::string to_yaml(const json& object) { return util::to_yaml(object); }

Result<std::vector<json>> parse_yaml(const std::string& text, const std::string& file_name) {
  return util::parse_yaml(text, file_name, "fix the file in the config repository");
}

// ---------------------------------------------------------------- objects and files

namespace {

void erase_if_equal(json& object, const char* key, const json& value) {
  if (!object.is_object()) return;
  if (auto it = object.find(key); it != object.end() && *it == value) object.erase(it);
}

// What the API server fills into a pod template that wb leaves out, at the value it fills in.
void drop_pod_defaults(json& pod_spec) {
  if (!pod_spec.is_object()) return;
  erase_if_equal(pod_spec, "dnsPolicy", "ClusterFirst");
  erase_if_equal(pod_spec, "restartPolicy", "Always");
  erase_if_equal(pod_spec, "schedulerName", "default-scheduler");
  erase_if_equal(pod_spec, "securityContext", json::object());
  for (const char* list : {"containers", "initContainers"}) {
    if (!pod_spec.contains(list) || !pod_spec[list].is_array()) continue;
    for (auto& c : pod_spec[list]) {
      erase_if_equal(c, "terminationMessagePath", "/dev/termination-log");
      erase_if_equal(c, "terminationMessagePolicy", "File");
    }
  }
  if (pod_spec.contains("volumes") && pod_spec["volumes"].is_array())
    for (auto& v : pod_spec["volumes"])
      for (const char* source : {"configMap", "secret", "projected", "downwardAPI"})
        if (v.is_object() && v.contains(source)) erase_if_equal(v[source], "defaultMode", 420);
}

// Defaults a real API server writes into the objects wb makes (wb never sets these fields): left
// in, they show up in every review and tie the manifests to one cluster (a Service's ipFamilies);
// applied without them, the server fills in the same again.
void drop_server_defaults(json& o) {
  if (!o.contains("spec") || !o["spec"].is_object()) return;
  json& spec = o["spec"];
  const std::string kind = o.value("kind", "");
  if (kind == "Deployment") {
    erase_if_equal(spec, "progressDeadlineSeconds", 600);
    if (spec.contains("template") && spec["template"].is_object() && spec["template"].contains("spec"))
      drop_pod_defaults(spec["template"]["spec"]);
  } else if (kind == "Service") {
    spec.erase("ipFamilies");  // chosen by the cluster, like the clusterIP
    erase_if_equal(spec, "ipFamilyPolicy", "SingleStack");
    erase_if_equal(spec, "internalTrafficPolicy", "Cluster");
    erase_if_equal(spec, "sessionAffinity", "None");
  }
}

}  // namespace

json without_cluster_fields(json o) {
  if (!o.is_object()) return o;
  drop_server_defaults(o);
  o.erase("status");
  if (o.contains("metadata") && o["metadata"].is_object()) {
    json& m = o["metadata"];
    for (const char* k : {"resourceVersion", "uid", "managedFields", "creationTimestamp", "generation", "selfLink",
                          "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds"})
      m.erase(k);
    if (m.contains("annotations") && m["annotations"].is_object()) {
      m["annotations"].erase(annotations::kRevision);
      m["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
      if (m["annotations"].empty()) m.erase("annotations");
    }
  }
  if (o.value("kind", "") == "Service" && o.contains("spec") && o["spec"].is_object()) {
    o["spec"].erase("clusterIP");  // allocated by the cluster; another cluster has its own
    o["spec"].erase("clusterIPs");
  }
  if (o.contains("spec") && o["spec"].is_object() && o["spec"].contains("template") &&
      o["spec"]["template"].is_object() && o["spec"]["template"].contains("metadata")) {
    o["spec"]["template"]["metadata"].erase("creationTimestamp");  // null in what the server returns
  }
  return o;
}

void keep_from_pruning(json& object) {
  json& a = object["metadata"]["annotations"];
  if (!a.is_object()) a = json::object();
  a[kArgoSyncOptions] = "Prune=false";
  a[kArgoCompareOptions] = "IgnoreExtraneous";
}

std::string file_name_for(const json& object, const std::string& app) {
  const std::string kind = object.value("kind", "");
  const std::string name = str_at(object, "/metadata/name");
  if (name == app && (kind == "Deployment" || kind == "Service" || kind == "Ingress"))
    return util::to_lower(kind) + ".yaml";
  if (kind == "ConfigMap") {
    static const std::regex versioned("^(config|routes)-v([0-9]+)$");
    std::smatch m;
    const std::string prefix = app + "-";
    if (name.rfind(prefix, 0) == 0) {
      const std::string rest = name.substr(prefix.size());
      if (std::regex_match(rest, m, versioned)) return rest + ".yaml";
    }
  }
  return util::to_lower(kind) + "-" + name + ".yaml";
}

fs::path app_dir(const fs::path& root, const std::string& workspace, const std::string& app) {
  return root / workspace / app;
}

Result<WrittenApp> write_app(const fs::path& root, const std::string& workspace, const std::string& app,
                             const std::vector<json>& objects) {
  WrittenApp out;
  out.dir = app_dir(root, workspace, app);
  // Everything is decided before the first file is written.
  std::map<std::string, std::string> files;
  for (const auto& obj : objects) {
    if (obj.value("kind", "") == "Secret")
      return Error(ErrorCode::Usage,
                   fmt::format("secret '{}' cannot go into a git repository", str_at(obj, "/metadata/name")));
    json clean = without_cluster_fields(obj);
    if (clean.value("kind", "") == "ConfigMap" && config_version_number(clean, app) > 0 &&
        str_at(clean, "/metadata/name").find("-config-v") != std::string::npos)
      keep_from_pruning(clean);
    files[file_name_for(clean, app)] = to_yaml(clean);
  }
  WB_ASSIGN_OR_RETURN(json kust, read_kustomization(out.dir / kKustomization));
  std::vector<std::string> resources;
  for (const auto& r : resources_of(kust)) {
    if (!is_wb_file(r) || files.count(r)) {
      if (!is_wb_file(r)) resources.push_back(r);  // the user's own files stay
      continue;
    }
    out.removed.push_back(rel_path(out.dir / r, root));
  }
  for (const auto& [name, text] : files) resources.push_back(name);
  set_resources(kust, resources);

  FileChanges changes;
  for (const auto& [name, text] : files) changes.files[rel_path(out.dir / name, root)] = text;
  for (const auto& r : out.removed) changes.files[r] = std::nullopt;
  changes.files[rel_path(out.dir / kKustomization, root)] = to_yaml(kust);
  // The folders above list the app and the workspace.
  WB_ASSIGN_OR_RETURN(json ws_kust, read_kustomization(root / workspace / kKustomization));
  auto ws_resources = resources_of(ws_kust);
  ws_resources.push_back(app);
  set_resources(ws_kust, ws_resources);
  changes.files[rel_path(root / workspace / kKustomization, root)] = to_yaml(ws_kust);
  WB_ASSIGN_OR_RETURN(json root_kust, read_kustomization(root / kKustomization));
  auto root_resources = resources_of(root_kust);
  root_resources.push_back(workspace);
  set_resources(root_kust, root_resources);
  changes.files[std::string(kKustomization)] = to_yaml(root_kust);
  WB_TRY(apply_files(root, changes));
  for (const auto& [path, text] : changes.files)
    if (text) out.files.push_back(path);
  return out;
}

Result<std::string> find_workspace(const fs::path& root, const std::string& app, const std::string& workspace) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return Error(ErrorCode::NotFound, fmt::format("config checkout {} not found", root.string()),
                 "pass the directory of your config repository's clone to --gitops");
  if (!workspace.empty()) return workspace;
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec) || entry.path().filename().string().front() == '.') continue;
    if (fs::exists(entry.path() / app / kKustomization, ec)) found.push_back(entry.path().filename().string());
  }
  std::sort(found.begin(), found.end());
  if (found.size() == 1) return found.front();
  if (found.empty())
    return Error(ErrorCode::NotFound, fmt::format("app '{}' is not in the config checkout {}", app, root.string()),
                 fmt::format("`wb export {} --to {}` writes it there", app, root.string()));
  return Error(ErrorCode::Usage,
               fmt::format("app '{}' is in several workspaces of {} ({})", app, root.string(), util::join(found, ", ")),
               "pass -w WORKSPACE");
}

Result<CheckoutApp> read_app(const fs::path& root, const std::string& workspace, const std::string& app) {
  CheckoutApp out;
  out.root = root;
  out.workspace = workspace;
  out.app = app;
  out.dir = app_dir(root, workspace, app);
  std::error_code ec;
  if (!fs::exists(out.dir / kKustomization, ec))
    return Error(ErrorCode::NotFound,
                 fmt::format("app '{}' of workspace '{}' is not in the config checkout {} (no {})", app, workspace,
                             root.string(), rel_path(out.dir / kKustomization, root)),
                 fmt::format("`wb export {} --to {}` writes it there", app, root.string()));
  WB_ASSIGN_OR_RETURN(out.kustomization, read_kustomization(out.dir / kKustomization));
  for (const auto& r : resources_of(out.kustomization)) {
    const fs::path file = out.dir / r;
    if (fs::is_directory(file, ec)) continue;  // a nested kustomization is the user's business
    WB_ASSIGN_OR_RETURN(auto text, util::read_file(file));
    WB_ASSIGN_OR_RETURN(auto docs, parse_yaml(text, rel_path(file, root)));
    out.texts[r] = text;
    if (docs.size() == 1) out.objects[r] = docs[0];
    for (const auto& d : docs)
      if (d.value("kind", "") == "Deployment" && str_at(d, "/metadata/name") == app) {
        if (docs.size() != 1)
          return Error(ErrorCode::Usage,
                       fmt::format("{} holds the Deployment and other objects; wb edits a file with one object",
                                   rel_path(file, root)),
                       "move the other objects into files of their own");
        out.deployment_file = r;
      }
  }
  if (out.deployment_file.empty())
    return Error(ErrorCode::Usage,
                 fmt::format("{} lists no Deployment '{}'", rel_path(out.dir / kKustomization, root), app),
                 fmt::format("`wb export {} --to {}` writes it", app, root.string()));
  return out;
}

std::string checkout_image(const CheckoutApp& app) {
  const json& d = app.objects.at(app.deployment_file);
  const json& tmpl = fields::at(d, "/spec/template");
  if (!tmpl.is_object()) return "";
  const json* c = app_container(tmpl, app.app);
  return c ? c->value("image", "") : "";
}

Result<FileChanges> image_change(const CheckoutApp& app, const std::string& image) {
  FileChanges out;
  const std::string old_image = checkout_image(app);
  if (old_image == image) return out;
  const std::string file = rel_path(app.dir / app.deployment_file, app.root);
  // An `images:` transformer naming this image would replace what we write.
  const std::string old_name = old_image.substr(0, old_image.find('@'));
  for (const auto& entry : app.kustomization.value("images", json::array())) {
    const std::string name = entry.value("name", "");
    if (!name.empty() &&
        (name == old_name || name == image.substr(0, image.find('@')) || old_name.rfind(name + ":", 0) == 0))
      return Error(ErrorCode::Usage,
                   fmt::format("{} sets the image of '{}' with `images:`, which would override the Deployment",
                               rel_path(app.dir / kKustomization, app.root), name),
                   "remove that images: entry; wb writes the image into the Deployment");
  }
  // Find the scalar in the text and replace it there: comments and layout stay.
  const std::string& text = app.texts.at(app.deployment_file);
  try {
    YAML::Node root = YAML::Load(text);
    YAML::Node containers = root["spec"]["template"]["spec"]["containers"];
    YAML::Node found;
    for (auto c : containers)
      if (c["name"] && c["name"].Scalar() == app.app) found = c["image"];
    if (!found && containers.size() == 1) found = containers[0]["image"];
    if (found && found.IsScalar()) {
      const auto mark = found.Mark();
      const size_t pos = static_cast<size_t>(mark.pos);
      const std::string replacement = util::yaml_scalar(image);
      for (const std::string& written : {old_image, "\"" + old_image + "\"", "'" + old_image + "'"}) {
        if (mark.pos >= 0 && text.compare(pos, written.size(), written) == 0) {
          const size_t end = pos + written.size();
          if (end < text.size() && text[end] != '\n' && text[end] != ' ' && text[end] != '\r' && text[end] != '#')
            continue;
          std::string edited = text.substr(0, pos) + replacement + text.substr(end);
          out.files[file] = edited;
          return out;
        }
      }
    }
  } catch (const YAML::Exception&) {
  }
  // Not a simple scalar (a block or folded string?): write the Deployment anew.
  json d = app.objects.at(app.deployment_file);
  json* c = nullptr;
  for (auto& x : d["spec"]["template"]["spec"]["containers"])
    if (x.value("name", "") == app.app) c = &x;
  if (!c)
    return Error(ErrorCode::Failure, fmt::format("{}: app '{}' has no container named '{}'", file, app.app, app.app));
  (*c)["image"] = image;
  out.files[file] = to_yaml(d);
  return out;
}

Result<ConfigContent> config_version_in(const CheckoutApp& app, int n) {
  std::vector<int> numbers;
  for (const auto& [file, obj] : app.objects) {
    if (obj.value("kind", "") != "ConfigMap") continue;
    const int v = config_version_number(obj, app.app);
    if (v <= 0 || str_at(obj, "/metadata/name") != config_map_name(app.app, v)) continue;
    if (v == n) return config_version_from(obj, nullptr).content;
    numbers.push_back(v);
  }
  std::sort(numbers.begin(), numbers.end());
  std::vector<std::string> held;
  for (int v : numbers) held.push_back(fmt::format("v{}", v));
  return Error(
      ErrorCode::NotFound,
      fmt::format("config v{} of {} is not in the config repository ({})", n, app.app,
                  held.empty() ? std::string("it holds no config versions") : "it holds " + util::join(held, ", ")),
      "roll back to one it holds; it keeps the newest retention.configs versions");
}

namespace {

// The app's config versions in the checkout: number -> file.
std::map<int, std::string> config_version_files(const CheckoutApp& app) {
  std::map<int, std::string> versions;
  for (const auto& [file, obj] : app.objects) {
    if (obj.value("kind", "") != "ConfigMap") continue;
    const int n = config_version_number(obj, app.app);
    if (n > 0 && str_at(obj, "/metadata/name") == config_map_name(app.app, n)) versions[n] = file;
  }
  return versions;
}

// The Deployment pointed at config `version`; a Secret it used (kept in the cluster) stays, with a warning.
json deployment_at_version(const CheckoutApp& app, const json& deployment, int version, const ConfigContent& content,
                           std::vector<std::string>& warnings) {
  json d = deployment;
  json& tmpl = d["spec"]["template"];
  std::vector<json> kept_secret_refs;
  if (const json* c = app_container(tmpl, app.app)) {
    const std::regex secret_re("^" + app.app + "-secret-v[0-9]+$");
    for (const auto& f : c->value("envFrom", json::array())) {
      const std::string name = str_at(f, "/secretRef/name");
      if (!name.empty() && std::regex_match(name, secret_re)) kept_secret_refs.push_back(f);
    }
  }
  point_template_to_config(tmpl, app.app, version, content);
  if (!kept_secret_refs.empty()) {
    for (auto& c : tmpl["spec"]["containers"])
      if (c.value("name", "") == app.app || tmpl["spec"]["containers"].size() == 1)
        for (const auto& f : kept_secret_refs) {
          c["envFrom"].push_back(f);
          warnings.push_back(fmt::format("the app keeps its secret values from {} (in the cluster, not in git)",
                                         str_at(f, "/secretRef/name")));
        }
  }
  return d;
}

// The Deployment file's text with config `base`'s names renamed to `version`'s, so comments and
// layout stay; "" unless it parses back to exactly `wanted`.
std::string deployment_text_renamed(const CheckoutApp& app, int base, int version, const json& wanted) {
  if (base <= 0) return "";
  std::string edited = app.texts.at(app.deployment_file);
  const std::string from = config_map_name(app.app, base), to = config_map_name(app.app, version);
  for (size_t at = edited.find(from); at != std::string::npos; at = edited.find(from, at + to.size())) {
    const size_t end = at + from.size();
    if (end < edited.size() && (std::isalnum(static_cast<unsigned char>(edited[end])) || edited[end] == '-'))
      continue;  // orders-config-v1 inside orders-config-v12
    edited.replace(at, from.size(), to);
  }
  auto back = parse_yaml(edited, app.deployment_file);
  if (!back || back->size() != 1 || (*back)[0] != wanted) edited.clear();
  return edited;
}

// The kustomization listing `added` instead of the files dropped.
json kustomization_with(const CheckoutApp& app, const std::set<std::string>& dropped_files, const std::string& added) {
  auto resources = resources_of(app.kustomization);
  resources.erase(std::remove_if(resources.begin(), resources.end(),
                                 [&](const std::string& r) { return dropped_files.count(r) > 0; }),
                  resources.end());
  resources.push_back(added);
  json kust = app.kustomization;
  set_resources(kust, resources);
  return kust;
}

}  // namespace

Result<ConfigCommit> config_change(const CheckoutApp& app, const ConfigChange& change, const std::string& who,
                                   int keep) {
  ConfigCommit out;
  if (change.secret || (change.replace_with && !change.replace_with->secrets.empty()))
    return Error(ErrorCode::Usage, "secret values cannot go into a git repository (--secret with --gitops)",
                 "set secrets without --gitops (they stay in the cluster), or use your secret tooling");
  const std::map<int, std::string> versions = config_version_files(app);
  ConfigContent base;
  if (!versions.empty()) {
    out.base = versions.rbegin()->first;
    base = config_version_from(app.objects.at(versions.rbegin()->second), nullptr).content;
  }
  WB_ASSIGN_OR_RETURN(auto content, apply_config_change(base, change, app.app));
  WB_TRY(check_config_size(content));
  out.version = out.base + 1;
  out.change = describe_config_change(change);
  const json& deployment = app.objects.at(app.deployment_file);
  const std::string ns =
      str_at(deployment, "/metadata/namespace").empty() ? app.workspace : str_at(deployment, "/metadata/namespace");
  VersionMeta meta;
  meta.who = who;
  meta.change = out.change;
  meta.cause = change.message.empty() ? out.change : change.message;
  json cm = config_map_object(app.app, ns, out.version, content, meta, /*immutable=*/true);
  keep_from_pruning(cm);
  const std::string cm_file = fmt::format("config-v{}.yaml", out.version);
  if (app.texts.count(cm_file) || fs::exists(app.dir / cm_file))
    return Error(ErrorCode::Conflict, fmt::format("{} exists already", rel_path(app.dir / cm_file, app.root)),
                 "list it in the kustomization or remove it");

  const json d = deployment_at_version(app, deployment, out.version, content, out.warnings);

  // Retention in the repository: the newest `keep`, always the new one.
  std::vector<int> existing;
  for (const auto& [n, file] : versions) existing.push_back(n);
  existing.push_back(out.version);
  out.dropped = config_versions_to_delete(existing, {out.version}, keep);
  std::set<std::string> dropped_files;
  for (int n : out.dropped) dropped_files.insert(versions.at(n));
  const json kust = kustomization_with(app, dropped_files, cm_file);

  auto rel = [&](const std::string& f) { return rel_path(app.dir / f, app.root); };
  out.changes.files[rel(cm_file)] = to_yaml(cm);
  if (d != deployment) {
    const std::string edited = deployment_text_renamed(app, out.base, out.version, d);
    out.changes.files[rel(app.deployment_file)] = edited.empty() ? to_yaml(d) : edited;
  }
  out.changes.files[rel(kKustomization)] = to_yaml(kust);
  for (const auto& f : dropped_files) out.changes.files[rel(f)] = std::nullopt;
  return out;
}

Status apply_files(const fs::path& root, const FileChanges& changes) {
  for (const auto& [path, text] : changes.files) {
    const fs::path p = root / path;
    if (text) {
      auto st = util::write_file_atomic(p, *text);
      if (!st) return st.error().with_context(p.string());
    } else {
      std::error_code ec;
      fs::remove(p, ec);
      if (ec) return Error(ErrorCode::Failure, fmt::format("cannot remove {}: {}", p.string(), ec.message()));
    }
  }
  return {};
}

}  // namespace wb::workbench::gitops
