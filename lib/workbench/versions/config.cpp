// The pure parts of versioned config: parsing and checking inputs, building a version's objects,
// reading them back, pointing a pod template at a version, diffs and retention.
#include "workbench/versions/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <regex>

#include "util/encoding.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/yaml.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

namespace {

using fields::at;
using fields::meta_string;

bool has_extension(const std::string& name, std::initializer_list<const char*> exts) {
  std::string lower = util::to_lower(name);
  for (const char* e : exts) {
    std::string ext = e;
    if (lower.size() > ext.size() && lower.compare(lower.size() - ext.size(), ext.size(), ext) == 0) return true;
  }
  return false;
}

json version_metadata(const std::string& name, const std::string& app, const std::string& ns, int n,
                      const VersionMeta& meta) {
  json m = {
      {"name", name},
      {"namespace", ns},
      {"labels",
       {{labels::kName, app}, {labels::kManagedBy, labels::kManagedByWb}, {kConfigVersionLabel, std::to_string(n)}}}};
  json a = json::object();
  if (!meta.who.empty()) a[annotations::kChangedBy] = meta.who;
  if (!meta.cause.empty()) a[annotations::kChangeCause] = meta.cause;
  if (!meta.change.empty()) a[kConfigChangeAnnotation] = meta.change;
  if (!a.empty()) m["annotations"] = a;
  return m;
}

std::optional<int> parse_number(const std::string& s) {
  auto n = util::parse_int<int>(s, "", 0);
  return n ? std::optional<int>(*n) : std::nullopt;
}

}  // namespace

std::string config_map_name(const std::string& app, int version) { return fmt::format("{}-config-v{}", app, version); }
std::string config_secret_name(const std::string& app, int version) {
  return fmt::format("{}-secret-v{}", app, version);
}

Status check_config_key(const std::string& key) {
  static const std::regex valid("^[A-Za-z_][A-Za-z0-9_]*$");
  if (!std::regex_match(key, valid))
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' cannot be an environment variable name (letters, digits and _, not starting "
                             "with a digit)",
                             key));
  return {};
}

Status check_config_file_name(const std::string& name) {
  static const std::regex valid("^[-._a-zA-Z0-9]+$");
  if (!std::regex_match(name, valid) || name == "." || name == ".." || name.size() > 253)
    return Error(ErrorCode::Usage,
                 fmt::format("'{}' cannot be a config file name (letters, digits, '-', '_', '.')", name));
  if (name.find('.') == std::string::npos || name.front() == '.' || name.back() == '.')
    return Error(
        ErrorCode::Usage,
        fmt::format("config file '{}' needs an extension (application.yml, application.properties, ...)", name));
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> parse_env_file(const std::string& text,
                                                                        const std::string& file_name) {
  std::vector<std::pair<std::string, std::string>> out;
  int line_no = 0;
  for (std::string line : util::split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string t = util::trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = util::trim(t.substr(7));
    auto bad = [&](const std::string& what) {
      return Error(ErrorCode::Usage, fmt::format("{}:{}: {}", file_name, line_no, what));
    };
    auto eq = t.find('=');
    if (eq == std::string::npos) return bad("expected KEY=VALUE");
    std::string key = util::trim(t.substr(0, eq));
    if (auto st = check_config_key(key); !st) return bad(st.error().message);
    std::string rest = util::trim(t.substr(eq + 1));
    std::string value;
    if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
      const char q = rest[0];
      size_t i = 1;
      bool closed = false;
      for (; i < rest.size(); ++i) {
        char c = rest[i];
        if (c == q) {
          closed = true;
          break;
        }
        if (q == '"' && c == '\\' && i + 1 < rest.size()) {
          char n = rest[++i];
          value += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
          continue;
        }
        value += c;
      }
      if (!closed) return bad(fmt::format("the value of {} has no closing {}", key, q));
      std::string after = util::trim(rest.substr(i + 1));
      if (!after.empty() && after[0] != '#')
        return bad(fmt::format("unexpected text after the quoted value of {}", key));
    } else {
      auto hash = rest.find(" #");
      value = util::trim(hash == std::string::npos ? rest : rest.substr(0, hash));
    }
    out.emplace_back(key, value);
  }
  return out;
}

