// Tenancy on a cluster: platform roles, tenants, workspaces, members, robots, and 403s in words.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <set>

#include "util/encoding.hpp"
#include "util/fs.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"
#include "util/yaml.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;

namespace {

std::string name_of(const json& o) { return fields::str(o, "/metadata/name"); }

json items_of(const json& list) { return list.value("items", json::array()); }

bool same_subject(const json& a, const json& b) { return who_of(a) == who_of(b); }

// Reads, changes and writes a binding, retrying on a conflicting concurrent write.
// `change` returns false when nothing needs writing. NotFound is passed on.
template <class Change>
Status modify_binding(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                      const std::string& name, Change change) {
  for (int attempt = 0;; ++attempt) {
    WB_ASSIGN_OR_RETURN(json b, client.get(type, ns, name));
    if (!change(b)) return {};
    json subjects = b.value("subjects", json::array());
    if (subjects.empty() && type.kind == "RoleBinding") {
      // An empty wb role binding goes away (the role itself stays installed).
      auto st = client.remove(type, ns, name);
      if (st || st.error().code == ErrorCode::NotFound) return {};
      return st;
    }
    auto w = client.update(type, ns, b);
    if (w) return {};
    if (w.error().code != ErrorCode::Conflict || w.error().http_status != 409 || attempt >= 4) return w.error();
  }
}

json role_binding(const std::string& ns, const std::string& name, Role role, const std::string& cluster_role,
                  const json& subjects) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "RoleBinding"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", {{labels::kManagedBy, labels::kManagedByWb}, {kRoleLabel, role_name(role)}}}}},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", cluster_role}}},
          {"subjects", subjects}};
}

// Adds a subject to binding `name` in ns (creating it).
Status add_to_binding(kube::Client& client, const std::string& ns, Role role, const json& subject) {
  const std::string name = binding_of(role);
  auto st = modify_binding(client, t::RoleBinding, ns, name, [&](json& b) {
    json& subs = b["subjects"];
    if (!subs.is_array()) subs = json::array();
    for (const auto& s : subs)
      if (same_subject(s, subject)) return false;
    subs.push_back(subject);
    return true;
  });
  // Not found, or not even allowed to read it: creating it is what is wanted (and, when refused,
  // what the refusal should be about).
  if (st || (st.error().http_status != 404 && st.error().http_status != 403)) return st;
  auto made =
      client.create(t::RoleBinding, ns, role_binding(ns, name, role, cluster_role_of(role), json::array({subject})));
  if (made) return {};
  if (made.error().code == ErrorCode::Conflict && st.error().http_status == 404)
    return add_to_binding(client, ns, role, subject);
  return made.error();
}

// Removes a subject from wb's role bindings in ns, except `keep`; true if it was in one.
Result<bool> remove_from_bindings(kube::Client& client, const std::string& ns, const json& subject,
                                  std::optional<Role> keep = std::nullopt) {
  kube::ListOptions opts;
  opts.label_selector = kRoleLabel;
  WB_ASSIGN_OR_RETURN(json list, client.list(t::RoleBinding, ns, opts));
  bool found = false;
  for (const auto& b : items_of(list)) {
    auto role = role_of_cluster_role(fields::str(b, "/roleRef/name"));
    const std::string name = name_of(b);
    if (!role || name != binding_of(*role)) continue;  // robots' bindings and others are left alone
    if (keep && *role == *keep) continue;
    bool here = false;
    for (const auto& s : b.value("subjects", json::array()))
      if (same_subject(s, subject)) here = true;
    if (!here) continue;
    found = true;
    WB_TRY(modify_binding(client, t::RoleBinding, ns, name, [&](json& nb) {
      json kept = json::array();
      for (const auto& s : nb.value("subjects", json::array()))
        if (!same_subject(s, subject)) kept.push_back(s);
      if (kept.size() == nb.value("subjects", json::array()).size()) return false;
      nb["subjects"] = kept;
      return true;
    }));
  }
  return found;
}

Error tenant_not_found(const std::string& tenant) {
  return Error(ErrorCode::NotFound, fmt::format("tenant '{}' not found", tenant),
               fmt::format("the platform team creates it with `wb tenant create {}`", tenant));
}

Error workspace_not_found(const std::string& ws) {
  return Error(ErrorCode::NotFound, fmt::format("workspace '{}' not found", ws), "`wb workspace list` shows them");
}

// The namespace of a workspace; NotFound in words; a 403 passes through (explained later).
Result<json> get_workspace(kube::Client& client, const std::string& ws) {
  auto ns = client.get(t::Namespace, "", ws);
  if (!ns && ns.error().code == ErrorCode::NotFound && ns.error().http_status == 404) return workspace_not_found(ws);
  return ns;
}

}  // namespace

Result<bool> kubesphere_installed(kube::Client& client) {
  WB_ASSIGN_OR_RETURN(auto d, client.discovery());
  return d.has(WorkspaceTemplate.api_version(), WorkspaceTemplate.plural);
}

namespace {

// Whether `have` holds everything `want` says: objects key by key (the server may add defaults,
// e.g. a policy's matchPolicy or empty selectors), arrays element by element, the rest equal.
bool holds(const json& have, const json& want) {
  if (want.is_object()) {
    if (!have.is_object()) return false;
    for (const auto& [k, v] : want.items())
      if (!have.contains(k) || !holds(have[k], v)) return false;
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i)
      if (!holds(have[i], want[i])) return false;
    return true;
  }
  return have == want;
}

