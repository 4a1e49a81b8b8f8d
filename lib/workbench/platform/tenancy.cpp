// Tenancy: roles, and the objects of tenants and workspaces. Pure functions.
#include "workbench/platform/tenancy.hpp"

#include <fmt/format.h>

#include <map>
#include <regex>

#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;

const kube::ResourceType WorkspaceTemplate{"tenant.kubesphere.io", "v1alpha2", "workspacetemplates",
                                           "WorkspaceTemplate", false};
const kube::ResourceType AdmissionPolicy{"admissionregistration.k8s.io", "v1", "validatingadmissionpolicies",
                                         "ValidatingAdmissionPolicy", false};
const kube::ResourceType AdmissionPolicyBinding{"admissionregistration.k8s.io", "v1",
                                                "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
                                                false};

namespace detail {

json rule(std::vector<std::string> groups, std::vector<std::string> resources, std::vector<std::string> verbs,
          std::vector<std::string> names) {
  json r = {{"apiGroups", groups}, {"resources", resources}, {"verbs", verbs}};
  if (!names.empty()) r["resourceNames"] = names;
  return r;
}

json labels_wb() { return {{labels::kManagedBy, labels::kManagedByWb}}; }

}  // namespace detail

using namespace detail;

namespace {

const std::vector<std::string> kRead = {"get", "list", "watch"};
const std::vector<std::string> kWrite = {"get", "list", "watch", "create", "update", "patch", "delete"};

json cluster_role(const std::string& name, Role role, std::vector<json> rules, const std::string& description) {
  json labels = labels_wb();
  labels[kRoleLabel] = role_name(role);
  return {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRole"},
      {"metadata", {{"name", name}, {"labels", labels}, {"annotations", {{"kubesphere.io/description", description}}}}},
      {"rules", rules}};
}

std::vector<json> viewer_rules() {
  return {
      rule({"apps"}, {"deployments", "deployments/scale", "replicasets", "statefulsets"}, kRead),
      rule({""},
           {"pods", "pods/log", "services", "endpoints", "configmaps", "events", "resourcequotas", "limitranges",
            "serviceaccounts"},
           kRead),
      rule({"discovery.k8s.io"}, {"endpointslices"}, kRead),
      rule({"events.k8s.io"}, {"events"}, kRead),
      rule({"networking.k8s.io"}, {"ingresses", "networkpolicies"}, kRead),
      rule({""}, {"namespaces"}, {"get"}),  // the workspace itself (a namespace is authorized in itself)
  };
}

std::vector<json> deployer_rules() {
  return {
      rule({"apps"}, {"deployments"}, {"get", "list", "watch", "update", "patch"}),
      rule({"apps"}, {"replicasets"}, kRead),
      rule({""}, {"configmaps", "secrets"}, kWrite),  // config versions (and their retention)
      rule({""}, {"pods", "pods/log", "services", "endpoints", "events"}, kRead),
      rule({"events.k8s.io"}, {"events"}, kRead),
      rule({"networking.k8s.io"}, {"ingresses"}, kRead),
      rule({""}, {"namespaces"}, {"get"}),
  };
}

std::vector<json> developer_rules(bool endpoint_slices) {
  std::vector<json> r = {
      rule({"apps"}, {"deployments", "deployments/scale"}, kWrite),
      rule({"apps"}, {"replicasets"}, {"get", "list", "watch", "delete"}),
      rule({""}, {"services", "configmaps", "secrets"}, kWrite),
      rule({""}, {"pods"}, {"get", "list", "watch", "delete"}),
      rule({""}, {"pods/exec"}, {"create", "get"}),         // wb cp-files, shell, jvm, files
      rule({""}, {"pods/portforward"}, {"create", "get"}),  // wb port-forward, app open
      rule({"networking.k8s.io"}, {"ingresses"}, kWrite),
  };
  // External routes to IP targets. Where EndpointSlices exist, developers write those and may only
  // delete Endpoints (an older wb's, which the cluster would mirror into slices): Endpoints writes
  // are kept out of the built-in edit role since Kubernetes 1.22 (CVE-2021-25740). Before 1.21
  // there are only Endpoints, which edit allowed to write then.
  if (endpoint_slices) {
    r.push_back(rule({"discovery.k8s.io"}, {"endpointslices"}, kWrite));
    r.push_back(rule({""}, {"endpoints"}, {"delete"}));
  } else {
    r.push_back(rule({""}, {"endpoints"}, kWrite));
  }
  for (auto& v : viewer_rules()) r.push_back(v);
  return r;
}

std::vector<json> tenant_admin_rules(bool endpoint_slices) {
  std::vector<json> r = developer_rules(endpoint_slices);
  r.push_back(rule({kRbac}, {"rolebindings"}, kWrite));
  r.push_back(
      rule({kRbac}, {"clusterroles"}, {"bind"}, {"wb:developer", "wb:viewer", "wb:deployer", "wb:tenant-admin"}));
  r.push_back(rule({""}, {"serviceaccounts"}, kWrite));
  r.push_back(rule({""}, {"serviceaccounts/token"}, {"create"}));
  r.push_back(rule({""}, {"resourcequotas", "limitranges"}, {"get", "list", "watch", "create", "update", "patch"}));
  r.push_back(rule({"networking.k8s.io"}, {"networkpolicies"}, kWrite));
  r.push_back(rule({""}, {"namespaces"}, {"get", "update", "patch", "delete"}));
  // Marks who administers this workspace, in the form kRecordsPolicy asks the authorizer about.
  r.push_back(rule({kTenancyGroup}, {"members"}, {"manage"}));
  return r;
}

// The virtual verbs of the membership records: one per role.
std::vector<std::string> record_verbs() {
  return {role_name(Role::Developer), role_name(Role::Viewer), role_name(Role::Deployer), role_name(Role::TenantAdmin)};
}

std::vector<json> records_writer_rules() {
  return {rule({kRbac}, {"roles", "rolebindings"}, {"create", "update", "delete"}),
          rule({kTenancyGroup}, {"workspaces"}, record_verbs())};
}

bool listed(const json& list, const std::string& v) {
  if (!list.is_array()) return false;
  for (const auto& x : list)
    if (x == v || x == "*") return true;
  return false;
}

bool rules_allow(const std::vector<json>& rules, const std::string& verb, const std::string& group,
                 const std::string& resource) {
  for (const auto& r : rules)
    if (!r.contains("resourceNames") && listed(r["apiGroups"], group) && listed(r["resources"], resource) &&
        listed(r["verbs"], verb))
      return true;
  return false;
}

// Kubernetes quantities: a decimal number with an optional suffix.
bool valid_quantity(const std::string& v, bool memory) {
  static const std::regex cpu(R"(^([0-9]+(\.[0-9]+)?)(m)?$)");
  static const std::regex mem(R"(^([0-9]+(\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$)");
  return std::regex_match(v, memory ? mem : cpu);
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::Developer:
      return "developer";
    case Role::Viewer:
      return "viewer";
    case Role::TenantAdmin:
      return "tenant-admin";
    case Role::Deployer:
      return "deployer";
  }
  return "";
}