Status check_properties(const std::string& text, const std::string& file_name) {
  int line_no = 0;
  bool continued = false;
  for (std::string line : util::split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const bool was_continued = continued;
    size_t backslashes = 0;
    for (auto it = line.rbegin(); it != line.rend() && *it == '\\'; ++it) ++backslashes;
    continued = backslashes % 2 == 1;
    std::string t = util::trim(line);
    auto bad = [&](const std::string& what) {
      return Error(ErrorCode::Usage, fmt::format("{}:{}: {}", file_name, line_no, what));
    };
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      if (t[i] != '\\') continue;
      if (t[i + 1] == 'u') {
        if (i + 6 > t.size() ||
            !std::all_of(t.begin() + static_cast<long>(i) + 2, t.begin() + static_cast<long>(i) + 6, ::isxdigit))
          return bad("malformed \\uXXXX escape");
      }
      ++i;
    }
    if (was_continued || t.empty() || t[0] == '#' || t[0] == '!') continue;
    if (t[0] == '=' || t[0] == ':') return bad("a property with no name");
  }
  return {};
}

Status check_yaml(const std::string& text, const std::string& file_name) {
  WB_TRY(util::parse_yaml(text, file_name, "fix the file; nothing was changed"));
  return {};
}

Status check_config_file(const std::string& name, const std::string& text, const std::string& shown_path) {
  WB_TRY(check_config_file_name(name));
  if (has_extension(name, {".yml", ".yaml"})) return check_yaml(text, shown_path);
  if (has_extension(name, {".properties"})) return check_properties(text, shown_path);
  if (has_extension(name, {".json"})) {
    if (!json::accept(text)) return Error(ErrorCode::Usage, fmt::format("{}: not valid JSON", shown_path));
  }
  return {};
}

Result<ConfigContent> apply_config_change(const ConfigContent& base, const ConfigChange& change,
                                          const std::string& app) {
  ConfigContent c = change.replace_with ? *change.replace_with : base;
  for (const auto& key : change.unset) {
    size_t n = c.env.erase(key) + c.secrets.erase(key) + c.files.erase(key);
    if (n == 0)
      return Error(ErrorCode::Usage, fmt::format("app '{}' has no config entry or file '{}' to unset", app, key),
                   fmt::format("`wb config get {}` lists them", app));
  }
  for (const auto& [key, value] : change.set) {
    WB_TRY(check_config_key(key));
    c.env.erase(key);
    c.secrets.erase(key);
    (change.secret ? c.secrets : c.env)[key] = value;
  }
  for (const auto& [name, text] : change.files) {
    WB_TRY(check_config_file(name, text, name));
    c.files[name] = text;
  }
  return c;
}

std::string describe_config_change(const ConfigChange& change) {
  std::vector<std::string> parts;
  std::vector<std::string> keys;
  for (const auto& kv : change.set) keys.push_back(kv.first);
  if (!keys.empty()) parts.push_back((change.secret ? "set secret " : "set ") + util::join(keys, ", "));
  std::vector<std::string> files;
  for (const auto& f : change.files) files.push_back(f.first);
  if (!files.empty()) parts.push_back("file " + util::join(files, ", "));
  if (!change.unset.empty()) parts.push_back("unset " + util::join(change.unset, ", "));
  if (parts.empty() && change.replace_with) return "the content of an earlier version";
  return util::join(parts, "; ");
}

Status check_config_size(const ConfigContent& c) {
  size_t cm = 0, secret = 0;
  for (const auto& [k, v] : c.env) cm += k.size() + v.size();
  for (const auto& [k, v] : c.files) cm += k.size() + (v.size() + 2) / 3 * 4;
  for (const auto& [k, v] : c.secrets) secret += k.size() + (v.size() + 2) / 3 * 4;
  const size_t biggest = std::max(cm, secret);
  if (biggest > kMaxConfigBytes)
    return Error(ErrorCode::Usage,
                 fmt::format("the config would take {} bytes; a version may hold at most 1 MiB ({} bytes)", biggest,
                             kMaxConfigBytes),
                 "keep large files in the image or an external store; nothing was changed");
  return {};
}

json config_map_object(const std::string& app, const std::string& ns, int n, const ConfigContent& c,
                       const VersionMeta& meta, bool immutable) {
  json obj = {{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", version_metadata(config_map_name(app, n), app, ns, n, meta)}};
  if (!c.secrets.empty()) obj["metadata"]["annotations"][kConfigSecretAnnotation] = config_secret_name(app, n);
  json data = json::object();
  for (const auto& [k, v] : c.env) data[k] = v;
  json binary = json::object();
  for (const auto& [k, v] : c.files) binary[k] = util::base64_encode(v);
  obj["data"] = data;
  if (!binary.empty()) obj["binaryData"] = binary;
  if (immutable) obj["immutable"] = true;
  return obj;
}

json config_secret_object(const std::string& app, const std::string& ns, int n, const ConfigContent& c,
                          const VersionMeta& meta, bool immutable) {
  if (c.secrets.empty()) return nullptr;
  json obj = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"type", "Opaque"},
              {"metadata", version_metadata(config_secret_name(app, n), app, ns, n, meta)}};
  json data = json::object();
  for (const auto& [k, v] : c.secrets) data[k] = util::base64_encode(v);
  obj["data"] = data;
  if (immutable) obj["immutable"] = true;
  return obj;
}

