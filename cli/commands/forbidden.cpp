// The one place a refusal (403) becomes words: who you are, what you tried where, your role there,
// and who can change it. lib hands over the facts (kube::Forbidden, workbench::Refusal).
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::cli::commands {

namespace {

bool reading(const std::string& verb) { return verb == "get" || verb == "list" || verb == "watch"; }

}  // namespace

std::string action_words(const std::string& verb, const std::string& resource, const std::string& group) {
  const bool read = reading(verb);
  const std::string& r = resource;
  if (r == "pods/log") return "read logs";
  if (r == "pods/exec") return "copy files into or out of apps";
  if (r == "deployments" || r == "deployments/scale") {
    if (read) return "see apps";
    if (verb == "delete") return "delete apps";
    if (verb == "create") return "create apps";
    return "deploy";
  }
  if (r == "configmaps" || r == "secrets") return read ? "read config" : "change config";
  if (r == "ingresses") return read ? "see routes" : "change routes";
  if (r == "rolebindings" || r == "clusterrolebindings") return read ? "see members" : "manage members";
  if (r == "serviceaccounts") return read ? "see robots" : "manage robots";
  if (r == "namespaces") {
    if (verb == "create") return "create workspaces";
    if (verb == "delete") return "delete workspaces";
    if (verb == "list") return "list workspaces";
    return read ? "see the workspace" : "change the workspace";
  }
  if (r == "clusterroles") return read ? "see roles" : "change roles";
  if (r == "resourcequotas" || r == "limitranges") return read ? "see the quota" : "change the quota";
  if (r == "pods") return read ? "see replicas" : "restart replicas";
  if (r == "endpointslices" || r == "endpoints") return read ? "see external routes" : "add external routes";
  std::string what = group.empty() ? r : r + "." + group;
  return verb + " " + what;
}

std::string user_words(const std::string& user) {
  const std::string sa = "system:serviceaccount:";
  if (user.rfind(sa, 0) == 0) {
    auto rest = user.substr(sa.size());
    auto colon = rest.find(':');
    if (colon != std::string::npos)
      return fmt::format("robot '{}' of {}", rest.substr(colon + 1), rest.substr(0, colon));
  }
  return user;
}

util::Error refusal_in_words(const util::Error& error) {
  const auto* r = error.detail<workbench::Refusal>();
  if (!r || !r->explained) return error;
  using By = kube::Forbidden::By;
  util::Error out = error;
  if (r->by == By::Admission) {
    // The tenant-boundary policy's message is already in words.
    out.message = r->policy_message;
    out.hint = r->tenant.empty() ? "the platform team can do it"
                                 : fmt::format("a tenant admin of '{}' or the platform team can do it", r->tenant);
    return out;
  }
  if (r->by == By::Escalation) {
    out.message = fmt::format("you ({}) cannot give that role: it grants more than you may hand out there",
                              r->user.empty() ? "?" : user_words(r->user));
    out.hint = "a tenant admin can give wb's roles in their own tenant's workspaces; the platform team anywhere";
    return out;
  }
  const std::string who = r->user.empty() ? std::string("you") : fmt::format("you ({})", user_words(r->user));
  const std::string action = action_words(r->verb, r->resource, r->group);
  if (r->workspace.empty()) {
    out.message = fmt::format("{} cannot {}: that needs a cluster-wide permission", who, action);
    out.hint = "the platform team can do it, or give you that right";
    return out;
  }
  if (r->resource == "namespaces") {
    const std::string v = r->verb == "delete" || r->verb == "create" ? r->verb : reading(r->verb) ? "see" : "change";
    out.message = fmt::format("{} cannot {} workspace {}", who, v, r->workspace);
  } else {
    out.message = fmt::format("{} cannot {} in workspace {}", who, action, r->workspace);
  }
  out.hint = r->tenant.empty() ? "a tenant admin of the workspace's tenant can change that"
                               : fmt::format("a tenant admin of '{}' can change that", r->tenant);
  if (!r->role) return out;
  if (r->role->empty()) {
    out.message += ": you have no role there";
    return out;
  }
  const std::string& role = *r->role;
  out.message += ": you are " + (role == "tenant-admin" ? std::string("a tenant admin") : "a " + role) + " there";
  // When the user's role allows it by wb's own definition, this cluster's copy of the role is older
  // than this wb; when no role allows it, nobody in the tenant can help.
  if (r->cluster_role_outdated) {
    out.message += fmt::format(", but this cluster's {} role does not allow that", role);
    out.hint = fmt::format("it does in this wb's {} role: the platform team updates the roles with `wb platform init`",
                           role);
  } else if (r->no_role_allows) {
    out.message += ", and no wb role allows that";
    out.hint = "the platform team can do it";
  }
  return out;
}

util::Error explain_error(Context& ctx, const util::Error& error) {
  if (error.http_status != 403 || !error.detail<kube::Forbidden>()) return error;
  auto client = ctx.kube();
  if (!client) return error;
  return refusal_in_words(workbench::tenancy::explain_refusal(**client, error));
}

}  // namespace wb::cli::commands
