// The pure parts of an app's lifecycle: events in words, list rows, history, rollback targets,
// a spec read back from its Deployment, and 403s in our words.
#include <catch2/catch.hpp>

#include "workbench/app/lifecycle.hpp"

using namespace wb::workbench;
using nlohmann::json;
using wb::util::ErrorCode;

namespace {

Settings default_settings() {
  Settings s;
  for (const auto& info : known_settings())
    if (!info.default_value.empty())
      s.set(std::string(info.key), {std::string(info.default_value), Source::Default, "built-in"});
  return s;
}

const std::string kImageA = "registry.local/shop/orders@sha256:" + std::string(64, 'a');
const std::string kImageB = "registry.local/shop/orders@sha256:" + std::string(64, 'b');

json template_with(const std::string& image, const std::string& config = "") {
  json t = {{"metadata", {{"labels", {{"app", "orders"}, {"pod-template-hash", "h"}}}}},
            {"spec", {{"containers", json::array({{{"name", "orders"}, {"image", image}}})}}}};
  if (!config.empty()) t["spec"]["volumes"] = json::array({{{"name", "config"}, {"configMap", {{"name", config}}}}});
  return t;
}

json replica_set(const std::string& name, int revision, const std::string& image, const std::string& cause = "",
                 const std::string& who = "", const std::string& config = "") {
  json a = {{"deployment.kubernetes.io/revision", std::to_string(revision)}};
  if (!cause.empty()) a["kubernetes.io/change-cause"] = cause;
  if (!who.empty()) a["wb.dev/changed-by"] = who;
  return {{"metadata",
           {{"name", name},
            {"creationTimestamp", "2024-05-01T10:00:0" + std::to_string(revision) + "Z"},
            {"labels", {{"app.kubernetes.io/name", "orders"}}},
            {"annotations", a},
            {"ownerReferences", json::array({{{"uid", "d1"}}})}}},
          {"spec", {{"template", template_with(image, config)}}}};
}

json deployment(int revision, const std::string& image) {
  return {{"metadata",
           {{"name", "orders"},
            {"namespace", "shop-dev"},
            {"uid", "d1"},
            {"creationTimestamp", "2024-05-01T10:00:00Z"},
            {"annotations", {{"deployment.kubernetes.io/revision", std::to_string(revision)}}}}},
          {"spec", {{"replicas", 0}, {"template", template_with(image)}}}};
}

json event(const std::string& kind, const std::string& name, const std::string& reason, const std::string& message,
           const std::string& time, const std::string& type = "Normal") {
  return {{"involvedObject", {{"kind", kind}, {"name", name}}},
          {"reason", reason},
          {"message", message},
          {"type", type},
          {"count", 1},
          {"lastTimestamp", time}};
}

}  // namespace

TEST_CASE("events are told in words about replicas and versions", "[lifecycle]") {
  json rss = json::array({replica_set("orders-7d9f", 3, kImageA)});
  auto words = [&](const std::string& kind, const std::string& name, const std::string& reason,
                   const std::string& msg) -> std::string {
    auto line = translate_event(event(kind, name, reason, msg, "2024-05-01T10:00:00Z"), "orders", rss);
    return line ? line->message : "(hidden)";
  };
  CHECK(words("Pod", "orders-7d9f-x2x9z", "Started", "Started container orders") == "replica orders-x2x9z started");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "Killing", "Stopping container orders") ==
        "replica orders-x2x9z was stopped");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "OOMKilling", "Memory cgroup out of memory") ==
        "replica orders-x2x9z was killed: out of memory");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "BackOff", "Back-off restarting failed container orders") ==
        "replica orders-x2x9z keeps crashing");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "BackOff", "Back-off pulling image \"x\"") ==
        "replica orders-x2x9z: image cannot be pulled");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "Failed", "Failed to pull image \"x\": not found") ==
        "replica orders-x2x9z: image cannot be pulled");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "FailedScheduling", "0/3 nodes are available") ==
        "replica orders-x2x9z is waiting for cluster resources");
  CHECK(words("Deployment", "orders", "ScalingReplicaSet", "Scaled up replica set orders-7d9f from 0 to 2") ==
        "version 3 scaled to 2");
  CHECK(words("Deployment", "orders", "ScalingReplicaSet", "Scaled down replica set orders-old to 0") ==
        "scaled to 0");  // 1.18 wording, a version no longer kept
  CHECK(words("Pod", "orders-7d9f-x2x9z", "Scheduled", "Successfully assigned") == "(hidden)");
  CHECK(words("ReplicaSet", "orders-7d9f", "SuccessfulCreate", "Created pod: orders-7d9f-x2x9z") == "(hidden)");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "Unhealthy", "Readiness probe failed") ==
        "replica orders-x2x9z is failing its health check");
  // The node's set-up, in the kubelet's words, for every pod (seen on a cluster without DNS).
  CHECK(words("Pod", "orders-7d9f-x2x9z", "MissingClusterDNS",
              "pod: \"orders-7d9f-x2x9z_shop(0f6e)\". kubelet does not have ClusterDNS IP configured and cannot "
              "create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.") == "(hidden)");
  CHECK(words("Pod", "orders-7d9f-x2x9z", "DNSConfigForming", "Nameserver limits were exceeded") == "(hidden)");
}

