// Tenant profiles and the resolved settings wb runs with.
//
// A profile (~/.config/wb/profiles/<name>.yaml) is written by the platform team: which tenant,
// workspace, registry, base images, route domain, tracing and defaults. Settings are resolved
// from layers, highest first: flag > environment (WB_*) > app file wb.yaml > profile (and the
// workspace chosen by `wb workspace use`) > built-in defaults. Each value remembers its source.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace wb::workbench {

using util::Result;
using util::Status;

// Where a resolved value came from.
enum class Source { Default, Profile, WorkspaceUse, AppFile, Environment, Flag };
const char* source_name(Source s);

// One known setting: its dotted key, what it holds, its built-in default ("" = none) and what it is for.
struct SettingInfo {
  enum class Type { String, Int, Bool, Map };
  std::string_view key;  // "registry.host"
  Type type = Type::String;
  std::string_view default_value;
  std::string_view description;
};

// Every setting a profile may hold, in documentation order. The one place a built-in default is
// declared: the getters of Settings fall back to it, `wb profile init` writes it, and the keys a
// program may read are checked against it when it is compiled (SettingKey).
inline constexpr SettingInfo kSettings[] = {
    {"name", SettingInfo::Type::String, "", "display name of the profile"},
    {"tenant", SettingInfo::Type::String, "", "the tenant (KubeSphere workspace) whose workspaces you use"},
    {"workspace", SettingInfo::Type::String, "", "default workspace (namespace) for apps"},
    {"kube.context", SettingInfo::Type::String, "", "kubeconfig context to use (default: the current one)"},
    {"registry.host", SettingInfo::Type::String, "",
     "registry host[:port] images are pushed to; empty = local OCI layout"},
    {"registry.project", SettingInfo::Type::String, "",
     "registry project (Harbor) or path prefix for app repositories"},
    {"registry.credentials", SettingInfo::Type::String, "docker",
     "where registry credentials come from: docker (docker/podman auth files), env (WB_REGISTRY_USER/PASSWORD)"},
    {"registry.ca", SettingInfo::Type::String, "", "CA certificate file for the registry's TLS"},
    {"registry.insecure", SettingInfo::Type::Bool, "false", "allow plain HTTP or unverified TLS to the registry"},
    {"registry.pullSecret", SettingInfo::Type::String, "", "image pull secret name set on apps"},
    {"push.compression", SettingInfo::Type::String, "auto",
     "how pushed layers are stored: auto (gzip a layer unless its bytes are compressed already, as dependency "
     "jars are), gzip, or none"},
    {"baseImages", SettingInfo::Type::Map, "",
     "base image by Java major version, e.g. baseImages: {\"17\": reg/java:17}"},
    {"route.domain", SettingInfo::Type::String, "", "apps get <app>.<workspace>.<domain> routes"},
    {"route.ingressClass", SettingInfo::Type::String, "", "ingress class of routes"},
    {"route.tlsSecret", SettingInfo::Type::String, "", "TLS secret for routes"},
    {"tracing.enabled", SettingInfo::Type::Bool, "false", "new apps trace with the base image's SkyWalking agent"},
    {"tracing.collector", SettingInfo::Type::String, "", "SkyWalking collector address (host:port)"},
    {"tracing.agentPath", SettingInfo::Type::String, "/skywalking/agent/skywalking-agent.jar",
     "agent jar inside the base image"},
    {"defaults.replicas", SettingInfo::Type::Int, "1", "replicas of a started app"},
    {"defaults.cpu", SettingInfo::Type::String, "500m", "CPU limit of an app"},
    {"defaults.memory", SettingInfo::Type::String, "1Gi", "memory limit of an app"},
    {"defaults.timezone", SettingInfo::Type::String, "", "TZ of containers; empty = the host's /etc/localtime"},
    {"defaults.maxRamPercentage", SettingInfo::Type::String, "75.0", "JVM heap as a percentage of the memory limit"},
    {"defaults.shutdownSeconds", SettingInfo::Type::Int, "45", "grace period for a replica to shut down"},
    {"defaults.preStopSleep", SettingInfo::Type::Int, "10", "seconds a replica keeps serving after it is told to stop"},
    {"defaults.preStopCommand", SettingInfo::Type::String, "sleep", "command in the image used for that wait"},
    {"defaults.cpuRequestPercent", SettingInfo::Type::Int, "25", "CPU request as a percentage of the CPU limit"},
    {"security.restricted", SettingInfo::Type::Bool, "true",
     "restricted security context (no privilege escalation, no capabilities)"},
    {"scheduling.spreadAcrossNodes", SettingInfo::Type::Bool, "true",
     "prefer putting an app's replicas on different nodes"},
    {"retention.images", SettingInfo::Type::Int, "10", "image versions kept per app"},
    {"retention.configs", SettingInfo::Type::Int, "10", "config versions kept per app"},
    {"retention.revisions", SettingInfo::Type::Int, "10", "revisions kept per app"},
    {"retention.auto", SettingInfo::Type::Bool, "false", "clean up after every successful push"},
    {"workspaces.quota.cpu", SettingInfo::Type::String, "8", "CPU quota of a new workspace (requests and limits)"},
    {"workspaces.quota.memory", SettingInfo::Type::String, "16Gi",
     "memory quota of a new workspace (requests and limits)"},
    {"workspaces.limits.cpu", SettingInfo::Type::String, "1", "default CPU limit of a container in a new workspace"},
    {"workspaces.limits.memory", SettingInfo::Type::String, "1Gi",
     "default memory limit of a container in a new workspace"},
    {"workspaces.limits.cpuRequest", SettingInfo::Type::String, "100m",
     "default CPU request of a container in a new workspace"},
    {"workspaces.limits.memoryRequest", SettingInfo::Type::String, "256Mi",
     "default memory request of a container in a new workspace"},
    {"workspaces.networkPolicy", SettingInfo::Type::Bool, "true",
     "new workspaces get a NetworkPolicy that keeps other tenants out"},
};

