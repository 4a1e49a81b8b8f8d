#include "workbench/core/profile.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

#include "util/fs.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

const char* source_name(Source s) {
  switch (s) {
    case Source::Default:
      return "default";
    case Source::Profile:
      return "profile";
    case Source::WorkspaceUse:
      return "workspace use";
    case Source::AppFile:
      return "wb.yaml";
    case Source::Environment:
      return "env";
    case Source::Flag:
      return "flag";
  }
  return "default";
}

namespace {

const SettingInfo* find_setting(const std::string& key) {
  for (const auto& s : known_settings())
    if (s.key == key) return &s;
  return nullptr;
}

bool is_map_prefix(const std::string& key) {
  const auto* s = find_setting(key);
  return s && s->type == SettingInfo::Type::Map;
}

// True if some known key starts with "prefix."
bool is_section(const std::string& prefix) {
  for (const auto& s : known_settings())
    if (s.key.rfind(prefix + ".", 0) == 0) return true;
  return false;
}

std::vector<std::string> candidates_under(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& s : known_settings()) {
    if (prefix.empty()) {
      out.emplace_back(s.key.substr(0, s.key.find('.')));
    } else if (s.key.rfind(prefix + ".", 0) == 0) {
      out.emplace_back(s.key.substr(prefix.size() + 1));
    }
  }
  return out;
}

std::string where(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0) return file;
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

std::optional<bool> parse_bool(std::string v) {
  v = util::to_lower(v);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::nullopt;
}

Result<std::string> check_value(const SettingInfo& info, const std::string& key, const std::string& value,
                                const std::string& at) {
  if (info.type == SettingInfo::Type::Int) WB_TRY(util::parse_int<int>(value, fmt::format("{}: {}", at, key), 0));
  if (info.type == SettingInfo::Type::Bool) {
    auto b = parse_bool(value);
    if (!b) return Error(ErrorCode::Usage, fmt::format("{}: {} must be true or false, not '{}'", at, key, value));
    return std::string(*b ? "true" : "false");
  }
  return value;
}

Status walk(const YAML::Node& node, const std::string& prefix, const std::string& file,
            const std::vector<std::string>& allow_extra_top, SettingMap& out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const std::string at = where(file, it->first.Mark());
    if (prefix.empty() && std::find(allow_extra_top.begin(), allow_extra_top.end(), name) != allow_extra_top.end())
      continue;
    const YAML::Node value = it->second;
    if (is_map_prefix(key)) {
      if (value.IsNull()) continue;
      if (!value.IsMap())
        return Error(ErrorCode::Usage,
                     fmt::format("{}: {} must be a map, e.g. {}: {{\"17\": registry/java:17}}", at, key, key));
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m->second.IsScalar())
          return Error(ErrorCode::Usage, fmt::format("{}: {}.{} must be a text value", where(file, m->second.Mark()),
                                                     key, m->first.as<std::string>()));
        out[key + "." + m->first.as<std::string>()] = m->second.as<std::string>();
      }
      continue;
    }
    if (is_section(key)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return Error(ErrorCode::Usage, fmt::format("{}: {} must be a map of settings", at, key));
      WB_TRY(walk(value, key, file, allow_extra_top, out));
      continue;
    }
    const SettingInfo* info = find_setting(key);
    if (!info) {
      std::string msg = fmt::format("{}: unknown setting '{}'", at, key);
      auto near = util::closest_match(name, candidates_under(prefix));
      if (!near.empty()) msg += fmt::format(" (did you mean '{}'?)", prefix.empty() ? near : prefix + "." + near);
      return Error(ErrorCode::Usage, msg, "see `man wb-profile` for the settings a profile may hold");
    }
    if (value.IsNull()) continue;
    if (!value.IsScalar())
      return Error(ErrorCode::Usage, fmt::format("{}: {} must be a single value", where(file, value.Mark()), key));
    WB_ASSIGN_OR_RETURN(auto checked, check_value(*info, key, value.as<std::string>(), where(file, value.Mark())));
    out[key] = checked;
  }
  return {};
}

}  // namespace

std::string env_name(const std::string& key) {
  std::string out = "WB_";
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '.') {
      out += '_';
    } else if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += c;
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

Result<SettingMap> parse_settings_yaml(const std::string& text, const std::string& file_name,
                                       const std::vector<std::string>& allow_extra_top) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, fmt::format("{}: {}", where(file_name, e.mark), e.msg));
  }
  SettingMap out;
  if (root.IsNull()) return out;
  if (!root.IsMap())
    return Error(ErrorCode::Usage,
                 fmt::format("{}: expected a map of settings (key: value)", where(file_name, root.Mark())));
  try {
    WB_TRY(walk(root, "", file_name, allow_extra_top, out));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, fmt::format("{}: {}", where(file_name, e.mark), e.msg));
  }
  return out;
}