TEST_CASE("an app's events: only its own, oldest first, repeats folded, the last few", "[lifecycle]") {
  json rss = json::array({replica_set("orders-7d9f", 1, kImageA)});
  json events = json::array({
      event("Pod", "orders-7d9f-bbbbb", "Started", "", "2024-05-01T10:00:02Z"),
      event("Pod", "orders-7d9f-aaaaa", "Started", "", "2024-05-01T10:00:01Z"),
      event("Pod", "orders-api-5c4b-ccccc", "Started", "", "2024-05-01T10:00:03Z"),  // another app
      event("Deployment", "orders-api", "ScalingReplicaSet", "Scaled up replica set orders-api-5c4b from 0 to 1",
            "2024-05-01T10:00:03Z"),
      event("Pod", "orders-7d9f-bbbbb", "Failed", "Failed to pull image", "2024-05-01T10:00:04Z", "Warning"),
      event("Pod", "orders-7d9f-bbbbb", "Failed", "Error: ErrImagePull", "2024-05-01T10:00:05Z", "Warning"),
  });
  auto lines = app_events(events, "orders", rss, 8);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].message == "replica orders-aaaaa started");
  CHECK(lines[1].message == "replica orders-bbbbb started");
  CHECK(lines[2].message == "replica orders-bbbbb: image cannot be pulled");
  CHECK(lines[2].time == "2024-05-01T10:00:05Z");
  CHECK(lines[2].type == "Warning");
  CHECK(app_events(events, "orders", rss, 1).size() == 1);
}

TEST_CASE("history rows come from the app's versions and their annotations", "[lifecycle]") {
  json rss = json::array({
      replica_set("orders-ccc", 4, kImageA, "rollback to revision 2", "alice", "orders-config-v3"),
      replica_set("orders-aaa", 1, kNoImageYet, "create", "alice"),
      replica_set("orders-bbb", 3, kImageB, "set --memory 2Gi", "jdoe via ci-bot"),
      replica_set("other-zzz", 9, kImageB),  // not owned by this Deployment
  });
  rss[3]["metadata"]["ownerReferences"][0]["uid"] = "d2";
  auto revs = history(deployment(4, kImageA), rss);
  REQUIRE(revs.size() == 3);
  CHECK(revs[0].number == 1);
  CHECK(revs[0].version.empty());  // nothing pushed yet
  CHECK(revs[1].who == "jdoe via ci-bot");
  CHECK(revs[1].cause == "set --memory 2Gi");
  CHECK(revs[1].image == kImageB);
  CHECK(revs[1].version == "sha256:bbbbbbbbbbbb");
  CHECK(revs[2].current);
  CHECK_FALSE(revs[1].current);
  CHECK(revs[2].config == "v3");
  CHECK(revs[2].when == "2024-05-01T10:00:04Z");
  CHECK_FALSE(revs[2].pod_template["metadata"]["labels"].contains("pod-template-hash"));
}

