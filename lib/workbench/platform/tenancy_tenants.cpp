// Tenants on a cluster: listing, reading, creating and deleting them.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "util/strings.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;
using namespace detail;

Result<std::vector<std::string>> tenant_workspaces(kube::Client& client, const std::string& tenant) {
  kube::ListOptions opts;
  opts.label_selector = fmt::format("{}={}", kTenantLabel, tenant);
  WB_ASSIGN_OR_RETURN(json list, client.list(t::Namespace, "", opts));
  std::vector<std::string> names;
  for (const auto& ns : items_of(list)) names.push_back(name_of(ns));
  std::sort(names.begin(), names.end());
  return names;
}

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
}  // namespace wb::workbench::tenancy
