#include <catch2/catch.hpp>

#include "workbench/platform/tenancy.hpp"

using namespace wb::workbench::tenancy;
using nlohmann::json;
using wb::util::ErrorCode;

TEST_CASE("roles parse, with KubeSphere aliases only where KubeSphere runs") {
  CHECK(*parse_role("developer", false) == Role::Developer);
  CHECK(*parse_role("Viewer", false) == Role::Viewer);
  CHECK(*parse_role("tenant-admin", false) == Role::TenantAdmin);
  CHECK(*parse_role("workspace-admin", true) == Role::TenantAdmin);
  CHECK(*parse_role("workspace-regular", true) == Role::Developer);
  CHECK(*parse_role("workspace-viewer", true) == Role::Viewer);
  CHECK(*parse_role("admin", true) == Role::TenantAdmin);
  CHECK(*parse_role("operator", true) == Role::Developer);
  auto no_ks = parse_role("workspace-viewer", false);
  REQUIRE_FALSE(no_ks);
  CHECK(no_ks.error().code == ErrorCode::Usage);
  CHECK(no_ks.error().message.find("KubeSphere is not installed") != std::string::npos);
  CHECK(no_ks.error().hint == "use viewer (roles: developer, viewer, tenant-admin)");
  CHECK_FALSE(parse_role("deployer", false));
  CHECK(*parse_role("deployer", false, true) == Role::Deployer);
  CHECK(parse_role("boss", true).error().message == "unknown role 'boss'");
}

TEST_CASE("platform roles: tenant admins may bind exactly wb's roles; deployers cannot delete apps") {
  auto roles = platform_cluster_roles();
  REQUIRE(roles.size() == 5);
  std::map<std::string, json> by;
  for (auto& r : roles) by[r["metadata"]["name"]] = r;
  auto grants = [&](const std::string& role, const std::string& group, const std::string& res,
                    const std::string& verb) {
    for (const auto& rule : by[role]["rules"]) {
      auto has = [](const json& list, const std::string& v) {
        for (const auto& x : list)
          if (x == v || x == "*") return true;
        return false;
      };
      if (has(rule["apiGroups"], group) && has(rule["resources"], res) && has(rule["verbs"], verb)) return true;
    }
    return false;
  };
  CHECK(grants("wb:developer", "apps", "deployments", "delete"));
  CHECK(grants("wb:developer", "", "pods/exec", "create"));
  CHECK(grants("wb:developer", "", "pods/portforward", "create"));
  CHECK_FALSE(grants("wb:viewer", "", "pods/portforward", "create"));
  CHECK_FALSE(grants("wb:developer", "rbac.authorization.k8s.io", "rolebindings", "create"));
  CHECK(grants("wb:viewer", "", "pods/log", "get"));
  CHECK_FALSE(grants("wb:viewer", "", "configmaps", "update"));
  CHECK_FALSE(grants("wb:viewer", "", "secrets", "get"));
  CHECK(grants("wb:deployer", "apps", "deployments", "patch"));
  CHECK_FALSE(grants("wb:deployer", "apps", "deployments", "delete"));
  CHECK_FALSE(grants("wb:deployer", "apps", "deployments", "create"));
  CHECK(grants("wb:tenant-admin", "rbac.authorization.k8s.io", "rolebindings", "create"));
  CHECK(grants("wb:tenant-admin", "", "namespaces", "delete"));
  CHECK_FALSE(grants("wb:tenant-admin", "", "namespaces", "create"));
  bool bind = false;
  for (const auto& rule : by["wb:tenant-admin"]["rules"])
    if (rule["verbs"] == json::array({"bind"})) {
      bind = true;
      CHECK(rule["resourceNames"] == json::array({"wb:developer", "wb:viewer", "wb:deployer", "wb:tenant-admin"}));
    }
  CHECK(bind);
  // external routes: EndpointSlices where the server has them (Endpoints writes only before 1.21)
  CHECK(grants("wb:developer", "discovery.k8s.io", "endpointslices", "create"));
  CHECK_FALSE(grants("wb:developer", "", "endpoints", "create"));
  CHECK(grants("wb:developer", "", "endpoints", "delete"));  // an older wb's, which the cluster would mirror
  CHECK_FALSE(grants("wb:viewer", "discovery.k8s.io", "endpointslices", "create"));
  CHECK(role_allows(Role::Developer, "create", "discovery.k8s.io", "endpointslices"));
  CHECK_FALSE(role_allows(Role::Viewer, "update", "", "configmaps"));
  CHECK(role_allows(Role::Developer, "create", "", "pods/exec"));
  CHECK_FALSE(role_allows(Role::TenantAdmin, "create", "", "namespaces"));
  for (const auto& r : platform_cluster_roles(false))
    if (r["metadata"]["name"] == "wb:developer") {
      bool endpoints = false;
      for (const auto& rule : r["rules"])
        if (rule["resources"] == json::array({"endpoints"}) && rule["verbs"].size() > 3) endpoints = true;
      CHECK(endpoints);
    }
  // the records writer: writes Roles and RoleBindings (no reads) and holds the record verbs
  CHECK(by["wb:member-records"]["rules"][0] == json({{"apiGroups", {"rbac.authorization.k8s.io"}},
                                                     {"resources", {"roles", "rolebindings"}},
                                                     {"verbs", {"create", "update", "delete"}}}));
  CHECK(grants("wb:tenant-admin", "wb.dev", "members", "manage"));
  CHECK_FALSE(grants("wb:developer", "wb.dev", "members", "manage"));
}

