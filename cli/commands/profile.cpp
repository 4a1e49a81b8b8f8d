// wb profile init|list|use|show: tenant profiles on this machine.
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;

namespace {

struct InitOptions {
  std::string name;
  std::string tenant, registry, registry_project, domain, ingress_class, kube_context;
  std::vector<std::string> base_images;  // "17=registry/java:17"
  bool insecure_registry = false;
  bool force = false;
  bool use = false;
};

Status run_init(const InitOptions& o, Context& ctx) {
  WB_TRY(wbw::check_profile_name(o.name));
  wbw::SettingMap values;
  auto put = [&](const std::string& key, const std::string& v) {
    if (!v.empty()) values[key] = v;
  };
  put("name", o.name);
  put("tenant", o.tenant);
  put("workspace", ctx.global.workspace);
  put("kube.context", o.kube_context.empty() ? ctx.global.context : o.kube_context);
  put("registry.host", o.registry);
  put("registry.project", o.registry_project);
  if (o.insecure_registry) values["registry.insecure"] = "true";
  put("route.domain", o.domain);
  put("route.ingressClass", o.ingress_class);
  for (const auto& b : o.base_images) {
    auto eq = b.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == b.size())
      return Error(ErrorCode::Usage, fmt::format("--base-image '{}' must look like 17=registry/java:17", b));
    values["baseImages." + b.substr(0, eq)] = b.substr(eq + 1);
  }
  const auto dirs = wbw::config_dirs(ctx.env);
  const auto path = dirs.profile_file(o.name);
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !o.force)
    return Error(ErrorCode::Conflict, fmt::format("profile '{}' exists already ({})", o.name, path.string()),
                 "pass --force to overwrite it, or `wb profile use " + o.name + "` to switch to it");
  std::string text = wbw::render_profile(o.name, values);
  // What we write must read back: a bad value is refused before the file is touched.
  WB_TRY(wbw::parse_settings_yaml(text, path.string()));
  WB_TRY(util::write_file_atomic(path, text, 0644));
  WB_ASSIGN_OR_RETURN(auto state, wbw::load_state(dirs));
  bool made_current = false;
  if (o.use || state.current_profile.empty()) {
    state.current_profile = o.name;
    WB_TRY(wbw::save_state(dirs, state));
    made_current = true;
  }
  json result = {{"name", o.name}, {"path", path.string()}, {"current", made_current}};
  if (ctx.global.machine_output()) {
    print_result(ctx, result, [] { return Table{}; }, {o.name});
  } else {
    ctx.out() << fmt::format("Created profile '{}' at {}{}\n", o.name, path.string(),
                             made_current ? " (now the current profile)" : "");
  }
  return {};
}

Result<wbw::SettingMap> read_profile(const wbw::ConfigDirs& dirs, const std::string& name) {
  auto path = dirs.profile_file(name);
  auto text = util::read_file(path);
  if (!text) {
    if (text.error().code != ErrorCode::NotFound) return text.error();
    auto known = wbw::list_profiles(dirs);
    return Error(ErrorCode::NotFound,
                 fmt::format("profile '{}' not found (known: {})", name, known.empty() ? "none" : util::join(known, ", ")),
                 "create it with `wb profile init " + name + "`");
  }
  return wbw::parse_settings_yaml(*text, path.string());
}

Status run_list(Context& ctx) {
  const auto dirs = wbw::config_dirs(ctx.env);
  WB_ASSIGN_OR_RETURN(auto state, wbw::load_state(dirs));
  json list = json::array();
  Table t{{"current", "name", "tenant", "workspace", "registry"}, {}, {}};
  std::vector<std::string> names = wbw::list_profiles(dirs);
  for (const auto& name : names) {
    auto values = read_profile(dirs, name);
    auto get = [&](const std::string& k) -> std::string {
      if (!values) return "";
      auto it = values->find(k);
      return it == values->end() ? "" : it->second;
    };
    std::string ws = get("workspace");
    if (auto it = state.workspace_by_profile.find(name); it != state.workspace_by_profile.end()) ws = it->second;
    bool current = name == state.current_profile;
    json item = {{"name", name},      {"current", current},         {"tenant", get("tenant")},
                 {"workspace", ws},   {"registry", get("registry.host")}};
    if (!values) item["error"] = values.error().message;
    list.push_back(item);
    t.rows.push_back({current ? "*" : "", name, get("tenant"), ws, get("registry.host")});
  }
  if (names.empty() && !ctx.global.machine_output()) {
    ctx.err() << "No profiles yet. Create one with `wb profile init NAME --tenant T -w WORKSPACE --registry HOST`.\n";
    return {};
  }
  print_result(ctx, list, [&] { return t; }, names);
  return {};
}

