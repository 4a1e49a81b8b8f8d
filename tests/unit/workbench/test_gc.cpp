// Retention's keep/delete decision (plan_gc) over hand-made snapshots: versions, config and
// routes versions, images (by revision order, tags, pods, the just-pushed one), and what wb did
// not make.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/delivery/gc.hpp"
#include "workbench/versions/config.hpp"
#include "workbench/versions/routes.hpp"

using namespace wb::workbench;
using nlohmann::json;

namespace {

const std::string kRepo = "registry.local/shop/orders";
const std::string kUid = "uid-orders";

std::string digest(int n) {
  std::string hex = fmt::format("{:064x}", n);
  return "sha256:" + hex;
}
std::string by_digest(int n) { return kRepo + "@" + digest(n); }

json pod_template(const std::string& image, int config = 0) {
  json t = {{"metadata", {{"labels", {{"app", "orders"}, {labels::kManagedBy, "wb"}}}}},
            {"spec", {{"containers", json::array({{{"name", "orders"}, {"image", image}}})}}}};
  if (config > 0)
    t["spec"]["containers"][0]["envFrom"] =
        json::array({{{"configMapRef", {{"name", config_map_name("orders", config)}}}}});
  return t;
}

json replica_set(int revision, const std::string& image, int replicas = 0, int config = 0, bool wb = true) {
  json labels = {{labels::kName, "orders"}, {"app", "orders"}};
  if (wb) labels[labels::kManagedBy] = "wb";
  return {{"metadata",
           {{"name", fmt::format("orders-rs{}", revision)},
            {"labels", labels},
            {"annotations", {{annotations::kRevision, std::to_string(revision)}}},
            {"ownerReferences", json::array({{{"kind", "Deployment"}, {"name", "orders"}, {"uid", kUid}}})}}},
          {"spec", {{"replicas", replicas}, {"template", pod_template(image, config)}}},
          {"status", {{"replicas", replicas}}}};
}

json deployment(int revision, const std::string& image, int config = 0) {
  return {{"metadata",
           {{"name", "orders"},
            {"uid", kUid},
            {"labels", {{labels::kManagedBy, "wb"}, {labels::kName, "orders"}}},
            {"annotations", {{annotations::kRevision, std::to_string(revision)}}}}},
          {"spec", {{"replicas", 1}, {"template", pod_template(image, config)}}}};
}

json config_map(const std::string& name, const char* version_label, int n, bool wb = true) {
  json labels = {{labels::kName, "orders"}, {version_label, std::to_string(n)}};
  if (wb) labels[labels::kManagedBy] = "wb";
  return {{"metadata", {{"name", name}, {"labels", labels}}}};
}

// 15 pushes: revision n runs image n (tag v<n>); the controller kept revisions from `first_rs`.
GcSnapshot fifteen_pushes(int first_rs) {
  GcSnapshot s;
  s.app = "orders";
  s.workspace = "shop-dev";
  s.repository = kRepo;
  s.images_listed = true;
  s.deployment = deployment(15, by_digest(15));
  for (int n = first_rs; n <= 15; ++n) s.replica_sets.push_back(replica_set(n, by_digest(n), n == 15 ? 2 : 0));
  for (int n = 1; n <= 15; ++n) s.images.push_back({digest(n), {fmt::format("v{}", n)}});
  return s;
}

const GcItem& find(const GcPlan& plan, GcKind kind, const std::string& name) {
  for (const auto& i : plan.items)
    if (i.kind == kind && i.name == name) return i;
  FAIL("no " << gc_kind_name(kind) << " " << name << " in the plan");
  throw 0;
}

std::vector<std::string> kept(const GcPlan& plan, GcKind kind) {
  std::vector<std::string> out;
  for (const auto& i : plan.items)
    if (i.kind == kind && i.keep) out.push_back(i.tags.empty() ? i.name : i.tags.front());
  return out;
}

bool has_reason(const GcItem& item, const std::string& fragment) {
  for (const auto& r : item.reasons)
    if (r.find(fragment) != std::string::npos) return true;
  return false;
}

RetentionPolicy policy(int images, int configs, int revisions) {
  RetentionPolicy p;
  p.images = images;
  p.configs = configs;
  p.revisions = revisions;
  return p;
}

}  // namespace

