// wb route add|list|rm|history|rollback|add-external: public routes to apps (versioned, like
// config) and to services outside the cluster.
//
// -o json: add/rm/rollback print {app, workspace, version, routes: [{host, path, tls, url}]};
// list prints [{app, host, path, tls, url, version, target}].
#include <fmt/format.h>

#include <ostream>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/versions/routes.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

constexpr const char* kTargetAnnotation = "wb.dev/route-target";

std::string url_of(const wbw::Route& r) {
  return fmt::format("{}://{}{}", r.tls ? "https" : "http", r.host, r.path == "/" ? "" : r.path);
}

json routes_json(const std::vector<wbw::Route>& routes) {
  json out = json::array();
  for (const auto& r : routes) out.push_back({{"host", r.host}, {"path", r.path}, {"tls", r.tls}, {"url", url_of(r)}});
  return out;
}

// The port of the app's Service (else the container's, else 8080).
int app_port(k::Client& client, const std::string& ns, const std::string& app, const json& deployment) {
  if (auto svc = client.get(k::types::Service, ns, app)) {
    auto ports = util::json_at(*svc, "/spec/ports", json::array());
    if (!ports.empty()) return ports[0].value("port", wbw::kDefaultAppPort);
  }
  if (const json* c = wbw::app_container(util::json_at(deployment, "/spec/template", json::object()), app)) {
    auto ports = c->value("ports", json::array());
    if (!ports.empty()) return ports[0].value("containerPort", wbw::kDefaultAppPort);
  }
  return wbw::kDefaultAppPort;
}

Result<int> version_arg(const std::string& text) {
  std::string t = text;
  if (!t.empty() && (t[0] == 'v' || t[0] == 'V')) t.erase(0, 1);
  auto n = util::parse_int<int>(t, "", 1);
  if (!n) return Error(ErrorCode::Usage, fmt::format("'{}' is not a routes version (e.g. 3 or v3)", text));
  return *n;
}

using RouteChange = std::function<Result<std::vector<wbw::Route>>(const std::vector<wbw::Route>&)>;

// Writes a new routes version of the app with `change` and makes the Ingress show it.
Status change_routes(Context& ctx, const std::string& app, const RouteChange& change, const std::string& what,
                     const std::string& message) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto d, wbw::read_app(*client, ns, app));
  k::ResourceType type;
  WB_ASSIGN_OR_RETURN(auto ingresses, wbw::workspace_ingresses(*client, ns, type));
  auto checked = [&](const std::vector<wbw::Route>& base) -> Result<std::vector<wbw::Route>> {
    WB_ASSIGN_OR_RETURN(auto routes, change(base));
    for (const auto& r : routes) {
      std::string owner = wbw::route_owner(ingresses, app, r);
      if (!owner.empty())
        return Error(ErrorCode::Conflict,
                     fmt::format("{}{} is already routed to '{}' in workspace '{}'", r.host, r.path, owner, ns),
                     "pick another --host or --path");
    }
    return routes;
  };
  const auto who = change_info(ctx, *client, message.empty() ? what : message);
  WB_ASSIGN_OR_RETURN(auto v, wbw::write_route_version(*client, ns, app, checked, {who.who, who.cause, what}));
  wbw::IngressTarget target;
  target.name = app;
  target.ns = ns;
  target.service = app;
  target.port = app_port(*client, ns, app, d);
  target.routes_version = v.number;
  WB_TRY(wbw::publish_ingress(*client, type, target, v.routes, *settings));
  if (ctx.global.format() == OutputFormat::Name) {
    ctx.out() << "configmap/" << wbw::routes_map_name(app, v.number) << '\n';
    return {};
  }
  if (ctx.global.machine_output()) {
    print_result(ctx, {{"app", app}, {"workspace", ns}, {"version", v.number}, {"routes", routes_json(v.routes)}},
                 [] { return Table{}; });
    return {};
  }
  ctx.out() << fmt::format("Routes v{} of {}: {}\n", v.number, app, what);
  for (const auto& r : v.routes) ctx.out() << "  " << url_of(r) << '\n';
  if (v.routes.empty()) ctx.out() << "  (no routes: the app is reachable only inside the cluster)\n";
  return {};
}

// ---------------------------------------------------------------- add, rm, rollback