Status run_use(const std::string& name, Context& ctx) {
  const auto dirs = wbw::config_dirs(ctx.env);
  WB_TRY(read_profile(dirs, name));
  WB_ASSIGN_OR_RETURN(auto state, wbw::load_state(dirs));
  state.current_profile = name;
  WB_TRY(wbw::save_state(dirs, state));
  if (!ctx.global.quiet) ctx.out() << fmt::format("Now using profile '{}'\n", name);
  return {};
}

Status run_show(const std::string& name_arg, bool resolved, Context& ctx) {
  if (resolved) {
    WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
    json obj = json::object();
    Table t{{"setting", "value", "source", "from"}, {}, {}};
    for (const auto& [key, v] : settings->all()) {
      obj[key] = {{"value", v.value}, {"source", wbw::source_name(v.source)}, {"from", v.origin}};
      t.rows.push_back({key, v.value, wbw::source_name(v.source), v.origin});
    }
    json result = {{"profile", settings->profile_name}, {"settings", obj}};
    print_result(ctx, result, [&] { return t; });
    return {};
  }
  const auto dirs = wbw::config_dirs(ctx.env);
  std::string name = name_arg;
  if (name.empty()) name = ctx.global.profile;
  if (name.empty()) {
    if (auto p = ctx.env("WB_PROFILE"); p && !p->empty()) name = *p;
  }
  if (name.empty()) {
    WB_ASSIGN_OR_RETURN(auto state, wbw::load_state(dirs));
    name = state.current_profile;
  }
  if (name.empty())
    return Error(ErrorCode::NotFound, "no profile is in use", "create one with `wb profile init NAME`");
  WB_ASSIGN_OR_RETURN(auto values, read_profile(dirs, name));
  json obj = json::object();
  Table t{{"setting", "value"}, {}, {}};
  for (const auto& [k, v] : values) {
    obj[k] = v;
    t.rows.push_back({k, v});
  }
  print_result(ctx, json{{"profile", name}, {"path", dirs.profile_file(name).string()}, {"settings", obj}},
               [&] { return t; });
  return {};
}

}  // namespace

void register_profile(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "profile", "Tenant profiles: which tenant, workspace, registry and defaults to use");

  auto init = std::make_shared<InitOptions>();
  auto* c = add_verb(*noun, "init", "Create a profile (and make it current if there is none)");
  c->add_option("name", init->name, "Profile name")->required();
  c->add_option("--tenant", init->tenant, "Tenant (KubeSphere workspace)");
  c->add_option("--registry", init->registry, "Registry host[:port] for app images");
  c->add_option("--registry-project", init->registry_project, "Registry project (Harbor) or path prefix");
  c->add_flag("--insecure-registry", init->insecure_registry, "Allow plain HTTP / unverified TLS to the registry");
  c->add_option("--base-image", init->base_images, "Base image by Java version, e.g. 17=registry/java:17 (repeatable)");
  c->add_option("--domain", init->domain, "Route domain: apps get <app>.<workspace>.<domain>");
  c->add_option("--ingress-class", init->ingress_class, "Ingress class for routes");
  c->add_option("--kube-context", init->kube_context, "Kubeconfig context (default: --context, else the current one)");
  c->add_flag("--force", init->force, "Overwrite an existing profile");
  c->add_flag("--use", init->use, "Make it the current profile");
  c->callback([init, &ctx, &action] { action = [init, &ctx] { return run_init(*init, ctx); }; });

  auto* l = add_verb(*noun, "list", "List profiles");
  l->alias("ls");
  l->callback([&ctx, &action] { action = [&ctx] { return run_list(ctx); }; });

  auto use_name = std::make_shared<std::string>();
  auto* u = add_verb(*noun, "use", "Make a profile the current one");
  u->add_option("name", *use_name, "Profile name")->required();
  u->callback([use_name, &ctx, &action] { action = [use_name, &ctx] { return run_use(*use_name, ctx); }; });

  auto show_name = std::make_shared<std::string>();
  auto resolved = std::make_shared<bool>(false);
  auto* s = add_verb(*noun, "show", "Show a profile; --resolved shows every setting in force and where it came from");
  s->add_option("name", *show_name, "Profile name (default: the current one)");
  s->add_flag("--resolved", *resolved, "Every setting after flags, environment, wb.yaml and profile, with its source");
  s->callback([show_name, resolved, &ctx, &action] {
    action = [show_name, resolved, &ctx] { return run_show(*show_name, *resolved, ctx); };
  });
}

}  // namespace wb::cli::commands
