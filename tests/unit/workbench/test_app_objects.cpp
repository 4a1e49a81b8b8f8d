// The Deployment and Service of an app, field by field.
#include <catch2/catch.hpp>

#include <functional>

#include "workbench/core/app.hpp"

using namespace wb::workbench;
using wb::util::ErrorCode;

namespace {

// Settings as resolve_settings gives them with no profile: the built-in defaults.
Settings default_settings() {
  Settings s;
  for (const auto& info : known_settings())
    if (!info.default_value.empty())
      s.set(std::string(info.key), {std::string(info.default_value), Source::Default, "built-in"});
  return s;
}

void set(Settings& s, const std::string& key, const std::string& value) { s.set(key, {value, Source::Profile, "test"}); }

AppSpec orders() {
  AppSpec spec;
  spec.name = "orders";
  spec.workspace = "shop-dev";
  return spec;
}

AppObjects build(const AppSpec& spec, const Settings& settings, const BuildContext& ctx = {}) {
  auto r = build_objects(spec, settings, ctx);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  return *r;
}

const json& container_of(const AppObjects& o) { return o.deployment["spec"]["template"]["spec"]["containers"][0]; }

// The value of an env variable, or nullopt.
std::optional<std::string> env_of(const json& container, const std::string& name) {
  for (const auto& e : container["env"])
    if (e["name"] == name) return e["value"].get<std::string>();
  return std::nullopt;
}

std::vector<std::string> env_names(const json& container) {
  std::vector<std::string> out;
  for (const auto& e : container["env"]) out.push_back(e["name"]);
  return out;
}

// Every key anywhere in a JSON document.
void walk_keys(const json& j, const std::function<void(const std::string&)>& f) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      f(it.key());
      walk_keys(it.value(), f);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) walk_keys(e, f);
  }
}

}  // namespace