std::string_view Settings::raw(const SettingInfo& info) const {
  auto it = values_.find(std::string(info.key));
  if (it == values_.end() || it->second.value.empty()) return info.default_value;
  return it->second.value;
}

std::optional<std::string> Settings::get(TextSetting key) const {
  auto v = raw(key.info());
  if (v.empty()) return std::nullopt;
  return std::string(v);
}

std::string Settings::text(TextSetting key) const { return std::string(raw(key.info())); }

int Settings::get_int(IntSetting key) const {
  const SettingInfo& info = key.info();
  if (auto n = util::parse_int<int>(raw(info), info.key, 0)) return *n;
  return util::parse_int<int>(info.default_value, info.key, 0).value();
}

bool Settings::get_bool(BoolSetting key) const {
  const SettingInfo& info = key.info();
  if (auto b = parse_bool(std::string(raw(info)))) return *b;
  return parse_bool(std::string(info.default_value)).value();
}

std::map<std::string, std::string> Settings::get_map(MapSetting key) const {
  const std::string prefix = key.name() + ".";
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : values_)
    if (k.rfind(prefix, 0) == 0 && !v.value.empty()) out[k.substr(prefix.size())] = v.value;
  return out;
}

ConfigDirs config_dirs(const EnvLookup& env) {
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && !xdg->empty()) return {std::filesystem::path(*xdg) / "wb"};
  auto home = env("HOME");
  return {std::filesystem::path(home.value_or("/")) / ".config" / "wb"};
}

Result<LocalState> load_state(const ConfigDirs& dirs) {
  LocalState state;
  auto text = util::read_file(dirs.state_file());
  if (!text) {
    if (text.error().code == ErrorCode::NotFound) return state;
    return text.error();
  }
  try {
    YAML::Node root = YAML::Load(*text);
    if (root["currentProfile"]) state.current_profile = root["currentProfile"].as<std::string>();
    if (auto ws = root["workspaces"]; ws && ws.IsMap())
      for (auto it = ws.begin(); it != ws.end(); ++it)
        state.workspace_by_profile[it->first.as<std::string>()] = it->second.as<std::string>();
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, fmt::format("{}: {}", where(dirs.state_file().string(), e.mark), e.msg),
                 "fix or remove that file; it only holds the current profile and workspace");
  }
  return state;
}

Status save_state(const ConfigDirs& dirs, const LocalState& state) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "currentProfile" << YAML::Value << state.current_profile;
  if (!state.workspace_by_profile.empty()) {
    out << YAML::Key << "workspaces" << YAML::Value << YAML::BeginMap;
    for (const auto& [p, w] : state.workspace_by_profile) out << YAML::Key << p << YAML::Value << w;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return util::write_file_atomic(dirs.state_file(), std::string(out.c_str()) + "\n", 0600);
}

std::vector<std::string> list_profiles(const ConfigDirs& dirs) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dirs.profiles(), ec)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status check_profile_name(const std::string& name) {
  if (!util::is_dns1123_label(name))
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' is not a valid profile name: use lower-case letters, digits and '-'", name));
  return {};
}

std::optional<std::filesystem::path> find_app_file(const std::filesystem::path& cwd) {
  std::error_code ec;
  for (auto dir = cwd; !dir.empty(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "wb.yaml", ec)) return dir / "wb.yaml";
    if (std::filesystem::exists(dir / ".git", ec) || dir == dir.parent_path()) break;
  }
  return std::nullopt;
}

