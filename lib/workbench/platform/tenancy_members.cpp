// Members of workspaces and tenants: adding, removing and listing them.
#include <fmt/format.h>

#include <algorithm>

#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;
using namespace detail;

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
    auto st = modify_binding(client, t::ClusterRoleBinding, "", tenant_role_name(tenant),
                             [&](json& b) { return add_subject(b, subject); });
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
}  // namespace wb::workbench::tenancy
