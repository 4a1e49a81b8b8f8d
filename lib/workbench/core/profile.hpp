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
#include <string>
#include <vector>

#include "util/result.hpp"

namespace wb::workbench {

using util::Result;
using util::Status;

// Where a resolved value came from.
enum class Source { Default, Profile, WorkspaceUse, AppFile, Environment, Flag };
const char* source_name(Source s);

// One known setting: its dotted key, what it holds, its default, and its WB_* variable.
struct SettingInfo {
  std::string key;          // "registry.host"
  enum class Type { String, Int, Bool, Map } type = Type::String;
  std::string default_value;
  std::string description;
};
// Every setting a profile may hold, in documentation order.
const std::vector<SettingInfo>& known_settings();
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

// The outcome of resolution.
class Settings {
 public:
  std::optional<std::string> get(const std::string& key) const;
  std::string get_or(const std::string& key, const std::string& fallback) const;
  int get_int(const std::string& key, int fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  // Entries of a map setting: prefix "baseImages" -> {"17": ..., "21": ...}.
  std::map<std::string, std::string> get_map(const std::string& prefix) const;
  const std::map<std::string, ResolvedValue>& all() const { return values_; }
  void set(const std::string& key, ResolvedValue v) { values_[key] = std::move(v); }
  std::string profile_name;  // "" when no profile is in use

 private:
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