TEST_CASE("rollback goes to the previous revision or the one asked for", "[lifecycle]") {
  json rss = json::array({replica_set("orders-a", 1, kImageA, "", "", "orders-config-v1"),
                          replica_set("orders-b", 2, kImageB, "", "", "orders-config-v2"),
                          replica_set("orders-c", 5, kImageA)});
  auto revs = history(deployment(5, kImageA), rss);
  auto prev = rollback_target(revs, std::nullopt, "orders");
  REQUIRE(prev);
  CHECK(prev->number == 2);
  // The image and the config version travel together, without the version's hash label.
  CHECK(prev->pod_template["spec"]["containers"][0]["image"] == kImageB);
  CHECK(prev->pod_template["spec"]["volumes"][0]["configMap"]["name"] == "orders-config-v2");
  CHECK(prev->pod_template["metadata"]["labels"] == json{{"app", "orders"}});
  auto first = rollback_target(revs, 1, "orders");
  REQUIRE(first);
  CHECK(first->number == 1);
  auto missing = rollback_target(revs, 3, "orders");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::NotFound);
  CHECK(missing.error().message == "app 'orders' has no revision 3 (it has: 1, 2, 5)");
  auto only = rollback_target(history(deployment(1, kImageA), json::array({replica_set("orders-a", 1, kImageA)})),
                              std::nullopt, "orders");
  REQUIRE_FALSE(only);
  CHECK(only.error().code == ErrorCode::Usage);
  CHECK(rollback_target({}, std::nullopt, "orders").error().code == ErrorCode::NotFound);
}

TEST_CASE("list rows: state, version, config, tracing, age", "[lifecycle]") {
  json d = deployment(1, kImageA);
  d["spec"]["template"]["spec"]["containers"][0]["env"] =
      json::array({{{"name", "JAVA_TOOL_OPTIONS"}, {"value", "-XX:MaxRAMPercentage=75.0 -javaagent:/sw/agent.jar"}}});
  d["spec"]["template"]["metadata"]["annotations"] = {{"wb.dev/jar", "orders-1.4.jar"}};
  d["spec"]["template"]["spec"]["containers"][0]["envFrom"] =
      json::array({{{"configMapRef", {{"name", "orders-config-v7"}}}}});
  json fresh = deployment(1, kNoImageYet);
  fresh["metadata"]["name"] = "billing";
  auto now = *wb::util::parse_rfc3339("2024-05-01T10:05:00Z");
  auto rows = app_rows(json::array({d, fresh}), json::array(), json::array(), now);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].name == "billing");
  CHECK(rows[0].version == "-");
  CHECK(rows[0].config == "-");
  CHECK_FALSE(rows[0].tracing);
  CHECK(rows[1].status == "Stopped");
  CHECK(rows[1].version == "orders-1.4.jar (sha256:aaaaaaaaaaaa)");
  CHECK(rows[1].config == "v7");
  CHECK(rows[1].tracing);
  CHECK(rows[1].age == "5m");
}

TEST_CASE("short image names and versions not yet pushed", "[lifecycle]") {
  CHECK(short_image(kImageA) == "sha256:aaaaaaaaaaaa");
  CHECK(short_image("harbor:5000/base/java:21") == "21");
  CHECK(short_image("harbor:5000/base/java") == "latest");
  Settings s = default_settings();
  s.set("baseImages.21", {"harbor.acme.test/base/java:21", Source::Profile, "test"});
  CHECK_FALSE(has_pushed_version(deployment(1, kNoImageYet), s));
  CHECK_FALSE(has_pushed_version(deployment(1, "harbor.acme.test/base/java:21"), s));
  CHECK(has_pushed_version(deployment(1, kImageA), s));
  // The version in words: none for the image create gave, the base image only with the profile.
  CHECK(version_words(deployment(1, kNoImageYet)) == "");
  CHECK(version_words(deployment(1, "harbor.acme.test/base/java:21"), &s) == "");
  CHECK(version_words(deployment(1, "harbor.acme.test/base/java:21")) == "21");
  CHECK(version_words(deployment(1, kImageA), &s) == "sha256:aaaaaaaaaaaa");
  auto rows = app_rows(json::array({deployment(1, "harbor.acme.test/base/java:21")}), json::array(), json::array(),
                       wb::util::Clock::now(), &s);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].version == "-");
}

TEST_CASE("replicas to start: flag, remembered, running, profile", "[lifecycle]") {
  Settings s = default_settings();
  json d = deployment(1, kImageA);
  CHECK(replicas_to_start(d, std::nullopt, s) == 1);
  s.set("defaults.replicas", {"3", Source::Profile, "test"});
  CHECK(replicas_to_start(d, std::nullopt, s) == 3);
  d["spec"]["replicas"] = 4;
  CHECK(replicas_to_start(d, std::nullopt, s) == 4);
  d["metadata"]["annotations"]["wb.dev/replicas"] = "2";
  CHECK(replicas_to_start(d, std::nullopt, s) == 2);
  CHECK(replicas_to_start(d, 5, s) == 5);
}

