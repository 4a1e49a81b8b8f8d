#include "workbench/core/refusal.hpp"

#include <utility>

namespace wb::workbench {

namespace {

// The server's facts of a 403 (an empty Forbidden when it said none we understand).
kube::Forbidden server_facts(const util::Error& e) {
  if (const auto* f = e.detail<kube::Forbidden>()) return *f;
  return {};
}

// What an app's part is, as a resource a role names: ("deployments", "apps") for the app itself.
std::optional<std::pair<std::string, std::string>> app_part(const std::string& resource) {
  if (resource.empty() || resource == "deployments" || resource == "deployments/scale" || resource == "replicasets" ||
      resource == "pods" || resource == "services")
    return std::pair<std::string, std::string>{"deployments", "apps"};
  if (resource == "configmaps" || resource == "secrets") return std::pair<std::string, std::string>{"configmaps", ""};
  if (resource == "ingresses") return std::pair<std::string, std::string>{"ingresses", "networking.k8s.io"};
  if (resource == "events") return std::pair<std::string, std::string>{"events", ""};
  if (resource == "pods/log") return std::pair<std::string, std::string>{"pods/log", ""};
  return std::nullopt;
}

util::Error with_refusal(util::Error e, const kube::Forbidden& server, const std::string& verb,
                         std::pair<std::string, std::string> part, const std::string& ns) {
  Refusal r;
  static_cast<kube::Forbidden&>(r) = server;
  r.by = kube::Forbidden::By::Rbac;
  r.verb = verb;
  r.resource = std::move(part.first);
  r.group = std::move(part.second);
  r.ns = ns;
  r.cluster_scope = false;
  r.workspace = ns;
  e.code = util::ErrorCode::Auth;
  return std::move(e).with(std::move(r));
}

}  // namespace

util::Error refused_in_workspace(util::Error e, const std::string& ns, bool changing) {
  if (e.http_status != 403) return e;
  if (const auto* known = e.detail<Refusal>()) {
    // Already in app terms (a read refused inside a lib call); the caller may know it was for a change.
    if (!changing || known->verb != "get") return e;
    Refusal r = *known;
    r.verb = "update";
    return std::move(e).with(std::move(r));
  }
  kube::Forbidden server = server_facts(e);
  if (server.by == kube::Forbidden::By::Escalation || server.by == kube::Forbidden::By::Admission) return e;
  auto part = app_part(server.resource);
  if (!part) return e;  // not an app's part (e.g. an external route's EndpointSlices): the server's facts name it
  const bool reading = !changing && (server.verb == "get" || server.verb == "list" || server.verb == "watch");
  return with_refusal(std::move(e), server, reading ? "get" : "update", std::move(*part), ns);
}

util::Error refused_app(util::Error e, const std::string& verb, const std::string& ns) {
  if (e.http_status != 403) return e;
  std::string v = verb;
  if (v != "create" && v != "delete") v = v == "see" || v == "read" || v == "get" ? "get" : "update";
  return with_refusal(std::move(e), server_facts(e), v, {"deployments", "apps"}, ns);
}

util::Result<nlohmann::json> get_if_exists(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                                           const std::string& name) {
  auto r = client.get(type, ns, name);
  if (r) return std::move(*r);
  if (r.error().code == util::ErrorCode::NotFound) return nlohmann::json(nullptr);
  return refused_in_workspace(std::move(r).error(), ns);
}

}  // namespace wb::workbench