// Every setting a profile may hold, in documentation order.
inline std::span<const SettingInfo> known_settings() { return kSettings; }

namespace detail {
// The table's entry for `key`, which must be of `type`; anything else stops the compiler (a
// throw is not a constant expression).
consteval const SettingInfo* setting_entry(std::string_view key, SettingInfo::Type type) {
  for (const auto& info : kSettings)
    if (info.key == key) {
      if (info.type != type) throw "this setting is of another type";
      return &info;
    }
  throw "no such setting in kSettings";
}
}  // namespace detail

// A key of the settings table of type T, written as a string literal: `settings.get_int("retention.configs")`.
// A key the table does not hold, or a getter of another type, does not compile.
template <SettingInfo::Type T>
class SettingKey {
 public:
  consteval SettingKey(const char* key) : info_(detail::setting_entry(key, T)) {}
  constexpr const SettingInfo& info() const { return *info_; }
  std::string name() const { return std::string(info_->key); }

 private:
  const SettingInfo* info_;
};
using TextSetting = SettingKey<SettingInfo::Type::String>;
using IntSetting = SettingKey<SettingInfo::Type::Int>;
using BoolSetting = SettingKey<SettingInfo::Type::Bool>;
using MapSetting = SettingKey<SettingInfo::Type::Map>;

// The table's defaults at compile time, for the members of structs that a setting fills.
consteval std::string_view default_text(TextSetting key) { return key.info().default_value; }
consteval int default_int(IntSetting key) {
  int n = 0;
  for (char c : key.info().default_value) {
    if (c < '0' || c > '9') throw "not a whole number";
    n = n * 10 + (c - '0');
  }
  return n;
}
consteval bool default_bool(BoolSetting key) { return key.info().default_value == "true"; }