// Whether the server has `want` already: for roles their rules (and role label), for the
// admission policy objects their spec.
bool same_object(const json& have, const json& want) {
  if (want.contains("rules"))
    return have.value("rules", json::array()) == want["rules"] &&
           fields::meta_string(have, "labels", kRoleLabel) == fields::meta_string(want, "labels", kRoleLabel);
  if (want.contains("roleRef"))
    return have.value("roleRef", json::object()) == want["roleRef"] &&
           have.value("subjects", json::array()) == want.value("subjects", json::array());
  if (want.contains("spec")) return holds(have.value("spec", json::object()), want["spec"]);
  return holds(fields::at(have, "/metadata/labels"), fields::at(want, "/metadata/labels"));
}

// Creates or updates one object (server-side apply) and says what happened.
Result<Applied> ensure(kube::Client& client, const kube::ResourceType& type, const json& want, bool dry_run) {
  const std::string ns = type.namespaced ? fields::str(want, "/metadata/namespace") : "";
  auto current = client.get(type, ns, name_of(want));
  std::string outcome;
  if (!current) {
    if (current.error().http_status != 404) return current.error();
    outcome = "created";
  } else {
    outcome = same_object(*current, want) ? "unchanged" : "configured";
  }
  // A dry run cannot put anything into a namespace it would only create.
  const bool unborn = dry_run && outcome == "created" && !ns.empty() && !client.get(t::Namespace, "", ns);
  if (outcome != "unchanged" && !unborn) WB_TRY(client.apply(type, ns, want, true, dry_run));
  return Applied{want, dry_run && outcome != "unchanged" ? "would be " + outcome : outcome};
}

// Writes `object` whole (an unconditional PUT, else a create): record writers may not read.
Status put(kube::Client& client, const kube::ResourceType& type, const json& object) {
  const std::string ns = fields::str(object, "/metadata/namespace");
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto w = client.update(type, ns, object);
    if (w) return {};
    if (w.error().http_status != 404) return w.error();
    auto c = client.create(type, ns, object);
    if (c) return {};
    if (c.error().http_status != 409) return c.error();
  }
  return Error(ErrorCode::Conflict,
               fmt::format("{} '{}' kept changing while wb was writing it", type.kind, name_of(object)));
}

Status gone(Status st) { return st.ok() || st.error().http_status == 404 ? Status() : st; }

// The tenant's admins, as the subjects of its ClusterRoleBinding.
Status write_tenant_records_binding(kube::Client& client, const std::string& tenant) {
  WB_ASSIGN_OR_RETURN(json crb, client.get(t::ClusterRoleBinding, "", tenant_role_name(tenant)));
  std::vector<json> admins;
  for (const auto& s : crb.value("subjects", json::array())) admins.push_back(s);
  return put(client, t::RoleBinding, tenant_records_binding(tenant, admins));
}

// A failure to write records, in words.
Error records_error(const Error& e) {
  Error out = e;
  const auto* missing = e.detail<kube::Missing>();
  if (missing && missing->kind == "namespaces" && missing->name == kRecordsNamespace)
    out.message = fmt::format("this cluster keeps no membership records yet (no namespace {})", kRecordsNamespace);
  else
    out.message = "the membership records were not updated: " + e.message;
  out.hint =
      "the platform team runs `wb platform init`, which rewrites them; until then `wb workspace list` may "
      "not show this change";
  return out;
}

RecordsOutcome outcome_of(Status st) {
  RecordsOutcome o;
  if (!st) o.records = records_error(st.error());
  return o;
}

}  // namespace

bool self_service_enabled(kube::Client& client) {
  return client.get(AdmissionPolicy, "", kBoundaryPolicy) && client.get(AdmissionPolicyBinding, "", kBoundaryPolicy);
}

Result<PlatformInit> platform_init(kube::Client& client, bool dry_run) {
  PlatformInit out;
  WB_ASSIGN_OR_RETURN(auto d, client.discovery());
  const bool slices = d.has(t::EndpointSlice.api_version(), t::EndpointSlice.plural);
  for (auto& role : platform_cluster_roles(slices)) {
    WB_ASSIGN_OR_RETURN(auto a, ensure(client, t::ClusterRole, role, dry_run));
    out.applied.push_back(std::move(a));
  }
  for (auto& [type, obj] : records_objects()) {
    WB_ASSIGN_OR_RETURN(auto a, ensure(client, type, obj, dry_run));
    out.applied.push_back(std::move(a));
  }
  out.self_service = d.has(AdmissionPolicy.api_version(), AdmissionPolicy.plural) &&
                     d.has(AdmissionPolicyBinding.api_version(), AdmissionPolicyBinding.plural);
  if (out.self_service) {
    // The policies before their bindings, and all before any tenant role grants what they guard.
    for (const auto& [policy, binding] : {std::pair{boundary_policy(), boundary_policy_binding()},
                                          std::pair{records_policy(), records_policy_binding()}}) {
      WB_ASSIGN_OR_RETURN(auto p, ensure(client, AdmissionPolicy, policy, dry_run));
      out.applied.push_back(std::move(p));
      WB_ASSIGN_OR_RETURN(auto b, ensure(client, AdmissionPolicyBinding, binding, dry_run));
      out.applied.push_back(std::move(b));
    }
  }
  // Tenants made by an older wb (or before the cluster had admission policies) get today's role,
  // and their admins the right to write their workspaces' membership records.
  const bool ks = d.has(WorkspaceTemplate.api_version(), WorkspaceTemplate.plural);
  kube::ListOptions roles;
  roles.label_selector = kTenantRoleLabel;
  WB_ASSIGN_OR_RETURN(json crs, client.list(t::ClusterRole, "", roles));
  WB_ASSIGN_OR_RETURN(json crbs, client.list(t::ClusterRoleBinding, "", roles));
  for (const auto& cr : items_of(crs)) {
    std::string tenant = fields::meta_string(cr, "labels", kTenantRoleLabel);
    if (tenant.empty() || name_of(cr) != tenant_role_name(tenant)) continue;
    WB_ASSIGN_OR_RETURN(auto a,
                        ensure(client, t::ClusterRole, tenant_cluster_role(tenant, ks, out.self_service), dry_run));
    out.applied.push_back(std::move(a));
    std::vector<json> admins;
    for (const auto& b : items_of(crbs))
      if (name_of(b) == tenant_role_name(tenant))
        for (const auto& sub : b.value("subjects", json::array())) admins.push_back(sub);
    WB_ASSIGN_OR_RETURN(auto r, ensure(client, t::RoleBinding, tenant_records_binding(tenant, admins), dry_run));
    out.applied.push_back(std::move(r));
  }
  if (dry_run) return out;
  // Every workspace's records, from its role bindings (workspaces made before records existed, or
  // changed while they could not be written).
  kube::ListOptions labelled;
  labelled.label_selector = kTenantLabel;
  WB_ASSIGN_OR_RETURN(json nss, client.list(t::Namespace, "", labelled));
  for (const auto& ns : items_of(nss)) {
    if (!fields::str(ns, "/metadata/deletionTimestamp").empty()) continue;
    auto st = record_members(client, name_of(ns));
    if (!st && st.error().http_status == 404) continue;  // gone meanwhile
    WB_TRY(st);
    ++out.recorded_workspaces;
  }
  return out;
}

