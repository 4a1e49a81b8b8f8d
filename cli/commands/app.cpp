// wb app create: an app (Deployment + Service) from wb.yaml's app section and flags; the other
// verbs are in app_lifecycle.cpp and app_revisions.cpp.
#include "workbench/core/app.hpp"

#include <fmt/format.h>

#include <ostream>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

struct CreateOptions {
  std::string name;
  int port = 0;
  int replicas = 0;
  std::string cpu, memory, health, route_host, description;
  std::vector<std::string> env;  // NAME=VALUE
  bool trace = false;
  bool spring_boot = false;
  bool update = false;
  bool dry_run = false;
  // Which of the value flags were given (set by the callback from CLI11's counts).
  bool port_set = false, replicas_set = false, trace_set = false, spring_boot_set = false, description_set = false;
};

// The flags as a layer over wb.yaml.
Result<wbw::AppOverrides> overrides_from_flags(const CreateOptions& o) {
  wbw::AppOverrides f;
  if (!o.name.empty()) f.name = o.name;
  if (o.port_set) f.port = o.port;
  if (o.replicas_set) f.replicas = o.replicas;
  if (!o.cpu.empty()) f.cpu = o.cpu;
  if (!o.memory.empty()) f.memory = o.memory;
  if (!o.health.empty()) f.health_path = o.health;
  if (o.trace_set) f.trace = o.trace;
  if (o.spring_boot_set) f.spring_boot = o.spring_boot;
  if (!o.route_host.empty()) f.route_host = o.route_host;
  if (o.description_set) f.description = o.description;
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(ErrorCode::Usage, fmt::format("--env '{}' must look like NAME=VALUE", kv));
    std::string name = kv.substr(0, eq);
    WB_TRY(wbw::check_env_name(name));
    auto same = std::find_if(f.env.begin(), f.env.end(), [&](const auto& e) { return e.first == name; });
    if (same != f.env.end())
      same->second = kv.substr(eq + 1);
    else
      f.env.emplace_back(name, kv.substr(eq + 1));
  }
  return f;
}

struct ResolvedSpec {
  wbw::AppSpec spec;
  bool spring_boot_said = false;  // wb.yaml or a flag said whether it is Spring Boot
};

// The spec: wb.yaml's app section (this directory or a parent up to the repository root), then flags.
Result<ResolvedSpec> resolve_spec(const CreateOptions& o, Context& ctx) {
  wbw::AppOverrides file;
  if (!ctx.cwd.empty()) {
    if (auto path = wbw::find_app_file(ctx.cwd)) {
      WB_ASSIGN_OR_RETURN(auto text, util::read_file(*path));
      WB_ASSIGN_OR_RETURN(file, wbw::parse_app_file(text, path->string()));
    }
  }
  WB_ASSIGN_OR_RETURN(auto flags, overrides_from_flags(o));
  ResolvedSpec r{wbw::merge_app_spec({&file, &flags}), file.spring_boot || flags.spring_boot};
  WB_TRY(wbw::validate_app_spec(r.spec));
  return r;
}

// Rewords API errors on an app's objects in the user's terms.
Error app_error(Error e, const std::string& verb, const std::string& app, const std::string& ws) {
  if (e.code == ErrorCode::Auth && e.http_status == 403) return wbw::refused_app(std::move(e), verb, ws);
  if (e.code == ErrorCode::NotFound)
    return Error(ErrorCode::NotFound, fmt::format("workspace '{}' not found", ws),
                 "`wb workspace list` shows the ones you have", e.http_status);
  return e.with_context(fmt::format("{} app '{}' in workspace '{}'", verb, app, ws));
}

std::string label_of(const json& obj, const char* key) {
  return util::json_value(util::json_at(obj, "/metadata/labels", json::object()), key, "");
}

// Remembers the replicas `wb app start` gives the app: from --replicas or wb.yaml, else what the app
// remembered, else the profile's defaults.replicas.
void remember_replicas(json& deployment, const wbw::AppSpec& spec, const json* existing,
                       const wbw::Settings& settings) {
  std::string n;
  if (spec.replicas && *spec.replicas > 0) n = std::to_string(*spec.replicas);
  if (n.empty() && existing)
    n = util::json_value(util::json_at(*existing, "/metadata/annotations", json::object()), wbw::annotations::kReplicas,
                         "");
  if (n.empty()) n = std::to_string(std::max(1, settings.get_int("defaults.replicas")));
  deployment["metadata"]["annotations"][wbw::annotations::kReplicas] = n;
}

