// The admission policies that guard the tenant boundary and the membership records.
#include <fmt/format.h>

#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;
using namespace detail;

namespace {

// CEL: the tenant label of a namespace-like expression, '' when it has none.
std::string tenant_of_cel(const std::string& obj) {
  return fmt::format("(has({0}.metadata.labels) && '{1}' in {0}.metadata.labels ? {0}.metadata.labels['{1}'] : '')",
                     obj, kTenantLabel);
}

std::string is_admin_cel(const std::string& tenant) {
  return fmt::format("authorizer.group('{}').resource('tenants').name({}).check('admin').allowed()", kTenancyGroup,
                     tenant);
}

}  // namespace

json boundary_policy() {
  const std::string ns_op = "request.resource.resource == 'namespaces'";
  const std::string who = "'you (' + request.userInfo.username + ') cannot '";
  const std::string q = "\"'\"";  // a CEL string holding one apostrophe
  json labels = labels_wb();
  return {
      {"apiVersion", "admissionregistration.k8s.io/v1"},
      {"kind", "ValidatingAdmissionPolicy"},
      {"metadata",
       {{"name", kBoundaryPolicy},
        {"labels", labels},
        {"annotations",
         {{"kubesphere.io/description",
           "wb: tenant admins create workspaces and manage members only inside their own tenants"}}}}},
      {"spec",
       {{"failurePolicy", "Fail"},
        {"matchConstraints",
         {{"resourceRules", json::array({{{"apiGroups", {""}},
                                          {"apiVersions", {"v1"}},
                                          {"operations", {"CREATE", "UPDATE"}},
                                          {"resources", {"namespaces"}}},
                                         {{"apiGroups", {kRbac}},
                                          {"apiVersions", {"*"}},
                                          {"operations", {"CREATE", "UPDATE", "DELETE"}},
                                          {"resources", {"rolebindings"}}}})}}},
        // Only tenant admins: they hold the unscoped workspace-create mark but not the unscoped
        // tenant-admin one (the platform team holds both; everyone else neither).
        {"matchConditions",
         json::array(
             {{{"name", "tenant-admins"},
               {"expression", fmt::format("authorizer.group('{0}').resource('workspaces').check('create').allowed() && "
                                          "!authorizer.group('{0}').resource('tenants').check('admin').allowed()",
                                          kTenancyGroup)}}})},
        {"variables",
         json::array(
             {{{"name", "records"}, {"expression", fmt::format("request.namespace == '{}'", kRecordsNamespace)}},
              {{"name", "tenant"},
               {"expression",
                fmt::format("{} ? {} : {}", ns_op, tenant_of_cel("object"), tenant_of_cel("namespaceObject"))}},
              {{"name", "oldTenant"},
               {"expression", fmt::format("{} && request.operation == 'UPDATE' ? {} : variables.tenant", ns_op,
                                          tenant_of_cel("oldObject"))}}})},
        {"validations",
         json::array(
             {{{"expression",
                fmt::format("variables.records || (variables.tenant != '' && {})", is_admin_cel("variables.tenant"))},
               {"messageExpression",
                fmt::format("{} + ({} ? (request.operation == 'CREATE' ? 'create' : 'change') + ' workspace ' + "
                            "request.name : 'manage members in workspace ' + request.namespace) + "
                            "(variables.tenant == '' ? ': it belongs to no tenant' : ': you are not a tenant admin "
                            "of ' + {} + variables.tenant + {})",
                            who, ns_op, q, q)},
               {"reason", "Forbidden"}},
              {{"expression",
                fmt::format("variables.oldTenant == variables.tenant || (variables.oldTenant != '' && {})",
                            is_admin_cel("variables.oldTenant"))},
               {"messageExpression", fmt::format("{} + 'move workspace ' + request.name + ' out of tenant ' + {} + "
                                                 "variables.oldTenant + {} + ': you are not a tenant admin there'",
                                                 who, q, q)},
               {"reason", "Forbidden"}}})}}}};
}