Result<std::vector<std::string>> tenant_workspaces(kube::Client& client, const std::string& tenant) {
  kube::ListOptions opts;
  opts.label_selector = fmt::format("{}={}", kTenantLabel, tenant);
  WB_ASSIGN_OR_RETURN(json list, client.list(t::Namespace, "", opts));
  std::vector<std::string> names;
  for (const auto& ns : items_of(list)) names.push_back(name_of(ns));
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// The tenant's workspaces that are not being deleted (a namespace being deleted refuses new
// objects, so a tenant-wide change skips it).
Result<std::vector<std::string>> live_workspaces(kube::Client& client, const std::string& tenant) {
  kube::ListOptions opts;
  opts.label_selector = fmt::format("{}={}", kTenantLabel, tenant);
  WB_ASSIGN_OR_RETURN(json list, client.list(t::Namespace, "", opts));
  std::vector<std::string> names;
  for (const auto& ns : items_of(list))
    if (fields::str(ns, "/metadata/deletionTimestamp").empty()) names.push_back(name_of(ns));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<std::vector<TenantInfo>> list_tenants(kube::Client& client) {
  std::map<std::string, TenantInfo> by;
  kube::ListOptions roles;
  roles.label_selector = kTenantRoleLabel;
  WB_ASSIGN_OR_RETURN(json crs, client.list(t::ClusterRole, "", roles));
  for (const auto& cr : items_of(crs)) {
    std::string ten = fields::meta_string(cr, "labels", kTenantRoleLabel);
    if (ten.empty() || name_of(cr) != tenant_role_name(ten)) continue;
    by[ten].has_role = true;
  }
  WB_ASSIGN_OR_RETURN(json crbs, client.list(t::ClusterRoleBinding, "", roles));
  for (const auto& b : items_of(crbs)) {
    std::string ten = fields::meta_string(b, "labels", kTenantRoleLabel);
    if (ten.empty() || name_of(b) != tenant_role_name(ten)) continue;
    for (const auto& s : b.value("subjects", json::array())) by[ten].admins.push_back(who_of(s));
  }
  kube::ListOptions labelled;
  labelled.label_selector = kTenantLabel;
  WB_ASSIGN_OR_RETURN(json nss, client.list(t::Namespace, "", labelled));
  for (const auto& ns : items_of(nss)) {
    std::string ten = fields::meta_string(ns, "labels", kTenantLabel);
    if (!ten.empty()) by[ten].workspaces.push_back(name_of(ns));
  }
  WB_ASSIGN_OR_RETURN(bool ks, kubesphere_installed(client));
  if (ks) {
    WB_ASSIGN_OR_RETURN(json wts, client.list(WorkspaceTemplate, ""));
    for (const auto& wt : items_of(wts)) by[name_of(wt)].has_template = true;
  }
  std::vector<TenantInfo> out;
  for (auto& [name, info] : by) {
    info.name = name;
    std::sort(info.workspaces.begin(), info.workspaces.end());
    out.push_back(info);
  }
  return out;
}

Result<TenantInfo> get_tenant(kube::Client& client, const std::string& tenant) {
  TenantInfo info;
  info.name = tenant;
  auto cr = client.get(t::ClusterRole, "", tenant_role_name(tenant));
  if (cr)
    info.has_role = true;
  else if (cr.error().http_status != 404)
    return cr.error();
  auto crb = client.get(t::ClusterRoleBinding, "", tenant_role_name(tenant));
  if (crb) {
    for (const auto& s : crb->value("subjects", json::array())) info.admins.push_back(who_of(s));
  } else if (crb.error().http_status != 404) {
    return crb.error();
  }
  WB_ASSIGN_OR_RETURN(bool ks, kubesphere_installed(client));
  if (ks) {
    auto wt = client.get(WorkspaceTemplate, "", tenant);
    if (wt)
      info.has_template = true;
    else if (wt.error().http_status != 404)
      return wt.error();
  }
  if (!info.has_role && !info.has_template) return tenant_not_found(tenant);
  WB_ASSIGN_OR_RETURN(info.workspaces, tenant_workspaces(client, tenant));
  return info;
}

Status create_tenant(kube::Client& client, const std::string& tenant, const std::vector<std::string>& admins) {
  if (!util::is_dns1123_label(tenant))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid tenant name", tenant),
                 "tenant names use lower-case letters, digits and '-' (at most 63)");
  WB_ASSIGN_OR_RETURN(bool ks, kubesphere_installed(client));
  auto existing = client.get(t::ClusterRole, "", tenant_role_name(tenant));
  if (existing)
    return Error(ErrorCode::Conflict, fmt::format("tenant '{}' already exists", tenant),
                 fmt::format("add admins with `wb member add USER --role tenant-admin --tenant {}`", tenant));
  if (existing.error().http_status != 404) return existing.error();
  std::vector<json> subjects;
  for (const auto& a : admins) subjects.push_back(subject_for(a));
  WB_TRY(client.create(t::ClusterRole, "", tenant_cluster_role(tenant, ks, self_service_enabled(client))));
  auto b = client.create(t::ClusterRoleBinding, "", tenant_binding(tenant, subjects));
  if (!b) {
    (void)client.remove(t::ClusterRole, "", tenant_role_name(tenant));
    return b.error();
  }
  if (ks) {
    auto wt = client.create(WorkspaceTemplate, "", workspace_template(tenant, admins.empty() ? "" : admins.front()));
    if (!wt && wt.error().code != ErrorCode::Conflict) {
      (void)client.remove(t::ClusterRoleBinding, "", tenant_role_name(tenant));
      (void)client.remove(t::ClusterRole, "", tenant_role_name(tenant));
      return wt.error();
    }
  }
  // Its admins write their workspaces' membership records (where the cluster keeps them: a
  // cluster set up by an older wb has no records namespace until `wb platform init`).
  auto rb = put(client, t::RoleBinding, tenant_records_binding(tenant, subjects));
  if (!rb && rb.error().http_status != 404) return rb.error();
  return {};
}

Status delete_tenant(kube::Client& client, const std::string& tenant) {
  WB_ASSIGN_OR_RETURN(auto info, get_tenant(client, tenant));
  if (!info.workspaces.empty())
    return Error(ErrorCode::Conflict,
                 fmt::format("tenant '{}' still has workspaces: {}", tenant, util::join(info.workspaces, ", ")),
                 "delete them first with `wb workspace delete NAME`");
  WB_TRY(gone(client.remove(t::RoleBinding, kRecordsNamespace, tenant_role_name(tenant))));
  WB_TRY(gone(client.remove(t::ClusterRoleBinding, "", tenant_role_name(tenant))));
  WB_TRY(gone(client.remove(t::ClusterRole, "", tenant_role_name(tenant))));
  if (info.has_template) WB_TRY(gone(client.remove(WorkspaceTemplate, "", tenant)));
  return {};
}

Result<CreatedWorkspace> create_workspace(kube::Client& client, WorkspaceSpec spec, bool dry_run) {
  if (!util::is_dns1123_label(spec.name))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid workspace name", spec.name),
                 "workspace names use lower-case letters, digits and '-' (at most 63)");
  WB_TRY(check_quantity(spec.defaults.quota_cpu, false, "--cpu"));
  WB_TRY(check_quantity(spec.defaults.quota_memory, true, "--memory"));
  WB_TRY(check_quantity(spec.defaults.limit_cpu, false, "workspaces.limits.cpu"));
  WB_TRY(check_quantity(spec.defaults.limit_memory, true, "workspaces.limits.memory"));
  WB_TRY(check_quantity(spec.defaults.request_cpu, false, "workspaces.limits.cpuRequest"));
  WB_TRY(check_quantity(spec.defaults.request_memory, true, "workspaces.limits.memoryRequest"));
  auto info = get_tenant(client, spec.tenant);
  if (!info && info.error().http_status == 403 && !dry_run) {
    // Not allowed to read the tenant (its admins may): let a dry run of the namespace say why in
    // the cluster's own words (RBAC, or the boundary policy), else report the read.
    auto ns = workspace_objects(spec).front().second;
    auto trial = client.create(t::Namespace, "", ns, true);
    if (!trial && trial.error().http_status == 403) return trial.error();
    return info.error();
  }
  WB_TRY(info);
  for (const auto& a : info->admins) spec.tenant_admins.push_back(subject_for(a));
  auto existing = client.get(t::Namespace, "", spec.name);
  if (existing) {
    std::string owner = fields::meta_string(*existing, "labels", kTenantLabel);
    return Error(ErrorCode::Conflict,
                 fmt::format("workspace '{}' already exists{}", spec.name,
                             owner.empty() ? std::string(" (a namespace of no tenant)") : " in tenant '" + owner + "'"),
                 "pick another name");
  }
  // 403: not allowed to look; creating it is what will be refused (in words) or done.
  if (existing.error().http_status != 404 && existing.error().http_status != 403) return existing.error();
  auto objects = workspace_objects(spec);
  CreatedWorkspace created;
  auto& out = created.objects;
  if (dry_run) {
    for (auto& [type, obj] : objects) out.push_back(obj);
    return created;
  }
  bool made_ns = false;
  bool bound = false;  // the tenant admins' RoleBinding exists: RBAC may need a moment to see it
  for (auto& [type, obj] : objects) {
    auto made = client.create(type, type.namespaced ? spec.name : "", obj);
    for (int i = 0; !made && bound && made.error().http_status == 403 && i < 20; ++i) {
      if (!util::sleep_for(std::chrono::milliseconds(250))) break;
      made = client.create(type, type.namespaced ? spec.name : "", obj);
    }
    if (!made) {
      if (made_ns) (void)client.remove(t::Namespace, "", spec.name);
      return made.error();
    }
    if (type.plural == "namespaces") made_ns = true;
    if (type.plural == "rolebindings") bound = true;
    out.push_back(*made);
  }
  created.outcome = outcome_of(record_members(client, spec.name, bound));
  return created;
}