struct AddOptions {
  std::string app, host, path = "/", message;
  bool tls = false;
};

Status run_add(const AddOptions& o, Context& ctx) {
  WB_TRY(wbw::check_route_path(o.path));
  std::string host = util::to_lower(o.host);
  if (host.empty()) {
    WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
    WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
    WB_ASSIGN_OR_RETURN(host, wbw::default_route_host(o.app, ns, *settings));
  }
  WB_TRY(wbw::check_route_host(host));
  const wbw::Route route{host, o.path, o.tls};
  return change_routes(
      ctx, o.app, [&](const std::vector<wbw::Route>& base) { return wbw::add_route(base, route, o.app); },
      "add " + url_of(route), o.message);
}

struct RmOptions {
  std::string app, host, path, message;
  bool all = false;
};

Status run_rm(const RmOptions& o, Context& ctx) {
  if (o.host.empty() && o.path.empty() && !o.all)
    return Error(ErrorCode::Usage, "say which routes to remove: --host HOST and/or --path PATH, or --all");
  std::optional<std::string> host, path;
  if (!o.host.empty()) host = util::to_lower(o.host);
  if (!o.path.empty()) path = o.path;
  std::string what =
      o.all && !host && !path ? "remove all routes" : fmt::format("remove {}{}", host.value_or("*"), path.value_or(""));
  return change_routes(
      ctx, o.app, [&](const std::vector<wbw::Route>& base) { return wbw::remove_routes(base, host, path, o.app); },
      what, o.message);
}

struct RollbackOptions {
  std::string app, to, message;
};

Status run_rollback(const RollbackOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(int to, version_arg(o.to));
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto versions, wbw::read_route_versions(*client, ns, o.app));
  const wbw::RouteVersion* target = nullptr;
  for (const auto& v : versions)
    if (v.number == to) target = &v;
  if (!target)
    return Error(ErrorCode::NotFound, fmt::format("app '{}' has no routes version {}", o.app, to),
                 fmt::format("`wb route history {}` lists them", o.app));
  const auto routes = target->routes;
  return change_routes(
      ctx, o.app, [&](const std::vector<wbw::Route>&) -> Result<std::vector<wbw::Route>> { return routes; },
      fmt::format("rollback to v{}", to), o.message);
}

// ---------------------------------------------------------------- history, list

std::string ago(Context& ctx, const std::string& rfc3339) {
  auto t = util::parse_rfc3339(rfc3339);
  if (!t) return "";
  return util::format_age(std::chrono::duration_cast<std::chrono::seconds>(ctx.now() - *t)) + " ago";
}