// --dry-run: the objects printed, no cluster asked; the workspace comes from -w, WB_WORKSPACE, wb.yaml or the
// profile.
Status print_dry_run(wbw::AppSpec& spec, const wbw::Settings& settings, Context& ctx) {
  if (auto ws = settings.get("workspace")) {
    spec.workspace = *ws;
  } else {
    spec.workspace = "default";
    if (!ctx.global.quiet)
      ctx.err() << "note: no workspace chosen; the objects say 'default' (pass -w WORKSPACE or set one in your "
                   "profile)\n";
  }
  WB_ASSIGN_OR_RETURN(auto objects, wbw::build_objects(spec, settings, wbw::BuildContext{}));
  for (const auto& w : objects.warnings) ctx.warn(w);
  remember_replicas(objects.deployment, spec, nullptr, settings);
  wbw::record_change(objects.deployment, {"", "create", ""});
  print_objects(ctx, {objects.deployment, objects.service});
  return {};
}

// What exists already: the Deployment is the app; a Service of that name must be ours.
struct Existing {
  std::optional<json> deployment;
  bool service = false;
};

Result<Existing> read_existing(k::Client& client, const wbw::AppSpec& spec, bool update) {
  const std::string& ws = spec.workspace;
  Existing existing;
  if (auto cur = client.get(k::types::Deployment, ws, spec.name)) {
    existing.deployment = std::move(*cur);
  } else if (cur.error().code != ErrorCode::NotFound) {
    return app_error(std::move(cur).error(), "read", spec.name, ws);
  }
  if (existing.deployment && !update)
    return Error(ErrorCode::Conflict, fmt::format("app '{}' exists already in workspace '{}'", spec.name, ws),
                 "pass --update to change it, or `wb app set`");
  if (auto svc = client.get(k::types::Service, ws, spec.name)) {
    if (label_of(*svc, wbw::labels::kManagedBy) != "wb")
      return Error(ErrorCode::Conflict,
                   fmt::format("workspace '{}' has a Service '{}' that wb did not create", ws, spec.name),
                   "pick another app name, or ask who owns that Service");
    existing.service = true;
  } else if (svc.error().code != ErrorCode::NotFound) {
    return app_error(std::move(svc).error(), "read", spec.name, ws);
  }
  return existing;
}

// An update keeps what `wb push`, `wb app start` and the creator put there: the image (and what push
// learnt from it), the replicas, the version and the creator.
void keep_from_existing(const json& cur, ResolvedSpec& resolved, wbw::BuildContext& build) {
  wbw::AppSpec& spec = resolved.spec;
  int current_replicas = util::json_at(cur, "/spec/replicas", 0);
  build.replicas = current_replicas > 0 && spec.replicas ? *spec.replicas : current_replicas;
  const json containers = util::json_at(cur, "/spec/template/spec/containers", json::array());
  for (const auto& c : containers) {
    if (c.value("name", "") != spec.name && containers.size() != 1) continue;
    if (spec.image.empty()) spec.image = c.value("image", "");
    if (util::json_at(c, "/securityContext/runAsNonRoot", false)) build.image_user_non_root = true;
    if (!resolved.spring_boot_said)
      spec.spring_boot =
          util::json_at(c, "/readinessProbe/httpGet/path", std::string()) == "/actuator/health/readiness";
  }
  build.version = label_of(cur, wbw::labels::kVersion);
  build.creator =
      util::json_value(util::json_at(cur, "/metadata/annotations", json::object()), wbw::labels::kCreator, "");
}

// Server-side apply for creating too: wb then owns every field it sets, so a later --update removes what
// it no longer sets (an old port) instead of merging it in.
Result<std::vector<json>> apply_objects(k::Client& client, const wbw::AppObjects& objects, const wbw::AppSpec& spec,
                                        const Existing& existing) {
  const std::string& ws = spec.workspace;
  std::vector<json> results;
  const char* verb = existing.deployment ? "update" : "create";
  auto d = client.apply(k::types::Deployment, ws, objects.deployment, /*force=*/existing.deployment.has_value());
  if (!d) return app_error(std::move(d).error(), verb, spec.name, ws);
  results.push_back(std::move(*d));
  auto s = client.apply(k::types::Service, ws, objects.service, /*force=*/existing.deployment || existing.service);
  if (!s) return app_error(std::move(s).error(), verb, spec.name, ws);
  results.push_back(std::move(*s));
  return results;
}

