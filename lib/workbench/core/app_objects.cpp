// An app's Kubernetes objects: the Deployment and the Service, with the platform defaults.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

namespace {

constexpr const char* kPortName = "http";
constexpr const char* kTmpVolume = "tmp";
constexpr const char* kHostTimeVolume = "host-time";  // the name KubeSphere's console gives it

// A label value from free text ("1.0.0+build.7" -> "1.0.0_build.7"): at most 63 characters of
// [A-Za-z0-9._-], alphanumeric at both ends; "" if nothing is left.
std::string label_value(const std::string& text) {
  std::string v;
  for (char c : text) v += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  if (v.size() > 63) v.resize(63);
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  while (!v.empty() && !alnum(v.back())) v.pop_back();
  size_t start = 0;
  while (start < v.size() && !alnum(v[start])) ++start;
  return v.substr(start);
}

json app_labels(const AppSpec& spec, const BuildContext& ctx) {
  json l = app_selector(spec.name);
  l[labels::kManagedBy] = labels::kManagedByWb;
  if (auto v = label_value(ctx.version); !v.empty()) l[labels::kVersion] = v;
  return l;
}

json app_annotations(const AppSpec& spec, const BuildContext& ctx) {
  json a = json::object();
  if (!ctx.creator.empty()) a[labels::kCreator] = ctx.creator;
  if (!spec.alias.empty()) a[labels::kAlias] = spec.alias;
  if (!spec.description.empty()) a[labels::kDescription] = spec.description;
  return a;
}

json object_metadata(const AppSpec& spec, const BuildContext& ctx) {
  json m = {{"name", spec.name}, {"namespace", spec.workspace}, {"labels", app_labels(spec, ctx)}};
  if (auto a = app_annotations(spec, ctx); !a.empty()) m["annotations"] = a;
  return m;
}

// The base image for the spec's Java version, else the newest one the profile names.
Result<std::string> image_for(const AppSpec& spec, const Settings& settings) {
  if (!spec.image.empty()) return spec.image;
  const auto bases = settings.get_map("baseImages");
  if (!spec.java_version.empty()) {
    if (auto it = bases.find(spec.java_version); it != bases.end()) return it->second;
    if (bases.empty()) return std::string(kNoImageYet);
    std::vector<std::string> known;
    for (const auto& [k, v] : bases) known.push_back(k);
    std::stable_sort(known.begin(), known.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;  // numeric order for version numbers
    });
    return Error(ErrorCode::Usage,
                 fmt::format("the profile has no base image for Java {} (it has: {})", spec.java_version,
                             util::join(known, ", ")),
                 "ask your platform team to add it to baseImages, or pick one of those");
  }
  std::string best;
  long best_version = -1;
  for (const auto& [k, v] : bases) {
    auto n = util::parse_int<long>(k, "");
    if (n && *n > best_version) {
      best_version = *n;
      best = v;
    }
  }
  return best.empty() ? std::string(kNoImageYet) : best;
}

// A quantity from the spec, else from the profile; Usage error naming where a bad one came from.
Result<std::string> quantity_for(const std::string& from_spec, const Settings& settings, TextSetting key,
                                 Status (*check)(const std::string&)) {
  if (!from_spec.empty()) {
    WB_TRY(check(from_spec));
    return from_spec;
  }
  std::string v = settings.text(key);
  if (auto st = check(v); !st) {
    auto e = st.error();
    e.message = fmt::format("{} (setting {})", e.message, key.name());
    e.hint = "fix it in the profile (`wb profile show --resolved` shows where it comes from)";
    return e;
  }
  return v;
}

json probe(const json& handler, int period, int timeout, int failures) {
  json p = handler;
  p["periodSeconds"] = period;
  p["timeoutSeconds"] = timeout;
  p["failureThreshold"] = failures;
  p["successThreshold"] = 1;
  return p;
}