TEST_CASE("gc: 15 pushes, retention 5: the newest five images and versions stay", "[workbench][gc]") {
  // The controller's own limit is higher (10): the profile's 4 old versions are wb gc's to enforce.
  GcSnapshot s = fifteen_pushes(5);
  GcPlan plan = plan_gc(s, policy(5, 10, 4));
  CHECK(kept(plan, GcKind::Image) == std::vector<std::string>{"v15", "v14", "v13", "v12", "v11"});
  CHECK(kept(plan, GcKind::Revision) ==
        std::vector<std::string>{"orders-rs15", "orders-rs14", "orders-rs13", "orders-rs12", "orders-rs11"});
  CHECK(plan.deletes() == 10 + 6);
  const auto& current = find(plan, GcKind::Revision, "orders-rs15");
  CHECK(has_reason(current, "current version"));
  const auto& old = find(plan, GcKind::Revision, "orders-rs10");
  CHECK_FALSE(old.keep);
  CHECK(has_reason(old, "retention.revisions = 4"));
  CHECK(old.objects.size() == 1);
  CHECK(old.objects[0].second == "orders-rs10");

  const auto& v11 = find(plan, GcKind::Image, digest(11));
  CHECK(v11.keep);
  CHECK(has_reason(v11, "revision 11 (to roll back to) runs it"));
  CHECK(has_reason(v11, "one of the 5 newest images"));
  CHECK(has_reason(find(plan, GcKind::Image, digest(15)), "revision 15 (current) runs it"));
  const auto& v10 = find(plan, GcKind::Image, digest(10));
  CHECK_FALSE(v10.keep);
  CHECK(has_reason(v10, "last ran in revision 10, which is not kept"));
  const auto& v1 = find(plan, GcKind::Image, digest(1));
  CHECK(has_reason(v1, "no version of the app ran it"));
  // Items come newest first within a kind, kinds in the order they are deleted.
  std::vector<GcKind> kinds;
  for (const auto& i : plan.items)
    if (kinds.empty() || kinds.back() != i.kind) kinds.push_back(i.kind);
  CHECK(kinds == std::vector<GcKind>{GcKind::Revision, GcKind::Image});
}

TEST_CASE("gc: images kept versions run stay even beyond retention.images", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(5);
  GcPlan plan = plan_gc(s, policy(3, 10, 10));  // 10 old versions to roll back to, only 3 newest images
  auto images = kept(plan, GcKind::Image);
  CHECK(images.size() == 11);  // v5..v15: every version that stays can be rolled back to
  CHECK_FALSE(find(plan, GcKind::Image, digest(4)).keep);
  const auto& v6 = find(plan, GcKind::Image, digest(6));
  CHECK(v6.keep);
  CHECK_FALSE(has_reason(v6, "newest"));
}

TEST_CASE("gc: a running pod's image survives however old", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(12);
  // A pod (of another app, or left over) runs v2 by tag; another runs v3 known only by imageID.
  s.pods.push_back({{"metadata", {{"name", "batch-x1"}}},
                    {"spec", {{"containers", json::array({{{"name", "c"}, {"image", kRepo + ":v2"}}})}}},
                    {"status", {{"phase", "Running"}}}});
  s.pods.push_back({{"metadata", {{"name", "orders-old-z9"}}},
                    {"spec", {{"containers", json::array({{{"name", "orders"}, {"image", "elsewhere/x:1"}}})}}},
                    {"status",
                     {{"phase", "Running"},
                      {"containerStatuses",
                       json::array({{{"name", "orders"}, {"imageID", "docker-pullable://" + by_digest(3)}}})}}}});
  // A finished pod protects nothing.
  s.pods.push_back({{"metadata", {{"name", "done-1"}}},
                    {"spec", {{"containers", json::array({{{"name", "c"}, {"image", by_digest(4)}}})}}},
                    {"status", {{"phase", "Succeeded"}}}});
  GcPlan plan = plan_gc(s, policy(2, 10, 1));
  const auto& v2 = find(plan, GcKind::Image, digest(2));
  CHECK(v2.keep);
  CHECK(v2.reasons == std::vector<std::string>{"pod batch-x1 uses it"});
  CHECK(has_reason(find(plan, GcKind::Image, digest(3)), "pod orders-old-z9 uses it"));
  CHECK_FALSE(find(plan, GcKind::Image, digest(4)).keep);
  CHECK(kept(plan, GcKind::Image) == std::vector<std::string>{"v15", "v14", "v3", "v2"});
}