TEST_CASE("a spec read back from its Deployment rebuilds the same Deployment", "[lifecycle]") {
  Settings s = default_settings();
  s.set("tracing.collector", {"oap:11800", Source::Profile, "test"});
  AppSpec spec;
  spec.name = "orders";
  spec.workspace = "shop-dev";
  spec.port = 9000;
  spec.memory = "768Mi";
  spec.cpu = "1";
  spec.trace = true;
  spec.spring_boot = true;
  spec.description = "Takes orders";
  spec.image = kImageA;
  spec.env = {{"SPRING_PROFILES_ACTIVE", "prod"}, {"JAVA_TOOL_OPTIONS", "-Dfoo=bar"}};
  BuildContext build;
  build.creator = "alice";
  build.replicas = 2;
  auto built = build_objects(spec, s, build);
  REQUIRE(built);
  auto back = spec_from_deployment(built->deployment, s);
  CHECK(back.spec.port == 9000);
  CHECK(back.spec.memory == "768Mi");
  CHECK(back.spec.cpu == "1");
  CHECK(back.spec.trace == true);
  CHECK(back.spec.spring_boot);
  CHECK(back.spec.health_path.empty());
  CHECK(back.spec.image == kImageA);
  // The platform's JAVA_TOOL_OPTIONS come first in the container; what the developer added is kept.
  CHECK(back.spec.env == std::vector<std::pair<std::string, std::string>>{{"JAVA_TOOL_OPTIONS", "-Dfoo=bar"},
                                                                          {"SPRING_PROFILES_ACTIVE", "prod"}});
  CHECK(back.build.creator == "alice");
  CHECK(back.build.replicas == 2);
  auto rebuilt = build_objects(back.spec, s, back.build);
  REQUIRE(rebuilt);
  CHECK(rebuilt->deployment == built->deployment);
  CHECK(rebuilt->service == built->service);

  AppChanges ch;
  ch.memory = "2Gi";
  ch.trace = false;
  ch.replicas = 3;
  ch.env = {{"NEW", "1"}};
  ch.unset_env = {"SPRING_PROFILES_ACTIVE"};
  REQUIRE(apply_changes(back, ch));
  CHECK(back.spec.memory == "2Gi");
  CHECK(back.spec.replicas == 3);
  CHECK(back.build.replicas == 3);  // running: the count changes now
  CHECK(back.spec.env ==
        std::vector<std::pair<std::string, std::string>>{{"JAVA_TOOL_OPTIONS", "-Dfoo=bar"}, {"NEW", "1"}});
  AppChanges bad;
  bad.unset_env = {"NOPE"};
  CHECK(apply_changes(back, bad).error().code == ErrorCode::Usage);
  bad = {};
  bad.memory = "12";
  CHECK(apply_changes(back, bad).error().code == ErrorCode::Usage);
}