namespace {

// The profile asked for: --profile, then WB_PROFILE, then the current one; `origin` names where
// it came from.
struct ChosenProfile {
  std::string name;
  std::string origin = "--profile";
};

ChosenProfile chosen_profile(const ResolveInputs& in, const LocalState& state) {
  ChosenProfile c;
  c.name = in.profile_flag;
  if (c.name.empty()) {
    if (auto p = in.env("WB_PROFILE"); p && !p->empty()) {
      c.name = *p;
      c.origin = "WB_PROFILE";
    }
  }
  if (c.name.empty()) c.name = state.current_profile;
  return c;
}

// A path instead of a name (it has a '/' or ends in .yaml/.yml): the profile file itself, e.g. a
// GitLab CI/CD variable of type File, whose value is the path of a temporary file.
bool names_a_file(const std::string& profile) {
  auto ends = [&](const std::string& suffix) {
    return profile.size() > suffix.size() &&
           profile.compare(profile.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return profile.find('/') != std::string::npos || ends(".yaml") || ends(".yml");
}

// Sets the values of the profile file `text` read from `path`.
Status set_from_profile(Settings& s, const std::string& text, const std::filesystem::path& path) {
  WB_ASSIGN_OR_RETURN(auto values, parse_settings_yaml(text, path.string()));
  for (auto& [k, v] : values) s.set(k, {v, Source::Profile, path.string()});
  return {};
}

// Reads the chosen profile into `s`, with the workspace `wb workspace use` remembered for it.
Status apply_profile(Settings& s, const ResolveInputs& in, const ConfigDirs& dirs, const LocalState& state) {
  const ChosenProfile profile = chosen_profile(in, state);
  if (!profile.name.empty() && names_a_file(profile.name)) {
    std::filesystem::path path = util::expand_home(profile.name);
    if (path.is_relative() && !in.cwd.empty()) path = in.cwd / path;
    auto text = util::read_file(path);
    if (!text) {
      if (text.error().code != ErrorCode::NotFound) return text.error();
      return Error(ErrorCode::NotFound, fmt::format("profile file {} not found ({})", path.string(), profile.origin),
                   "point " + profile.origin + " at a profile file, or name a profile in " + dirs.profiles().string());
    }
    WB_TRY(set_from_profile(s, *text, path));
    s.profile_name = path.stem().string();
  } else if (!profile.name.empty()) {
    auto path = dirs.profile_file(profile.name);
    auto text = util::read_file(path);
    if (!text) {
      if (text.error().code != ErrorCode::NotFound) return text.error();
      auto known = list_profiles(dirs);
      return Error(ErrorCode::NotFound,
                   fmt::format("profile '{}' not found (known: {})", profile.name,
                               known.empty() ? "none" : util::join(known, ", ")),
                   "create it with `wb profile init " + profile.name + "`");
    }
    WB_TRY(set_from_profile(s, *text, path));
    s.profile_name = profile.name;
  }
  if (auto it = state.workspace_by_profile.find(profile.name); it != state.workspace_by_profile.end())
    s.set("workspace", {it->second, Source::WorkspaceUse, dirs.state_file().string()});
  return {};
}

// Reads the app section of the wb.yaml found from `cwd` up, if any.
Status apply_app_file(Settings& s, const std::filesystem::path& cwd) {
  if (cwd.empty()) return {};
  auto app_file = find_app_file(cwd);
  if (!app_file) return {};
  WB_ASSIGN_OR_RETURN(auto text, util::read_file(*app_file));
  WB_ASSIGN_OR_RETURN(auto values, parse_settings_yaml(text, app_file->string(), {"app"}));
  for (auto& [k, v] : values) s.set(k, {v, Source::AppFile, app_file->string()});
  return {};
}

// Reads the WB_* variables of the settings (maps have none).
Status apply_environment(Settings& s, const ResolveInputs& in) {
  for (const auto& info : known_settings()) {
    if (info.type == SettingInfo::Type::Map) continue;
    const std::string key(info.key);
    auto var = env_name(key);
    if (auto v = in.env(var); v && !v->empty()) {
      WB_ASSIGN_OR_RETURN(auto checked, check_value(info, key, *v, var));
      s.set(key, {checked, Source::Environment, var});
    }
  }
  return {};
}

}  // namespace

Result<Settings> resolve_settings(const ResolveInputs& in) {
  Settings s;
  for (const auto& info : known_settings())
    if (!info.default_value.empty())
      s.set(std::string(info.key), {std::string(info.default_value), Source::Default, "built-in"});
  const ConfigDirs dirs = config_dirs(in.env);
  WB_ASSIGN_OR_RETURN(LocalState state, load_state(dirs));
  WB_TRY(apply_profile(s, in, dirs, state));
  WB_TRY(apply_app_file(s, in.cwd));
  WB_TRY(apply_environment(s, in));
  for (const auto& [k, v] : in.flags)
    if (!v.empty()) s.set(k, {v, Source::Flag, "--" + k});
  return s;
}

std::string render_profile(const std::string& name, const SettingMap& values) {
  std::string out = fmt::format("# wb tenant profile '{}'. See `man wb-profile` for every setting.\n", name);
  std::string section;
  for (const auto& info : known_settings()) {
    const std::string key(info.key);
    auto dot = key.find('.');
    std::string sec = dot == std::string::npos ? "" : key.substr(0, dot);
    std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
    if (info.type == SettingInfo::Type::Map) {
      out += fmt::format("# {}\n{}:\n", info.description, info.key);
      bool any = false;
      for (const auto& [k, v] : values)
        if (k.rfind(key + ".", 0) == 0) {
          out += fmt::format("  \"{}\": {}\n", k.substr(info.key.size() + 1), v);
          any = true;
        }
      if (!any) out += "  # \"17\": registry.example.com/base/java:17\n";
      section.clear();
      continue;
    }
    if (sec != section) {
      if (!sec.empty()) out += sec + ":\n";
      section = sec;
    }
    std::string indent = sec.empty() ? "" : "  ";
    auto it = values.find(key);
    if (it != values.end()) {
      YAML::Emitter scalar;
      scalar << YAML::DoubleQuoted << it->second;
      out += fmt::format("{}{}: {}   # {}\n", indent, leaf, scalar.c_str(), info.description);
    } else {
      out += fmt::format("{}# {}: {}   # {}\n", indent, leaf, info.default_value, info.description);
    }
  }
  return out;
}

}  // namespace wb::workbench