int config_version_number(const json& object, const std::string& app) {
  if (auto n = parse_number(meta_string(object, "labels", kConfigVersionLabel))) return *n;
  const std::string name =
      at(object, "/metadata/name").is_string() ? at(object, "/metadata/name").get<std::string>() : "";
  for (const char* middle : {"-config-v", "-secret-v"}) {
    std::string prefix = app + middle;
    if (name.rfind(prefix, 0) == 0)
      if (auto n = parse_number(name.substr(prefix.size()))) return *n;
  }
  return 0;
}

ConfigVersion config_version_from(const json& cm, const json& secret) {
  ConfigVersion v;
  const std::string app = meta_string(cm, "labels", labels::kName);
  v.number = config_version_number(cm, app);
  v.when =
      at(cm, "/metadata/creationTimestamp").is_string() ? at(cm, "/metadata/creationTimestamp").get<std::string>() : "";
  v.who = meta_string(cm, "annotations", annotations::kChangedBy);
  v.cause = meta_string(cm, "annotations", annotations::kChangeCause);
  v.change = meta_string(cm, "annotations", kConfigChangeAnnotation);
  for (const auto& [k, val] : at(cm, "/data").items())
    if (val.is_string()) v.content.env[k] = val.get<std::string>();
  for (const auto& [k, val] : at(cm, "/binaryData").items())
    if (val.is_string()) v.content.files[k] = util::base64_decode(val.get<std::string>()).value_or("");
  if (secret.is_object()) {
    for (const auto& [k, val] : at(secret, "/data").items())
      if (val.is_string()) v.content.secrets[k] = util::base64_decode(val.get<std::string>()).value_or("");
  }
  return v;
}

int referenced_config_version(const json& pod_template, const std::string& app) {
  const std::string v = config_version(pod_template, app);
  return v.size() > 1 ? parse_number(v.substr(1)).value_or(0) : 0;
}

void point_template_to_config(json& tmpl, const std::string& app, int n, const ConfigContent& content) {
  const std::regex ours("^" + app + "-(config|secret)-v[0-9]+$");
  auto is_ours = [&](const json& name) { return name.is_string() && std::regex_match(name.get<std::string>(), ours); };
  json& spec = tmpl["spec"];
  std::set<std::string> dropped_volumes;
  // The config volume and its mount keep their place and what else they hold (the server's
  // defaultMode): only what they point at changes, so a manifest in git changes by the names.
  json old_volume;
  size_t volume_at = 0;
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    json kept = json::array();
    for (const auto& v : spec["volumes"]) {
      const std::string name = v.value("name", "");
      if (name == kConfigVolume || is_ours(at(v, "/configMap/name")) || is_ours(at(v, "/secret/secretName"))) {
        dropped_volumes.insert(name);
        if (name == kConfigVolume && old_volume.is_null() && at(v, "/configMap").is_object()) {
          old_volume = v;
          volume_at = kept.size();
        }
        continue;
      }
      kept.push_back(v);
    }
    spec["volumes"] = kept;
  }
  if (!content.files.empty()) {
    json items = json::array();
    for (const auto& [name, text] : content.files) items.push_back({{"key", name}, {"path", name}});
    json volume = old_volume.is_null() ? json{{"name", kConfigVolume}, {"configMap", json::object()}} : old_volume;
    volume["configMap"]["name"] = config_map_name(app, n);
    volume["configMap"]["items"] = items;
    if (old_volume.is_null())
      spec["volumes"].push_back(volume);
    else
      spec["volumes"].insert(spec["volumes"].begin() + static_cast<std::ptrdiff_t>(volume_at), volume);
  }
  if (!spec.contains("containers") || !spec["containers"].is_array()) return;
  json* c = nullptr;
  for (auto& x : spec["containers"])
    if (x.value("name", "") == app) c = &x;
  if (!c && spec["containers"].size() == 1) c = &spec["containers"][0];
  if (!c) return;
  json env_from = json::array();
  for (const auto& f : c->value("envFrom", json::array()))
    if (!is_ours(at(f, "/configMapRef/name")) && !is_ours(at(f, "/secretRef/name"))) env_from.push_back(f);
  env_from.push_back({{"configMapRef", {{"name", config_map_name(app, n)}}}});
  if (!content.secrets.empty()) env_from.push_back({{"secretRef", {{"name", config_secret_name(app, n)}}}});
  (*c)["envFrom"] = env_from;
  json mounts = json::array();
  json old_mount;
  size_t mount_at = 0;
  for (const auto& m : c->value("volumeMounts", json::array())) {
    if (m.value("name", "") == kConfigVolume && old_mount.is_null()) {
      old_mount = m;
      mount_at = mounts.size();
    }
    if (!dropped_volumes.count(m.value("name", "")) && m.value("name", "") != kConfigVolume) mounts.push_back(m);
  }
  if (!content.files.empty()) {
    json mount = old_mount.is_null() ? json{{"name", kConfigVolume}} : old_mount;
    mount["mountPath"] = kConfigMountPath;
    mount["readOnly"] = true;
    if (old_mount.is_null())
      mounts.push_back(mount);
    else
      mounts.insert(mounts.begin() + static_cast<std::ptrdiff_t>(mount_at), mount);
  }
  (*c)["volumeMounts"] = mounts;
}

