// Commands run in-process with injected IO, environment and a fake cluster, in TTY and pipe mode.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace wb;

namespace {

using test::Harness;

}  // namespace

TEST_CASE("unknown command: one line, did you mean, exit 2", "[cli]") {
  Harness h;
  CHECK(h.run({"workspac", "list"}) == 2);
  CHECK(h.out.str().empty());
  CHECK(h.err.str() == "error: unknown command 'workspac' for `wb`; did you mean 'workspace'?\n");
}

TEST_CASE("errors are red only on a TTY", "[cli]") {
  Harness h;
  h.run({"nosuchthing"}, true);
  CHECK(h.err.str().find("\033[31merror:") == 0);
  h.vars["NO_COLOR"] = "1";
  h.run({"nosuchthing"}, true);
  CHECK(h.err.str().find("error:") == 0);
}

TEST_CASE("workspace list in pipe and TTY mode", "[cli]") {
  Harness h;
  h.vars["WB_TENANT"] = "shop";
  h.vars["WB_WORKSPACE"] = "shop-dev";
  for (auto name : {"shop-dev", "shop-prod"}) {
    h.fake->add(kube::types::Namespace, "",
                {{"metadata",
                  {{"name", name},
                   {"labels", {{"kubesphere.io/workspace", "shop"}}},
                   {"creationTimestamp", "2020-01-01T00:00:00Z"}}},
                 {"status", {{"phase", "Active"}}}});
  }
  h.fake->allowed["create deployments shop-dev"] = true;

  SECTION("pipe: tab-separated, no header") {
    REQUIRE(h.run({"workspace", "list"}) == 0);
    CHECK(h.out.str().find("*\tshop-dev\tshop\tActive\t") == 0);
    CHECK(h.out.str().find("\tshop-prod\tshop\tActive\t") != std::string::npos);
    CHECK(h.out.str().find("yes\t-\n") != std::string::npos);  // no role known: no records
    CHECK(h.out.str().find("no\t-\n") != std::string::npos);
    // no membership records here (the rules review has none): every workspace of the tenant
    CHECK(h.fake->calls[0] == "create selfsubjectrulesreviews");
    CHECK(h.fake->calls[1] == "list namespaces kubesphere.io/workspace=shop");
  }
  SECTION("tty: header and aligned columns") {
    REQUIRE(h.run({"workspace", "list"}, true) == 0);
    std::istringstream lines(h.out.str());
    std::string header, first;
    std::getline(lines, header);
    std::getline(lines, first);
    CHECK(header.find("CURRENT   NAME        TENANT   STATUS   AGE") == 0);
    CHECK(header.find("CAN DEPLOY") != std::string::npos);
    CHECK(first.find("*         shop-dev    shop     Active") == 0);
  }
  SECTION("json") {
    REQUIRE(h.run({"workspace", "list", "-o", "json"}) == 0);
    auto j = nlohmann::json::parse(h.out.str());
    REQUIRE(j.size() == 2);
    CHECK(j[0]["name"] == "shop-dev");
    CHECK(j[0]["canDeploy"] == true);
    CHECK(j[1]["canDeploy"] == false);
  }
}

TEST_CASE("workspace list forbidden says so in words, exit 4", "[cli]") {
  Harness h;
  h.vars["WB_TENANT"] = "shop";
  h.fake->list_error = util::Error(util::ErrorCode::Auth, "namespaces is forbidden", "", 403);
  CHECK(h.run({"workspace", "list"}) == 4);
  CHECK(h.err.str().find("error: you may not list the workspaces of tenant 'shop'") == 0);
  CHECK(h.err.str().find("keeps no record of who works where") != std::string::npos);
}

