// A 403 in words: the server's facts (kube::status_to_error), what tenancy::explain_refusal asks of
// the server, and the words cli/commands/forbidden.cpp makes of them.
#include <catch2/catch.hpp>

#include "commands/commands.hpp"
#include "fake_client.hpp"
#include "kube/status.hpp"
#include "workbench/core/refusal.hpp"
#include "workbench/platform/tenancy.hpp"

using namespace wb;
using cli::commands::action_words;
using cli::commands::refusal_in_words;
using cli::commands::user_words;
using nlohmann::json;
using util::ErrorCode;

namespace {

const char* kProd403 =
    "deployments.apps \"orders\" is forbidden: User \"alice\" cannot patch resource \"deployments\" in API group "
    "\"apps\" in the namespace \"shop-prod\"";

// What the API server answers: a Status with the message.
util::Error forbidden(const std::string& message) {
  return kube::status_to_error(403, json{{"kind", "Status"}, {"status", "Failure"}, {"message", message},
                                         {"reason", "Forbidden"}, {"code", 403}}
                                        .dump());
}

util::Error in_words(test::FakeClient& c, const util::Error& e) {
  return refusal_in_words(workbench::tenancy::explain_refusal(c, e));
}

}  // namespace

TEST_CASE("a 403's facts are read once, from the server's message") {
  auto f = kube::parse_forbidden(kProd403);
  CHECK(f.by == kube::Forbidden::By::Rbac);
  CHECK((f.user == "alice" && f.verb == "patch" && f.resource == "deployments" && f.group == "apps"));
  CHECK(f.ns == "shop-prod");
  auto c = kube::parse_forbidden(
      "namespaces is forbidden: User \"bob\" cannot create resource \"namespaces\" in API group \"\" at the cluster "
      "scope");
  CHECK((c.ns.empty() && c.cluster_scope));
  CHECK(kube::parse_forbidden("access denied").by == kube::Forbidden::By::Other);
  auto esc = kube::parse_forbidden(
      "rolebindings.rbac.authorization.k8s.io \"x\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is "
      "attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"]}");
  CHECK((esc.by == kube::Forbidden::By::Escalation && esc.user == "bob"));
  auto vap = kube::parse_forbidden(
      "namespaces \"acme-x\" is forbidden: ValidatingAdmissionPolicy 'wb-tenant-boundaries' with binding "
      "'wb-tenant-boundaries' denied request: you (bob) cannot create workspace acme-x: you are not a tenant admin of "
      "'acme'");
  CHECK(vap.by == kube::Forbidden::By::Admission);
  CHECK(vap.policy == "wb-tenant-boundaries");
  CHECK(vap.policy_message == "you (bob) cannot create workspace acme-x: you are not a tenant admin of 'acme'");
  // status_to_error attaches them
  auto e = forbidden(kProd403);
  REQUIRE(e.detail<kube::Forbidden>());
  CHECK(e.detail<kube::Forbidden>()->verb == "patch");
}

TEST_CASE("actions and users in words") {
  CHECK(action_words("patch", "deployments", "apps") == "deploy");
  CHECK(action_words("create", "namespaces", "") == "create workspaces");
  CHECK(action_words("create", "configmaps", "") == "change config");
  CHECK(action_words("get", "pods/log", "") == "read logs");
  CHECK(action_words("create", "rolebindings", "rbac.authorization.k8s.io") == "manage members");
  CHECK(action_words("create", "widgets", "example.com") == "create widgets.example.com");
  CHECK(user_words("system:serviceaccount:shop-dev:ci") == "robot 'ci' of shop-dev");
  CHECK(user_words("alice") == "alice");
}

TEST_CASE("a refusal in words: role from access reviews, tenant from the namespace") {
  test::FakeClient c;
  c.add(kube::types::Namespace, "",
        json{{"metadata", {{"name", "shop-prod"}, {"labels", {{"kubesphere.io/workspace", "shop"}}}}}});
  c.allowed["list pods shop-prod"] = true;
  auto e = in_words(c, forbidden(kProd403));
  CHECK(e.code == ErrorCode::Auth);
  CHECK(e.message == "you (alice) cannot deploy in workspace shop-prod: you are a viewer there");
  CHECK(e.hint == "a tenant admin of 'shop' can change that");
}