TEST_CASE("a rebuilt Deployment keeps what others added", "[lifecycle]") {
  json current = deployment(1, kImageA);
  current["metadata"]["annotations"]["wb.dev/jar"] = "orders.jar";
  current["spec"]["template"]["metadata"]["annotations"] = {{"kubectl.kubernetes.io/restartedAt", "t"}};
  auto& c = current["spec"]["template"]["spec"]["containers"][0];
  c["envFrom"] = json::array({{{"configMapRef", {{"name", "orders-config-v2"}}}}});
  c["env"] = json::array({{{"name", "DB_PASSWORD"}, {"valueFrom", {{"secretKeyRef", {{"name", "db"}}}}}}});
  c["volumeMounts"] = json::array({{{"name", "config"}, {"mountPath", "/config"}}});
  current["spec"]["template"]["spec"]["volumes"] =
      json::array({{{"name", "config"}, {"configMap", {{"name", "orders-config-v2"}}}}});
  json rebuilt = deployment(1, kImageA);
  rebuilt["spec"]["template"]["spec"]["containers"][0]["env"] = json::array({{{"name", "A"}, {"value", "1"}}});
  rebuilt["spec"]["template"]["spec"]["volumes"] = json::array({{{"name", "tmp"}, {"emptyDir", json::object()}}});
  keep_other_parts(rebuilt, current);
  CHECK(rebuilt["metadata"]["annotations"]["wb.dev/jar"] == "orders.jar");
  CHECK(rebuilt["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == "t");
  const auto& rc = rebuilt["spec"]["template"]["spec"]["containers"][0];
  CHECK(rc["envFrom"] == c["envFrom"]);
  CHECK(rc["env"].size() == 2);
  CHECK(rc["volumeMounts"].size() == 1);
  CHECK(rebuilt["spec"]["template"]["spec"]["volumes"].size() == 2);
  CHECK(config_version(rebuilt["spec"]["template"], "orders") == "v2");
}

TEST_CASE("a 403 on an app's parts is a refusal in app terms", "[lifecycle]") {
  auto forbidden = [](const std::string& message) {
    return wb::util::Error(ErrorCode::Auth, message, "", 403).with(wb::kube::parse_forbidden(message));
  };
  auto e = forbidden(
      "deployments.apps \"orders\" is forbidden: User \"alice\" cannot update resource \"deployments\" "
      "in API group \"apps\" in the namespace \"shop-prod\"");
  auto w = refused_in_workspace(e, "shop-prod");
  CHECK(w.code == ErrorCode::Auth);
  const auto* r = w.detail<Refusal>();
  REQUIRE(r);
  CHECK((r->user == "alice" && r->verb == "update" && r->resource == "deployments" && r->group == "apps"));
  CHECK(r->workspace == "shop-prod");
  CHECK_FALSE(r->explained);
  CHECK(w.detail<wb::kube::Forbidden>() == r);  // a Refusal is the server's facts and more
  // A version's or a replica's part counts as the app; a config's secret as its config.
  e = forbidden("secrets is forbidden: User \"bob\" cannot list resource \"secrets\" in API group \"\"");
  w = refused_in_workspace(e, "shop-dev");
  r = w.detail<Refusal>();
  REQUIRE(r);
  CHECK((r->user == "bob" && r->verb == "get" && r->resource == "configmaps" && r->workspace == "shop-dev"));
  CHECK(refused_in_workspace(e, "shop-dev", true).detail<Refusal>()->verb == "update");  // meant to change
  e = forbidden(
      "replicasets.apps is forbidden: User \"bob\" cannot list resource \"replicasets\" in API "
      "group \"apps\" in the namespace \"shop-dev\"");
  CHECK(refused_in_workspace(e, "shop-dev").detail<Refusal>()->resource == "deployments");
  // Not an app's part: the server's facts stay as they are. Not a 403: unchanged.
  e = forbidden(
      "endpointslices.discovery.k8s.io is forbidden: User \"alice\" cannot create resource "
      "\"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"shop-dev\"");
  CHECK(refused_in_workspace(e, "shop-dev").detail<Refusal>() == nullptr);
  CHECK(refused_in_workspace(e, "shop-dev").detail<wb::kube::Forbidden>()->resource == "endpointslices");
  wb::util::Error other(ErrorCode::Unavailable, "server down", "", 503);
  CHECK(refused_in_workspace(other, "x").message == "server down");
  CHECK(refused_in_workspace(other, "x").detail<Refusal>() == nullptr);
  // An app verb: create and delete stay what they are.
  auto d = refused_app(wb::util::Error(ErrorCode::Auth, "access denied", "", 403), "delete", "shop-dev");
  REQUIRE(d.detail<Refusal>());
  CHECK((d.detail<Refusal>()->verb == "delete" && d.detail<Refusal>()->resource == "deployments"));
  CHECK(d.detail<Refusal>()->user.empty());
}

TEST_CASE("change annotations", "[lifecycle]") {
  json d = deployment(1, kImageA);
  record_change(d, {"alice", "restart", ""});
  CHECK(d["metadata"]["annotations"]["kubernetes.io/change-cause"] == "restart");
  CHECK(d["metadata"]["annotations"]["wb.dev/changed-by"] == "alice");
  CHECK_FALSE(d["metadata"]["annotations"].contains("wb.dev/pipeline"));
  record_change(d, {"jdoe via ci", "set --cpu 1", "https://gitlab/p/1"});
  CHECK(d["metadata"]["annotations"]["wb.dev/pipeline"] == "https://gitlab/p/1");
  CHECK(replica_name("orders-7d9f8b6c5d-x2x9z", "orders") == "orders-x2x9z");
}