Status run_history(const std::string& app, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto versions, wbw::read_route_versions(*client, ns, app));
  if (versions.empty() && !ctx.global.machine_output()) {
    ctx.err() << fmt::format("App '{}' has no routes yet; `wb route add {}` adds one.\n", app, app);
    return {};
  }
  json out = json::array();
  Table t{{"current", "version", "when", "who", "change", "routes"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& v : versions) {
    const bool current = &v == &versions.back();
    out.push_back({{"version", v.number},
                   {"current", current},
                   {"when", v.when},
                   {"who", v.who},
                   {"change", v.change},
                   {"cause", v.cause},
                   {"routes", routes_json(v.routes)}});
    std::vector<std::string> urls;
    for (const auto& r : v.routes) urls.push_back(url_of(r));
    t.rows.push_back({current ? "*" : "", fmt::format("v{}", v.number), ago(ctx, v.when), v.who.empty() ? "-" : v.who,
                      v.cause.empty() ? v.change : v.cause, urls.empty() ? "-" : util::join(urls, " ")});
    names.push_back(wbw::routes_map_name(app, v.number));
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

Status run_list(const std::string& app, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  k::ResourceType type;
  WB_ASSIGN_OR_RETURN(auto ingresses, wbw::workspace_ingresses(*client, ns, type));
  json out = json::array();
  Table t{{"app", "url", "version", "target"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& ing : ingresses) {
    if (!wbw::made_by_wb(ing)) continue;
    std::string owner = wbw::fields::meta_string(ing, "labels", wbw::labels::kName);
    if (owner.empty()) owner = wbw::fields::str(ing, "/metadata/name");
    if (!app.empty() && owner != app) continue;
    const std::string version = wbw::fields::meta_string(ing, "annotations", wbw::kRoutesVersionAnnotation);
    const std::string target = wbw::fields::meta_string(ing, "annotations", kTargetAnnotation);
    for (const auto& r : wbw::routes_of_ingress(ing)) {
      out.push_back({{"app", owner},
                     {"host", r.host},
                     {"path", r.path},
                     {"tls", r.tls},
                     {"url", url_of(r)},
                     {"version", number_or_null(version)},
                     {"target", target.empty() ? json(nullptr) : json(target)}});
      t.rows.push_back({owner, url_of(r), version.empty() ? "-" : "v" + version, target.empty() ? "app" : target});
      names.push_back(url_of(r));
    }
  }
  if (out.empty() && !ctx.global.machine_output()) {
    ctx.err() << (app.empty() ? fmt::format("No routes in workspace '{}'.\n", ns)
                              : fmt::format("App '{}' has no routes; `wb route add {}` adds one.\n", app, app));
    return {};
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

// ---------------------------------------------------------------- add-external

struct ExternalOptions {
  std::string name, to, to_host, host, path = "/";
  bool https = false, tls = false;
};

Status run_add_external(const ExternalOptions& o, Context& ctx) {
  if (o.to.empty() == o.to_host.empty())
    return Error(ErrorCode::Usage, "give exactly one of --to IP:PORT[,IP:PORT] and --to-host HOST:PORT");
  if (!util::is_dns1123_label(o.name) || o.name.size() > 63 || !std::isalpha(static_cast<unsigned char>(o.name[0])))
    return Error(
        ErrorCode::Usage,
        fmt::format("'{}' is not a route name (lower-case letters, digits and '-', starting with a letter)", o.name));
  WB_TRY(wbw::check_route_path(o.path));
  std::vector<wbw::IpTarget> ips;
  std::string dns_host;
  int port = 0;
  if (!o.to.empty()) {
    WB_ASSIGN_OR_RETURN(ips, wbw::parse_ip_targets(o.to));
    port = ips.front().port;
  } else {
    WB_ASSIGN_OR_RETURN(auto hp, wbw::parse_host_target(o.to_host, o.https));
    dns_host = hp.first;
    port = hp.second;
  }
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  std::string host = util::to_lower(o.host);
  if (host.empty()) {
    WB_ASSIGN_OR_RETURN(host, wbw::default_route_host(o.name, ns, *settings));
  }
  WB_TRY(wbw::check_route_host(host));
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  // An app of that name owns the name already.
  if (auto d = client->get(k::types::Deployment, ns, o.name); d)
    return Error(ErrorCode::Conflict, fmt::format("'{}' is an app in workspace '{}'", o.name, ns),
                 "use `wb route add` for apps, or another name for the external route");
  k::ResourceType type;
  WB_ASSIGN_OR_RETURN(auto ingresses, wbw::workspace_ingresses(*client, ns, type));
  const wbw::Route route{host, o.path, o.tls};
  if (auto owner = wbw::route_owner(ingresses, o.name, route); !owner.empty())
    return Error(ErrorCode::Conflict,
                 fmt::format("{}{} is already routed to '{}' in workspace '{}'", host, o.path, owner, ns),
                 "pick another --host or --path");
  const std::string target_words = dns_host.empty() ? o.to : fmt::format("{}:{}", dns_host, port);
  wbw::IngressTarget target;
  target.name = o.name;
  target.ns = ns;
  target.service = o.name;
  target.port = port;
  target.extra_labels = {{wbw::kRouteKindLabel, "external"}};
  target.extra_annotations = {{kTargetAnnotation, (o.https ? "https://" : "http://") + target_words}};
  if (!dns_host.empty()) target.extra_annotations[wbw::kUpstreamVhost] = dns_host;
  if (o.https) target.extra_annotations[wbw::kBackendProtocol] = "HTTPS";
  WB_TRY(wbw::publish_external_backend(*client, o.name, ns, ips, dns_host, port, o.https));
  WB_TRY(wbw::publish_ingress(*client, type, target, {route}, *settings));
  if (ctx.global.format() == OutputFormat::Name) {
    ctx.out() << "ingress/" << o.name << '\n';
    return {};
  }
  if (ctx.global.machine_output()) {
    print_result(ctx,
                 {{"name", o.name},
                  {"workspace", ns},
                  {"target", target.extra_annotations[kTargetAnnotation]},
                  {"routes", routes_json({route})}},
                 [] { return Table{}; });
    return {};
  }
  ctx.out() << fmt::format("External route {}: {} -> {}\n", o.name, url_of(route),
                           target.extra_annotations[kTargetAnnotation].get<std::string>());
  return {};
}

}  // namespace

void register_route(CLI::App& app, Context& ctx, Action& action) {
  auto* noun =
      add_verb(app, "route", "Public routes (host names and paths) to apps and to services outside the cluster");

  auto add = std::make_shared<AddOptions>();
  auto* a = add_verb(*noun, "add", "Route a host and path to an app (a new routes version)");
  a->add_option("app", add->app, "App name")->required();
  a->add_option("--host", add->host, "Host name (default: <app>.<workspace>.<route.domain>)")->type_name("HOST");
  a->add_option("--path", add->path, "Path prefix (default /)")->type_name("PATH");
  a->add_flag("--tls", add->tls, "Serve it over HTTPS (the profile's route.tlsSecret, else the ingress default)");
  a->add_option("-m,--message", add->message, "Why")->type_name("TEXT");
  a->callback([add, &ctx, &action] { action = [add, &ctx] { return run_add(*add, ctx); }; });

  auto list_app = std::make_shared<std::string>();
  auto* l = add_verb(*noun, "list", "Routes in the workspace (or of one app)");
  l->alias("ls");
  l->add_option("app", *list_app, "App name");
  l->callback([list_app, &ctx, &action] { action = [list_app, &ctx] { return run_list(*list_app, ctx); }; });

  auto rm = std::make_shared<RmOptions>();
  auto* r = add_verb(*noun, "rm", "Remove routes of an app (a new routes version)");
  r->add_option("app", rm->app, "App name")->required();
  r->add_option("--host", rm->host, "Only routes on this host")->type_name("HOST");
  r->add_option("--path", rm->path, "Only routes with this path")->type_name("PATH");
  r->add_flag("--all", rm->all, "All routes of the app");
  r->add_option("-m,--message", rm->message, "Why")->type_name("TEXT");
  r->callback([rm, &ctx, &action] { action = [rm, &ctx] { return run_rm(*rm, ctx); }; });

  auto hist = std::make_shared<std::string>();
  auto* h = add_verb(*noun, "history", "The app's routes versions: when, who, what changed");
  h->add_option("app", *hist, "App name")->required();
  h->callback([hist, &ctx, &action] { action = [hist, &ctx] { return run_history(*hist, ctx); }; });

  auto rb = std::make_shared<RollbackOptions>();
  auto* b = add_verb(*noun, "rollback", "Make a new routes version with the routes of version N");
  b->add_option("app", rb->app, "App name")->required();
  b->add_option("--to", rb->to, "The version to go back to (e.g. 3 or v3)")->type_name("N")->required();
  b->add_option("-m,--message", rb->message, "Why")->type_name("TEXT");
  b->callback([rb, &ctx, &action] { action = [rb, &ctx] { return run_rollback(*rb, ctx); }; });

  auto ext = std::make_shared<ExternalOptions>();
  auto* e = add_verb(*noun, "add-external", "Route to a service outside the cluster (IP targets or a DNS name)");
  e->add_option("name", ext->name, "Name of the external route")->required();
  e->add_option("--to", ext->to, "IP:PORT targets, comma-separated")->type_name("IP:PORT[,IP:PORT]");
  e->add_option("--to-host", ext->to_host, "A DNS name and port")->type_name("HOST:PORT");
  e->add_flag("--https", ext->https, "The target speaks HTTPS");
  e->add_option("--host", ext->host, "Public host name (default: <name>.<workspace>.<route.domain>)")
      ->type_name("HOST");
  e->add_option("--path", ext->path, "Path prefix (default /)")->type_name("PATH");
  e->add_flag("--tls", ext->tls, "Serve it over HTTPS");
  e->callback([ext, &ctx, &action] { action = [ext, &ctx] { return run_add_external(*ext, ctx); }; });
}

}  // namespace wb::cli::commands
