#include "kube/client.hpp"
#include "util/strings.hpp"

namespace wb::kube {

namespace types {
const ResourceType Namespace{"", "v1", "namespaces", "Namespace", false};
const ResourceType Pod{"", "v1", "pods", "Pod", true};
const ResourceType Service{"", "v1", "services", "Service", true};
const ResourceType Endpoints{"", "v1", "endpoints", "Endpoints", true};
const ResourceType EndpointSlice{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true};
const ResourceType ConfigMap{"", "v1", "configmaps", "ConfigMap", true};
const ResourceType Secret{"", "v1", "secrets", "Secret", true};
const ResourceType ServiceAccount{"", "v1", "serviceaccounts", "ServiceAccount", true};
const ResourceType Event{"", "v1", "events", "Event", true};
const ResourceType ResourceQuota{"", "v1", "resourcequotas", "ResourceQuota", true};
const ResourceType LimitRange{"", "v1", "limitranges", "LimitRange", true};
const ResourceType Deployment{"apps", "v1", "deployments", "Deployment", true};
const ResourceType ReplicaSet{"apps", "v1", "replicasets", "ReplicaSet", true};
const ResourceType IngressV1{"networking.k8s.io", "v1", "ingresses", "Ingress", true};
const ResourceType IngressV1beta1{"networking.k8s.io", "v1beta1", "ingresses", "Ingress", true};
const ResourceType NetworkPolicy{"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true};
const ResourceType Role{"rbac.authorization.k8s.io", "v1", "roles", "Role", true};
const ResourceType RoleBinding{"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true};
const ResourceType ClusterRole{"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false};
const ResourceType ClusterRoleBinding{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                                      false};
const ResourceType SelfSubjectAccessReview{"authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                                           "SelfSubjectAccessReview", false};
const ResourceType SelfSubjectRulesReview{"authorization.k8s.io", "v1", "selfsubjectrulesreviews",
                                          "SelfSubjectRulesReview", false};
const ResourceType SelfSubjectReview{"authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", false};
const ResourceType SelfSubjectReviewV1beta1{"authentication.k8s.io", "v1beta1", "selfsubjectreviews",
                                            "SelfSubjectReview", false};
}  // namespace types

std::string resource_path(const ResourceType& type, const std::string& ns, const std::string& name) {
  std::string path = type.group.empty() ? "/api/" + type.version : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + util::url_encode(ns);
  path += "/" + type.plural;
  if (!name.empty()) path += "/" + util::url_encode(name);
  return path;
}

bool Discovery::has(const std::string& api_version, const std::string& plural) const {
  auto it = resources.find(api_version);
  if (it == resources.end()) return false;
  for (const auto& p : it->second)
    if (p == plural) return true;
  return false;
}

}  // namespace wb::kube