std::string cluster_role_of(Role role) { return std::string("wb:") + role_name(role); }
std::string binding_of(Role role) { return std::string("wb:") + role_name(role); }

std::optional<Role> role_of_cluster_role(const std::string& name) {
  for (Role r : {Role::Developer, Role::Viewer, Role::TenantAdmin, Role::Deployer})
    if (name == cluster_role_of(r)) return r;
  return std::nullopt;
}

Result<Role> parse_role(const std::string& name, bool kubesphere, bool allow_deployer) {
  const std::string n = util::to_lower(name);
  if (n == "developer") return Role::Developer;
  if (n == "viewer") return Role::Viewer;
  if (n == "tenant-admin") return Role::TenantAdmin;
  if (n == "deployer") {
    if (allow_deployer) return Role::Deployer;
    return Error(ErrorCode::Usage, "the deployer role is for robots",
                 "give people developer, viewer or tenant-admin; `wb robot create` makes a deployer");
  }
  struct Alias {
    const char* name;
    Role role;
  };
  static const Alias aliases[] = {{"workspace-admin", Role::TenantAdmin},
                                  {"workspace-regular", Role::Developer},
                                  {"workspace-viewer", Role::Viewer},
                                  {"admin", Role::TenantAdmin},
                                  {"operator", Role::Developer}};
  for (const auto& a : aliases) {
    if (n != a.name) continue;
    if (kubesphere) return a.role;
    return Error(
        ErrorCode::Usage,
        fmt::format("role '{}' is a KubeSphere role name, and KubeSphere is not installed on this cluster", name),
        fmt::format("use {} (roles: developer, viewer, tenant-admin)", role_name(a.role)));
  }
  return Error(ErrorCode::Usage, fmt::format("unknown role '{}'", name),
               kubesphere ? "roles: developer, viewer, tenant-admin (KubeSphere names: workspace-admin, "
                            "workspace-regular, workspace-viewer, admin, operator, viewer)"
                          : "roles: developer, viewer, tenant-admin");
}

