// A 403 explained: the role and tenant behind a refusal, asked of the server as facts.
#include <fmt/format.h>

#include <regex>

#include "kube/identity.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;
using namespace detail;

namespace {

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
  auto who = kube::who_am_i(client);
  return who && *who ? (*who)->username : std::string();
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
}  // namespace wb::workbench::tenancy