Result<DeletedWorkspace> delete_workspace(kube::Client& client, const std::string& name) {
  DeletedWorkspace out;
  auto got = get_workspace(client, name);
  if (!got && got.error().http_status == 403) {
    // Not allowed to read it: let the delete itself be refused (or, with a delete-only grant, done).
    auto st = client.remove(t::Namespace, "", name);
    if (!st) return st.error();
    out.outcome = outcome_of(forget_records(client, name));
    return out;
  }
  WB_TRY(got);
  const json& ns = *got;
  std::string tenant = fields::meta_string(ns, "labels", kTenantLabel);
  if (tenant.empty())
    return Error(ErrorCode::Usage,
                 fmt::format("namespace '{}' is not a workspace (it has no {} label)", name, kTenantLabel),
                 "wb deletes only workspaces; use kubectl for other namespaces");
  auto st = client.remove(t::Namespace, "", name);
  if (!st && st.error().http_status == 404) return workspace_not_found(name);
  WB_TRY(st);
  out.tenant = tenant;
  out.outcome = outcome_of(forget_records(client, name));
  return out;
}

Result<RecordsOutcome> add_member(kube::Client& client, const std::string& who, Role role,
                                  const std::string& workspace) {
  auto ns = get_workspace(client, workspace);
  if (!ns && ns.error().http_status != 403) return ns.error();  // not allowed to read it: the binding write decides
  if (ns && fields::meta_string(*ns, "labels", kTenantLabel).empty())
    return Error(ErrorCode::Usage, fmt::format("namespace '{}' is not a workspace of any tenant", workspace),
                 "make a workspace with `wb workspace create NAME --tenant T`");
  const json subject = subject_for(who);
  WB_TRY(add_to_binding(client, workspace, role, subject));
  WB_ASSIGN_OR_RETURN(bool other, remove_from_bindings(client, workspace, subject, role));
  (void)other;
  return outcome_of(record_members(client, workspace));
}

