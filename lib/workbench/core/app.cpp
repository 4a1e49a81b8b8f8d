// AppSpec: reading wb.yaml's app section, merging layers, validating values, quantities.
#include "workbench/core/app.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>

#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string where(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0) return file;
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

std::optional<bool> parse_bool(const std::string& text) {
  std::string v = util::to_lower(text);
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

// Prefixes a value check's message with the place in the file.
Error at(const std::string& place, Error e) {
  e.message = place + ": " + e.message;
  return e;
}

const std::vector<std::string>& app_keys() {
  static const std::vector<std::string> keys = {"name",   "port",  "replicas",    "cpu",   "memory",
                                                "env",    "health", "trace",      "route", "description",
                                                "alias",  "java",  "springBoot"};
  return keys;
}

// A scalar's text, or a Usage error naming the key when it is a map or a list.
Result<std::string> scalar(const YAML::Node& value, const std::string& key, const std::string& file) {
  if (value.IsNull()) return std::string();
  if (!value.IsScalar())
    return Error(ErrorCode::Usage, fmt::format("{}: app.{} must be a single value", where(file, value.Mark()), key));
  return value.as<std::string>();
}

// `key: scalar` or `key: {sub: scalar}` (health: /ready or health: {path: /ready}).
Result<std::string> scalar_or_sub(const YAML::Node& value, const std::string& key, const std::string& sub,
                                  const std::string& file) {
  if (!value.IsMap()) return scalar(value, key, file);
  std::string out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string k = it->first.as<std::string>();
    if (k != sub)
      return Error(ErrorCode::Usage,
                   fmt::format("{}: unknown setting 'app.{}.{}' (app.{} has only '{}')", where(file, it->first.Mark()),
                               key, k, key, sub));
    WB_ASSIGN_OR_RETURN(out, scalar(it->second, key + "." + sub, file));
  }
  return out;
}

Status read_app_key(const std::string& key, const YAML::Node& value, const std::string& file, AppOverrides& o) {
  const std::string place = where(file, value.Mark());
  if (key == "env") {
    if (value.IsNull()) return {};
    if (!value.IsMap())
      return Error(ErrorCode::Usage,
                   fmt::format("{}: app.env must be a map of variables, e.g. env: {{SPRING_PROFILES_ACTIVE: prod}}", place));
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string name = it->first.as<std::string>();
      if (auto st = check_env_name(name); !st) return at(where(file, it->first.Mark()), st.error());
      WB_ASSIGN_OR_RETURN(auto v, scalar(it->second, "env." + name, file));
      auto same = std::find_if(o.env.begin(), o.env.end(), [&](const auto& e) { return e.first == name; });
      if (same != o.env.end())
        return Error(ErrorCode::Usage,
                     fmt::format("{}: app.env.{} is set twice", where(file, it->first.Mark()), name));
      o.env.emplace_back(name, v);
    }
    return {};
  }
  std::string text;
  if (key == "health") {
    WB_ASSIGN_OR_RETURN(text, scalar_or_sub(value, key, "path", file));
  } else if (key == "route") {
    WB_ASSIGN_OR_RETURN(text, scalar_or_sub(value, key, "host", file));
  } else {
    WB_ASSIGN_OR_RETURN(text, scalar(value, key, file));
  }
  if (value.IsNull() || (value.IsMap() && text.empty())) return {};  // `key:` with nothing: not set

  if (key == "name") {
    if (auto st = check_app_name(text); !st) return at(place, st.error());
    o.name = text;
  } else if (key == "port" || key == "replicas") {
    auto n = util::parse_int<int>(text, fmt::format("{}: app.{}", place, key), 0);
    if (!n) return n.error();
    if (auto st = key == "port" ? check_port(*n) : check_replicas(*n); !st) return at(place, st.error());
    (key == "port" ? o.port : o.replicas) = *n;
  } else if (key == "cpu") {
    if (auto st = check_cpu(text); !st) return at(place, st.error());
    o.cpu = text;
  } else if (key == "memory") {
    if (auto st = check_memory(text); !st) return at(place, st.error());
    o.memory = text;
  } else if (key == "health") {
    if (auto st = check_health_path(text); !st) return at(place, st.error());
    o.health_path = text;
  } else if (key == "trace" || key == "springBoot") {
    auto b = parse_bool(text);
    if (!b) return Error(ErrorCode::Usage, fmt::format("{}: app.{} must be true or false, not '{}'", place, key, text));
    (key == "trace" ? o.trace : o.spring_boot) = *b;
  } else if (key == "route") {
    if (!util::is_dns1123_subdomain(text))
      return Error(ErrorCode::Usage,
                   fmt::format("{}: app.route.host '{}' is not a host name (lower-case, e.g. orders.apps.example.com)",
                               place, text));
    o.route_host = text;
  } else if (key == "description") {
    o.description = text;
  } else if (key == "alias") {
    o.alias = text;
  } else if (key == "java") {
    if (!util::parse_int<int>(text, "", 0))
      return Error(ErrorCode::Usage, fmt::format("{}: app.java must be a Java major version such as 17, not '{}'",
                                                 place, text));
    o.java_version = text;
  }
  return {};
}

