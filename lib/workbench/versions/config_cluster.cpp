// Versioned config on the cluster: reading versions, writing a new one with optimistic
// concurrency, pointing the app at it, and retention.
#include <fmt/format.h>

#include <algorithm>

#include "workbench/core/json_fields.hpp"
#include "workbench/versions/config.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
namespace k = wb::kube;

namespace {

std::string versions_selector(const std::string& app) { return made_for_app(app) + "," + kConfigVersionLabel; }

json items(const json& list) { return list.value("items", json::array()); }

// The Secret of a version's ConfigMap, when it says it has one (null otherwise or when gone).
Result<json> secret_of(k::Client& client, const std::string& ns, const json& cm) {
  const std::string name = fields::meta_string(cm, "annotations", kConfigSecretAnnotation);
  if (name.empty()) return json(nullptr);
  return get_if_exists(client, k::types::Secret, ns, name);
}

// The newest version (number 0 and empty content when there is none).
Result<ConfigVersion> newest_version(k::Client& client, const std::string& ns, const std::string& app) {
  k::ListOptions opts;
  opts.label_selector = versions_selector(app);
  auto list = client.list(k::types::ConfigMap, ns, opts);
  if (!list) return refused_in_workspace(std::move(list).error(), ns);
  json best;
  int best_n = 0;
  for (const auto& cm : items(*list)) {
    int n = config_version_number(cm, app);
    if (n > best_n) best_n = n, best = cm;
  }
  if (best_n == 0) return ConfigVersion{};
  WB_ASSIGN_OR_RETURN(auto secret, secret_of(client, ns, best));
  return config_version_from(best, secret);
}

}  // namespace

bool server_has_immutable_config(k::Client& client) {
  auto d = client.discovery();
  if (!d) return false;
  return d->major > 1 || (d->major == 1 && d->minor >= 21);
}

