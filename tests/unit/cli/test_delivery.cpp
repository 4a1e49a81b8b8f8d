// gc, push jar, --gitops and doctor as a user runs them, with a fake cluster, an in-memory registry
// and a fake git handed in through the Context: no processes, no sockets.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "harness.hpp"
#include "image/fake_registry.hpp"
#include "jar/fixture_jars.hpp"
#include "util/fs.hpp"
#include "workbench/core/app.hpp"

using namespace wb;
using nlohmann::json;
using test::Harness;
using workbench::gitops::GitOutput;

namespace {

const std::string kRepo = "shop/orders";
const std::string kImage = "registry.local/shop/orders";

json pod_template(const std::string& image) {
  return {{"metadata", {{"labels", {{"app", "orders"}, {workbench::labels::kManagedBy, "wb"}}}}},
          {"spec", {{"containers", json::array({{{"name", "orders"}, {"image", image}}})}}}};
}

// The app orders in shop-dev after `revisions` pushes: version n runs image vn, by digest.
struct PushedApp {
  std::vector<std::string> digests;  // of v1, v2, ...
};
PushedApp pushed_app(Harness& h, test::FakeRegistry& registry, int revisions) {
  PushedApp app;
  for (int n = 1; n <= revisions; ++n)
    app.digests.push_back(registry.add_manifest(kRepo, fmt::format("v{}", n),
                                                {{"schemaVersion", 2},
                                                 {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                                 {"config", json::object()},
                                                 {"layers", json::array()},
                                                 {"annotations", {{"n", std::to_string(n)}}}}));
  const auto by_digest = [&](int n) { return kImage + "@" + app.digests[n - 1]; };
  h.fake->add(kube::types::Deployment, "shop-dev",
              {{"metadata",
                {{"name", "orders"},
                 {"uid", "uid-orders"},
                 {"generation", 1},
                 {"labels", {{workbench::labels::kManagedBy, "wb"}, {workbench::labels::kName, "orders"}}},
                 {"annotations", {{workbench::annotations::kRevision, std::to_string(revisions)}}}}},
               {"spec", {{"replicas", 1}, {"template", pod_template(by_digest(revisions))}}},
               {"status", {{"observedGeneration", 1}}}});
  for (int n = 1; n <= revisions; ++n) {
    const int replicas = n == revisions ? 1 : 0;
    h.fake->add(
        kube::types::ReplicaSet, "shop-dev",
        {{"metadata",
          {{"name", fmt::format("orders-rs{}", n)},
           {"labels", {{workbench::labels::kName, "orders"}, {"app", "orders"}, {workbench::labels::kManagedBy, "wb"}}},
           {"annotations", {{workbench::annotations::kRevision, std::to_string(n)}}},
           {"ownerReferences", json::array({{{"kind", "Deployment"}, {"name", "orders"}, {"uid", "uid-orders"}}})}}},
         {"spec", {{"replicas", replicas}, {"template", pod_template(by_digest(n))}}},
         {"status", {{"replicas", replicas}}}});
  }
  return app;
}

// An empty in-memory registry that every registry client of the run is.
std::shared_ptr<test::FakeRegistry> with_registry(Harness& h) {
  auto registry = std::make_shared<test::FakeRegistry>();
  h.registry = registry;
  return registry;
}

// Settings as a CI job would set them: workspace, registry, retention of one old version.
void retention_of_one(Harness& h) {
  h.vars["WB_WORKSPACE"] = "shop-dev";
  h.vars["WB_REGISTRY_HOST"] = "registry.local";
  h.vars["WB_REGISTRY_PROJECT"] = "shop";
  h.vars["WB_RETENTION_IMAGES"] = "1";
  h.vars["WB_RETENTION_REVISIONS"] = "1";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("gc --dry-run shows what would go and why, and deletes nothing", "[cli][gc]") {
  Harness h;
  const auto registry = with_registry(h);
  retention_of_one(h);
  const PushedApp app = pushed_app(h, *registry, 3);

  REQUIRE(h.run({"gc", "--dry-run"}) == 0);
  INFO(h.out.str() << h.err.str());
  CHECK(h.registry_targets == std::vector<std::string>{"registry.local/shop/orders"});
  CHECK(h.err.str() == "Dry run: 2 things would be deleted; nothing was.\n");
  const std::string table = h.out.str();
  CHECK(contains(table, "1 (orders-rs1)"));
  CHECK(contains(table, app.digests[0].substr(0, 19)));
  CHECK(contains(table, "would delete"));
  CHECK(registry->deleted.empty());
  CHECK(h.fake->objects.count("replicasets/shop-dev/orders-rs1") == 1);

  REQUIRE(h.run({"gc", "--dry-run", "-o", "json"}) == 0);
  const json doc = json::parse(h.out.str());
  CHECK(doc["dryRun"] == true);
  CHECK(doc["retention"]["images"] == 1);
  CHECK(doc["apps"][0]["repository"] == "registry.local/shop/orders");
  std::vector<std::string> going;
  for (const auto& item : doc["apps"][0]["items"])
    if (item["status"] == "would delete")
      going.push_back(item["kind"].get<std::string>() + " " + item["name"].get<std::string>());
  CHECK(going == std::vector<std::string>{"revision orders-rs1", "image " + app.digests[0]});
}

TEST_CASE("gc deletes the old version first and its image last", "[cli][gc]") {
  Harness h;
  const auto registry = with_registry(h);
  h.fake->removals = true;
  retention_of_one(h);
  const PushedApp app = pushed_app(h, *registry, 3);

  REQUIRE(h.run({"gc", "orders"}) == 0);
  INFO(h.out.str() << h.err.str());
  CHECK(h.err.str() == "Deleted 2 things.\n");
  CHECK(contains(h.out.str(), "deleted"));
  CHECK(h.fake->objects.count("replicasets/shop-dev/orders-rs1") == 0);
  CHECK(h.fake->objects.count("replicasets/shop-dev/orders-rs2") == 1);
  CHECK(registry->deleted == std::vector<std::string>{kImage + "@" + app.digests[0]});
  CHECK(registry->repos[kRepo].tags.count("v1") == 0);
  CHECK(registry->repos[kRepo].tags.count("v2") == 1);
}

TEST_CASE("gc against a registry that refuses deletes warns once and cleans the cluster", "[cli][gc]") {
  Harness h;
  auto registry = std::make_shared<test::FakeRegistry>();
  registry->deletes_refused = true;
  h.registry = registry;
  h.fake->removals = true;
  retention_of_one(h);
  pushed_app(h, *registry, 3);

  REQUIRE(h.run({"gc"}) == 0);
  INFO(h.out.str() << h.err.str());
  CHECK(h.err.str() ==
        "warning: registry registry.local does not allow deleting images: 1 image stays; the rest was cleaned up\n"
        "Deleted 1 thing, 1 not deleted.\n");
  CHECK(h.fake->objects.count("replicasets/shop-dev/orders-rs1") == 0);
  CHECK(registry->repos[kRepo].tags.count("v1") == 1);
}

namespace {

// A jar's provenance asks git about its checkout; this one is in none.
GitOutput not_a_checkout() { return GitOutput{128, "", "fatal: not a git repository"}; }

// A config checkout with orders in shop-dev (written as `wb export` writes it), and a git that
// answers for a clean checkout on main whose commit gets hash `commit`.
std::filesystem::path gitops_checkout(Harness& h, const std::string& commit) {
  const auto root = h.home / "config";
  json deployment = {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", {{"name", "orders"}, {"namespace", "shop-dev"}}},
                     {"spec", {{"replicas", 1}, {"template", pod_template(kImage + ":v0")}}}};
  REQUIRE(workbench::gitops::write_app(root, "shop-dev", "orders", {deployment}).ok());
  h.git.answer = [root, commit](const std::vector<std::string>& args) -> GitOutput {
    const auto is = [&](std::initializer_list<const char*> prefix) {
      return args.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), args.begin());
    };
    if (is({"rev-parse", "--show-toplevel"})) return {0, root.string() + "\n", ""};
    if (is({"status", "--porcelain"})) return {0, "", ""};
    if (is({"rev-parse", "--verify", "-q", "HEAD"}) || is({"rev-parse", "HEAD"})) return {0, commit + "\n", ""};
    if (is({"symbolic-ref", "-q", "--short", "HEAD"})) return {0, "main\n", ""};
    if (is({"config", "user.name"})) return {0, "Dana Dev\n", ""};
    if (is({"config", "user.email"})) return {0, "dana@example.com\n", ""};
    if (is({"add"}) || is({"commit"})) return {0, "", ""};
    return not_a_checkout();
  };
  return root;
}

std::string commit_message_of(const test::FakeGit& git) {
  for (const auto& call : git.calls)
    if (call.rfind("commit -q -m ", 0) == 0) return call.substr(13);
  return "";
}

}  // namespace

TEST_CASE("push jar --no-deploy pushes through the registry factory and prints the reference", "[cli][push]") {
  Harness h;
  const auto registry = with_registry(h);
  h.git.answer = [](const std::vector<std::string>&) { return not_a_checkout(); };

  REQUIRE(h.run({"push", "jar", test::fixture_jar("boot.jar").string(), "--to", kImage, "--base", "scratch", "-t", "v7",
                 "--no-deploy"}) == 0);
  INFO(h.err.str());
  REQUIRE(registry->repos[kRepo].tags.count("v7") == 1);
  const std::string digest = registry->repos[kRepo].tags["v7"];
  CHECK(h.out.str() == kImage + "@" + digest + "\n");
  CHECK(h.registry_targets == std::vector<std::string>{kImage});
  CHECK(h.fake->calls.empty());      // --no-deploy: the cluster is not asked
  CHECK_FALSE(h.git.calls.empty());  // provenance came from the Context's git

  REQUIRE(h.run({"push", "jar", test::fixture_jar("boot.jar").string(), "--to", kImage, "--base", "scratch", "-t", "v7",
                 "--no-deploy", "-o", "json"}) == 0);
  const json doc = json::parse(h.out.str());
  CHECK(doc["digest"] == digest);
  CHECK(doc["reference"] == kImage + "@" + digest);
  CHECK(doc["deployed"].is_null());
  for (const auto& layer : doc["layers"]) CHECK(layer["fate"] == "skipped");
}

TEST_CASE("push jar --gitops writes the pushed image into the checkout and commits it", "[cli][push][gitops]") {
  Harness h;
  const auto registry = with_registry(h);
  const auto root = gitops_checkout(h, "0123456789abcdef0123456789abcdef01234567");

  REQUIRE(h.run({"push", "jar", test::fixture_jar("boot.jar").string(), "--to", kImage, "--base", "scratch", "-t", "v8",
                 "--app", "orders", "--gitops", root.string(), "-o", "json"}) == 0);
  INFO(h.err.str());
  const std::string digest = registry->repos[kRepo].tags.at("v8");
  const std::string image = kImage + "@" + digest;
  const auto deployment = util::read_file(root / "shop-dev" / "orders" / "deployment.yaml");
  REQUIRE(deployment);
  CHECK(contains(*deployment, "image: " + image));
  CHECK_FALSE(contains(*deployment, ":v0"));

  const std::string message = commit_message_of(h.git);
  CHECK(contains(message, "App: orders"));
  CHECK(contains(message, "Workspace: shop-dev"));
  CHECK(contains(message, "Image: " + image));
  CHECK(contains(message, "Changed-By: Dana Dev"));
  CHECK(std::find(h.git.calls.begin(), h.git.calls.end(), "add -A -- shop-dev/orders/deployment.yaml") !=
        h.git.calls.end());
  CHECK(std::none_of(h.git.calls.begin(), h.git.calls.end(),
                     [](const std::string& c) { return c.rfind("push", 0) == 0; }));

  const json doc = json::parse(h.out.str());
  CHECK(doc["gitops"]["commit"] == "0123456789abcdef0123456789abcdef01234567");
  CHECK(doc["gitops"]["branch"] == "main");
  CHECK(doc["gitops"]["files"] == json::array({"shop-dev/orders/deployment.yaml"}));
  CHECK(doc["gitops"]["pushed"].is_null());
  CHECK(doc["deployed"].is_null());
  CHECK(h.fake->calls.empty());  // GitOps never changes the cluster
}

TEST_CASE("push jar --gitops on a dirty checkout uploads nothing and says which file", "[cli][push][gitops]") {
  Harness h;
  const auto registry = with_registry(h);
  const auto root = gitops_checkout(h, "0123456789abcdef0123456789abcdef01234567");
  auto clean = h.git.answer;
  h.git.answer = [clean](const std::vector<std::string>& args) -> GitOutput {
    if (!args.empty() && args[0] == "status") return {0, " M shop-dev/orders/service.yaml\n", ""};
    return clean(args);
  };

  CHECK(h.run({"push", "jar", test::fixture_jar("boot.jar").string(), "--to", kImage, "--base", "scratch", "--app",
               "orders", "--gitops", root.string()}) == 5);
  CHECK(contains(h.err.str(), "shop-dev/orders/service.yaml"));
  CHECK(registry->repos[kRepo].tags.empty());
  CHECK(commit_message_of(h.git).empty());
}

TEST_CASE("config set --gitops commits a new config version in the checkout", "[cli][gitops]") {
  Harness h;
  h.vars["WB_WORKSPACE"] = "shop-dev";
  const auto root = gitops_checkout(h, "89abcdef0123456789abcdef0123456789abcdef");

  REQUIRE(h.run({"config", "set", "orders", "GREETING=hello", "--gitops", root.string()}) == 0);
  INFO(h.err.str());
  CHECK(h.out.str() ==
        "Config v1 of orders: set GREETING (in " + root.string() + "; Argo CD rolls the app when it syncs)\n");
  const auto config = util::read_file(root / "shop-dev" / "orders" / "config-v1.yaml");
  REQUIRE(config);
  CHECK(contains(*config, "GREETING: hello"));
  const std::string message = commit_message_of(h.git);
  CHECK(contains(message, "Config-Version: v1"));
  CHECK(contains(message, "Changed-By: Dana Dev"));
  CHECK(h.fake->calls.empty());
}

TEST_CASE("doctor: a kubeconfig, the server, the registry and the clock, through the Context's fakes",
          "[cli][doctor]") {
  Harness h;
  const auto registry = with_registry(h);
  h.vars["WB_REGISTRY_HOST"] = "registry.local";
  h.vars["WB_REGISTRY_PROJECT"] = "shop";
  h.now = util::Clock::from_time_t(1764936000);  // Fri, 05 Dec 2025 12:00:00 GMT
  std::filesystem::create_directories(h.home / ".kube");
  REQUIRE(util::write_file_atomic(h.home / ".kube" / "config", R"(apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster:
    server: https://kube.example:6443
users:
- name: dana
  user:
    token: t0ken
contexts:
- name: dev
  context:
    cluster: dev
    user: dana
    namespace: shop-dev
current-context: dev
)")
              .ok());
  http::Response version;
  version.status = 200;
  version.headers.add("Date", "Fri, 05 Dec 2025 12:01:00 GMT");
  version.body = R"({"gitVersion": "v1.32.1"})";
  h.fake->version = version;
  h.fake->user_info = json{{"username", "dana"}, {"groups", {"shop-devs", "system:authenticated"}}};

  for (const char* right : {"patch deployments", "create configmaps", "create secrets", "create deployments",
                            "create services", "get pods", "create pods", "create ingresses"})
    h.fake->allowed[std::string(right) + " shop-dev"] = true;

  CHECK(h.run({"doctor", "--app", "orders"}) == 0);
  CHECK(h.err.str().empty());
  CHECK(h.out.str() ==
        "[ok]   profile                none (built-in defaults; `wb profile init` makes one)\n"
        "[ok]   kubeconfig found       ~/.kube/config, context dev (namespace shop-dev)\n"
        "[ok]   server reachable       https://kube.example:6443 (Kubernetes v1.32.1)\n"
        "[ok]   who you are            dana (groups: shop-devs)\n"
        "[ok]   workspace access       you may deploy, configure, create apps, read logs, copy files and add routes in "
        "'shop-dev'\n"
        "[ok]   registry reachable     registry.local\n"
        "[ok]   registry push allowed  registry.local/shop/orders\n"
        "[skip] base image readable    no baseImages in the profile: pass --base to `wb push jar`\n"
        "[warn] clock in sync          this machine's clock is 60s behind the API server\n"
        "       -> sync it (NTP: `timedatectl set-ntp true`); a skewed clock breaks tokens (JWT) and TLS "
        "certificates\n"
        "Ready, with 1 warning.\n");
  CHECK(h.registry_targets == std::vector<std::string>{"registry.local/x"});
  CHECK(registry->pinged == std::vector<std::string>{"registry.local"});
  CHECK(registry->push_checked == std::vector<std::string>{"registry.local/shop/orders"});

  registry->check_push_error = util::Error(util::ErrorCode::Auth, "not allowed to push to registry.local/shop/orders",
                                           "log in with `podman login registry.local`");
  CHECK(h.run({"doctor", "--app", "orders"}) == 4);
  CHECK(h.err.str().empty());
  CHECK(contains(h.out.str(),
                 "[FAIL] registry push allowed  not allowed to push to registry.local/shop/orders\n"
                 "       -> log in with `podman login registry.local`\n"));
  CHECK(contains(h.out.str(), "1 check failed; fix the first one first"));

  REQUIRE(h.run({"doctor", "--app", "orders", "-o", "json"}) == 4);
  const json doc = json::parse(h.out.str());
  CHECK(doc["ok"] == false);
  CHECK(doc["exitCode"] == 4);
  CHECK(doc["checks"][6]["id"] == "push");
  CHECK(doc["checks"][6]["state"] == "fail");
  CHECK(doc["checks"][6]["error"] == "forbidden");
}