Status read_app_section(const YAML::Node& app, const std::string& file, AppOverrides& o) {
  for (auto it = app.begin(); it != app.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    const auto& keys = app_keys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string msg = fmt::format("{}: unknown setting 'app.{}'", where(file, it->first.Mark()), key);
      auto near = util::closest_match(key, keys);
      if (!near.empty()) msg += fmt::format(" (did you mean 'app.{}'?)", near);
      return Error(ErrorCode::Usage, msg,
                   "app settings: " + util::join(keys, ", "));
    }
    WB_TRY(read_app_key(key, it->second, file, o));
  }
  return {};
}

const char* kNameRule = "use lower-case letters, digits and '-', starting with a letter";

}  // namespace

Result<AppOverrides> parse_app_file(const std::string& text, const std::string& file_name) {
  AppOverrides o;
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return o;
    if (!root.IsMap())
      return Error(ErrorCode::Usage,
                   fmt::format("{}: expected a map of settings (key: value)", where(file_name, root.Mark())));
    YAML::Node app = root["app"];
    if (!app || app.IsNull()) return o;
    if (!app.IsMap())
      return Error(ErrorCode::Usage,
                   fmt::format("{}: app must be a map of app settings (name, port, cpu, memory, env, ...)",
                               where(file_name, app.Mark())));
    WB_TRY(read_app_section(app, file_name, o));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, fmt::format("{}: {}", where(file_name, e.mark), e.msg));
  }
  return o;
}

AppSpec merge_app_spec(const std::vector<const AppOverrides*>& layers) {
  AppSpec s;
  for (const AppOverrides* o : layers) {
    if (!o) continue;
    if (o->name) s.name = *o->name;
    if (o->port) s.port = *o->port;
    if (o->replicas) s.replicas = *o->replicas;
    if (o->cpu) s.cpu = *o->cpu;
    if (o->memory) s.memory = *o->memory;
    if (o->health_path) s.health_path = *o->health_path;
    if (o->trace) s.trace = *o->trace;
    if (o->route_host) s.route_host = *o->route_host;
    if (o->description) s.description = *o->description;
    if (o->alias) s.alias = *o->alias;
    if (o->spring_boot) s.spring_boot = *o->spring_boot;
    if (o->java_version) s.java_version = *o->java_version;
    for (const auto& [k, v] : o->env) {
      auto it = std::find_if(s.env.begin(), s.env.end(), [&](const auto& e) { return e.first == k; });
      if (it != s.env.end())
        it->second = v;  // keeps the first place, takes the later value
      else
        s.env.emplace_back(k, v);
    }
  }
  return s;
}

Status check_app_name(const std::string& name) {
  if (name.empty())
    return Error(ErrorCode::Usage, "the app needs a name",
                 "pass one (`wb app create orders`) or set app.name in wb.yaml");
  const bool letter_first = name[0] >= 'a' && name[0] <= 'z';
  if (!letter_first || !util::is_dns1123_label(name))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid app name: {}", name, kNameRule));
  if (name.size() > kMaxAppNameLength)
    return Error(ErrorCode::Usage,
                 fmt::format("app name '{}' is too long ({} characters): at most {}, so that wb can add suffixes such "
                             "as -config-v123",
                             name, name.size(), kMaxAppNameLength));
  return {};
}

Status check_port(int port) {
  if (port < 1 || port > 65535)
    return Error(ErrorCode::Usage, fmt::format("port {} is out of range: use 1 to 65535 (8080 is usual)", port));
  return {};
}

Status check_replicas(int replicas) {
  if (replicas < 0) return Error(ErrorCode::Usage, fmt::format("replicas must be 0 or more, not {}", replicas));
  return {};
}

Status check_cpu(const std::string& text) {
  auto q = parse_quantity(text);
  if (!q)
    return Error(ErrorCode::Usage,
                 fmt::format("cpu '{}' is not a Kubernetes quantity: use cores such as 500m, 1 or 1.5", text));
  if (text.size() > 1 && text[text.size() - 1] == 'i')
    return Error(ErrorCode::Usage, fmt::format("cpu '{}' looks like memory: use cores such as 500m, 1 or 1.5", text));
  if (q->value < 0.001L)
    return Error(ErrorCode::Usage, fmt::format("cpu '{}' is too little: use at least 1m (a thousandth of a core)", text));
  return {};
}