// The environment variable for a key: "registry.host" -> "WB_REGISTRY_HOST".
std::string env_name(const std::string& key);

// Flat key -> value; map settings (baseImages) use "baseImages.17" keys.
using SettingMap = std::map<std::string, std::string>;

// Parses a profile (or the settings part of wb.yaml) into flat keys, validating keys and types.
// Errors are Usage with "file:line:col: what is wrong" and a did-you-mean for unknown keys.
// `allow_extra_top` names top-level keys accepted and skipped (e.g. "app" in wb.yaml).
Result<SettingMap> parse_settings_yaml(const std::string& text, const std::string& file_name,
                                       const std::vector<std::string>& allow_extra_top = {});

struct ResolvedValue {
  std::string value;
  Source source = Source::Default;
  std::string origin;  // file path, variable name or flag
};

// The outcome of resolution. A setting no layer sets (or sets to "") reads as its default in kSettings.
class Settings {
 public:
  // The value; nullopt when it is empty (a setting without a default that nothing set).
  std::optional<std::string> get(TextSetting key) const;
  // The value, "" when it is empty.
  std::string text(TextSetting key) const;
  // The value as a number; the default when it is not one (values from files and the environment
  // are checked when they are read, so only set() can put one there).
  int get_int(IntSetting key) const;
  bool get_bool(BoolSetting key) const;
  // Entries of a map setting: "baseImages" -> {"17": ..., "21": ...}.
  std::map<std::string, std::string> get_map(MapSetting key) const;
  // The values some layer set (defaults too, after resolve_settings), by key, with their source.
  const std::map<std::string, ResolvedValue>& all() const { return values_; }
  void set(const std::string& key, ResolvedValue v) { values_[key] = std::move(v); }
  std::string profile_name;  // "" when no profile is in use

 private:
  // The value some layer set, else the default; "" when neither.
  std::string_view raw(const SettingInfo& info) const;
  std::map<std::string, ResolvedValue> values_;
};

// Paths of wb's configuration: $XDG_CONFIG_HOME/wb or ~/.config/wb.
struct ConfigDirs {
  std::filesystem::path root;
  std::filesystem::path profiles() const { return root / "profiles"; }
  std::filesystem::path state_file() const { return root / "config.yaml"; }
  std::filesystem::path profile_file(const std::string& name) const { return profiles() / (name + ".yaml"); }
};
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
ConfigDirs config_dirs(const EnvLookup& env);

// Local state kept by wb itself (config.yaml): the current profile and the workspace chosen by
// `wb workspace use` for each profile.
struct LocalState {
  std::string current_profile;
  std::map<std::string, std::string> workspace_by_profile;  // profile name ("" = none) -> workspace
};
Result<LocalState> load_state(const ConfigDirs& dirs);
Status save_state(const ConfigDirs& dirs, const LocalState& state);

// Names of the profiles on disk, sorted.
std::vector<std::string> list_profiles(const ConfigDirs& dirs);
// Validates a profile name (DNS-1123 label).
Status check_profile_name(const std::string& name);

struct ResolveInputs {
  std::string profile_flag;                 // --profile
  SettingMap flags;                         // values from flags (e.g. workspace from -w)
  EnvLookup env;
  std::filesystem::path cwd;                // where to look for wb.yaml (this dir, then parents up to a .git)
};

// Resolves settings from every layer. A named profile that does not exist is NotFound with the
// list of known ones; a malformed file is Usage with file:line:col.
Result<Settings> resolve_settings(const ResolveInputs& inputs);

// Finds wb.yaml in `cwd` or its parents, stopping at a directory with .git; nullopt if none.
std::optional<std::filesystem::path> find_app_file(const std::filesystem::path& cwd);

// Renders a profile file from flat settings (used by `wb profile init`), with comments.
std::string render_profile(const std::string& name, const SettingMap& values);

}  // namespace wb::workbench
