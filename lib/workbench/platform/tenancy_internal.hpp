// Private to tenancy*.cpp: the pieces its nouns share (object parts, bindings, applying, records writes).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::workbench::tenancy::detail {

// ---------------------------------------------------------------- object parts

inline constexpr const char* kRbac = "rbac.authorization.k8s.io";

// An RBAC rule; `names` limits it to those resource names.
json rule(std::vector<std::string> groups, std::vector<std::string> resources, std::vector<std::string> verbs,
          std::vector<std::string> names = {});

// The managed-by label wb's objects carry.
json labels_wb();

// ---------------------------------------------------------------- on a cluster

std::string name_of(const json& o);
json items_of(const json& list);
bool same_subject(const json& a, const json& b);
// Adds `subject` to a binding's subjects unless it is there; false when it was (nothing to write).
bool add_subject(json& binding, const json& subject);

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
      if (st || st.error().code == util::ErrorCode::NotFound) return {};
      return st;
    }
    auto w = client.update(type, ns, b);
    if (w) return {};
    if (w.error().code != util::ErrorCode::Conflict || w.error().http_status != 409 || attempt >= 4) return w.error();
  }
}

// wb's RoleBinding `name` in ns of `role` to `cluster_role`.
json role_binding(const std::string& ns, const std::string& name, Role role, const std::string& cluster_role,
                  const json& subjects);

// Adds a subject to the role's binding in ns (creating it).
Status add_to_binding(kube::Client& client, const std::string& ns, Role role, const json& subject);

// Removes a subject from wb's role bindings in ns, except `keep`; true if it was in one.
Result<bool> remove_from_bindings(kube::Client& client, const std::string& ns, const json& subject,
                                  std::optional<Role> keep = std::nullopt);

Error tenant_not_found(const std::string& tenant);
Error workspace_not_found(const std::string& ws);

// The namespace of a workspace; NotFound in words; a 403 passes through (explained later).
Result<json> get_workspace(kube::Client& client, const std::string& ws);

// The tenant's workspaces that are not being deleted (a namespace being deleted refuses new
// objects, so a tenant-wide change skips it).
Result<std::vector<std::string>> live_workspaces(kube::Client& client, const std::string& tenant);

// Creates or updates one object (server-side apply) and says what happened.
Result<Applied> ensure(kube::Client& client, const kube::ResourceType& type, const json& want, bool dry_run);

// Writes `object` whole (an unconditional PUT, else a create): record writers may not read.
Status put(kube::Client& client, const kube::ResourceType& type, const json& object);

// A removal that found nothing to remove is a success.
Status gone(Status st);

// The tenant's admins, as the subjects of its ClusterRoleBinding.
Status write_tenant_records_binding(kube::Client& client, const std::string& tenant);

// What became of a records write, with a failure in words.
RecordsOutcome outcome_of(Status st);

// Whether the current user may `verb` `resource` in ns (a SelfSubjectAccessReview).
Result<bool> can(kube::Client& client, const std::string& verb, const std::string& group, const std::string& resource,
                 const std::string& ns);

}  // namespace wb::workbench::tenancy::detail