Status check_memory(const std::string& text) {
  auto q = parse_quantity(text);
  if (!q)
    return Error(ErrorCode::Usage,
                 fmt::format("memory '{}' is not a Kubernetes quantity: use bytes such as 512Mi, 1Gi or 1G", text));
  if (text.back() == 'm')
    return Error(ErrorCode::Usage,
                 fmt::format("memory '{}' means thousandths of a byte ('m' is milli): write {}Mi for mebibytes", text,
                             text.substr(0, text.size() - 1)));
  constexpr long double kMin = 32.0L * 1024 * 1024;
  if (q->value < kMin)
    return Error(ErrorCode::Usage,
                 fmt::format("memory '{}' is too little for a JVM ({:.0f} bytes): use at least 32Mi, e.g. 512Mi or 1Gi",
                             text, static_cast<double>(q->value)));
  return {};
}

Status check_env_name(const std::string& name) {
  auto ok_first = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto ok_rest = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (name.empty() || !ok_first(name[0]) || !std::all_of(name.begin() + 1, name.end(), ok_rest))
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' is not a valid environment variable name: use letters, digits and '_', not starting "
                             "with a digit",
                             name));
  return {};
}

Status check_health_path(const std::string& path) {
  if (path.empty() || path[0] != '/' ||
      std::any_of(path.begin(), path.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) || c == '#'; }))
    return Error(ErrorCode::Usage,
                 fmt::format("health path '{}' must be an HTTP path starting with '/', e.g. /healthz", path));
  return {};
}

Status validate_app_spec(const AppSpec& s) {
  WB_TRY(check_app_name(s.name));
  WB_TRY(check_port(s.port));
  if (s.replicas) WB_TRY(check_replicas(*s.replicas));
  if (!s.cpu.empty()) WB_TRY(check_cpu(s.cpu));
  if (!s.memory.empty()) WB_TRY(check_memory(s.memory));
  for (size_t i = 0; i < s.env.size(); ++i) {
    WB_TRY(check_env_name(s.env[i].first));
    for (size_t j = 0; j < i; ++j)
      if (s.env[j].first == s.env[i].first)
        return Error(ErrorCode::Usage, fmt::format("environment variable {} is set twice", s.env[i].first));
  }
  if (!s.health_path.empty()) WB_TRY(check_health_path(s.health_path));
  if (!s.route_host.empty() && !util::is_dns1123_subdomain(s.route_host))
    return Error(ErrorCode::Usage,
                 fmt::format("route host '{}' is not a host name (lower-case, e.g. orders.apps.example.com)",
                             s.route_host));
  if (s.description.size() > 256)
    return Error(ErrorCode::Usage, "the description is longer than 256 characters (KubeSphere's limit)");
  if (s.alias.size() > 63)
    return Error(ErrorCode::Usage, "the alias is longer than 63 characters (KubeSphere's limit)");
  if (!s.java_version.empty() && !util::parse_int<int>(s.java_version, "", 0))
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' is not a Java major version: use a number such as 17 or 21", s.java_version));
  return {};
}

std::optional<Quantity> parse_quantity(const std::string& text) {
  size_t i = 0;
  const size_t n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < n && is_digit(text[i])) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && is_digit(text[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  const std::string number = text.substr(0, i);
  const std::string suffix = text.substr(i);
  long double mult = 1;
  struct Suffix {
    const char* name;
    long double mult;
  };
  static const Suffix table[] = {
      {"", 1},         {"n", 1e-9L},    {"u", 1e-6L},    {"m", 1e-3L},    {"k", 1e3L},
      {"M", 1e6L},     {"G", 1e9L},     {"T", 1e12L},    {"P", 1e15L},    {"E", 1e18L},
      {"Ki", 0x1p10L}, {"Mi", 0x1p20L}, {"Gi", 0x1p30L}, {"Ti", 0x1p40L}, {"Pi", 0x1p50L}, {"Ei", 0x1p60L},
  };
  const Suffix* found = nullptr;
  for (const auto& s : table)
    if (suffix == s.name) found = &s;
  if (found) {
    mult = found->mult;
  } else if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j >= suffix.size() || suffix.size() - j > 3 ||
        !std::all_of(suffix.begin() + static_cast<long>(j), suffix.end(), is_digit))
      return std::nullopt;
    auto exponent = util::parse_int<int>(suffix.substr(suffix[1] == '+' ? 2 : 1), "");
    if (!exponent) return std::nullopt;
    mult = std::pow(10.0L, *exponent);
  } else {
    return std::nullopt;
  }
  auto value = util::parse_decimal(number[0] == '+' ? number.substr(1) : number, "");
  if (!value) return std::nullopt;
  Quantity q;
  q.value = *value * mult;
  q.text = text;
  return q;
}

std::string format_millicores(long long millicores) {
  if (millicores % 1000 == 0) return std::to_string(millicores / 1000);
  return std::to_string(millicores) + "m";
}

}  // namespace wb::workbench
