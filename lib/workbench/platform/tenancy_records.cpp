// Membership records: their objects, reading them back, and writing them from a workspace's bindings.
#include <fmt/format.h>

#include <chrono>
#include <map>

#include "util/stop.hpp"
#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;
using namespace detail;

std::string record_name(const std::string& workspace, Role role) {
  return fmt::format("wb:member:{}:{}", workspace, role_name(role));
}

namespace {

json record_labels(const std::string& workspace, Role role) {
  json labels = labels_wb();
  labels[kRoleLabel] = role_name(role);
  labels["wb.dev/workspace"] = workspace;
  return labels;
}

}  // namespace

json record_role(const std::string& workspace, Role role) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "Role"},
          {"metadata",
           {{"name", record_name(workspace, role)},
            {"namespace", kRecordsNamespace},
            {"labels", record_labels(workspace, role)}}},
          {"rules", json::array({rule({kTenancyGroup}, {"workspaces"}, {role_name(role)}, {workspace})})}};
}

json record_binding(const std::string& workspace, Role role, const json& subjects) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "RoleBinding"},
          {"metadata",
           {{"name", record_name(workspace, role)},
            {"namespace", kRecordsNamespace},
            {"labels", record_labels(workspace, role)}}},
          {"roleRef", {{"apiGroup", kRbac}, {"kind", "Role"}, {"name", record_name(workspace, role)}}},
          {"subjects", subjects}};
}

json tenant_records_binding(const std::string& tenant, const std::vector<json>& admins) {
  json labels = labels_wb();
  labels[kTenantRoleLabel] = tenant;
  json b = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "RoleBinding"},
            {"metadata", {{"name", tenant_role_name(tenant)}, {"namespace", kRecordsNamespace}, {"labels", labels}}},
            {"roleRef", {{"apiGroup", kRbac}, {"kind", "ClusterRole"}, {"name", kRecordsWriterRole}}},
            {"subjects", admins}};
  return b;
}

std::vector<std::pair<kube::ResourceType, json>> records_objects() {
  namespace t = kube::types;
  json ns = {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata",
              {{"name", kRecordsNamespace},
               {"labels", labels_wb()},
               {"annotations", {{"kubesphere.io/description", "wb: who works in which workspace (RBAC records)"}}}}}};
  json mark = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "Role"},
               {"metadata", {{"name", kRecordsMark}, {"namespace", kRecordsNamespace}, {"labels", labels_wb()}}},
               {"rules", json::array({rule({kTenancyGroup}, {"memberships"}, {"read"})})}};
  json everyone = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", {{"name", kRecordsMark}, {"namespace", kRecordsNamespace}, {"labels", labels_wb()}}},
      {"roleRef", {{"apiGroup", kRbac}, {"kind", "Role"}, {"name", kRecordsMark}}},
      {"subjects", json::array({{{"kind", "Group"}, {"apiGroup", kRbac}, {"name", "system:authenticated"}}})}};
  return {{t::Namespace, ns}, {t::Role, mark}, {t::RoleBinding, everyone}};
}

Memberships memberships_from_rules(const json& status) {
  auto has = [](const json& list, const std::string& v) {
    if (!list.is_array()) return false;
    for (const auto& x : list)
      if (x == v) return true;
    return false;
  };
  auto rank = [](Role r) {
    switch (r) {
      case Role::Viewer:
        return 0;
      case Role::Deployer:
        return 1;
      case Role::Developer:
        return 2;
      case Role::TenantAdmin:
        return 3;
    }
    return 0;
  };
  Memberships out;
  std::map<std::string, Role> best;
  for (const auto& r : status.value("resourceRules", json::array())) {
    if (!has(r.value("apiGroups", json::array()), kTenancyGroup)) continue;
    const json resources = r.value("resources", json::array());
    const json verbs = r.value("verbs", json::array());
    if (has(resources, "memberships") && has(verbs, "read")) out.recorded = true;
    if (!has(resources, "workspaces")) continue;
    for (const auto& v : verbs) {
      if (!v.is_string()) continue;
      std::optional<Role> role;
      for (Role c : {Role::Developer, Role::Viewer, Role::Deployer, Role::TenantAdmin})
        if (v == role_name(c)) role = c;
      if (!role) continue;  // a wildcard is the platform team's, not a membership
      for (const auto& n : r.value("resourceNames", json::array())) {
        if (!n.is_string() || n.get<std::string>().empty()) continue;
        auto it = best.find(n);
        if (it == best.end() || rank(*role) > rank(it->second)) best[n] = *role;
      }
    }
  }
  for (const auto& [ws, role] : best) out.workspaces.push_back({ws, role});
  return out;
}

// ---------------------------------------------------------------- on a cluster

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

}  // namespace wb::workbench::tenancy
