// Workspaces on a cluster: creating, deleting and listing them.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

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