TEST_CASE("gc: versions with replicas and the Deployment's image stay", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(10);
  s.replica_sets[0]["spec"]["replicas"] = 1;     // revision 10 still scaling down
  s.deployment = deployment(16, by_digest(16));  // pointed at a new image, not rolled out yet
  s.images.push_back({digest(16), {"v16"}});
  GcPlan plan = plan_gc(s, policy(1, 10, 1));
  const auto& rs10 = find(plan, GcKind::Revision, "orders-rs10");
  CHECK(rs10.keep);
  CHECK(rs10.reasons == std::vector<std::string>{"still has replicas"});
  // Revision 16 has no ReplicaSet yet: 15 counts as current (the newest there is).
  CHECK(has_reason(find(plan, GcKind::Revision, "orders-rs15"), "current version"));
  const auto& v16 = find(plan, GcKind::Image, digest(16));
  CHECK(has_reason(v16, "the app's Deployment names it"));
  CHECK(has_reason(v16, "one of the 1 newest images"));  // not rolled out yet: the newest of all
  CHECK(find(plan, GcKind::Image, digest(10)).keep);     // revision 10 stays (replicas)
}

TEST_CASE("gc: a rollback makes an old image the newest", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(11);
  // `wb app rollback --to 12`: the controller renumbers that version 16.
  s.replica_sets[1]["metadata"]["annotations"][annotations::kRevision] = "16";
  s.deployment = deployment(16, by_digest(12));
  GcPlan plan = plan_gc(s, policy(2, 10, 1));
  CHECK(kept(plan, GcKind::Image) == std::vector<std::string>{"v12", "v15"});
  CHECK(has_reason(find(plan, GcKind::Revision, "orders-rs12"), "current version"));
}

TEST_CASE("gc: the just-pushed image stays; unran images rank by tag", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(15);
  s.images.push_back({digest(20), {"nightly"}});  // pushed with --no-deploy: no version ran it
  s.just_pushed.insert(digest(20));
  GcPlan plan = plan_gc(s, policy(3, 10, 0));
  CHECK(find(plan, GcKind::Image, digest(20)).reasons == std::vector<std::string>{"just pushed"});
  // v15 ran; then by tag in version order: v14, v13 (v9 < v10 < ... in natural order).
  CHECK(kept(plan, GcKind::Image) == std::vector<std::string>{"v15", "v14", "v13", "nightly"});
}

TEST_CASE("gc: untagged manifests versions name by digest, several tags on one digest", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(14);
  s.images.clear();
  s.images.push_back({digest(15), {"latest", "v15"}});
  s.images.push_back({digest(14), {}});  // the tag moved on; revision 14 names it by digest
  s.images.push_back({digest(13), {}});
  GcPlan plan = plan_gc(s, policy(1, 10, 1));
  const auto& v15 = find(plan, GcKind::Image, digest(15));
  CHECK(v15.tags == std::vector<std::string>{"latest", "v15"});
  CHECK(find(plan, GcKind::Image, digest(14)).keep);
  CHECK_FALSE(find(plan, GcKind::Image, digest(13)).keep);
}

TEST_CASE("gc: config versions a kept version uses stay; routes the Ingress shows stay", "[workbench][gc]") {
  GcSnapshot s;
  s.app = "orders";
  s.workspace = "shop-dev";
  s.deployment = deployment(6, by_digest(1), 7);
  s.replica_sets = json::array(
      {replica_set(4, by_digest(1), 0, 2), replica_set(5, by_digest(1), 0, 3), replica_set(6, by_digest(1), 1, 7)});
  for (int n = 1; n <= 7; ++n) {
    s.config_maps.push_back(config_map(config_map_name("orders", n), kConfigVersionLabel, n));
    s.config_maps.push_back(config_map(routes_map_name("orders", n), kRoutesVersionLabel, n));
  }
  s.secrets.push_back(config_map(config_secret_name("orders", 1), kConfigVersionLabel, 1));
  s.secrets.push_back(config_map(config_secret_name("orders", 3), kConfigVersionLabel, 3));
  // Not wb's: never in the plan.
  s.config_maps.push_back(config_map("orders-config-v0-by-hand", kConfigVersionLabel, 1, false));
  s.ingress = {{"metadata", {{"name", "orders"}, {"annotations", {{kRoutesVersionAnnotation, "2"}}}}}};
  GcPlan plan = plan_gc(s, policy(10, 2, 1));
  // Revision 4 goes (only one old version kept): config v2 has no user left.
  CHECK_FALSE(find(plan, GcKind::Revision, "orders-rs4").keep);
  CHECK(kept(plan, GcKind::Config) == std::vector<std::string>{"v7", "v6", "v3"});
  CHECK(has_reason(find(plan, GcKind::Config, "v3"), "revision 5 uses it"));
  CHECK(has_reason(find(plan, GcKind::Config, "v7"), "the app's current settings use it"));
  const auto& v1 = find(plan, GcKind::Config, "v1");
  CHECK_FALSE(v1.keep);
  CHECK(v1.objects.size() == 2);  // the ConfigMap and its Secret
  CHECK(v1.objects[1].first.kind == "Secret");
  for (const auto& item : plan.items)
    for (const auto& [type, name] : item.objects) CHECK(name != "orders-config-v0-by-hand");
  CHECK(kept(plan, GcKind::Routes) == std::vector<std::string>{"v7", "v6", "v2"});
  CHECK(has_reason(find(plan, GcKind::Routes, "v2"), "the app's Ingress shows it"));
  CHECK(plan.notes.size() == 1);  // no registry configured
}