TEST_CASE("deployment shape: created stopped, strategy, history, selector", "[workbench][app]") {
  auto o = build(orders(), default_settings());
  const json& d = o.deployment;
  CHECK(d["apiVersion"] == "apps/v1");
  CHECK(d["kind"] == "Deployment");
  CHECK(d["metadata"]["name"] == "orders");
  CHECK(d["metadata"]["namespace"] == "shop-dev");
  CHECK(d["spec"]["replicas"] == 0);
  CHECK(d["spec"]["revisionHistoryLimit"] == 10);
  CHECK(d["spec"]["selector"] == json{{"matchLabels", {{"app", "orders"}, {"app.kubernetes.io/name", "orders"}}}});
  CHECK(d["spec"]["strategy"] ==
        json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", 0}}}});
  CHECK(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45);
  CHECK(o.warnings.empty());

  BuildContext started;
  started.replicas = 3;
  CHECK(build(orders(), default_settings(), started).deployment["spec"]["replicas"] == 3);

  Settings s = default_settings();
  set(s, "retention.revisions", "4");
  CHECK(build(orders(), s).deployment["spec"]["revisionHistoryLimit"] == 4);
}

TEST_CASE("labels and annotations; never app.kubernetes.io/instance", "[workbench][app]") {
  AppSpec spec = orders();
  spec.alias = "Orders API";
  spec.description = "Takes orders";
  BuildContext ctx;
  ctx.creator = "alice";
  ctx.version = "1.4.0+build.7";
  auto o = build(spec, default_settings(), ctx);
  const json expected_labels = {{"app", "orders"},
                                {"app.kubernetes.io/name", "orders"},
                                {"app.kubernetes.io/managed-by", "wb"},
                                {"app.kubernetes.io/version", "1.4.0_build.7"}};
  const json expected_annotations = {{"kubesphere.io/creator", "alice"},
                                     {"kubesphere.io/alias-name", "Orders API"},
                                     {"kubesphere.io/description", "Takes orders"}};
  for (const json* obj : {&o.deployment, &o.service}) {
    CHECK((*obj)["metadata"]["labels"] == expected_labels);
    CHECK((*obj)["metadata"]["annotations"] == expected_annotations);
  }
  CHECK(o.deployment["spec"]["template"]["metadata"]["labels"] == expected_labels);
  for (const json* obj : {&o.deployment, &o.service})
    walk_keys(*obj, [](const std::string& key) { CHECK(key != "app.kubernetes.io/instance"); });

  // Unknown version and creator, no alias or description: left out rather than empty.
  auto bare = build(orders(), default_settings());
  CHECK_FALSE(bare.deployment["metadata"]["labels"].contains("app.kubernetes.io/version"));
  CHECK_FALSE(bare.deployment["metadata"].contains("annotations"));
  CHECK_FALSE(bare.service["metadata"].contains("annotations"));
}

TEST_CASE("what wb made carries managed-by=wb, and the selector of an app's objects says so", "[workbench][app]") {
  auto objs = build(orders(), default_settings());
  CHECK(made_by_wb(objs.deployment));
  CHECK(made_by_wb(objs.service));
  CHECK_FALSE(made_by_wb(json{{"metadata", {{"labels", {{"app.kubernetes.io/managed-by", "Helm"}}}}}}));
  CHECK_FALSE(made_by_wb(json::object()));
  CHECK(made_for_app("orders") == "app.kubernetes.io/name=orders,app.kubernetes.io/managed-by=wb");
}

TEST_CASE("restricted security context; runAsNonRoot only for a non-root image", "[workbench][app]") {
  auto o = build(orders(), default_settings());
  const json& sc = container_of(o)["securityContext"];
  CHECK(sc["allowPrivilegeEscalation"] == false);
  CHECK(sc["capabilities"] == json{{"drop", {"ALL"}}});
  CHECK(sc["seccompProfile"] == json{{"type", "RuntimeDefault"}});
  CHECK_FALSE(sc.contains("runAsNonRoot"));

  BuildContext non_root;
  non_root.image_user_non_root = true;
  CHECK(container_of(build(orders(), default_settings(), non_root))["securityContext"]["runAsNonRoot"] == true);
  BuildContext root;
  root.image_user_non_root = false;
  CHECK_FALSE(container_of(build(orders(), default_settings(), root))["securityContext"].contains("runAsNonRoot"));

  Settings relaxed = default_settings();
  set(relaxed, "security.restricted", "false");
  CHECK_FALSE(container_of(build(orders(), relaxed)).contains("securityContext"));
}

TEST_CASE("probes: TCP for plain apps, actuator groups for Spring Boot, a custom path wins", "[workbench][app]") {
  auto plain = container_of(build(orders(), default_settings()));
  CHECK(plain["readinessProbe"]["tcpSocket"] == json{{"port", "http"}});
  CHECK(plain["livenessProbe"]["tcpSocket"] == json{{"port", "http"}});
  CHECK(plain["startupProbe"]["tcpSocket"] == json{{"port", "http"}});
  CHECK_FALSE(plain["readinessProbe"].contains("httpGet"));
  CHECK(plain["startupProbe"]["failureThreshold"] == 60);

  AppSpec boot = orders();
  boot.spring_boot = true;
  auto sb = container_of(build(boot, default_settings()));
  CHECK(sb["readinessProbe"]["httpGet"] ==
        json{{"path", "/actuator/health/readiness"}, {"port", "http"}, {"scheme", "HTTP"}});
  CHECK(sb["livenessProbe"]["httpGet"]["path"] == "/actuator/health/liveness");
  CHECK(sb["startupProbe"]["httpGet"]["path"] == "/actuator/health/liveness");
  CHECK_FALSE(sb["readinessProbe"].contains("tcpSocket"));

  boot.health_path = "/healthz";
  auto custom = container_of(build(boot, default_settings()));
  CHECK(custom["readinessProbe"]["httpGet"]["path"] == "/healthz");
  CHECK(custom["livenessProbe"]["httpGet"]["path"] == "/healthz");
}

TEST_CASE("container: image, port, shutdown, /tmp, JVM heap", "[workbench][app]") {
  AppSpec spec = orders();
  spec.port = 8081;
  spec.image = "harbor.example.com/shop/orders@sha256:" + std::string(64, 'a');
  auto o = build(spec, default_settings());
  const json& c = container_of(o);
  CHECK(c["name"] == "orders");
  CHECK(c["image"] == spec.image);
  CHECK(c["imagePullPolicy"] == "IfNotPresent");
  CHECK(c["ports"] == json::array({{{"name", "http"}, {"containerPort", 8081}, {"protocol", "TCP"}}}));
  CHECK(c["lifecycle"]["preStop"]["exec"]["command"] == json{"sleep", "10"});
  CHECK(c["volumeMounts"][0] == json{{"name", "tmp"}, {"mountPath", "/tmp"}});
  const json& pod = o.deployment["spec"]["template"]["spec"];
  CHECK(pod["volumes"][0] == json{{"name", "tmp"}, {"emptyDir", json::object()}});
  CHECK(env_of(c, "JAVA_TOOL_OPTIONS") == "-XX:MaxRAMPercentage=75.0");
  CHECK(env_names(c).front() == "JAVA_TOOL_OPTIONS");
}

TEST_CASE("image placeholder: the base image for the Java version, else the newest, else wb.invalid", "[workbench][app]") {
  CHECK(container_of(build(orders(), default_settings()))["image"] == kNoImageYet);
  Settings s = default_settings();
  set(s, "baseImages.17", "reg/java:17");
  set(s, "baseImages.21", "reg/java:21");
  set(s, "baseImages.8", "reg/java:8");
  CHECK(container_of(build(orders(), s))["image"] == "reg/java:21");
  AppSpec old = orders();
  old.java_version = "17";
  CHECK(container_of(build(old, s))["image"] == "reg/java:17");
  old.java_version = "11";
  auto r = build_objects(old, s, {});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::Usage);
  CHECK_THAT(r.error().message, Catch::Contains("no base image for Java 11") && Catch::Contains("8, 17, 21"));
}