std::vector<std::string> line_diff(const std::string& from, const std::string& to, size_t context) {
  auto a = util::split(from, '\n');
  auto b = util::split(to, '\n');
  if (!a.empty() && a.back().empty()) a.pop_back();
  if (!b.empty() && b.back().empty()) b.pop_back();
  const size_t n = a.size(), m = b.size();
  std::vector<std::string> ops;  // full edit script
  if (n * m > 4'000'000) {
    for (const auto& l : a) ops.push_back("- " + l);
    for (const auto& l : b) ops.push_back("+ " + l);
  } else {
    std::vector<std::vector<unsigned>> lcs(n + 1, std::vector<unsigned>(m + 1, 0));
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] == b[j]) {
        ops.push_back("  " + a[i]);
        ++i, ++j;
      } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        ops.push_back("- " + a[i++]);
      } else {
        ops.push_back("+ " + b[j++]);
      }
    }
  }
  std::vector<bool> keep(ops.size(), false);
  for (size_t k = 0; k < ops.size(); ++k) {
    if (ops[k][0] == ' ') continue;
    size_t lo = k >= context ? k - context : 0;
    for (size_t x = lo; x < ops.size() && x <= k + context; ++x) keep[x] = true;
  }
  std::vector<std::string> out;
  bool gap = false;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!keep[k]) {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out.push_back("  ...");
    gap = false;
    out.push_back(ops[k]);
  }
  return out;
}

std::vector<ConfigDiffEntry> diff_config(const ConfigContent& from, const ConfigContent& to) {
  std::vector<ConfigDiffEntry> out;
  auto compare = [&](const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b,
                     const char* what) {
    const bool secret = std::string(what) == "secret";
    const bool file = std::string(what) == "file";
    for (const auto& [k, v] : a) {
      auto it = b.find(k);
      ConfigDiffEntry e;
      e.what = what;
      e.name = k;
      if (it == b.end()) {
        e.kind = ConfigDiffEntry::Kind::Removed;
        if (!secret && !file) e.old_value = v;
      } else if (it->second != v) {
        e.kind = ConfigDiffEntry::Kind::Changed;
        if (file)
          e.lines = line_diff(v, it->second);
        else if (!secret)
          e.old_value = v, e.new_value = it->second;
      } else {
        continue;
      }
      out.push_back(std::move(e));
    }
    for (const auto& [k, v] : b) {
      if (a.count(k)) continue;
      ConfigDiffEntry e;
      e.kind = ConfigDiffEntry::Kind::Added;
      e.what = what;
      e.name = k;
      if (!secret && !file) e.new_value = v;
      if (file) e.lines = line_diff("", v);
      out.push_back(std::move(e));
    }
  };
  compare(from.env, to.env, "env");
  compare(from.secrets, to.secrets, "secret");
  compare(from.files, to.files, "file");
  return out;
}

std::vector<int> config_versions_to_delete(const std::vector<int>& existing, const std::set<int>& in_use, int keep) {
  std::vector<int> sorted = existing;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const size_t k = static_cast<size_t>(std::max(1, keep));
  std::vector<int> out;
  for (size_t i = k; i < sorted.size(); ++i)
    if (!in_use.count(sorted[i])) out.push_back(sorted[i]);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace wb::workbench