TEST_CASE("gc: what wb did not make is left alone", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(1);
  s.replica_sets.push_back(replica_set(0, by_digest(1)));  // no revision: not a version
  json foreign = replica_set(3, by_digest(3), 0, 0, /*wb=*/false);
  foreign["metadata"]["name"] = "orders-by-hand";
  s.replica_sets.push_back(foreign);
  json other_owner = replica_set(2, by_digest(2));
  other_owner["metadata"]["name"] = "billing-rs2";
  other_owner["metadata"]["ownerReferences"][0]["uid"] = "uid-billing";
  s.replica_sets.push_back(other_owner);
  // An image of another repository in a version: not ours to decide.
  s.replica_sets.push_back(replica_set(16, "registry.local/shop/billing@" + digest(99)));
  s.deployment = deployment(16, "registry.local/shop/billing@" + digest(99));
  GcPlan plan = plan_gc(s, policy(1, 10, 1));
  for (const auto& item : plan.items) {
    CHECK(item.name != "orders-by-hand");
    CHECK(item.name != "billing-rs2");
    CHECK(item.name != digest(99));
  }
  // The hand-made version stays, and so does the image it runs.
  CHECK(has_reason(find(plan, GcKind::Image, digest(3)), "revision 3 (to roll back to) runs it"));
}

TEST_CASE("gc: images are not decided when the registry was not read", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(15);
  s.images_listed = false;
  GcPlan plan = plan_gc(s, policy(1, 1, 0));
  for (const auto& item : plan.items) CHECK(item.kind != GcKind::Image);
}

TEST_CASE("gc: retention settings with floors", "[workbench][gc]") {
  Settings st;
  st.set("retention.images", {"0", Source::Profile, "test"});
  st.set("retention.configs", {"0", Source::Profile, "test"});
  st.set("retention.revisions", {"0", Source::Profile, "test"});
  st.set("retention.auto", {"true", Source::Profile, "test"});
  auto p = retention_policy(st);
  CHECK(p.images == 1);
  CHECK(p.configs == 1);
  CHECK(p.revisions == 0);
  CHECK(p.automatic);
  Settings none;
  auto d = retention_policy(none);
  CHECK(d.images == 10);
  CHECK(d.revisions == 10);
  CHECK_FALSE(d.automatic);
}

// ---------------------------------------------------------------- applying a plan

#include "../cli/fake_client.hpp"
#include "image/fake_registry.hpp"

namespace {

// Records removes; fails the one named in `fail_on`.
class RecordingClient : public wb::test::FakeClient {
 public:
  std::vector<std::string> removed;
  std::string fail_on;
  wb::util::Status remove(const wb::kube::ResourceType& t, const std::string& ns, const std::string& name,
                          const wb::kube::DeleteOptions&) override {
    if (name == fail_on)
      return wb::util::Error(wb::util::ErrorCode::Auth, "configmaps \"" + name + "\" is forbidden", "", 403);
    removed.push_back(t.kind + "/" + name);
    objects.erase(key(t, ns, name));
    return {};
  }
};

// Records manifest deletes; refuses them (405) when deletes_refused.
using RecordingRegistry = wb::test::FakeRegistry;

GcPlan plan_to_apply() {
  GcSnapshot s = fifteen_pushes(13);
  s.config_maps.push_back(config_map(config_map_name("orders", 1), kConfigVersionLabel, 1));
  s.config_maps.push_back(config_map(config_map_name("orders", 2), kConfigVersionLabel, 2));
  s.secrets.push_back(config_map(config_secret_name("orders", 1), kConfigVersionLabel, 1));
  return plan_gc(s, policy(13, 1, 1));  // deletes: revision 13; config v1 (ConfigMap + Secret); images v1, v2
}

void add_replica_sets(RecordingClient& client, int first, int replicas_of_first = 0) {
  for (int n = first; n <= 15; ++n)
    client.add(wb::kube::types::ReplicaSet, "shop-dev",
               replica_set(n, by_digest(n), n == first ? replicas_of_first : 0));
}

}  // namespace