TEST_CASE("a refusal in words falls back when the details cannot be read") {
  test::FakeClient c;  // namespace unreadable (not found), no role
  auto e = in_words(c, forbidden(kProd403));
  CHECK(e.message == "you (alice) cannot deploy in workspace shop-prod: you have no role there");
  CHECK(e.hint == "a tenant admin of the workspace's tenant can change that");
  // Not the API server's 403 (e.g. a registry's): unchanged. Not a 403: unchanged.
  util::Error reg(ErrorCode::Auth, "registry refused the push (403 Forbidden)", "check the robot account", 403);
  CHECK(in_words(c, reg).message == reg.message);
  CHECK(in_words(c, reg).hint == reg.hint);
  util::Error nf(ErrorCode::NotFound, "x not found", "", 404);
  CHECK(in_words(c, nf).message == "x not found");
  // An app command's refusal without the user: asked of SelfSubjectReview
  c.user_info = json{{"username", "victor"}};
  auto app = workbench::refused_app(util::Error(ErrorCode::Auth, "access denied", "", 403), "delete", "shop-dev");
  CHECK(in_words(c, app).message == "you (victor) cannot delete apps in workspace shop-dev: you have no role there");
  // A refused read on the way to a change counts as the change.
  auto cfg = workbench::refused_in_workspace(
      forbidden("secrets is forbidden: User \"bob\" cannot list resource \"secrets\" in API group \"\" in the "
                "namespace \"shop-dev\""),
      "shop-dev", true);
  CHECK(in_words(c, cfg).message == "you (bob) cannot change config in workspace shop-dev: you have no role there");
}

TEST_CASE("a right the user's role lacks on this cluster is the platform team's to add") {
  test::FakeClient c;
  c.add(kube::types::Namespace, "",
        json{{"metadata", {{"name", "shop-dev"}, {"labels", {{"kubesphere.io/workspace", "shop"}}}}}});
  c.allowed["delete deployments shop-dev"] = true;  // a developer
  auto e = in_words(c, forbidden("endpointslices.discovery.k8s.io is forbidden: User \"alice\" cannot create "
                                 "resource \"endpointslices\" in API group \"discovery.k8s.io\" in the namespace "
                                 "\"shop-dev\""));
  CHECK(e.message ==
        "you (alice) cannot add external routes in workspace shop-dev: you are a developer there, but this "
        "cluster's developer role does not allow that");
  CHECK(e.hint == "it does in this wb's developer role: the platform team updates the roles with `wb platform init`");
  // what no wb role allows: not a tenant admin's to give
  e = in_words(c, forbidden("namespaces is forbidden: User \"alice\" cannot create resource \"namespaces\" in API "
                            "group \"\" in the namespace \"shop-dev\""));
  CHECK(e.message ==
        "you (alice) cannot create workspace shop-dev: you are a developer there, and no wb role allows that");
  CHECK(e.hint == "the platform team can do it");
  // what a tenant admin could give (the tenant-admin role): as before
  e = in_words(c, forbidden("rolebindings.rbac.authorization.k8s.io is forbidden: User \"alice\" cannot create "
                            "resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace "
                            "\"shop-dev\""));
  CHECK(e.message == "you (alice) cannot manage members in workspace shop-dev: you are a developer there");
  CHECK(e.hint == "a tenant admin of 'shop' can change that");
}

TEST_CASE("a refusal at the cluster scope goes to the platform team, and policies and escalations are in words") {
  test::FakeClient c;
  auto e = in_words(c, forbidden("namespaces is forbidden: User \"bob\" cannot create resource \"namespaces\" in API "
                                 "group \"\" at the cluster scope"));
  CHECK(e.message == "you (bob) cannot create workspaces: that needs a cluster-wide permission");
  CHECK(e.hint == "the platform team can do it, or give you that right");
  e = in_words(c, forbidden("namespaces \"acme-x\" is forbidden: ValidatingAdmissionPolicy 'wb-tenant-boundaries' "
                            "with binding 'wb-tenant-boundaries' denied request: you (bob) cannot create workspace "
                            "acme-x: you are not a tenant admin of 'acme'"));
  CHECK(e.message == "you (bob) cannot create workspace acme-x: you are not a tenant admin of 'acme'");
  CHECK(e.hint == "a tenant admin of 'acme' or the platform team can do it");
  const std::string other_policy =
      "rolebindings \"x\" is forbidden: ValidatingAdmissionPolicy 'someone-elses' with binding 'b' denied request: no";
  CHECK(in_words(c, forbidden(other_policy)).message == other_policy);
  e = in_words(c, forbidden("rolebindings.rbac.authorization.k8s.io \"x\" is forbidden: user \"bob\" "
                            "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently "
                            "held: {}"));
  CHECK(e.message == "you (bob) cannot give that role: it grants more than you may hand out there");
}