json records_policy() {
  const std::string who = "'you (' + request.userInfo.username + ') cannot '";
  const std::string q = "\"'\"";
  // variables.name: "wb:member:W:R" -> [wb, member, W, R]; "wb:tenant:T" -> [wb, tenant, T].
  const std::string member = fmt::format(
      "size(variables.name) == 4 && variables.name[0] == 'wb' && variables.name[1] == 'member' && "
      "variables.name[3] in ['{}', '{}', '{}', '{}']",
      role_name(Role::Developer), role_name(Role::Viewer), role_name(Role::Deployer), role_name(Role::TenantAdmin));
  const std::string tenant = "size(variables.name) == 3 && variables.name[0] == 'wb' && variables.name[1] == 'tenant'";
  // What a record may hold: a binding only its own Role; a Role only its own virtual permission.
  const std::string content = fmt::format(
      "request.operation == 'DELETE' || (request.resource.resource == 'rolebindings' ? "
      "object.roleRef.kind == 'Role' && object.roleRef.name == request.name : "
      "object.rules.all(r, r.apiGroups == ['{0}'] && r.resources == ['workspaces'] && "
      "r.verbs == [variables.name[3]] && has(r.resourceNames) && r.resourceNames == [variables.name[2]]))",
      kTenancyGroup);
  const std::string tenant_content = fmt::format(
      "request.resource.resource == 'rolebindings' && (request.operation == 'DELETE' || "
      "(object.roleRef.kind == 'ClusterRole' && object.roleRef.name == '{}'))",
      kRecordsWriterRole);
  return {
      {"apiVersion", "admissionregistration.k8s.io/v1"},
      {"kind", "ValidatingAdmissionPolicy"},
      {"metadata",
       {{"name", kRecordsPolicy},
        {"labels", labels_wb()},
        {"annotations",
         {{"kubesphere.io/description",
           "wb: tenant admins write only the membership records of the workspaces they administer"}}}}},
      {"spec",
       {{"failurePolicy", "Fail"},
        {"matchConstraints",
         {{"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", kRecordsNamespace}}}}},
          {"resourceRules", json::array({{{"apiGroups", {kRbac}},
                                          {"apiVersions", {"*"}},
                                          {"operations", {"CREATE", "UPDATE", "DELETE"}},
                                          {"resources", {"roles", "rolebindings"}}}})}}},
        // The same people as kBoundaryPolicy: tenant admins, not the platform team.
        {"matchConditions",
         json::array(
             {{{"name", "tenant-admins"},
               {"expression", fmt::format("authorizer.group('{0}').resource('workspaces').check('create').allowed() && "
                                          "!authorizer.group('{0}').resource('tenants').check('admin').allowed()",
                                          kTenancyGroup)}}})},
        {"variables", json::array({{{"name", "name"}, {"expression", "request.name.split(':')"}}})},
        {"validations",
         json::array(
             {{{"expression",
                fmt::format("({0} && authorizer.group('{1}').resource('members').namespace(variables.name[2])"
                            ".check('manage').allowed() && ({2})) || ({3} && {4} && ({5}))",
                            member, kTenancyGroup, content, tenant, is_admin_cel("variables.name[2]"), tenant_content)},
               {"messageExpression",
                fmt::format("{0} + 'change the membership record ' + request.name + ({1} ? ': you do not administer "
                            "workspace ' + variables.name[2] : ({2} ? ': you are not a tenant admin of ' + {3} + "
                            "variables.name[2] + {3} : ': it is not a record wb writes'))",
                            who, member, tenant, q)},
               {"reason", "Forbidden"}}})}}}};
}

json records_policy_binding() {
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "ValidatingAdmissionPolicyBinding"},
          {"metadata", {{"name", kRecordsPolicy}, {"labels", labels_wb()}}},
          {"spec", {{"policyName", kRecordsPolicy}, {"validationActions", json::array({"Deny"})}}}};
}

json boundary_policy_binding() {
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "ValidatingAdmissionPolicyBinding"},
          {"metadata", {{"name", kBoundaryPolicy}, {"labels", labels_wb()}}},
          {"spec", {{"policyName", kBoundaryPolicy}, {"validationActions", json::array({"Deny"})}}}};
}

}  // namespace wb::workbench::tenancy
