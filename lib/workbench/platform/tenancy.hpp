// Tenants, workspaces, members, robots and the roles wb maps people to; and the words for a 403.
//
// The model (see man wb-platform(1) for the design and its limits):
//  * a tenant is the kubesphere.io/workspace label on its namespaces, plus a ClusterRole
//    "wb:tenant:T" and a ClusterRoleBinding of the same name whose subjects are T's tenant admins
//    (and a KubeSphere WorkspaceTemplate T where KubeSphere's tenant API is served);
//  * a workspace is a namespace with that label, a ResourceQuota, a LimitRange, a NetworkPolicy
//    that keeps other tenants out, and one RoleBinding "wb:ROLE" per role holding its members;
//  * the roles are ClusterRoles installed by `wb platform init`: wb:developer, wb:viewer,
//    wb:deployer (CI robots) and wb:tenant-admin (bound inside each workspace of the tenant; holds
//    `bind` on the wb roles there, so the cluster's escalation check confines what a tenant admin
//    can hand out to the tenant's own workspaces).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/core/refusal.hpp"

namespace wb::workbench::tenancy {

using json = nlohmann::json;
using util::Error;
using util::Result;
using util::Status;

inline constexpr const char* kTenantLabel = "kubesphere.io/workspace";
inline constexpr const char* kRoleLabel = "wb.dev/role";
inline constexpr const char* kTenantRoleLabel = "wb.dev/tenant";
inline constexpr const char* kRobotLabel = "wb.dev/robot";

// KubeSphere's tenant API (WorkspaceTemplate, cluster-scoped).
extern const kube::ResourceType WorkspaceTemplate;
// Kubernetes' in-process admission policies (admissionregistration.k8s.io/v1, 1.30+).
extern const kube::ResourceType AdmissionPolicy, AdmissionPolicyBinding;

// Tenant boundaries. RBAC cannot scope creating a namespace (or the first RoleBinding in it) to a
// tenant, so where the cluster has ValidatingAdmissionPolicy, tenant admins get those rights
// cluster-wide and the policy kBoundaryPolicy refuses every use of them outside their own tenants.
// Who administers which tenant is itself RBAC: the virtual permission "admin" on
// wb.dev/tenants/<tenant> (resourceNames-scoped); "create" on wb.dev/workspaces marks a user the
// policy applies to. The platform team (cluster-admin) holds both unscoped and is not checked.
inline constexpr const char* kTenancyGroup = "wb.dev";
inline constexpr const char* kBoundaryPolicy = "wb-tenant-boundaries";

enum class Role { Developer, Viewer, TenantAdmin, Deployer };

// "developer", "viewer", "tenant-admin", "deployer".
const char* role_name(Role role);
// The ClusterRole a role maps to: "wb:developer", ...
std::string cluster_role_of(Role role);
// The RoleBinding holding a role's members in a workspace: "wb:developer", ...
std::string binding_of(Role role);
// The role of a wb ClusterRole name ("wb:viewer" -> Viewer); nullopt for others.
std::optional<Role> role_of_cluster_role(const std::string& name);

// Parses a role name. KubeSphere's names (workspace-admin, workspace-regular, workspace-viewer;
// admin, operator, viewer) are accepted as aliases only when `kubesphere` is true; otherwise they
// are a usage error that says why. `allow_deployer`: robots may be deployers, people may not.
Result<Role> parse_role(const std::string& name, bool kubesphere, bool allow_deployer = false);

// The ClusterRoles `wb platform init` installs (labelled managed-by=wb), in a stable order: the
// four roles, then kRecordsWriterRole. `endpoint_slices`: the server has discovery.k8s.io/v1
// EndpointSlices, which developers write for external routes; without them (before Kubernetes
// 1.21) developers write Endpoints instead.
std::vector<json> platform_cluster_roles(bool endpoint_slices = true);
// Whether wb's own definition of `role` allows `verb` on `resource` (may carry a subresource:
// "pods/exec") of API `group` in a workspace.
bool role_allows(Role role, const std::string& verb, const std::string& group, const std::string& resource);

// A subject for a user string: "system:serviceaccount:NS:NAME" -> ServiceAccount, "group:NAME" ->
// Group, anything else -> User.
json subject_for(const std::string& who);
// The user string of a subject (inverse of subject_for).
std::string who_of(const json& subject);

// What a new workspace gets: its quota, its containers' default limits and requests, isolation.
struct WorkspaceDefaults {
  std::string quota_cpu{default_text("workspaces.quota.cpu")};
  std::string quota_memory{default_text("workspaces.quota.memory")};
  std::string limit_cpu{default_text("workspaces.limits.cpu")};
  std::string limit_memory{default_text("workspaces.limits.memory")};
  std::string request_cpu{default_text("workspaces.limits.cpuRequest")};
  std::string request_memory{default_text("workspaces.limits.memoryRequest")};
  bool network_policy = default_bool("workspaces.networkPolicy");
};
// The defaults the profile's workspaces.* settings give (their built-in values where unset).
WorkspaceDefaults workspace_defaults(const Settings& settings);

struct WorkspaceSpec {
  std::string name;
  std::string tenant;
  std::string creator;  // kubesphere.io/creator ("" = unknown)
  WorkspaceDefaults defaults;
  std::vector<json> tenant_admins;  // subjects of the tenant's admins (RoleBinding wb:tenant-admin)
};

// Validates a CPU ("500m", "2") or memory ("512Mi", "1G") quantity; Usage error naming the flag.
Status check_quantity(const std::string& value, bool memory, const std::string& what);

// The objects of a new workspace, in creation order: Namespace, RoleBinding "wb:tenant-admin" (if
// the tenant has admins; first, so a tenant admin who creates the workspace may then create the
// rest), ResourceQuota "wb-quota", LimitRange "wb-limits", NetworkPolicy "wb-tenant-isolation"
// (if enabled).
std::vector<std::pair<kube::ResourceType, json>> workspace_objects(const WorkspaceSpec& spec);

// The tenant's ClusterRole and ClusterRoleBinding ("wb:tenant:T"), and its WorkspaceTemplate.
// `self_service`: the cluster enforces kBoundaryPolicy, so the role also lets the tenant's admins
// create workspaces (see kTenancyGroup).
json tenant_cluster_role(const std::string& tenant, bool kubesphere, bool self_service);
json tenant_binding(const std::string& tenant, const std::vector<json>& admins);
json workspace_template(const std::string& tenant, const std::string& manager);
std::string tenant_role_name(const std::string& tenant);

// ---------------------------------------------------------------- on a cluster

// Whether the server serves KubeSphere's tenant API (tenant.kubesphere.io/v1alpha2 workspacetemplates).
Result<bool> kubesphere_installed(kube::Client& client);

// One object `wb platform init` handled: what happened to it.
struct Applied {
  json object;
  std::string outcome;  // "created", "configured", "unchanged" (or "would create"... with dry_run)
};
// The ValidatingAdmissionPolicy and its binding that keep tenant admins inside their tenants.
json boundary_policy();
json boundary_policy_binding();

struct PlatformInit {
  std::vector<Applied> applied;
  // The cluster serves ValidatingAdmissionPolicy: the boundary policy is installed and tenant
  // admins create their own workspaces. Without it, only the platform team does.
  bool self_service = false;
  int recorded_workspaces = 0;  // workspaces whose membership records were rewritten
};
// Installs (server-side apply) the platform ClusterRoles, the membership records' namespace and,
// where the cluster has ValidatingAdmissionPolicy, the tenant-boundary and records policies; brings
// existing tenants' roles up to date and rewrites every workspace's membership records.
// Idempotent.
Result<PlatformInit> platform_init(kube::Client& client, bool dry_run);
// Whether tenant admins may create workspaces here (the boundary policy and its binding exist).
bool self_service_enabled(kube::Client& client);

struct TenantInfo {
  std::string name;
  std::vector<std::string> workspaces;
  std::vector<std::string> admins;
  bool has_role = false;      // wb:tenant:T exists
  bool has_template = false;  // KubeSphere WorkspaceTemplate exists
};
Result<std::vector<TenantInfo>> list_tenants(kube::Client& client);
Result<TenantInfo> get_tenant(kube::Client& client, const std::string& tenant);
// Creates wb:tenant:T (+ WorkspaceTemplate on KubeSphere); Conflict if it exists.
Status create_tenant(kube::Client& client, const std::string& tenant, const std::vector<std::string>& admins);
// Deletes them; Conflict while the tenant still has workspaces.
Status delete_tenant(kube::Client& client, const std::string& tenant);

// Names of the tenant's workspaces (namespaces labelled with it), sorted.
Result<std::vector<std::string>> tenant_workspaces(kube::Client& client, const std::string& tenant);

// ---------------------------------------------------------------- membership records
//
// Everyone can list the workspaces they have a role in, and learns nothing about anyone else's:
// the record is RBAC itself. For each workspace W and role R that has members, the platform
// namespace kRecordsNamespace holds a Role "wb:member:W:R" granting the permission R on the
// virtual resource wb.dev/workspaces named W (it allows nothing real), and a RoleBinding of the
// same name whose subjects are W's members in that role (people, groups and robots). A user reads
// the records with a SelfSubjectRulesReview of that namespace, which the server answers with that
// user's own rules only. Every authenticated user also holds "read" on wb.dev/memberships there
// (Role and RoleBinding "wb:records"): the mark that this cluster keeps records at all.
// Tenant admins write the records of their workspaces through the RoleBinding "wb:tenant:T" there
// (ClusterRole kRecordsWriterRole: create, update and delete of Roles and RoleBindings, no reads);
// where the cluster has admission policies, kRecordsPolicy confines them to the records of
// workspaces they administer. `wb platform init` makes the namespace and rewrites every record.
inline constexpr const char* kRecordsNamespace = "wb-system";
inline constexpr const char* kRecordsWriterRole = "wb:member-records";
inline constexpr const char* kRecordsPolicy = "wb-member-records";
inline constexpr const char* kRecordsMark = "wb:records";

// "wb:member:W:developer"
std::string record_name(const std::string& workspace, Role role);
// The record of W's members in `role` (Role, and RoleBinding holding `subjects`).
json record_role(const std::string& workspace, Role role);
json record_binding(const std::string& workspace, Role role, const json& subjects);
// The RoleBinding "wb:tenant:T" in kRecordsNamespace that lets T's admins write records.
json tenant_records_binding(const std::string& tenant, const std::vector<json>& admins);
// The platform objects of the records: the namespace, and the mark's Role and RoleBinding.
std::vector<std::pair<kube::ResourceType, json>> records_objects();
// The admission policy (and binding) that keeps a tenant admin's record writes to the workspaces
// they administer (the virtual permission "manage" on wb.dev/members in the workspace).
json records_policy();
json records_policy_binding();

struct Membership {
  std::string workspace;
  Role role = Role::Viewer;
};
struct Memberships {
  bool recorded = false;               // the cluster keeps membership records (the mark was found)
  std::vector<Membership> workspaces;  // sorted by name; the highest role where there are several
};
// Reads the records from a SelfSubjectRulesReview's status (wildcard rules are no membership).
Memberships memberships_from_rules(const json& review_status);
// The current user's memberships, from the server.
Result<Memberships> my_memberships(kube::Client& client);
// Rewrites the records of workspace `ws` from its role bindings. `fresh`: the caller's tenant-admin
// binding there was made a moment ago, so a refusal is retried while RBAC catches up.
Status record_members(kube::Client& client, const std::string& ws, bool fresh = false);
// Deletes every record of `ws`.
Status forget_records(kube::Client& client, const std::string& ws);

// What became of the membership records after a change of members that was made: `records` is set
// when they could not follow (the command warns; `wb platform init` rewrites them).
struct RecordsOutcome {
  std::optional<Error> records;
};

// One row of `wb workspace list`.
struct WorkspaceRow {
  std::string name;
  std::string tenant;
  std::string role;     // "developer", ... ("" when the records do not say)
  std::string phase;    // "Active", "Terminating" ("" when the namespace cannot be read)
  std::string created;  // creationTimestamp
  bool can_deploy = false;
};
struct WorkspaceList {
  std::vector<WorkspaceRow> rows;
  bool from_records = false;  // the user's own records (else every workspace the user may list)
};
// The workspaces a user works in: their membership records; without any (the platform team, or a
// cluster that keeps none) every workspace, where the user may list namespaces. `tenant` filters
// ("" = all), `all` lists every workspace (needs the cluster-wide right), `access` asks the server
// whether the user may deploy in each. Auth when there is nothing the user may read, saying why.
Result<WorkspaceList> list_workspaces(kube::Client& client, const std::string& tenant, bool all, bool access);

// Creates a workspace (all objects or none). NotFound if the tenant does not exist, Conflict if
// the namespace does. With dry_run only the objects are returned. Then records its members.
struct CreatedWorkspace {
  std::vector<json> objects;
  RecordsOutcome outcome;
};
Result<CreatedWorkspace> create_workspace(kube::Client& client, WorkspaceSpec spec, bool dry_run);
// Deletes a workspace (refuses namespaces without the tenant label) and its records.
struct DeletedWorkspace {
  std::string tenant;
  RecordsOutcome outcome;
};
Result<DeletedWorkspace> delete_workspace(kube::Client& client, const std::string& name);

struct Member {
  std::string who;        // user string
  std::string kind;       // User, Group, ServiceAccount
  std::string role;       // developer, viewer, tenant-admin, deployer
  std::string workspace;  // "" for the tenant-wide admin binding
};
// Gives `who` the role in a workspace (and takes wb's other roles there away from them).
Result<RecordsOutcome> add_member(kube::Client& client, const std::string& who, Role role,
                                  const std::string& workspace);
// Tenant-wide: tenant-admin goes into wb:tenant:T and every workspace; other roles into every workspace.
Result<RecordsOutcome> add_tenant_member(kube::Client& client, const std::string& who, Role role,
                                         const std::string& tenant);
// Removes `who` from wb's role bindings of a workspace / of the tenant; NotFound if they had none.
Result<RecordsOutcome> remove_member(kube::Client& client, const std::string& who, const std::string& workspace);
Result<RecordsOutcome> remove_tenant_member(kube::Client& client, const std::string& who, const std::string& tenant);
Result<std::vector<Member>> list_members(kube::Client& client, const std::string& workspace);
Result<std::vector<Member>> list_tenant_members(kube::Client& client, const std::string& tenant);

struct Robot {
  std::string name;
  std::string workspace;
  Role role = Role::Deployer;
  std::string token;       // the service-account token (long-lived, in Secret NAME-token)
  std::string kubeconfig;  // YAML: current server and CA, the token, namespace = workspace
  RecordsOutcome outcome;
};
// Creates ServiceAccount NAME, RoleBinding wb:robot:NAME and a service-account-token Secret
// NAME-token, waits for the token and builds a kubeconfig. All or nothing.
Result<Robot> create_robot(kube::Client& client, const std::string& name, const std::string& workspace, Role role);
Result<RecordsOutcome> remove_robot(kube::Client& client, const std::string& name, const std::string& workspace);
// The workspace's robots (ServiceAccounts labelled wb.dev/robot), by name.
struct RobotInfo {
  std::string name;
  std::string role;     // "deployer", ... ("" when its RoleBinding is gone)
  std::string created;  // the ServiceAccount's creationTimestamp
  bool token = false;   // its token Secret exists
};
Result<std::vector<RobotInfo>> list_robots(kube::Client& client, const std::string& workspace);
// A kubeconfig (YAML) for `token` against the client's server and CA, namespace `ns`.
std::string robot_kubeconfig(const kube::RestConfig& config, const std::string& name, const std::string& ns,
                             const std::string& token);

// ---------------------------------------------------------------- refusals

// The facts behind a 403 (kube::Forbidden, or a workbench Refusal from an app command), asked of
// the server: who you are when the server did not say (SelfSubjectReview), the workspace's tenant,
// your role there (SelfSubjectAccessReviews), and whether this cluster's copy of that role, or any
// role a tenant admin can give, allows what was refused. The error comes back with a Refusal
// (explained); its words are made where errors are printed. Other errors pass unchanged.
Error explain_refusal(kube::Client& client, const Error& error);

}  // namespace wb::workbench::tenancy