std::vector<json> platform_cluster_roles(bool endpoint_slices) {
  json writer = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                 {"kind", "ClusterRole"},
                 {"metadata",
                  {{"name", kRecordsWriterRole},
                   {"labels", labels_wb()},
                   {"annotations",
                    {{"kubesphere.io/description",
                      fmt::format("wb: tenant admins write the membership records in {} (bound there per tenant)",
                                  kRecordsNamespace)}}}}},
                 {"rules", records_writer_rules()}};
  return {
      cluster_role("wb:developer", Role::Developer, developer_rules(endpoint_slices),
                   "wb developer: apps, their configs, routes, logs and cp-files in a workspace"),
      cluster_role("wb:viewer", Role::Viewer, viewer_rules(), "wb viewer: reads apps, configs (not secrets) and logs"),
      cluster_role("wb:deployer", Role::Deployer, deployer_rules(),
                   "wb deployer (CI robots): roll apps to new images and configs, watch the rollout, read logs"),
      cluster_role("wb:tenant-admin", Role::TenantAdmin, tenant_admin_rules(endpoint_slices),
                   "wb tenant admin: everything a developer can, plus members, robots, quota and network "
                   "policy of the workspace, and deleting it"),
      writer,
  };
}

bool role_allows(Role role, const std::string& verb, const std::string& group, const std::string& resource) {
  switch (role) {
    case Role::Developer:
      return rules_allow(developer_rules(true), verb, group, resource);
    case Role::Viewer:
      return rules_allow(viewer_rules(), verb, group, resource);
    case Role::Deployer:
      return rules_allow(deployer_rules(), verb, group, resource);
    case Role::TenantAdmin:
      return rules_allow(tenant_admin_rules(true), verb, group, resource);
  }
  return false;
}

json subject_for(const std::string& who) {
  const std::string sa = "system:serviceaccount:";
  if (who.rfind(sa, 0) == 0) {
    auto rest = who.substr(sa.size());
    auto colon = rest.find(':');
    if (colon != std::string::npos)
      return {{"kind", "ServiceAccount"}, {"name", rest.substr(colon + 1)}, {"namespace", rest.substr(0, colon)}};
  }
  if (who.rfind("group:", 0) == 0) return {{"kind", "Group"}, {"apiGroup", kRbac}, {"name", who.substr(6)}};
  return {{"kind", "User"}, {"apiGroup", kRbac}, {"name", who}};
}

std::string who_of(const json& s) {
  const std::string kind = s.value("kind", "");
  const std::string name = s.value("name", "");
  if (kind == "ServiceAccount") return "system:serviceaccount:" + s.value("namespace", "") + ":" + name;
  if (kind == "Group") return "group:" + name;
  return name;
}

Status check_quantity(const std::string& value, bool memory, const std::string& what) {
  if (valid_quantity(value, memory)) return {};
  return Error(ErrorCode::Usage, fmt::format("{} '{}' is not a {} quantity", what, value, memory ? "memory" : "CPU"),
               memory ? "use e.g. 512Mi, 16Gi" : "use e.g. 500m, 2, 8");
}

WorkspaceDefaults workspace_defaults(const Settings& settings) {
  WorkspaceDefaults d;
  d.quota_cpu = settings.text("workspaces.quota.cpu");
  d.quota_memory = settings.text("workspaces.quota.memory");
  d.limit_cpu = settings.text("workspaces.limits.cpu");
  d.limit_memory = settings.text("workspaces.limits.memory");
  d.request_cpu = settings.text("workspaces.limits.cpuRequest");
  d.request_memory = settings.text("workspaces.limits.memoryRequest");
  d.network_policy = settings.get_bool("workspaces.networkPolicy");
  return d;
}

