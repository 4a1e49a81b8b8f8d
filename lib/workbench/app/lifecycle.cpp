// The pure parts of an app's lifecycle: rows, events in words, history, rollback, a spec read
// back from its Deployment, and 403s in our words.
#include "workbench/app/lifecycle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

namespace {

using fields::at;
using fields::str;



std::string annotation(const json& obj, const std::string& key) {
  const json& a = at(obj, "/metadata/annotations");
  if (!a.is_object()) return "";
  auto it = a.find(key);
  return it != a.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string label(const json& obj, const std::string& key) {
  const json& l = at(obj, "/metadata/labels");
  if (!l.is_object()) return "";
  auto it = l.find(key);
  return it != l.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<long> to_number(const std::string& text) {
  auto n = util::parse_int<long>(text, "", 0);
  return n ? std::optional<long>(*n) : std::nullopt;
}

long revision_of(const json& obj) { return to_number(annotation(obj, annotations::kRevision)).value_or(0); }

std::string env_value(const json& container, const std::string& name) {
  for (const auto& e : at(container, "/env"))
    if (e.value("name", "") == name && e.contains("value") && e["value"].is_string())
      return e["value"].get<std::string>();
  return "";
}

bool owned_by(const json& obj, const std::string& uid) {
  for (const auto& ref : at(obj, "/metadata/ownerReferences"))
    if (ref.value("uid", "") == uid) return true;
  return false;
}

// Items of `list` whose app.kubernetes.io/name label is `app`.
json items_of_app(const json& list, const std::string& app) {
  json out = json::array();
  for (const auto& o : list)
    if (label(o, labels::kName) == app) out.push_back(o);
  return out;
}

// The parts after "<app>-": how many '-' separate them.
std::optional<size_t> dashes_after_app(const std::string& name, const std::string& app) {
  if (name.size() <= app.size() + 1 || name.compare(0, app.size() + 1, app + "-") != 0) return std::nullopt;
  return static_cast<size_t>(std::count(name.begin() + static_cast<long>(app.size()) + 1, name.end(), '-'));
}

}  // namespace

void record_change(json& deployment, const ChangeInfo& change) {
  json& a = deployment["metadata"]["annotations"];
  if (!a.is_object()) a = json::object();
  auto put = [&](const char* key, const std::string& value) {
    if (value.empty())
      a.erase(key);
    else
      a[key] = value;
  };
  put(annotations::kChangeCause, change.cause);
  put(annotations::kChangedBy, change.who);
  put(annotations::kPipeline, change.pipeline);
}

// ---------------------------------------------------------------- reading an app

const json* app_container(const json& pod_template, const std::string& app) {
  const json& cs = at(pod_template, "/spec/containers");
  if (!cs.is_array() || cs.empty()) return nullptr;
  for (const auto& c : cs)
    if (c.value("name", "") == app) return &c;
  return cs.size() == 1 ? &cs[0] : nullptr;
}

std::string app_image(const json& deployment) {
  const json* c = app_container(at(deployment, "/spec/template"), str(deployment, "/metadata/name"));
  return c ? c->value("image", "") : "";
}

namespace {

bool is_base_image(const std::string& image, const Settings& settings) {
  for (const auto& [java, base] : settings.get_map("baseImages"))
    if (image == base) return true;
  return false;
}

}  // namespace

bool has_pushed_version(const json& deployment, const Settings& settings) {
  if (!annotation(deployment, annotations::kJar).empty()) return true;
  const std::string image = app_image(deployment);
  if (image.empty() || image == kNoImageYet || image.rfind("wb.invalid/", 0) == 0) return false;
  return !is_base_image(image, settings);
}

std::string short_image(const std::string& image) {
  if (image.empty()) return "";
  auto at_sign = image.find('@');
  if (at_sign != std::string::npos) {
    std::string digest = image.substr(at_sign + 1);
    auto colon = digest.find(':');
    if (colon != std::string::npos) return digest.substr(0, colon + 1) + digest.substr(colon + 1, 12);
    return digest;
  }
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return image.substr(colon + 1);
  return "latest";
}

std::string version_words(const json& obj, const Settings* settings) {
  std::string image;
  std::string name = str(obj, "/metadata/name");
  const json& tmpl = at(obj, "/spec/template");
  const json* c = app_container(tmpl, label(obj, labels::kName).empty() ? name : label(obj, labels::kName));
  if (c) image = c->value("image", "");
  if (image.empty() || image == kNoImageYet || image.rfind("wb.invalid/", 0) == 0) return "";
  std::string jar = annotation(tmpl, annotations::kJar);
  if (jar.empty()) jar = annotation(obj, annotations::kJar);
  if (jar.empty() && settings && is_base_image(image, *settings)) return "";
  std::string shortened = short_image(image);
  return jar.empty() ? shortened : fmt::format("{} ({})", jar, shortened);
}

std::string config_version(const json& pod_template, const std::string& app) {
  const std::regex pattern("^" + app + "-config-v([0-9]+)$");
  std::string found;
  auto consider = [&](const json& name) {
    if (!found.empty() || !name.is_string()) return;
    std::smatch m;
    const std::string n = name.get<std::string>();
    if (std::regex_match(n, m, pattern)) found = "v" + m[1].str();
  };
  for (const auto& v : at(pod_template, "/spec/volumes")) {
    consider(at(v, "/configMap/name"));
    consider(at(v, "/secret/secretName"));
    for (const auto& s : at(v, "/projected/sources")) {
      consider(at(s, "/configMap/name"));
      consider(at(s, "/secret/name"));
    }
  }
  for (const auto& c : at(pod_template, "/spec/containers")) {
    for (const auto& f : at(c, "/envFrom")) {
      consider(at(f, "/configMapRef/name"));
      consider(at(f, "/secretRef/name"));
    }
    for (const auto& e : at(c, "/env")) {
      consider(at(e, "/valueFrom/configMapKeyRef/name"));
      consider(at(e, "/valueFrom/secretKeyRef/name"));
    }
  }
  return found;
}

bool tracing_on(const json& pod_template, const std::string& app) {
  const json* c = app_container(pod_template, app);
  return c && env_value(*c, "JAVA_TOOL_OPTIONS").find("-javaagent:") != std::string::npos;
}

int replicas_to_start(const json& deployment, std::optional<int> flag, const Settings& settings) {
  if (flag) return *flag;
  if (auto n = to_number(annotation(deployment, annotations::kReplicas)); n && *n > 0) return static_cast<int>(*n);
  const json& current = at(deployment, "/spec/replicas");
  if (current.is_number_integer() && current.get<int>() > 0) return current.get<int>();
  return std::max(1, settings.get_int("defaults.replicas"));
}

std::string replica_name(const std::string& pod_name, const std::string& app) {
  auto dash = pod_name.rfind('-');
  if (dash == std::string::npos) return pod_name;
  return app + pod_name.substr(dash);
}

std::vector<AppRow> app_rows(const json& deployments, const json& replica_sets, const json& pods, util::TimePoint now,
                             const Settings* settings) {
  std::vector<AppRow> rows;
  for (const auto& d : deployments) {
    AppRow r;
    r.name = str(d, "/metadata/name");
    AppState state = compute_state(r.name, d, items_of_app(replica_sets, r.name), items_of_app(pods, r.name));
    r.status = state.summary();
    r.reason = state.reason;
    r.version = version_words(d, settings);
    if (r.version.empty()) r.version = "-";
    r.config = config_version(at(d, "/spec/template"), r.name);
    if (r.config.empty()) r.config = "-";
    r.tracing = tracing_on(at(d, "/spec/template"), r.name);
    if (auto t = util::parse_rfc3339(str(d, "/metadata/creationTimestamp")))
      r.age = util::format_age(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const AppRow& a, const AppRow& b) { return a.name < b.name; });
  return rows;
}

// ---------------------------------------------------------------- events

std::optional<EventLine> translate_event(const json& ev, const std::string& app, const json& replica_sets) {
  const std::string kind = str(ev, "/involvedObject/kind");
  const std::string name = str(ev, "/involvedObject/name");
  const std::string reason = ev.value("reason", "");
  const std::string message = ev.value("message", "");
  std::string subject;
  if (kind == "Pod") {
    subject = "replica " + replica_name(name, app);
  } else if (kind == "ReplicaSet") {
    subject = "a version";
    for (const auto& rs : replica_sets)
      if (str(rs, "/metadata/name") == name && revision_of(rs) > 0)
        subject = fmt::format("version {}", revision_of(rs));
  } else {
    subject = "app";
  }
  auto contains = [&](const char* what) { return message.find(what) != std::string::npos; };
  // The kubelet's warnings about how the node is set up (no cluster DNS, too many nameservers in
  // the node's resolv.conf) come for every pod and name nothing the developer can change.
  if (reason == "MissingClusterDNS" || reason == "DNSConfigForming") return std::nullopt;
  std::string words;
  if (reason == "Started") {
    words = subject + " started";
  } else if (reason == "Killing") {
    words = subject + " was stopped";
  } else if (reason == "OOMKilling" || reason == "OOMKilled") {
    words = subject + " was killed: out of memory";
  } else if (reason == "BackOff") {
    words = contains("pulling image") ? subject + ": image cannot be pulled" : subject + " keeps crashing";
  } else if (reason == "Failed" && (contains("pull") || contains("ImagePull") || contains("ErrImage"))) {
    words = subject + ": image cannot be pulled";
  } else if (reason == "Failed") {
    words = subject + " failed: " + message;
  } else if (reason == "FailedScheduling") {
    words = subject + " is waiting for cluster resources";
  } else if (reason == "Unhealthy") {
    words = subject + " is failing its health check";
  } else if (reason == "Evicted" || reason == "Preempting") {
    words = subject + " was moved off its machine";
  } else if (reason == "ScalingReplicaSet") {
    static const std::regex scaled(R"(replica set (\S+) (?:from \d+ )?to (\d+))");
    std::smatch m;
    if (!std::regex_search(message, m, scaled)) return std::nullopt;
    std::string version;
    for (const auto& rs : replica_sets)
      if (str(rs, "/metadata/name") == m[1].str() && revision_of(rs) > 0)
        version = fmt::format("version {} ", revision_of(rs));
    const std::string n = m[2].str();
    words = fmt::format("{}scaled to {}", version, n);
  } else if (ev.value("type", "") == "Warning") {
    words = subject + ": " + message;
  } else {
    return std::nullopt;  // Scheduled, Pulling, Pulled, Created, SuccessfulCreate, ...
  }
  EventLine line;
  line.message = words;
  line.type = ev.value("type", "Normal");
  line.count = ev.value("count", 1);
  line.time = str(ev, "/lastTimestamp");
  if (line.time.empty()) line.time = str(ev, "/eventTime");
  if (line.time.empty()) line.time = str(ev, "/metadata/creationTimestamp");
  return line;
}

std::vector<EventLine> app_events(const json& events, const std::string& app, const json& replica_sets, size_t last) {
  std::vector<std::pair<util::TimePoint, EventLine>> found;
  for (const auto& ev : events) {
    const std::string kind = str(ev, "/involvedObject/kind");
    const std::string name = str(ev, "/involvedObject/name");
    auto dashes = dashes_after_app(name, app);
    const bool ours = (kind == "Deployment" && name == app) || (kind == "ReplicaSet" && dashes == 0u) ||
                      (kind == "Pod" && dashes == 1u);
    if (!ours) continue;
    auto line = translate_event(ev, app, replica_sets);
    if (!line) continue;
    auto t = util::parse_rfc3339(line->time).value_or(util::TimePoint{});
    found.emplace_back(t, std::move(*line));
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<EventLine> out;
  for (auto& [t, line] : found) {
    // The kubelet reports one image pull failure as several events; one line is enough.
    if (!out.empty() && out.back().message == line.message) {
      out.back().count = std::max(out.back().count, line.count);
      out.back().time = line.time;
      continue;
    }
    out.push_back(std::move(line));
  }
  if (out.size() > last) out.erase(out.begin(), out.end() - static_cast<long>(last));
  return out;
}

// ---------------------------------------------------------------- history and rollback

std::vector<Revision> history(const json& deployment, const json& replica_sets, const Settings* settings) {
  const std::string uid = str(deployment, "/metadata/uid");
  const std::string app = str(deployment, "/metadata/name");
  std::vector<Revision> out;
  for (const auto& rs : replica_sets) {
    if (!uid.empty() && !owned_by(rs, uid)) continue;
    Revision r;
    r.number = revision_of(rs);
    if (r.number <= 0) continue;
    r.when = str(rs, "/metadata/creationTimestamp");
    r.who = annotation(rs, annotations::kChangedBy);
    r.cause = annotation(rs, annotations::kChangeCause);
    r.pod_template = at(rs, "/spec/template");
    if (r.pod_template.contains("metadata") && r.pod_template["metadata"].contains("labels")) {
      r.pod_template["metadata"]["labels"].erase("pod-template-hash");
    }
    if (const json* c = app_container(r.pod_template, app)) r.image = c->value("image", "");
    r.version = version_words(rs, settings);
    r.config = config_version(r.pod_template, app);
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const Revision& a, const Revision& b) { return a.number < b.number; });
  long current = revision_of(deployment);
  if (!out.empty() && std::none_of(out.begin(), out.end(), [&](const Revision& r) { return r.number == current; }))
    current = out.back().number;
  for (auto& r : out) r.current = r.number == current;
  return out;
}

Result<Revision> rollback_target(const std::vector<Revision>& revisions, std::optional<long> to,
                                 const std::string& app) {
  if (revisions.empty())
    return Error(ErrorCode::NotFound, fmt::format("app '{}' has no versions yet", app),
                 fmt::format("push a jar first: wb push jar FILE --app {}", app));
  std::vector<std::string> known;
  for (const auto& r : revisions) known.push_back(std::to_string(r.number));
  if (to) {
    for (const auto& r : revisions)
      if (r.number == *to) return r;
    return Error(ErrorCode::NotFound,
                 fmt::format("app '{}' has no revision {} (it has: {})", app, *to, util::join(known, ", ")),
                 fmt::format("`wb app history {}` lists them", app));
  }
  long current = 0;
  for (const auto& r : revisions)
    if (r.current) current = r.number;
  const Revision* best = nullptr;
  for (const auto& r : revisions)
    if (r.number < current) best = &r;
  if (!best)
    return Error(ErrorCode::Usage, fmt::format("app '{}' has no earlier revision to roll back to (it has: {})", app,
                                               util::join(known, ", ")));
  return *best;
}

// ---------------------------------------------------------------- changing an app

SpecAndBuild spec_from_deployment(const json& d, const Settings& settings) {
  SpecAndBuild out;
  AppSpec& s = out.spec;
  s.name = str(d, "/metadata/name");
  s.workspace = str(d, "/metadata/namespace");
  s.description = annotation(d, labels::kDescription);
  s.alias = annotation(d, labels::kAlias);
  out.build.creator = annotation(d, labels::kCreator);
  out.build.version = label(d, labels::kVersion);
  const json& replicas = at(d, "/spec/replicas");
  out.build.replicas = replicas.is_number_integer() ? replicas.get<int>() : 0;
  if (auto n = to_number(annotation(d, annotations::kReplicas))) s.replicas = static_cast<int>(*n);

  const json* c = app_container(at(d, "/spec/template"), s.name);
  if (!c) return out;
  s.image = c->value("image", "");
  if (at(*c, "/securityContext/runAsNonRoot").is_boolean())
    out.build.image_user_non_root = at(*c, "/securityContext/runAsNonRoot").get<bool>();
  for (const auto& p : at(*c, "/ports")) {
    if (p.value("name", "") == "http" || s.port == kDefaultAppPort) s.port = p.value("containerPort", s.port);
    if (p.value("name", "") == "http") break;
  }
  s.cpu = str(*c, "/resources/limits/cpu");
  s.memory = str(*c, "/resources/limits/memory");
  const std::string ready_path = str(*c, "/readinessProbe/httpGet/path");
  if (ready_path == "/actuator/health/readiness")
    s.spring_boot = true;
  else if (!ready_path.empty())
    s.health_path = ready_path;

  const std::string tool_options = env_value(*c, "JAVA_TOOL_OPTIONS");
  const bool trace = tool_options.find("-javaagent:") != std::string::npos;
  s.trace = trace;
  const auto tz = settings.get("defaults.timezone");
  for (const auto& e : at(*c, "/env")) {
    if (!e.contains("value") || !e["value"].is_string()) continue;  // valueFrom: kept as it is (see keep_foreign)
    const std::string name = e.value("name", "");
    const std::string value = e["value"].get<std::string>();
    if (name == "JAVA_TOOL_OPTIONS") {
      // The platform's options are rebuilt; what the developer appended stays.
      std::vector<std::string> own;
      for (const auto& word : util::split(value, ' '))
        if (!word.empty() && word.rfind("-XX:MaxRAMPercentage=", 0) != 0 && word.rfind("-javaagent:", 0) != 0)
          own.push_back(word);
      if (!own.empty()) s.env.emplace_back(name, util::join(own, " "));
      continue;
    }
    if (name == "TZ" && tz && *tz == value) continue;
    if (trace && (name == "SW_AGENT_NAME" || name == "SW_AGENT_COLLECTOR_BACKEND_SERVICES")) continue;
    s.env.emplace_back(name, value);
  }
  return out;
}

Status apply_changes(SpecAndBuild& current, const AppChanges& ch) {
  AppSpec& s = current.spec;
  if (ch.cpu) {
    WB_TRY(check_cpu(*ch.cpu));
    s.cpu = *ch.cpu;
  }
  if (ch.memory) {
    WB_TRY(check_memory(*ch.memory));
    s.memory = *ch.memory;
  }
  if (ch.health_path) {
    WB_TRY(check_health_path(*ch.health_path));
    s.health_path = *ch.health_path;
  }
  if (ch.port) {
    WB_TRY(check_port(*ch.port));
    s.port = *ch.port;
  }
  if (ch.replicas) {
    WB_TRY(check_replicas(*ch.replicas));
    s.replicas = *ch.replicas;
    if (current.build.replicas.value_or(0) > 0) current.build.replicas = *ch.replicas;  // a stopped app stays stopped
  }
  if (ch.trace) s.trace = *ch.trace;
  for (const auto& name : ch.unset_env) {
    auto it = std::find_if(s.env.begin(), s.env.end(), [&](const auto& e) { return e.first == name; });
    if (it == s.env.end())
      return Error(ErrorCode::Usage, fmt::format("app '{}' has no environment variable {} to unset", s.name, name));
    s.env.erase(it);
  }
  for (const auto& [name, value] : ch.env) {
    WB_TRY(check_env_name(name));
    auto it = std::find_if(s.env.begin(), s.env.end(), [&](const auto& e) { return e.first == name; });
    if (it != s.env.end())
      it->second = value;
    else
      s.env.emplace_back(name, value);
  }
  return validate_app_spec(s);
}

void keep_other_parts(json& rebuilt, const json& current) {
  const json& cur_ann = at(current, "/metadata/annotations");
  if (cur_ann.is_object())
    for (auto it = cur_ann.begin(); it != cur_ann.end(); ++it)
      if (it.key().rfind("wb.dev/", 0) == 0 && !rebuilt["metadata"]["annotations"].contains(it.key()))
        rebuilt["metadata"]["annotations"][it.key()] = it.value();
  const json& tmpl_ann = at(current, "/spec/template/metadata/annotations");
  if (tmpl_ann.is_object() && !tmpl_ann.empty()) {
    json& ann = rebuilt["spec"]["template"]["metadata"]["annotations"];
    for (auto it = tmpl_ann.begin(); it != tmpl_ann.end(); ++it)
      if (!ann.contains(it.key())) ann[it.key()] = it.value();
  }
  const std::string app = str(rebuilt, "/metadata/name");
  const json* cur_c = app_container(at(current, "/spec/template"), app);
  json& pod = rebuilt["spec"]["template"]["spec"];
  json* new_c = nullptr;
  for (auto& c : pod["containers"])
    if (c.value("name", "") == app) new_c = &c;
  if (!cur_c || !new_c) return;
  if (cur_c->contains("envFrom")) (*new_c)["envFrom"] = (*cur_c)["envFrom"];
  for (const auto& e : at(*cur_c, "/env"))
    if (e.contains("valueFrom")) (*new_c)["env"].push_back(e);
  std::set<std::string> built_volumes;
  for (const auto& v : pod["volumes"]) built_volumes.insert(v.value("name", ""));
  std::set<std::string> kept;
  for (const auto& v : at(current, "/spec/template/spec/volumes")) {
    if (built_volumes.count(v.value("name", ""))) continue;
    pod["volumes"].push_back(v);
    kept.insert(v.value("name", ""));
  }
  for (const auto& m : at(*cur_c, "/volumeMounts"))
    if (kept.count(m.value("name", ""))) (*new_c)["volumeMounts"].push_back(m);
}

}  // namespace wb::workbench