TEST_CASE("anti-affinity spreads pods across nodes (preferred, weight 100)", "[workbench][app]") {
  auto o = build(orders(), default_settings());
  const json& aff = o.deployment["spec"]["template"]["spec"]["affinity"];
  CHECK_FALSE(aff["podAntiAffinity"].contains("requiredDuringSchedulingIgnoredDuringExecution"));
  const json& terms = aff["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
  REQUIRE(terms.size() == 1);
  CHECK(terms[0]["weight"] == 100);
  CHECK(terms[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname");
  CHECK(terms[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] ==
        o.deployment["spec"]["selector"]["matchLabels"]);
  Settings off = default_settings();
  set(off, "scheduling.spreadAcrossNodes", "false");
  CHECK_FALSE(build(orders(), off).deployment["spec"]["template"]["spec"].contains("affinity"));
}

TEST_CASE("resources: the spec wins over profile defaults; memory request = limit", "[workbench][app]") {
  auto d = container_of(build(orders(), default_settings()))["resources"];
  CHECK(d["limits"] == json{{"cpu", "500m"}, {"memory", "1Gi"}});
  CHECK(d["requests"] == json{{"cpu", "125m"}, {"memory", "1Gi"}});

  Settings s = default_settings();
  set(s, "defaults.cpu", "2");
  set(s, "defaults.memory", "2Gi");
  auto p = container_of(build(orders(), s))["resources"];
  CHECK(p["limits"] == json{{"cpu", "2"}, {"memory", "2Gi"}});
  CHECK(p["requests"]["cpu"] == "500m");

  AppSpec spec = orders();
  spec.cpu = "1.5";
  spec.memory = "768Mi";
  auto r = container_of(build(spec, s))["resources"];
  CHECK(r["limits"] == json{{"cpu", "1.5"}, {"memory", "768Mi"}});
  CHECK(r["requests"] == json{{"cpu", "375m"}, {"memory", "768Mi"}});

  Settings broken = default_settings();
  set(broken, "defaults.memory", "lots");
  auto err = build_objects(orders(), broken, {});
  REQUIRE_FALSE(err);
  CHECK(err.error().code == ErrorCode::Usage);
  CHECK_THAT(err.error().message, Catch::Contains("defaults.memory"));
}

TEST_CASE("time: host /etc/localtime read-only, or TZ from the profile instead", "[workbench][app]") {
  auto host = build(orders(), default_settings());
  const json& c = container_of(host);
  CHECK(c["volumeMounts"][1] == json{{"name", "host-time"}, {"mountPath", "/etc/localtime"}, {"readOnly", true}});
  CHECK(host.deployment["spec"]["template"]["spec"]["volumes"][1] ==
        json{{"name", "host-time"}, {"hostPath", {{"path", "/etc/localtime"}, {"type", ""}}}});
  CHECK_FALSE(env_of(c, "TZ"));

  Settings s = default_settings();
  set(s, "defaults.timezone", "Asia/Shanghai");
  auto tz = build(orders(), s);
  CHECK(env_of(container_of(tz), "TZ") == "Asia/Shanghai");
  CHECK(container_of(tz)["volumeMounts"].size() == 1);
  CHECK(tz.deployment["spec"]["template"]["spec"]["volumes"].size() == 1);
}

TEST_CASE("pull secret from the profile", "[workbench][app]") {
  CHECK_FALSE(build(orders(), default_settings()).deployment["spec"]["template"]["spec"].contains("imagePullSecrets"));
  Settings s = default_settings();
  set(s, "registry.pullSecret", "harbor-pull");
  CHECK(build(orders(), s).deployment["spec"]["template"]["spec"]["imagePullSecrets"] ==
        json::array({{{"name", "harbor-pull"}}}));
}

TEST_CASE("tracing: agent, service name and collector when on; nothing when off", "[workbench][app]") {
  Settings s = default_settings();
  set(s, "tracing.collector", "skywalking-oap.tracing:11800");
  AppSpec spec = orders();
  spec.trace = true;
  auto on = container_of(build(spec, s));
  CHECK(env_of(on, "JAVA_TOOL_OPTIONS") ==
        "-XX:MaxRAMPercentage=75.0 -javaagent:/skywalking/agent/skywalking-agent.jar");
  CHECK(env_of(on, "SW_AGENT_NAME") == "shop-dev::orders");
  CHECK(env_of(on, "SW_AGENT_COLLECTOR_BACKEND_SERVICES") == "skywalking-oap.tracing:11800");

  spec.trace = false;
  set(s, "tracing.enabled", "true");
  auto off = container_of(build(spec, s));
  CHECK(env_of(off, "JAVA_TOOL_OPTIONS") == "-XX:MaxRAMPercentage=75.0");
  CHECK_FALSE(env_of(off, "SW_AGENT_NAME"));
  CHECK_FALSE(env_of(off, "SW_AGENT_COLLECTOR_BACKEND_SERVICES"));

  spec.trace.reset();  // unset: the profile decides
  set(s, "tracing.agentPath", "/opt/sw/agent.jar");
  CHECK(env_of(container_of(build(spec, s)), "JAVA_TOOL_OPTIONS") ==
        "-XX:MaxRAMPercentage=75.0 -javaagent:/opt/sw/agent.jar");

  Settings no_collector = default_settings();
  spec.trace = true;
  auto warned = build(spec, no_collector);
  CHECK_FALSE(env_of(container_of(warned), "SW_AGENT_COLLECTOR_BACKEND_SERVICES"));
  REQUIRE(warned.warnings.size() == 1);
  CHECK_THAT(warned.warnings[0], Catch::Contains("tracing.collector"));
}

TEST_CASE("app env comes after the platform's; JAVA_TOOL_OPTIONS appends, others replace", "[workbench][app]") {
  Settings s = default_settings();
  set(s, "defaults.timezone", "UTC");
  AppSpec spec = orders();
  spec.env = {{"SPRING_PROFILES_ACTIVE", "prod"}, {"JAVA_TOOL_OPTIONS", "-Xss512k"}, {"TZ", "Europe/Berlin"}};
  auto c = container_of(build(spec, s));
  CHECK(env_names(c) == std::vector<std::string>{"JAVA_TOOL_OPTIONS", "TZ", "SPRING_PROFILES_ACTIVE"});
  CHECK(env_of(c, "JAVA_TOOL_OPTIONS") == "-XX:MaxRAMPercentage=75.0 -Xss512k");
  CHECK(env_of(c, "TZ") == "Europe/Berlin");
}

TEST_CASE("service: ClusterIP, port http with appProtocol, same selector", "[workbench][app]") {
  AppSpec spec = orders();
  spec.port = 8081;
  auto o = build(spec, default_settings());
  const json& svc = o.service;
  CHECK(svc["apiVersion"] == "v1");
  CHECK(svc["kind"] == "Service");
  CHECK(svc["metadata"]["name"] == "orders");
  CHECK(svc["metadata"]["namespace"] == "shop-dev");
  CHECK(svc["spec"]["type"] == "ClusterIP");
  CHECK(svc["spec"]["selector"] == o.deployment["spec"]["selector"]["matchLabels"]);
  CHECK(svc["spec"]["ports"] == json::array({{{"name", "http"},
                                              {"appProtocol", "http"},
                                              {"protocol", "TCP"},
                                              {"port", 8081},
                                              {"targetPort", 8081}}}));
}

TEST_CASE("building is deterministic", "[workbench][app]") {
  AppSpec spec = orders();
  spec.env = {{"B", "1"}, {"A", "2"}};
  CHECK(build(spec, default_settings()).deployment.dump() == build(spec, default_settings()).deployment.dump());
}