TEST_CASE("membership records: a Role and RoleBinding per workspace and role, read back from a rules review") {
  auto role = record_role("shop-dev", Role::Developer);
  CHECK(role["metadata"]["name"] == "wb:member:shop-dev:developer");
  CHECK(role["metadata"]["namespace"] == "wb-system");
  CHECK(role["rules"] == json::array({{{"apiGroups", {"wb.dev"}},
                                       {"resources", {"workspaces"}},
                                       {"verbs", {"developer"}},
                                       {"resourceNames", {"shop-dev"}}}}));
  auto b = record_binding("shop-dev", Role::Developer, json::array({subject_for("alice")}));
  CHECK(b["roleRef"] ==
        json({{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "wb:member:shop-dev:developer"}}));
  CHECK(b["subjects"][0]["name"] == "alice");
  auto tb = tenant_records_binding("shop", {subject_for("bob")});
  CHECK(tb["metadata"]["name"] == "wb:tenant:shop");
  CHECK(tb["roleRef"]["name"] == "wb:member-records");

  json status = {
      {"resourceRules",
       {{{"apiGroups", {"authorization.k8s.io"}}, {"resources", {"selfsubjectrulesreviews"}}, {"verbs", {"create"}}},
        {{"apiGroups", {"wb.dev"}}, {"resources", {"memberships"}}, {"verbs", {"read"}}},
        {{"apiGroups", {"wb.dev"}},
         {"resources", {"workspaces"}},
         {"verbs", {"viewer"}},
         {"resourceNames", {"shop-prod"}}},
        {{"apiGroups", {"wb.dev"}},
         {"resources", {"workspaces"}},
         {"verbs", {"tenant-admin"}},
         {"resourceNames", {"shop-dev"}}},
        {{"apiGroups", {"wb.dev"}},
         {"resources", {"workspaces"}},
         {"verbs", {"developer"}},
         {"resourceNames", {"shop-dev"}}},
        // a tenant admin's right to write records, and the platform team's wildcard: no membership
        {{"apiGroups", {"wb.dev"}}, {"resources", {"workspaces"}}, {"verbs", {"developer", "viewer"}}},
        {{"apiGroups", {"*"}}, {"resources", {"*"}}, {"verbs", {"*"}}}}}};
  auto m = memberships_from_rules(status);
  CHECK(m.recorded);
  REQUIRE(m.workspaces.size() == 2);
  CHECK(m.workspaces[0].workspace == "shop-dev");
  CHECK(m.workspaces[0].role == Role::TenantAdmin);
  CHECK(m.workspaces[1].workspace == "shop-prod");
  CHECK(m.workspaces[1].role == Role::Viewer);
  CHECK_FALSE(memberships_from_rules(json::object()).recorded);
}

TEST_CASE("workspace objects carry the tenant, quota, limits and isolation") {
  WorkspaceSpec s;
  s.name = "shop-dev";
  s.tenant = "shop";
  s.creator = "admin";
  s.defaults.quota_cpu = "4";
  s.tenant_admins = {subject_for("bob")};
  auto objs = workspace_objects(s);
  REQUIRE(objs.size() == 5);
  CHECK(objs[0].second["metadata"]["labels"]["kubesphere.io/workspace"] == "shop");
  CHECK(objs[0].second["metadata"]["annotations"]["kubesphere.io/creator"] == "admin");
  // the tenant admins' binding right after the namespace: a tenant admin creating the workspace
  // may create the rest only through it
  CHECK(objs[1].second["roleRef"]["name"] == "wb:tenant-admin");
  CHECK(objs[1].second["subjects"][0]["name"] == "bob");
  CHECK(objs[2].second["spec"]["hard"]["limits.cpu"] == "4");
  CHECK(objs[2].second["spec"]["hard"]["requests.memory"] == "16Gi");
  CHECK(objs[3].second["spec"]["limits"][0]["defaultRequest"]["cpu"] == "100m");
  CHECK(
      objs[4].second["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubesphere.io/workspace"] ==
      "shop");
  s.defaults.network_policy = false;
  s.tenant_admins.clear();
  CHECK(workspace_objects(s).size() == 3);
}