Result<RecordsOutcome> add_tenant_member(kube::Client& client, const std::string& who, Role role,
                                         const std::string& tenant) {
  WB_ASSIGN_OR_RETURN(auto info, get_tenant(client, tenant));
  const json subject = subject_for(who);
  if (role == Role::TenantAdmin) {
    auto st = modify_binding(client, t::ClusterRoleBinding, "", tenant_role_name(tenant), [&](json& b) {
      json& subs = b["subjects"];
      if (!subs.is_array()) subs = json::array();
      for (const auto& s : subs)
        if (same_subject(s, subject)) return false;
      subs.push_back(subject);
      return true;
    });
    if (!st && st.error().http_status == 404) return tenant_not_found(tenant);
    WB_TRY(st);
  }
  Status records;
  if (role == Role::TenantAdmin) records = write_tenant_records_binding(client, tenant);
  WB_ASSIGN_OR_RETURN(auto live, live_workspaces(client, tenant));
  for (const auto& ws : live) {
    WB_TRY(add_to_binding(client, ws, role, subject));
    WB_ASSIGN_OR_RETURN(bool other, remove_from_bindings(client, ws, subject, role));
    (void)other;
    if (records) records = record_members(client, ws);
  }
  return outcome_of(records);
}

Result<RecordsOutcome> remove_member(kube::Client& client, const std::string& who, const std::string& workspace) {
  if (auto ns = get_workspace(client, workspace); !ns && ns.error().http_status != 403) return ns.error();
  WB_ASSIGN_OR_RETURN(bool found, remove_from_bindings(client, workspace, subject_for(who)));
  if (!found)
    return Error(ErrorCode::NotFound, fmt::format("{} has no role in workspace '{}'", who, workspace),
                 fmt::format("`wb member list -w {}` shows who has", workspace));
  return outcome_of(record_members(client, workspace));
}

Result<RecordsOutcome> remove_tenant_member(kube::Client& client, const std::string& who, const std::string& tenant) {
  WB_ASSIGN_OR_RETURN(auto info, get_tenant(client, tenant));
  const json subject = subject_for(who);
  bool found = false;
  if (std::find(info.admins.begin(), info.admins.end(), who) != info.admins.end()) {
    found = true;
    WB_TRY(modify_binding(client, t::ClusterRoleBinding, "", tenant_role_name(tenant), [&](json& b) {
      json kept = json::array();
      for (const auto& s : b.value("subjects", json::array()))
        if (!same_subject(s, subject)) kept.push_back(s);
      b["subjects"] = kept;
      return true;
    }));
  }
  Status records;
  if (found) records = write_tenant_records_binding(client, tenant);
  WB_ASSIGN_OR_RETURN(auto live, live_workspaces(client, tenant));
  for (const auto& ws : live) {
    WB_ASSIGN_OR_RETURN(bool here, remove_from_bindings(client, ws, subject));
    found = found || here;
    if (here && records) records = record_members(client, ws);
  }
  if (!found)
    return Error(ErrorCode::NotFound, fmt::format("{} has no role in tenant '{}'", who, tenant),
                 fmt::format("`wb member list --tenant {}` shows who has", tenant));
  return outcome_of(records);
}

Result<std::vector<Member>> list_members(kube::Client& client, const std::string& workspace) {
  kube::ListOptions opts;
  opts.label_selector = kRoleLabel;
  auto list = client.list(t::RoleBinding, workspace, opts);
  if (!list && list.error().http_status == 404) return workspace_not_found(workspace);
  WB_TRY(list);
  std::vector<Member> out;
  for (const auto& b : items_of(*list)) {
    auto role = role_of_cluster_role(fields::str(b, "/roleRef/name"));
    if (!role) continue;
    for (const auto& s : b.value("subjects", json::array()))
      out.push_back({who_of(s), s.value("kind", ""), role_name(*role), workspace});
  }
  std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) {
    return std::tie(a.workspace, a.role, a.who) < std::tie(b.workspace, b.role, b.who);
  });
  return out;
}

Result<std::vector<Member>> list_tenant_members(kube::Client& client, const std::string& tenant) {
  WB_ASSIGN_OR_RETURN(auto info, get_tenant(client, tenant));
  std::vector<Member> out;
  for (const auto& a : info.admins) out.push_back({a, subject_for(a).value("kind", ""), "tenant-admin", ""});
  for (const auto& ws : info.workspaces) {
    WB_ASSIGN_OR_RETURN(auto here, list_members(client, ws));
    out.insert(out.end(), here.begin(), here.end());
  }
  return out;
}