// Readiness, liveness and startup probes: a custom path wins; Spring Boot uses the actuator's
// health groups (enabled by Spring Boot on Kubernetes); anything else: the port accepts connections.
void add_probes(json& c, const AppSpec& spec) {
  auto http = [](const std::string& path) {
    return json{{"httpGet", {{"path", path}, {"port", kPortName}, {"scheme", "HTTP"}}}};
  };
  json ready, live;
  if (!spec.health_path.empty()) {
    ready = live = http(spec.health_path);
  } else if (spec.spring_boot) {
    ready = http("/actuator/health/readiness");
    live = http("/actuator/health/liveness");
  } else {
    ready = live = json{{"tcpSocket", {{"port", kPortName}}}};
  }
  c["readinessProbe"] = probe(ready, 10, 3, 3);
  c["livenessProbe"] = probe(live, 10, 3, 3);
  // A JVM may take minutes to start: liveness only begins once this passes (up to 5 minutes).
  c["startupProbe"] = probe(live, 5, 3, 60);
}

// Environment: platform variables first (JAVA_TOOL_OPTIONS, TZ, SkyWalking), then the app's own.
// An app variable of the same name replaces the platform's value, except JAVA_TOOL_OPTIONS,
// which is appended (later JVM options win).
json container_env(const AppSpec& spec, const Settings& settings, bool tracing, std::vector<std::string>& warnings) {
  std::vector<std::pair<std::string, std::string>> env;
  std::string tool_options = fmt::format("-XX:MaxRAMPercentage={}", settings.text("defaults.maxRamPercentage"));
  if (tracing) tool_options += " -javaagent:" + settings.text("tracing.agentPath");
  env.emplace_back("JAVA_TOOL_OPTIONS", tool_options);
  if (auto tz = settings.get("defaults.timezone")) env.emplace_back("TZ", *tz);
  if (tracing) {
    env.emplace_back("SW_AGENT_NAME", spec.workspace + "::" + spec.name);
    if (auto collector = settings.get("tracing.collector"))
      env.emplace_back("SW_AGENT_COLLECTOR_BACKEND_SERVICES", *collector);
    else
      warnings.push_back(
          "tracing is on but the profile names no tracing.collector: the agent reports to its built-in default");
  }
  for (const auto& [k, v] : spec.env) {
    auto it = std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == k; });
    if (it == env.end())
      env.emplace_back(k, v);
    else if (k == "JAVA_TOOL_OPTIONS")
      it->second += v.empty() ? "" : " " + v;
    else
      it->second = v;
  }
  json out = json::array();
  for (const auto& [k, v] : env) out.push_back({{"name", k}, {"value", v}});
  return out;
}