TEST_CASE("gc apply: versions, then configs, the registry last", "[workbench][gc]") {
  GcPlan plan = plan_to_apply();
  REQUIRE(plan.deletes() == 4);
  RecordingClient client;
  add_replica_sets(client, 13);
  RecordingRegistry registry;
  GcOutcome out = apply_gc_plan(client, &registry, plan);
  CHECK_FALSE(out.failure);
  CHECK(out.deleted.size() == 4);
  CHECK(out.not_deleted.empty());
  CHECK(client.removed ==
        std::vector<std::string>{"ReplicaSet/orders-rs13", "ConfigMap/orders-config-v1", "Secret/orders-secret-v1"});
  CHECK(registry.deleted == std::vector<std::string>{by_digest(2), by_digest(1)});
}

TEST_CASE("gc apply: a failure midway says what was and was not deleted; the registry is not touched",
          "[workbench][gc]") {
  GcPlan plan = plan_to_apply();
  RecordingClient client;
  add_replica_sets(client, 13);
  client.fail_on = "orders-config-v1";
  RecordingRegistry registry;
  GcOutcome out = apply_gc_plan(client, &registry, plan);
  REQUIRE(out.failure);
  CHECK_THAT(out.failure->message, Catch::Contains("deleting config v1 of orders"));
  REQUIRE(out.deleted.size() == 1);
  CHECK(out.deleted[0]->name == "orders-rs13");
  CHECK(out.not_deleted.size() == 3);
  CHECK(registry.deleted.empty());
}

TEST_CASE("gc apply: a registry that refuses deletes is asked once and is no failure", "[workbench][gc]") {
  GcPlan plan = plan_to_apply();
  RecordingClient client;
  add_replica_sets(client, 13);
  RecordingRegistry registry;
  registry.deletes_refused = true;
  GcOutcome out = apply_gc_plan(client, &registry, plan);
  CHECK_FALSE(out.failure);
  CHECK(out.registry_refused);
  CHECK_THAT(out.registry_message, Catch::Contains("does not allow deleting images"));
  CHECK(out.deleted.size() == 2);      // the version and the config
  CHECK(out.not_deleted.size() == 2);  // both images
}

TEST_CASE("gc apply: a version that got replicas since the plan stays", "[workbench][gc]") {
  GcPlan plan = plan_to_apply();
  RecordingClient client;
  add_replica_sets(client, 13, /*replicas_of_first=*/2);  // rolled back to meanwhile
  RecordingRegistry registry;
  GcOutcome out = apply_gc_plan(client, &registry, plan);
  CHECK_FALSE(out.failure);
  REQUIRE(out.not_deleted.size() == 1);
  CHECK(out.not_deleted[0]->name == "orders-rs13");
  CHECK(std::find(client.removed.begin(), client.removed.end(), "ReplicaSet/orders-rs13") == client.removed.end());
}

TEST_CASE("gc apply: the image of a version rescued since the plan is not deleted", "[workbench][gc]") {
  GcSnapshot s = fifteen_pushes(13);
  GcPlan plan = plan_gc(s, policy(2, 1, 1));  // deletes revision 13 and images v1..v13
  RecordingClient client;
  add_replica_sets(client, 13, /*replicas_of_first=*/1);
  RecordingRegistry registry;
  GcOutcome out = apply_gc_plan(client, &registry, plan);
  CHECK_FALSE(out.failure);
  CHECK(out.not_deleted.size() == 2);  // revision 13 and the image it runs
  CHECK(registry.deleted.size() == 12);
  CHECK(std::find(registry.deleted.begin(), registry.deleted.end(), by_digest(13)) == registry.deleted.end());
}
