// Apps: what a developer asks for (AppSpec, from `wb.yaml` and flags) and the Kubernetes objects
// that run it (a Deployment and a ClusterIP Service) with the platform's defaults filled in.
//
// An app is created stopped (0 replicas) and gets its image from `wb push`. The defaults the
// developer never chooses (restricted security context, probes, graceful shutdown, JVM heap from
// the memory limit, spreading across nodes, time zone, pull secret, tracing) come from here and
// from the tenant profile. Pure functions: no I/O, no printing.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.hpp"
#include "workbench/core/profile.hpp"

namespace wb::workbench {

using json = nlohmann::json;

// App names are DNS-1123 labels starting with a letter (a Service name must), at most this long:
// 63 minus room for the suffixes wb derives from them ("-config-v123", "-7d9f8b6c5d-x2x9z").
constexpr size_t kMaxAppNameLength = 47;
constexpr int kDefaultAppPort = 8080;

// Labels and annotations of app objects (see DESIGN.md "Objects we create").
namespace labels {
inline constexpr const char* kName = "app.kubernetes.io/name";
inline constexpr const char* kVersion = "app.kubernetes.io/version";
inline constexpr const char* kManagedBy = "app.kubernetes.io/managed-by";
inline constexpr const char* kApp = "app";
inline constexpr const char* kCreator = "kubesphere.io/creator";
inline constexpr const char* kAlias = "kubesphere.io/alias-name";
inline constexpr const char* kDescription = "kubesphere.io/description";
// The value of kManagedBy on everything wb makes.
inline constexpr const char* kManagedByWb = "wb";
}  // namespace labels

// True for an object wb made (labelled app.kubernetes.io/managed-by=wb).
bool made_by_wb(const json& obj);
// The label selector of what wb made for an app: "app.kubernetes.io/name=APP,app.kubernetes.io/managed-by=wb".
std::string made_for_app(const std::string& app);

// The image of an app that has had no `wb push` yet when the profile names no base image. It is
// never pulled (the app is stopped) and cannot be: `.invalid` is a reserved top-level domain.
inline constexpr const char* kNoImageYet = "wb.invalid/no-image-pushed-yet:0";

// Everything a developer may say about an app. Optional fields left empty take the profile's
// defaults when objects are built.
struct AppSpec {
  std::string name;
  std::string workspace;                           // namespace
  int port = kDefaultAppPort;                      // the container's HTTP port
  std::optional<int> replicas;                     // replicas when started (`wb app start`); unset = defaults.replicas
  std::string cpu;                                 // CPU limit ("500m"); "" = defaults.cpu
  std::string memory;                              // memory limit ("1Gi"); "" = defaults.memory
  std::vector<std::pair<std::string, std::string>> env;  // in order, names unique
  std::string health_path;                         // HTTP path for probes; "" = by framework
  std::optional<bool> trace;                       // unset = tracing.enabled
  std::string route_host;                          // public host name of the route; "" = none/derived
  std::string description;
  std::string alias;                               // display name in the KubeSphere console
  bool spring_boot = false;                        // probes use the actuator health groups
  std::string image;                               // reference, pinned by digest after a push; "" = placeholder
  std::string java_version;                        // "17"; picks the base image; "" = newest in baseImages
};

// What one source (wb.yaml or the flags) says; unset fields leave the value below them alone.
struct AppOverrides {
  std::optional<std::string> name;
  std::optional<int> port;
  std::optional<int> replicas;
  std::optional<std::string> cpu;
  std::optional<std::string> memory;
  std::vector<std::pair<std::string, std::string>> env;  // merged by name: a later source wins per name
  std::optional<std::string> health_path;
  std::optional<bool> trace;
  std::optional<std::string> route_host;
  std::optional<std::string> description;
  std::optional<std::string> alias;
  std::optional<bool> spring_boot;
  std::optional<std::string> java_version;
};

// Reads the `app:` section of a wb.yaml (other top-level keys are settings, read by
// parse_settings_yaml). Keys: name, port, replicas, cpu, memory, env (map), health (a path, or
// {path: ...}), trace (bool), route (a host, or {host: ...}), description, alias, java, springBoot.
// Values are checked as they are read; errors are Usage "file:line:col: what is wrong", with a
// did-you-mean for unknown keys. No `app:` section gives empty overrides.
Result<AppOverrides> parse_app_file(const std::string& text, const std::string& file_name);

// The spec from the built-in defaults with each layer applied in order (e.g. {file, flags}: flags win).
AppSpec merge_app_spec(const std::vector<const AppOverrides*>& layers);

// Checks of single values; each returns Usage with a message naming the value and the rule.
Status check_app_name(const std::string& name);
Status check_port(int port);
Status check_replicas(int replicas);
Status check_cpu(const std::string& quantity);
Status check_memory(const std::string& quantity);
Status check_env_name(const std::string& name);
Status check_health_path(const std::string& path);
// All of the above on a whole spec (empty cpu/memory are fine: the profile fills them in).
Status validate_app_spec(const AppSpec& spec);

// A Kubernetes resource quantity ("500m", "1.5", "1Gi", "512Mi", "1G", "2e3").
struct Quantity {
  long double value = 0;  // in base units (cores, bytes)
  std::string text;       // as written
};
// Parses the Kubernetes quantity grammar: sign, digits with an optional fraction, then a binary
// (Ki..Ei), decimal (n u m k M G T P E) or exponent (e3) suffix. nullopt if malformed.
std::optional<Quantity> parse_quantity(const std::string& text);
// "0.25" cores -> "250m"; whole cores print as "2".
std::string format_millicores(long long millicores);

// Facts known only when the objects are built, not from the spec.
struct BuildContext {
  std::string creator;                      // the user creating it ("" = unknown): kubesphere.io/creator
  std::string version;                      // app.kubernetes.io/version ("" = unknown, label left out)
  std::optional<bool> image_user_non_root;  // from the image config; true sets runAsNonRoot
  std::optional<int> replicas;              // spec.replicas to write; unset = 0 (created stopped)
};

struct AppObjects {
  json deployment;                     // apps/v1 Deployment
  json service;                        // v1 Service
  std::vector<std::string> warnings;   // things the user should know (e.g. tracing without a collector)
};

// Builds the app's Deployment and Service. Settings read (their defaults are in kSettings):
// registry.pullSecret, baseImages.*, tracing.enabled/collector/agentPath,
// defaults.cpu/memory/timezone/maxRamPercentage/cpuRequestPercent, defaults.shutdownSeconds
// (terminationGracePeriodSeconds), defaults.preStopSleep/preStopCommand, security.restricted,
// scheduling.spreadAcrossNodes, retention.revisions.
// Usage error if a quantity (from the spec or the profile) is malformed.
Result<AppObjects> build_objects(const AppSpec& spec, const Settings& settings, const BuildContext& context);

// The selector of an app's pods (immutable in a Deployment, so kept minimal).
json app_selector(const std::string& app);

}  // namespace wb::workbench