Result<std::vector<ConfigVersion>> read_config_versions(k::Client& client, const std::string& ns,
                                                        const std::string& app) {
  k::ListOptions opts;
  opts.label_selector = versions_selector(app);
  auto cms = client.list(k::types::ConfigMap, ns, opts);
  if (!cms) return refused_in_workspace(std::move(cms).error(), ns);
  auto secrets = client.list(k::types::Secret, ns, opts);
  if (!secrets) return refused_in_workspace(std::move(secrets).error(), ns);
  std::map<std::string, json> secret_by_name;
  for (const auto& s : items(*secrets)) secret_by_name[fields::str(s, "/metadata/name")] = s;
  std::vector<ConfigVersion> out;
  for (const auto& cm : items(*cms)) {
    const std::string secret_name = fields::meta_string(cm, "annotations", kConfigSecretAnnotation);
    auto it = secret_by_name.find(secret_name);
    out.push_back(config_version_from(cm, it == secret_by_name.end() ? json(nullptr) : it->second));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
  return out;
}

Result<ConfigVersion> read_config_version(k::Client& client, const std::string& ns, const std::string& app, int n) {
  auto cm = client.get(k::types::ConfigMap, ns, config_map_name(app, n));
  if (!cm) {
    if (cm.error().code == ErrorCode::NotFound)
      return Error(ErrorCode::NotFound, fmt::format("app '{}' has no config version {}", app, n),
                   fmt::format("`wb config history {}` lists them", app));
    return refused_in_workspace(std::move(cm).error(), ns);
  }
  WB_ASSIGN_OR_RETURN(auto secret, secret_of(client, ns, *cm));
  return config_version_from(*cm, secret);
}

Result<ConfigWrite> write_config_version(k::Client& client, const std::string& ns, const std::string& app,
                                         const ConfigChange& change, const std::string& who, bool immutable,
                                         int attempts) {
  ConfigWrite out;
  auto attempt = [&]() -> Result<bool> {
    WB_ASSIGN_OR_RETURN(auto base, newest_version(client, ns, app));
    WB_ASSIGN_OR_RETURN(auto content, apply_config_change(base.content, change, app));
    WB_TRY(check_config_size(content));
    const int n = base.number + 1;
    VersionMeta meta;
    meta.who = who;
    meta.change = describe_config_change(change);
    meta.cause = change.message.empty() ? meta.change : change.message;
    // The Secret first: once the ConfigMap (which claims the number) is visible, its Secret is too.
    json secret = config_secret_object(app, ns, n, content, meta, immutable);
    VersionObjects objects;
    if (!secret.is_null()) objects.emplace_back(k::types::Secret, secret);
    objects.emplace_back(k::types::ConfigMap, config_map_object(app, ns, n, content, meta, immutable));
    WB_ASSIGN_OR_RETURN(auto created, create_version(client, ns, objects));
    if (created.taken) return false;
    out.version = config_version_from(created.objects.back(), secret);
    out.version.content = content;
    out.base = base.number;
    return true;
  };
  WB_ASSIGN_OR_RETURN(out.attempts, claim_next_version(attempt, attempts, fmt::format("the config of app '{}'", app)));
  return out;
}

Result<ConfigPointing> point_app_to_config(k::Client& client, const std::string& ns, const std::string& app,
                                           const ConfigVersion& v, const ChangeInfo& change) {
  ConfigPointing out;
  bool skipped = false;
  auto mutate = [&](json& d) -> Status {
    json& tmpl = d["spec"]["template"];
    const int uses = referenced_config_version(tmpl, app);
    out.changed = uses < v.number;
    out.uses = std::max(uses, v.number);
    if (!out.changed) {
      skipped = true;  // stops update_app before it writes
      return Error(ErrorCode::Failure, "unchanged");
    }
    point_template_to_config(tmpl, app, v.number, v.content);
    ChangeInfo c = change;
    c.cause = fmt::format("config v{}{}", v.number, change.cause.empty() ? "" : ": " + change.cause);
    record_change(d, c);
    return {};
  };
  auto written = update_app(client, ns, app, mutate, false);
  if (!written) {
    if (skipped) {
      WB_ASSIGN_OR_RETURN(out.deployment, read_app(client, ns, app));
      return out;
    }
    return std::move(written).error();
  }
  out.deployment = std::move(*written);
  return out;
}

Result<std::vector<int>> prune_config_versions(k::Client& client, const std::string& ns, const std::string& app,
                                               int keep) {
  k::ListOptions opts;
  opts.label_selector = versions_selector(app);
  auto cms = client.list(k::types::ConfigMap, ns, opts);
  if (!cms) return refused_in_workspace(std::move(cms).error(), ns);
  auto secrets = client.list(k::types::Secret, ns, opts);
  if (!secrets) return refused_in_workspace(std::move(secrets).error(), ns);
  std::set<int> in_use;
  auto d = client.get(k::types::Deployment, ns, app);
  if (d) {
    in_use.insert(referenced_config_version(fields::at(*d, "/spec/template"), app));
  } else if (d.error().code != ErrorCode::NotFound) {
    return refused_in_workspace(std::move(d).error(), ns);
  }
  k::ListOptions rs_opts;
  rs_opts.label_selector = fmt::format("{}={}", labels::kName, app);
  auto rss = client.list(k::types::ReplicaSet, ns, rs_opts);
  if (!rss) return refused_in_workspace(std::move(rss).error(), ns);  // unsure what is in use: delete nothing
  for (const auto& rs : items(*rss)) in_use.insert(referenced_config_version(fields::at(rs, "/spec/template"), app));
  std::vector<int> existing;
  for (const auto& cm : items(*cms)) existing.push_back(config_version_number(cm, app));
  auto doomed = config_versions_to_delete(existing, in_use, keep);
  std::set<int> doomed_set(doomed.begin(), doomed.end());
  for (const auto& [type, list] : {std::pair{k::types::ConfigMap, &*cms}, std::pair{k::types::Secret, &*secrets}}) {
    for (const auto& obj : items(*list)) {
      if (!doomed_set.count(config_version_number(obj, app))) continue;
      auto st = client.remove(type, ns, fields::str(obj, "/metadata/name"));
      if (!st && st.error().code != ErrorCode::NotFound) return refused_in_workspace(std::move(st).error(), ns, true);
    }
  }
  return doomed;
}

}  // namespace wb::workbench