void print_created(Context& ctx, const std::vector<json>& results, const wbw::AppObjects& objects,
                   const wbw::AppSpec& spec, bool updated) {
  if (ctx.global.machine_output()) {
    print_objects(ctx, results);
    return;
  }
  const std::string& ws = spec.workspace;
  if (updated) {
    int replicas = objects.deployment["spec"]["replicas"].get<int>();
    ctx.out() << fmt::format("Updated app '{}' in workspace '{}' ({})\n", spec.name, ws,
                             replicas > 0 ? fmt::format("running, {} replicas", replicas) : std::string("stopped"));
  } else {
    ctx.out() << fmt::format("Created app '{}' in workspace '{}' (stopped; next: `wb push jar ... --app {}`)\n",
                             spec.name, ws, spec.name);
  }
}

Status run_create(const CreateOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(ResolvedSpec resolved, resolve_spec(o, ctx));
  wbw::AppSpec& spec = resolved.spec;
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  if (o.dry_run) return print_dry_run(spec, *settings, ctx);

  WB_ASSIGN_OR_RETURN(spec.workspace, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(Existing existing, read_existing(*client, spec, o.update));
  const json* cur = existing.deployment ? &*existing.deployment : nullptr;
  wbw::BuildContext build;
  if (cur)
    keep_from_existing(*cur, resolved, build);
  else
    build.creator = server_username(*client);

  WB_ASSIGN_OR_RETURN(auto objects, wbw::build_objects(spec, *settings, build));
  for (const auto& w : objects.warnings) ctx.warn(w);
  remember_replicas(objects.deployment, spec, cur, *settings);
  if (cur) wbw::keep_other_parts(objects.deployment, *cur);
  if (!cur || objects.deployment["spec"]["template"] != (*cur)["spec"]["template"])
    wbw::record_change(objects.deployment, change_info(ctx, *client, cur ? "update" : "create"));

  WB_ASSIGN_OR_RETURN(auto results, apply_objects(*client, objects, spec, existing));
  print_created(ctx, results, objects, spec, cur != nullptr);
  return {};
}

}  // namespace

void register_app(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "app", "Apps: your services, each a Deployment and a Service in a workspace");

  auto o = std::make_shared<CreateOptions>();
  auto* c = add_verb(*noun, "create",
                     "Create an app (stopped, no image yet) from flags and the app section of wb.yaml; flags win");
  c->add_option("name", o->name,
                "App name: lower-case letters, digits and '-', at most 47 characters (default: app.name in wb.yaml)");
  auto* port = c->add_option("--port", o->port, "HTTP port the app listens on (default 8080)")->type_name("N");
  auto* replicas =
      c->add_option("--replicas", o->replicas, "Replicas when started (default: the profile's)")->type_name("N");
  c->add_option("--cpu", o->cpu, "CPU limit, e.g. 500m or 2 (default: the profile's)")->type_name("QUANTITY");
  c->add_option("--memory", o->memory, "Memory limit, e.g. 512Mi or 2Gi; the JVM heap is 75% of it")
      ->type_name("QUANTITY");
  c->add_option("--env", o->env, "Environment variable NAME=VALUE (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  c->add_option("--health", o->health, "HTTP path for health probes (default: Spring Boot actuator, else TCP)")
      ->type_name("PATH");
  auto* trace =
      c->add_flag("--trace,!--no-trace", o->trace, "Trace with the SkyWalking agent (default: the profile's)");
  auto* spring_boot =
      c->add_flag("--spring-boot,!--no-spring-boot", o->spring_boot,
                  "Probe the Spring Boot actuator's readiness and liveness groups (`wb push` detects it)");
  c->add_option("--route-host", o->route_host, "Public host name of the app's route")->type_name("HOST");
  auto* description =
      c->add_option("--description", o->description, "What the app does (shown in KubeSphere)")->type_name("TEXT");
  c->add_flag("--update", o->update, "Change the app if it exists (keeps its image and replicas)");
  c->add_flag("--dry-run", o->dry_run, "Print the objects (YAML; -o json for a List) without contacting the cluster");
  c->callback([o, port, replicas, trace, spring_boot, description, &ctx, &action] {
    o->port_set = port->count() > 0;
    o->replicas_set = replicas->count() > 0;
    o->trace_set = trace->count() > 0;
    o->spring_boot_set = spring_boot->count() > 0;
    o->description_set = description->count() > 0;
    action = [o, &ctx] { return run_create(*o, ctx); };
  });

  register_app_lifecycle(*noun, ctx, action);
}

}  // namespace wb::cli::commands