std::string robot_kubeconfig(const kube::RestConfig& config, const std::string& name, const std::string& ns,
                             const std::string& token) {
  std::string ca = config.tls.ca_data;
  if (ca.empty() && !config.tls.ca_file.empty()) {
    if (auto data = util::read_file(config.tls.ca_file)) ca = *data;
  }
  const std::string user = "robot-" + name;
  const std::string ctxname = name + "@" + ns;
  std::string out = "apiVersion: v1\nkind: Config\nclusters:\n- name: wb\n  cluster:\n";
  out += "    server: " + util::yaml_quoted(config.server) + "\n";
  if (config.tls.insecure) {
    out += "    insecure-skip-tls-verify: true\n";
  } else if (!ca.empty()) {
    out += "    certificate-authority-data: " + util::base64_encode(ca) + "\n";
  }
  if (!config.tls.server_name.empty())
    out += "    tls-server-name: " + util::yaml_quoted(config.tls.server_name) + "\n";
  out += "users:\n- name: " + util::yaml_quoted(user) + "\n  user:\n    token: " + util::yaml_quoted(token) + "\n";
  out += "contexts:\n- name: " + util::yaml_quoted(ctxname) +
         "\n  context:\n    cluster: wb\n    user: " + util::yaml_quoted(user) +
         "\n    namespace: " + util::yaml_quoted(ns) + "\n";
  out += "current-context: " + util::yaml_quoted(ctxname) + "\n";
  return out;
}

Result<Robot> create_robot(kube::Client& client, const std::string& name, const std::string& workspace, Role role) {
  if (!util::is_dns1123_label(name))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid robot name", name),
                 "robot names use lower-case letters, digits and '-'");
  WB_TRY(get_workspace(client, workspace));
  if (auto sa = client.get(t::ServiceAccount, workspace, name))
    return Error(ErrorCode::Conflict, fmt::format("robot '{}' already exists in workspace '{}'", name, workspace),
                 fmt::format("`wb robot rm {}` first, or pick another name", name));
  else if (sa.error().http_status != 404)
    return sa.error();
  json labels = {{labels::kManagedBy, labels::kManagedByWb}, {kRobotLabel, name}};
  json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", name}, {"namespace", workspace}, {"labels", labels}}}};
  WB_TRY(client.create(t::ServiceAccount, workspace, sa));
  auto undo = [&] {
    (void)client.remove(t::RoleBinding, workspace, "wb:robot:" + name);
    (void)client.remove(t::Secret, workspace, name + "-token");
    (void)client.remove(t::ServiceAccount, workspace, name);
  };
  json rb = role_binding(workspace, "wb:robot:" + name, role, cluster_role_of(role),
                         json::array({{{"kind", "ServiceAccount"}, {"name", name}, {"namespace", workspace}}}));
  rb["metadata"]["labels"][kRobotLabel] = name;
  if (auto made = client.create(t::RoleBinding, workspace, rb); !made) {
    undo();
    return made.error();
  }
  // A long-lived token Secret rather than a TokenRequest: it goes into a CI variable that must keep
  // working, and it is revoked by deleting the Secret (`wb robot rm`).
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"type", "kubernetes.io/service-account-token"},
                 {"metadata",
                  {{"name", name + "-token"},
                   {"namespace", workspace},
                   {"labels", labels},
                   {"annotations", {{"kubernetes.io/service-account.name", name}}}}}};
  if (auto made = client.create(t::Secret, workspace, secret); !made) {
    undo();
    return made.error();
  }
  std::string token;
  for (int i = 0; i < 100 && token.empty(); ++i) {  // the token controller fills it in (up to 10 s)
    auto s = client.get(t::Secret, workspace, name + "-token");
    if (!s) {
      undo();
      return s.error();
    }
    auto enc = fields::str(*s, "/data/token");
    if (!enc.empty()) {
      if (auto dec = util::base64_decode(enc)) token = *dec;
    }
    if (token.empty() && !util::sleep_for(std::chrono::milliseconds(100))) break;
  }
  if (token.empty() && util::interrupted()) {
    undo();
    return Error(ErrorCode::Interrupted, "interrupted");
  }
  if (token.empty()) {
    undo();
    return Error(ErrorCode::Timeout, fmt::format("the cluster gave robot '{}' no token within 10 s", name),
                 "check that the service-account token controller runs (kube-controller-manager)");
  }
  Robot r{name, workspace, role, token, robot_kubeconfig(client.config(), name, workspace, token), {}};
  r.outcome = outcome_of(record_members(client, workspace));
  return r;
}

Result<RecordsOutcome> remove_robot(kube::Client& client, const std::string& name, const std::string& workspace) {
  auto sa = client.get(t::ServiceAccount, workspace, name);
  if (!sa) {
    if (sa.error().http_status == 404)
      return Error(ErrorCode::NotFound, fmt::format("robot '{}' not found in workspace '{}'", name, workspace), "");
    return sa.error();
  }
  if (fields::meta_string(*sa, "labels", kRobotLabel) != name)
    return Error(ErrorCode::Usage, fmt::format("service account '{}' in '{}' is not a wb robot", name, workspace),
                 "wb removes only robots it made");
  WB_TRY(gone(client.remove(t::RoleBinding, workspace, "wb:robot:" + name)));
  WB_TRY(gone(client.remove(t::Secret, workspace, name + "-token")));
  WB_TRY(gone(client.remove(t::ServiceAccount, workspace, name)));
  return outcome_of(record_members(client, workspace));
}