json security_context(const Settings& settings, const BuildContext& ctx) {
  if (!settings.get_bool("security.restricted")) return nullptr;
  json sc = {{"allowPrivilegeEscalation", false},
             {"capabilities", {{"drop", json::array({"ALL"})}}},
             {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  if (ctx.image_user_non_root.value_or(false)) sc["runAsNonRoot"] = true;
  return sc;
}

// Requests: all of the memory (a JVM's heap is sized from the limit and must not be squeezed),
// a share of the CPU limit (startup bursts use the rest).
json resources_for(const std::string& cpu, const std::string& memory, const Settings& settings) {
  const long long cpu_limit_m = static_cast<long long>(std::ceil(parse_quantity(cpu)->value * 1000.0L - 1e-9L));
  const int request_percent = std::clamp(settings.get_int("defaults.cpuRequestPercent"), 1, 100);
  const long long cpu_request_m = std::max(1LL, (cpu_limit_m * request_percent + 99) / 100);
  return {{"limits", {{"cpu", cpu}, {"memory", memory}}},
          {"requests", {{"cpu", format_millicores(cpu_request_m)}, {"memory", memory}}}};
}

// Graceful shutdown: keep serving while endpoints and ingresses forget the pod, then SIGTERM.
struct Shutdown {
  int pre_stop = 0;  // seconds the preStop hook sleeps
  int grace = 0;     // terminationGracePeriodSeconds
};

Shutdown shutdown_of(const Settings& settings) {
  Shutdown s;
  s.pre_stop = std::max(0, settings.get_int("defaults.preStopSleep"));
  s.grace = std::max(s.pre_stop + 1, settings.get_int("defaults.shutdownSeconds"));
  return s;
}

// Whether the pod mounts the node's /etc/localtime (no timezone setting).
bool host_time(const Settings& settings) { return !settings.get("defaults.timezone"); }

// The app's container: image, port, env, resources, probes, the preStop hook, its mounts.
json container_for(const AppSpec& spec, const Settings& settings, const BuildContext& ctx, const std::string& image,
                   json env, json resources) {
  json container = {
      {"name", spec.name},
      {"image", image},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports", json::array({{{"name", kPortName}, {"containerPort", spec.port}, {"protocol", "TCP"}}})},
      {"env", std::move(env)},
      {"resources", std::move(resources)},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
  };
  add_probes(container, spec);
  if (const int pre_stop = shutdown_of(settings).pre_stop; pre_stop > 0)
    container["lifecycle"] = {
        {"preStop",
         {{"exec", {{"command", json::array({settings.text("defaults.preStopCommand"), std::to_string(pre_stop)})}}}}}};
  if (auto sc = security_context(settings, ctx); !sc.is_null()) container["securityContext"] = sc;
  json mounts = json::array({{{"name", kTmpVolume}, {"mountPath", "/tmp"}}});
  if (host_time(settings))
    mounts.push_back({{"name", kHostTimeVolume}, {"mountPath", "/etc/localtime"}, {"readOnly", true}});
  container["volumeMounts"] = mounts;
  return container;
}

// The pod around the container: volumes, shutdown grace, pull secret, spreading across nodes.
json pod_spec_for(json container, const Settings& settings, const json& selector) {
  json volumes = json::array({{{"name", kTmpVolume}, {"emptyDir", json::object()}}});
  if (host_time(settings))
    volumes.push_back({{"name", kHostTimeVolume}, {"hostPath", {{"path", "/etc/localtime"}, {"type", ""}}}});
  json pod_spec = {
      {"containers", json::array({std::move(container)})},
      {"volumes", volumes},
      {"terminationGracePeriodSeconds", shutdown_of(settings).grace},
  };
  if (auto secret = settings.get("registry.pullSecret"))
    pod_spec["imagePullSecrets"] = json::array({{{"name", *secret}}});
  if (settings.get_bool("scheduling.spreadAcrossNodes"))
    pod_spec["affinity"] = {{"podAntiAffinity",
                             {{"preferredDuringSchedulingIgnoredDuringExecution",
                               json::array({{{"weight", 100},
                                             {"podAffinityTerm",
                                              {{"labelSelector", {{"matchLabels", selector}}},
                                               {"topologyKey", "kubernetes.io/hostname"}}}}})}}}};
  return pod_spec;
}

}  // namespace

json app_selector(const std::string& app) { return {{labels::kName, app}, {labels::kApp, app}}; }

Result<AppObjects> build_objects(const AppSpec& spec, const Settings& settings, const BuildContext& ctx) {
  AppObjects out;
  WB_ASSIGN_OR_RETURN(auto image, image_for(spec, settings));
  WB_ASSIGN_OR_RETURN(auto cpu, quantity_for(spec.cpu, settings, "defaults.cpu", &check_cpu));
  WB_ASSIGN_OR_RETURN(auto memory, quantity_for(spec.memory, settings, "defaults.memory", &check_memory));
  const bool tracing = spec.trace.value_or(settings.get_bool("tracing.enabled"));
  const json selector = app_selector(spec.name);
  json container = container_for(spec, settings, ctx, image, container_env(spec, settings, tracing, out.warnings),
                                 resources_for(cpu, memory, settings));

  out.deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", object_metadata(spec, ctx)},
      {"spec",
       {{"replicas", ctx.replicas.value_or(0)},
        {"revisionHistoryLimit", std::max(0, settings.get_int("retention.revisions"))},
        {"selector", {{"matchLabels", selector}}},
        {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", 0}}}}},
        {"template",
         {{"metadata", {{"labels", app_labels(spec, ctx)}}},
          {"spec", pod_spec_for(std::move(container), settings, selector)}}}}},
  };

  out.service = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", object_metadata(spec, ctx)},
      {"spec",
       {{"type", "ClusterIP"},
        {"selector", selector},
        {"ports", json::array({{{"name", kPortName},
                                {"appProtocol", "http"},
                                {"protocol", "TCP"},
                                {"port", spec.port},
                                {"targetPort", spec.port}}})}}},
  };
  return out;
}

bool made_by_wb(const json& obj) {
  return fields::meta_string(obj, "labels", labels::kManagedBy) == labels::kManagedByWb;
}

std::string made_for_app(const std::string& app) {
  return fmt::format("{}={},{}={}", labels::kName, app, labels::kManagedBy, labels::kManagedByWb);
}

}  // namespace wb::workbench
