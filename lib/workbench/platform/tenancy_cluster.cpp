// Tenancy on a cluster: what its nouns share (bindings, applying, records writes) and platform init.
#include <fmt/format.h>

#include <algorithm>

#include "util/json.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;

namespace detail {

std::string name_of(const json& o) { return fields::str(o, "/metadata/name"); }

json items_of(const json& list) { return list.value("items", json::array()); }

bool same_subject(const json& a, const json& b) { return who_of(a) == who_of(b); }

bool add_subject(json& binding, const json& subject) {
  json& subs = binding["subjects"];
  if (!subs.is_array()) subs = json::array();
  for (const auto& s : subs)
    if (same_subject(s, subject)) return false;
  subs.push_back(subject);
  return true;
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
  auto st = modify_binding(client, t::RoleBinding, ns, name, [&](json& b) { return add_subject(b, subject); });
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
                                  std::optional<Role> keep) {
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

Result<bool> can(kube::Client& client, const std::string& verb, const std::string& group, const std::string& resource,
                 const std::string& ns) {
  json review = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectAccessReview"},
      {"spec",
       {{"resourceAttributes", {{"namespace", ns}, {"verb", verb}, {"group", group}, {"resource", resource}}}}}};
  WB_ASSIGN_OR_RETURN(json a, client.create(t::SelfSubjectAccessReview, "", review));
  return util::json_at(a, "/status/allowed", false);
}

}  // namespace detail

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

}  // namespace

namespace detail {

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

RecordsOutcome outcome_of(Status st) {
  RecordsOutcome o;
  if (!st) o.records = records_error(st.error());
  return o;
}

}  // namespace detail

using namespace detail;

Result<bool> kubesphere_installed(kube::Client& client) {
  WB_ASSIGN_OR_RETURN(auto d, client.discovery());
  return d.has(WorkspaceTemplate.api_version(), WorkspaceTemplate.plural);
}

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

}  // namespace wb::workbench::tenancy