Result<std::vector<RobotInfo>> list_robots(kube::Client& client, const std::string& workspace) {
  WB_TRY(get_workspace(client, workspace));
  kube::ListOptions robots;
  robots.label_selector = kRobotLabel;
  WB_ASSIGN_OR_RETURN(json sas, client.list(t::ServiceAccount, workspace, robots));
  WB_ASSIGN_OR_RETURN(json rbs, client.list(t::RoleBinding, workspace, robots));
  std::map<std::string, std::string> roles;
  for (const auto& rb : items_of(rbs)) {
    auto role = role_of_cluster_role(fields::str(rb, "/roleRef/name"));
    roles[fields::meta_string(rb, "labels", kRobotLabel)] = role ? role_name(*role) : fields::str(rb, "/roleRef/name");
  }
  // Token Secrets carry the same label; reading them needs the right to read secrets, which a
  // viewer lacks: then the column stays unknown (false) rather than failing the list.
  std::set<std::string> tokens;
  if (auto secrets = client.list(t::Secret, workspace, robots))
    for (const auto& s : items_of(*secrets)) tokens.insert(fields::meta_string(s, "labels", kRobotLabel));
  std::vector<RobotInfo> out;
  for (const auto& sa : items_of(sas)) {
    RobotInfo r;
    r.name = name_of(sa);
    r.role = roles.count(r.name) ? roles[r.name] : "";
    r.created = fields::str(sa, "/metadata/creationTimestamp");
    r.token = tokens.count(r.name) > 0;
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const RobotInfo& a, const RobotInfo& b) { return a.name < b.name; });
  return out;
}

// ---------------------------------------------------------------- refusals

namespace {

Result<bool> can(kube::Client& client, const std::string& verb, const std::string& group, const std::string& resource,
                 const std::string& ns) {
  json review = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectAccessReview"},
      {"spec",
       {{"resourceAttributes", {{"namespace", ns}, {"verb", verb}, {"group", group}, {"resource", resource}}}}}};
  WB_ASSIGN_OR_RETURN(json a, client.create(t::SelfSubjectAccessReview, "", review));
  return a.value("/status/allowed"_json_pointer, false);
}

// The role the current user has in ns, by asking the server what they may do there (nullopt: none).
Result<std::optional<Role>> role_in(kube::Client& client, const std::string& ns) {
  struct Probe {
    const char* verb;
    const char* group;
    const char* resource;
    Role role;
  };
  // (Tenant admins may create RoleBindings cluster-wide where the boundary policy guards that, so
  // what marks one in a workspace is a right only their RoleBinding there gives.)
  static const Probe probes[] = {{"update", "", "resourcequotas", Role::TenantAdmin},
                                 {"delete", "apps", "deployments", Role::Developer},
                                 {"patch", "apps", "deployments", Role::Deployer},
                                 {"list", "", "pods", Role::Viewer}};
  for (const auto& p : probes) {
    WB_ASSIGN_OR_RETURN(bool ok, can(client, p.verb, p.group, p.resource, ns));
    if (ok) return std::optional<Role>(p.role);
  }
  return std::optional<Role>();
}

std::string server_user(kube::Client& client) {
  auto type = client.prefer({t::SelfSubjectReview, t::SelfSubjectReviewV1beta1});
  if (!type) return "";
  json review = {{"apiVersion", type->api_version()}, {"kind", "SelfSubjectReview"}};
  auto answer = client.create(*type, "", review);
  if (!answer) return "";
  return answer->value("/status/userInfo/username"_json_pointer, std::string());
}

// The tenant a tenant-boundary denial names: its message is wb's own (the policy's
// messageExpression, see tenant_boundary_policy), "... not a tenant admin of 'acme'".
std::string tenant_in_boundary_denial(const std::string& policy_message) {
  static const std::regex tenant_re("tenant admin of '([^']+)'");
  std::smatch m;
  return std::regex_search(policy_message, m, tenant_re) ? std::string(m[1]) : std::string();
}

}  // namespace

Error explain_refusal(kube::Client& client, const Error& error) {
  if (error.http_status != 403) return error;
  Refusal r;
  if (const auto* known = error.detail<Refusal>()) {
    r = *known;
  } else if (const auto* server = error.detail<kube::Forbidden>()) {
    static_cast<kube::Forbidden&>(r) = *server;
    r.workspace = r.ns;
  } else {
    return error;
  }
  Error out = error;
  out.code = ErrorCode::Auth;
  if (r.by == kube::Forbidden::By::Admission) {
    // Only the tenant-boundary policy's words are wb's own, and meant for the user.
    r.explained = r.policy == kBoundaryPolicy;
    if (r.explained) r.tenant = tenant_in_boundary_denial(r.policy_message);
    return std::move(out).with(std::move(r));
  }
  if (r.by != kube::Forbidden::By::Rbac || (r.workspace.empty() && !r.cluster_scope)) {
    r.explained = r.by == kube::Forbidden::By::Escalation;
    return std::move(out).with(std::move(r));
  }
  if (r.user.empty()) r.user = server_user(client);
  r.explained = true;
  if (r.workspace.empty()) return std::move(out).with(std::move(r));
  if (auto ns = client.get(t::Namespace, "", r.workspace)) r.tenant = fields::meta_string(*ns, "labels", kTenantLabel);
  auto role = role_in(client, r.workspace);
  if (!role) return std::move(out).with(std::move(r));
  r.role = *role ? std::string(role_name(**role)) : std::string();
  if (*role) {
    const Role mine = **role;
    r.cluster_role_outdated = role_allows(mine, r.verb, r.group, r.resource);
    bool any = false;
    for (Role other : {Role::Developer, Role::TenantAdmin})
      any = any || role_allows(other, r.verb, r.group, r.resource);
    r.no_role_allows = !any;
  }
  return std::move(out).with(std::move(r));
}

// ---------------------------------------------------------------- membership records