std::vector<std::pair<kube::ResourceType, json>> workspace_objects(const WorkspaceSpec& s) {
  namespace t = kube::types;
  const auto& d = s.defaults;
  json labels = labels_wb();
  json ns_labels = {{kTenantLabel, s.tenant}, {labels::kManagedBy, labels::kManagedByWb}};
  json ns_meta = {{"name", s.name}, {"labels", ns_labels}};
  if (!s.creator.empty()) ns_meta["annotations"] = {{"kubesphere.io/creator", s.creator}};
  std::vector<std::pair<kube::ResourceType, json>> out;
  out.push_back({t::Namespace, {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", ns_meta}}});
  if (!s.tenant_admins.empty()) {
    json rb_labels = labels;
    rb_labels[kRoleLabel] = role_name(Role::TenantAdmin);
    out.push_back(
        {t::RoleBinding,
         {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "RoleBinding"},
          {"metadata", {{"name", binding_of(Role::TenantAdmin)}, {"namespace", s.name}, {"labels", rb_labels}}},
          {"roleRef", {{"apiGroup", kRbac}, {"kind", "ClusterRole"}, {"name", cluster_role_of(Role::TenantAdmin)}}},
          {"subjects", s.tenant_admins}}});
  }
  out.push_back({t::ResourceQuota,
                 {{"apiVersion", "v1"},
                  {"kind", "ResourceQuota"},
                  {"metadata", {{"name", "wb-quota"}, {"namespace", s.name}, {"labels", labels}}},
                  {"spec",
                   {{"hard",
                     {{"requests.cpu", d.quota_cpu},
                      {"limits.cpu", d.quota_cpu},
                      {"requests.memory", d.quota_memory},
                      {"limits.memory", d.quota_memory}}}}}}});
  out.push_back(
      {t::LimitRange,
       {{"apiVersion", "v1"},
        {"kind", "LimitRange"},
        {"metadata", {{"name", "wb-limits"}, {"namespace", s.name}, {"labels", labels}}},
        {"spec",
         {{"limits", json::array({{{"type", "Container"},
                                   {"default", {{"cpu", d.limit_cpu}, {"memory", d.limit_memory}}},
                                   {"defaultRequest", {{"cpu", d.request_cpu}, {"memory", d.request_memory}}}}})}}}}});
  if (d.network_policy) {
    // Ingress only from the tenant's own workspaces and from namespaces outside any tenant
    // (ingress controllers, monitoring); other tenants are kept out.
    json from =
        json::array({{{"namespaceSelector", {{"matchLabels", {{kTenantLabel, s.tenant}}}}}},
                     {{"namespaceSelector",
                       {{"matchExpressions", json::array({{{"key", kTenantLabel}, {"operator", "DoesNotExist"}}})}}}}});
    out.push_back({t::NetworkPolicy,
                   {{"apiVersion", "networking.k8s.io/v1"},
                    {"kind", "NetworkPolicy"},
                    {"metadata", {{"name", "wb-tenant-isolation"}, {"namespace", s.name}, {"labels", labels}}},
                    {"spec",
                     {{"podSelector", json::object()},
                      {"policyTypes", json::array({"Ingress"})},
                      {"ingress", json::array({{{"from", from}}})}}}}});
  }
  return out;
}

std::string tenant_role_name(const std::string& tenant) { return "wb:tenant:" + tenant; }

json tenant_cluster_role(const std::string& tenant, bool kubesphere, bool self_service) {
  const std::string name = tenant_role_name(tenant);
  std::vector<json> rules = {
      // Listing workspaces (namespaces) is cluster-wide in RBAC: tenant admins see every
      // namespace's name and labels, nothing inside them.
      rule({""}, {"namespaces"}, {"list", "watch"}),
      // Managing who the tenant's admins are: this binding only, and only to this role.
      rule({kRbac}, {"clusterrolebindings"}, {"get", "update", "patch"}, {name}),
      rule({kRbac}, {"clusterroles"}, {"get", "bind"}, {name}),
      // Who administers this tenant, in the form the boundary policy asks the authorizer about.
      rule({kTenancyGroup}, {"tenants"}, {"admin"}, {tenant}),
  };
  if (self_service) {
    // Creating a workspace: the namespace, then the tenant admins' RoleBinding in it (the rest
    // follows from that binding). Cluster-wide by necessity; kBoundaryPolicy refuses every use
    // outside this tenant's workspaces.
    rules.push_back(rule({kTenancyGroup}, {"workspaces"}, {"create"}));
    rules.push_back(rule({""}, {"namespaces"}, {"create"}));
    rules.push_back(rule({kRbac}, {"rolebindings"}, {"create"}));
    rules.push_back(rule({kRbac}, {"clusterroles"}, {"bind"}, {cluster_role_of(Role::TenantAdmin)}));
  }
  if (kubesphere)
    rules.push_back(rule({"tenant.kubesphere.io"}, {"workspacetemplates"}, {"get", "update", "patch"}, {tenant}));
  json labels = labels_wb();
  labels[kTenantRoleLabel] = tenant;
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRole"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"rules", rules}};
}

json tenant_binding(const std::string& tenant, const std::vector<json>& admins) {
  json labels = labels_wb();
  labels[kTenantRoleLabel] = tenant;
  json b = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRoleBinding"},
            {"metadata", {{"name", tenant_role_name(tenant)}, {"labels", labels}}},
            {"roleRef", {{"apiGroup", kRbac}, {"kind", "ClusterRole"}, {"name", tenant_role_name(tenant)}}}};
  if (!admins.empty()) b["subjects"] = admins;
  return b;
}

json workspace_template(const std::string& tenant, const std::string& manager) {
  json spec = json::object();
  if (!manager.empty()) spec["manager"] = manager;
  return {{"apiVersion", "tenant.kubesphere.io/v1alpha2"},
          {"kind", "WorkspaceTemplate"},
          {"metadata", {{"name", tenant}, {"labels", labels_wb()}}},
          {"spec", {{"template", {{"spec", spec}}}}}};
}

}  // namespace wb::workbench::tenancy