TEST_CASE("workspace list shows a developer's own workspaces and roles from the membership records", "[cli]") {
  Harness h;
  // alice may not list namespaces; the records namespace tells her what she has, and nothing else
  h.fake->list_error = util::Error(util::ErrorCode::Auth, "namespaces is forbidden", "", 403);
  auto record = [](const std::string& role, const std::string& ws) {
    return nlohmann::json{
        {"apiGroups", {"wb.dev"}}, {"resources", {"workspaces"}}, {"verbs", {role}}, {"resourceNames", {ws}}};
  };
  h.fake->rules["wb-system"] = {{"resourceRules",
                                 {{{"apiGroups", {"wb.dev"}}, {"resources", {"memberships"}}, {"verbs", {"read"}}},
                                  record("viewer", "shop-prod"),
                                  record("developer", "shop-dev"),
                                  record("viewer", "shop-dev")}}};
  for (auto [name, tenant] : {std::pair{"shop-dev", "shop"}, std::pair{"shop-prod", "shop"}})
    h.fake->add(kube::types::Namespace, "",
                {{"metadata", {{"name", name}, {"labels", {{"kubesphere.io/workspace", tenant}}}}},
                 {"status", {{"phase", "Active"}}}});
  h.fake->allowed["create deployments shop-dev"] = true;
  REQUIRE(h.run({"workspace", "list", "-o", "json"}) == 0);
  auto j = nlohmann::json::parse(h.out.str());
  REQUIRE(j.size() == 2);
  CHECK(j[0]["name"] == "shop-dev");
  CHECK(j[0]["role"] == "developer");  // the higher of two roles
  CHECK(j[0]["canDeploy"] == true);
  CHECK(j[1]["name"] == "shop-prod");
  CHECK(j[1]["role"] == "viewer");
  CHECK(j[1]["tenant"] == "shop");
  for (const auto& c : h.fake->calls) CHECK(c.rfind("list namespaces", 0) != 0);
  REQUIRE(h.run({"workspace", "list"}) == 0);
  CHECK(h.out.str() == "\tshop-dev\tshop\tActive\t\tyes\tdeveloper\n\tshop-prod\tshop\tActive\t\tno\tviewer\n");
  // --all is the cluster-wide view, which she may not have
  CHECK(h.run({"workspace", "list", "--all"}) == 4);
  CHECK(h.err.str().find("you may not list every workspace") != std::string::npos);
  // no role anywhere, on a cluster that keeps records: an empty list, said on stderr
  h.fake->rules["wb-system"] = {
      {"resourceRules", {{{"apiGroups", {"wb.dev"}}, {"resources", {"memberships"}}, {"verbs", {"read"}}}}}};
  REQUIRE(h.run({"workspace", "list"}) == 0);
  CHECK(h.out.str().empty());
  CHECK(h.err.str() == "You have no role in any workspace yet; a tenant admin adds you with `wb member add`.\n");
}

TEST_CASE("workspace use checks the tenant and remembers the choice", "[cli]") {
  Harness h;
  h.vars["WB_TENANT"] = "shop";
  h.fake->add(kube::types::Namespace, "",
              {{"metadata", {{"name", "blue-dev"}, {"labels", {{"kubesphere.io/workspace", "blue"}}}}}});
  CHECK(h.run({"workspace", "use", "blue-dev"}) == 2);
  CHECK(h.err.str().find("belongs to tenant 'blue', not to tenant 'shop'") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(h.home / ".config/wb/config.yaml"));
}

TEST_CASE("whoami on an old server says it cannot tell", "[cli]") {
  Harness h;
  h.fake->cfg.server = "https://old:6443";
  h.fake->cfg.user_name = "dev";
  REQUIRE(h.run({"whoami"}) == 0);
  CHECK(h.out.str().find("cannot tell who you are") != std::string::npos);
  CHECK(h.out.str().find("kubeconfig user 'dev'") != std::string::npos);
}

TEST_CASE("whoami names the user and groups", "[cli]") {
  Harness h;
  h.fake->cfg.server = "https://new:6443";
  h.fake->user_info = nlohmann::json{{"username", "alice"}, {"groups", {"dev", "system:authenticated"}}};
  REQUIRE(h.run({"whoami"}) == 0);
  CHECK(h.out.str() == "You are alice (groups: dev, system:authenticated) on https://new:6443\n");
}