namespace {

constexpr Role kAllRoles[] = {Role::Developer, Role::Viewer, Role::Deployer, Role::TenantAdmin};

}  // namespace

Status record_members(kube::Client& client, const std::string& ws, bool fresh) {
  kube::ListOptions opts;
  opts.label_selector = kRoleLabel;
  WB_ASSIGN_OR_RETURN(json list, client.list(t::RoleBinding, ws, opts));
  std::map<Role, json> subjects;
  for (const auto& b : items_of(list)) {
    auto role = role_of_cluster_role(fields::str(b, "/roleRef/name"));
    if (!role || fields::str(b, "/roleRef/kind") != "ClusterRole") continue;
    json& subs = subjects[*role];
    if (!subs.is_array()) subs = json::array();
    for (const auto& sub : b.value("subjects", json::array())) {
      json s = {{"kind", sub.value("kind", "")}, {"name", sub.value("name", "")}};
      if (sub.contains("namespace")) s["namespace"] = sub["namespace"];
      if (s["kind"] != "ServiceAccount") s["apiGroup"] = "rbac.authorization.k8s.io";
      bool dup = false;
      for (const auto& have : subs) dup = dup || same_subject(have, s);
      if (!dup) subs.push_back(s);
    }
  }
  auto write = [&]() -> Status {
    for (Role role : kAllRoles) {
      auto it = subjects.find(role);
      if (it != subjects.end() && !it->second.empty()) {
        WB_TRY(put(client, t::Role, record_role(ws, role)));
        WB_TRY(put(client, t::RoleBinding, record_binding(ws, role, it->second)));
      } else {
        WB_TRY(gone(client.remove(t::RoleBinding, kRecordsNamespace, record_name(ws, role))));
        WB_TRY(gone(client.remove(t::Role, kRecordsNamespace, record_name(ws, role))));
      }
    }
    return {};
  };
  auto st = write();
  // Right after the caller's own tenant-admin binding was made, the authorizer (which the records
  // policy asks) may not know it yet.
  for (int i = 0; fresh && !st && st.error().http_status == 403 && i < 20; ++i) {
    if (!util::sleep_for(std::chrono::milliseconds(250))) break;
    st = write();
  }
  return st;
}

Status forget_records(kube::Client& client, const std::string& ws) {
  for (Role role : kAllRoles) {
    WB_TRY(gone(client.remove(t::RoleBinding, kRecordsNamespace, record_name(ws, role))));
    WB_TRY(gone(client.remove(t::Role, kRecordsNamespace, record_name(ws, role))));
  }
  return {};
}

Result<Memberships> my_memberships(kube::Client& client) {
  json review = {{"apiVersion", "authorization.k8s.io/v1"},
                 {"kind", "SelfSubjectRulesReview"},
                 {"spec", {{"namespace", kRecordsNamespace}}}};
  WB_ASSIGN_OR_RETURN(json answer, client.create(t::SelfSubjectRulesReview, "", review));
  return memberships_from_rules(answer.value("status", json::object()));
}

Result<WorkspaceList> list_workspaces(kube::Client& client, const std::string& tenant, bool all, bool access) {
  Memberships mine;
  if (auto m = my_memberships(client)) mine = std::move(*m);  // a server that cannot say keeps no records
  WorkspaceList out;
  auto row_of = [](const json& ns) {
    WorkspaceRow r;
    r.name = name_of(ns);
    r.tenant = fields::meta_string(ns, "labels", kTenantLabel);
    r.phase = fields::str(ns, "/status/phase");
    if (r.phase.empty()) r.phase = "Active";
    r.created = fields::str(ns, "/metadata/creationTimestamp");
    return r;
  };
  if (!all && !mine.workspaces.empty()) {
    out.from_records = true;
    for (const auto& m : mine.workspaces) {
      WorkspaceRow r;
      auto ns = client.get(t::Namespace, "", m.workspace);
      if (ns) {
        r = row_of(*ns);
      } else if (ns.error().http_status == 404) {
        continue;  // a record of a workspace that is gone
      } else {
        r.name = m.workspace;  // the role may not include reading the namespace
      }
      r.role = role_name(m.role);
      if (!tenant.empty() && !r.tenant.empty() && r.tenant != tenant) continue;
      out.rows.push_back(std::move(r));
    }
  } else {
    kube::ListOptions opts;
    opts.label_selector = tenant.empty() ? std::string(kTenantLabel) : fmt::format("{}={}", kTenantLabel, tenant);
    auto list = client.list(t::Namespace, "", opts);
    if (!list) {
      if (list.error().http_status != 403) return list.error();
      if (all)
        return Error(ErrorCode::Auth, "you may not list every workspace: that needs a cluster-wide permission",
                     "`wb workspace list` without --all shows the workspaces you have a role in", 403);
      if (mine.recorded) {
        out.from_records = true;  // no role anywhere yet
        return out;
      }
      return Error(ErrorCode::Auth,
                   tenant.empty() ? "you may not list workspaces in this cluster"
                                  : fmt::format("you may not list the workspaces of tenant '{}'", tenant),
                   "this cluster keeps no record of who works where (the platform team runs `wb platform init` "
                   "to start); ask a tenant admin which workspaces you have, then `wb workspace use NAME`",
                   403);
    }
    for (const auto& ns : items_of(*list)) {
      WorkspaceRow r = row_of(ns);
      for (const auto& m : mine.workspaces)
        if (m.workspace == r.name) r.role = role_name(m.role);
      out.rows.push_back(std::move(r));
    }
  }
  if (access) {
    for (auto& r : out.rows) {
      auto ok = can(client, "create", "apps", "deployments", r.name);
      if (!ok && ok.error().code != ErrorCode::Auth) return ok.error();
      r.can_deploy = ok.value_or(false);
    }
  }
  return out;
}

}  // namespace wb::workbench::tenancy