TEST_CASE("workspace defaults come from the profile's workspaces settings, else the built-in ones") {
  wb::workbench::Settings settings;
  auto d = workspace_defaults(settings);
  CHECK(d.quota_cpu == "8");
  CHECK(d.quota_memory == "16Gi");
  CHECK(d.limit_cpu == "1");
  CHECK(d.limit_memory == "1Gi");
  CHECK(d.request_cpu == "100m");
  CHECK(d.request_memory == "256Mi");
  CHECK(d.network_policy);
  settings.set("workspaces.quota.cpu", {"2", wb::workbench::Source::Profile, "p.yaml"});
  settings.set("workspaces.limits.memoryRequest", {"128Mi", wb::workbench::Source::Profile, "p.yaml"});
  settings.set("workspaces.networkPolicy", {"false", wb::workbench::Source::Profile, "p.yaml"});
  d = workspace_defaults(settings);
  CHECK(d.quota_cpu == "2");
  CHECK(d.request_memory == "128Mi");
  CHECK_FALSE(d.network_policy);
  CHECK(d.quota_memory == "16Gi");
}

TEST_CASE("a tenant's role grants cluster-wide workspace creation only where the boundary policy guards it") {
  auto has_rule = [](const json& role, const std::string& group, const std::string& resource, const std::string& verb,
                     const json& names) {
    for (const auto& r : role["rules"])
      if (r["apiGroups"] == json::array({group}) && r["resources"] == json::array({resource}) &&
          r["verbs"] == json::array({verb}) && r.value("resourceNames", json()) == names)
        return true;
    return false;
  };
  json plain = tenant_cluster_role("shop", false, false);
  json self = tenant_cluster_role("shop", false, true);
  // who administers the tenant is always there, scoped by name
  CHECK(has_rule(plain, "wb.dev", "tenants", "admin", json::array({"shop"})));
  CHECK_FALSE(has_rule(plain, "", "namespaces", "create", json()));
  CHECK_FALSE(has_rule(plain, "rbac.authorization.k8s.io", "rolebindings", "create", json()));
  CHECK(has_rule(self, "", "namespaces", "create", json()));
  CHECK(has_rule(self, "rbac.authorization.k8s.io", "rolebindings", "create", json()));
  CHECK(has_rule(self, "wb.dev", "workspaces", "create", json()));
  CHECK(has_rule(self, "rbac.authorization.k8s.io", "clusterroles", "bind", json::array({"wb:tenant-admin"})));

  json policy = boundary_policy();
  CHECK(policy["metadata"]["name"] == "wb-tenant-boundaries");
  CHECK(policy["spec"]["failurePolicy"] == "Fail");
  const std::string cond = policy["spec"]["matchConditions"][0]["expression"];
  CHECK(cond.find("resource('workspaces').check('create')") != std::string::npos);
  CHECK(cond.find("!authorizer.group('wb.dev').resource('tenants').check('admin')") != std::string::npos);
  for (const auto& v : policy["spec"]["validations"]) CHECK(v["reason"] == "Forbidden");
  json binding = boundary_policy_binding();
  CHECK(binding["spec"]["policyName"] == "wb-tenant-boundaries");
  CHECK(binding["spec"]["validationActions"] == json::array({"Deny"}));
}

TEST_CASE("quantities are checked before anything is written") {
  CHECK(check_quantity("500m", false, "--cpu"));
  CHECK(check_quantity("8", false, "--cpu"));
  CHECK(check_quantity("16Gi", true, "--memory"));
  CHECK_FALSE(check_quantity("16GB", true, "--memory"));
  CHECK(check_quantity("lots", false, "--cpu").error().message == "--cpu 'lots' is not a CPU quantity");
}

TEST_CASE("subjects round-trip") {
  CHECK(subject_for("alice")["kind"] == "User");
  CHECK(subject_for("group:qa")["kind"] == "Group");
  auto sa = subject_for("system:serviceaccount:shop-dev:ci");
  CHECK(sa["kind"] == "ServiceAccount");
  CHECK(sa["namespace"] == "shop-dev");
  for (std::string w : {"alice", "group:qa", "system:serviceaccount:shop-dev:ci"}) CHECK(who_of(subject_for(w)) == w);
}

TEST_CASE("robot kubeconfig uses the server and CA it was made with") {
  wb::kube::RestConfig cfg;
  cfg.server = "https://127.0.0.1:6443";
  cfg.tls.ca_data = "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n";
  auto kc = robot_kubeconfig(cfg, "ci", "shop-dev", "tok123");
  CHECK(kc.find("server: \"https://127.0.0.1:6443\"") != std::string::npos);
  CHECK(kc.find("certificate-authority-data: LS0t") != std::string::npos);
  CHECK(kc.find("token: \"tok123\"") != std::string::npos);
  CHECK(kc.find("namespace: \"shop-dev\"") != std::string::npos);
  cfg.tls.insecure = true;
  CHECK(robot_kubeconfig(cfg, "ci", "d", "t").find("insecure-skip-tls-verify: true") != std::string::npos);
}

