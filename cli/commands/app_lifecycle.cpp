// wb app list|status|start|stop|restart|scale|delete: an app's state in words and running it.
//
// `wb app status NAME -o json` prints one object (stable; fields are only ever added):
//   name, workspace, status ("Running 2/2"), phase (Stopped|Starting|Running|Updating|Failing),
//   ready, desired, reason and hint (why it is not fine, the next step; "" when fine),
//   revision (number|null), version ("orders-1.4.jar (sha256:0123456789ab)"|null), image,
//   config ("v3"|null), tracing (bool), url (first route, else address), routes ([url]),
//   address ("http://orders.shop-dev.svc:8080"),
//   replicas [{name, ready, newest, restarts, problem}], events [{time, type, message, count}].
// The verbs that change an app print the same object with -o json|yaml.
#include <fmt/format.h>

#include <istream>
#include <ostream>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

std::string ago(Context& ctx, const std::string& rfc3339) {
  auto t = util::parse_rfc3339(rfc3339);
  if (!t) return "";
  return util::format_age(std::chrono::duration_cast<std::chrono::seconds>(ctx.now() - *t)) + " ago";
}

// ---------------------------------------------------------------- list

Status run_list(Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  k::ListOptions opts;
  opts.label_selector = fmt::format("{}=wb", wbw::labels::kManagedBy);
  auto deployments = client->list(k::types::Deployment, ns, opts);
  if (!deployments) return wbw::refused_in_workspace(std::move(deployments).error(), ns);
  auto rss = client->list(k::types::ReplicaSet, ns, opts);
  if (!rss) return wbw::refused_in_workspace(std::move(rss).error(), ns);
  auto pods = client->list(k::types::Pod, ns, opts);
  if (!pods) return wbw::refused_in_workspace(std::move(pods).error(), ns);
  // With the profile's base images, an app that still runs the one create gave it shows no version.
  auto settings = ctx.settings();
  auto rows = wbw::app_rows(deployments->value("items", json::array()), rss->value("items", json::array()),
                            pods->value("items", json::array()), ctx.now(), settings ? *settings : nullptr);
  if (rows.empty() && !ctx.global.machine_output()) {
    ctx.err() << fmt::format("No apps in workspace '{}' yet; `wb app create NAME` makes one.\n", ns);
    return {};
  }
  json out = json::array();
  Table t{{"name", "status", "version", "config", "tracing", "age", "reason"}, {}, {6}};
  std::vector<std::string> names;
  for (const auto& r : rows) {
    out.push_back({{"name", r.name},
                   {"status", r.status},
                   {"version", r.version},
                   {"config", r.config},
                   {"tracing", r.tracing},
                   {"age", r.age},
                   {"reason", r.reason}});
    t.rows.push_back({r.name, r.status, r.version, r.config, r.tracing ? "on" : "off", r.age, r.reason});
    names.push_back("app/" + r.name);
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

// ---------------------------------------------------------------- status

// `--dotenv-out FILE`: the app's state for a GitLab dotenv report (one KEY=VALUE a line, no
// quotes, no newlines in values): WB_APP, WB_APP_WORKSPACE, WB_APP_STATUS, WB_APP_PHASE,
// WB_APP_IMAGE, WB_APP_REVISION, WB_APP_CONFIG, WB_APP_URL ("" when there is none).
Status write_status_dotenv(const std::string& file, const json& doc) {
  auto text_of = [&](const char* key) -> std::string {
    const json& v = doc.contains(key) ? doc[key] : json();
    std::string s = v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
    for (char& c : s)
      if (c == '\n' || c == '\r') c = ' ';
    return s;
  };
  std::string text;
  const std::pair<const char*, const char*> vars[] = {{"WB_APP", "name"},          {"WB_APP_WORKSPACE", "workspace"},
                                                      {"WB_APP_STATUS", "status"}, {"WB_APP_PHASE", "phase"},
                                                      {"WB_APP_IMAGE", "image"},   {"WB_APP_REVISION", "revision"},
                                                      {"WB_APP_CONFIG", "config"}, {"WB_APP_URL", "url"}};
  for (const auto& [var, key] : vars) text += fmt::format("{}={}\n", var, text_of(key));
  auto st = util::write_file_atomic(file, text);
  if (!st) return st.error().with_context("--dotenv-out");
  return {};
}

Status run_status(const std::string& app, const std::string& dotenv_out, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto d, wbw::describe_app(*client, ns, app, 8));
  auto settings = ctx.settings();
  const json doc = status_document(ns, d, settings ? *settings : nullptr);
  if (!dotenv_out.empty()) WB_TRY(write_status_dotenv(dotenv_out, doc));
  if (ctx.global.machine_output()) {
    print_result(ctx, doc, [] { return Table{}; }, {"app/" + app});
    return {};
  }
  const bool color = ctx.color_out();
  const auto& s = d.state;
  std::string state = s.summary();
  std::string painted = paint(color,
                              s.phase == wbw::Phase::Running   ? "green"
                              : s.phase == wbw::Phase::Failing ? "red"
                                                               : "yellow",
                              state);
  auto& out = ctx.out();
  out << fmt::format("App:       {} (workspace {})\n", app, ns);
  out << fmt::format("Status:    {}{}\n", painted, s.reason.empty() ? "" : ": " + s.reason);
  if (!s.hint.empty()) out << fmt::format("           {}\n", s.hint);
  std::string version = doc["version"].is_null() ? "none yet (push a jar: wb push jar FILE --app " + app + ")"
                                                 : doc["version"].get<std::string>();
  if (!s.revision.empty() && !doc["version"].is_null()) version += " (revision " + s.revision + ")";
  out << fmt::format("Version:   {}\n", version);
  out << fmt::format("Config:    {}\n", doc["config"].is_null() ? "-" : doc["config"].get<std::string>());
  out << fmt::format("URL:       {}\n", wbw::app_url(d));
  for (size_t i = 1; i < d.routes.size(); ++i) out << fmt::format("           {}\n", d.routes[i]);
  if (!d.routes.empty()) out << fmt::format("Inside:    {}\n", d.address);
  out << fmt::format("Tracing:   {}\n", doc["tracing"].get<bool>() ? "on" : "off");
  if (!s.replicas.empty()) {
    out << "Replicas:\n";
    size_t w = 4;
    for (const auto& r : s.replicas) w = std::max(w, wbw::replica_name(r.name, app).size());
    for (const auto& r : s.replicas) {
      std::string line = fmt::format("  {:<{}}  {:<9}  {:<11}", wbw::replica_name(r.name, app), w,
                                     r.ready ? "ready" : "not ready", r.current ? "newest" : "old version");
      line += fmt::format("  {} restart{}", r.restarts, r.restarts == 1 ? "" : "s");
      if (!r.reason.empty()) line += "  " + r.reason;
      out << line << '\n';
    }
  }
  if (!d.events.empty()) {
    out << "Events:\n";
    for (const auto& e : d.events) {
      std::string msg = e.message + (e.count > 1 ? fmt::format(" (x{})", e.count) : "");
      if (e.type == "Warning") msg = paint(color, "yellow", msg);
      out << fmt::format("  {:<9}  {}\n", ago(ctx, e.time), msg);
    }
  }
  return {};
}

// ---------------------------------------------------------------- start, stop, scale, restart

struct RunOptions {
  std::string name;
  int replicas = 0;
  bool replicas_set = false;
  bool dry_run = false;
  WaitFlags wait;
};

Error no_version_yet(const std::string& app) {
  return Error(ErrorCode::Usage,
               fmt::format("app '{}' has no version yet; push a jar first: wb push jar FILE --app {}", app, app));
}

// Sets the replicas (remembering a non-zero count for the next start), then waits.
Status scale_to(Context& ctx, const std::string& app, std::optional<int> flag, bool stop, const RunOptions& o,
                const std::string& done_line) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  int replicas = 0;
  auto mutate = [&](json& d) -> Status {
    if (!stop) {
      if (!wbw::has_pushed_version(d, *settings)) return no_version_yet(app);
      replicas = wbw::replicas_to_start(d, flag, *settings);
      if (replicas > 0) d["metadata"]["annotations"][wbw::annotations::kReplicas] = std::to_string(replicas);
    }
    d["spec"]["replicas"] = replicas;
    return {};
  };
  WB_ASSIGN_OR_RETURN(auto written, wbw::update_app(*client, ns, app, mutate, o.dry_run));
  if (o.dry_run) {
    print_objects(ctx, {written});
    return {};
  }
  if (o.wait.no_wait) {
    if (ctx.global.machine_output()) return report_app(ctx, *client, ns, app, "");
    ctx.out() << (replicas == 0 ? fmt::format("Stopping {}; `wb app status {}` shows how it goes\n", app, app)
                                : fmt::format("Starting {} ({} replica{}); `wb app status {}` shows how it goes\n", app,
                                              replicas, replicas == 1 ? "" : "s", app));
    return {};
  }
  WB_TRY(wait_for_app(ctx, *client, ns, app, o.wait));
  return report_app(ctx, *client, ns, app, done_line);
}

Status run_start(const RunOptions& o, Context& ctx) {
  std::optional<int> flag;
  if (o.replicas_set) flag = o.replicas;
  if (flag && *flag < 1)
    return Error(ErrorCode::Usage,
                 fmt::format("--replicas must be at least 1 to start (`wb app stop {}` stops it)", o.name));
  return scale_to(ctx, o.name, flag, false, o, o.name + " is {state}");
}

Status run_stop(const RunOptions& o, Context& ctx) {
  return scale_to(ctx, o.name, std::nullopt, true, o, o.name + " is {state}");
}

Status run_scale(const RunOptions& o, Context& ctx) {
  if (o.replicas < 0) return Error(ErrorCode::Usage, fmt::format("replicas must be 0 or more, not {}", o.replicas));
  if (o.replicas == 0) return scale_to(ctx, o.name, std::nullopt, true, o, o.name + " is {state}");
  return scale_to(ctx, o.name, o.replicas, false, o, o.name + " is {state}");
}

Status run_restart(const RunOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  const auto change = change_info(ctx, *client, "restart");
  const std::string now = util::format_rfc3339(ctx.now());
  auto mutate = [&](json& d) -> Status {
    if (util::json_at(d, "/spec/replicas", 0) == 0)
      return Error(ErrorCode::Usage, fmt::format("app '{}' is stopped; `wb app start {}` starts it", o.name, o.name));
    d["spec"]["template"]["metadata"]["annotations"][wbw::annotations::kRestartedAt] = now;
    wbw::record_change(d, change);
    return {};
  };
  WB_ASSIGN_OR_RETURN(auto written, wbw::update_app(*client, ns, o.name, mutate, o.dry_run));
  if (o.dry_run) {
    print_objects(ctx, {written});
    return {};
  }
  if (o.wait.no_wait) {
    if (ctx.global.machine_output()) return report_app(ctx, *client, ns, o.name, "");
    ctx.out() << fmt::format("Restarting {} one replica at a time; `wb app status {}` shows how it goes\n", o.name,
                             o.name);
    return {};
  }
  WB_TRY(wait_for_app(ctx, *client, ns, o.name, o.wait));
  return report_app(ctx, *client, ns, o.name, o.name + " restarted: {state}");
}

// ---------------------------------------------------------------- delete

struct DeleteOptions {
  std::string name;
  bool dry_run = false;
};

std::string kind_words(const wbw::OwnedObject& o, size_t n) {
  const std::string& kind = o.type.kind;
  std::string word = kind == "Deployment" ? "app"
                     : kind == "Service"  ? "service"
                     : kind == "Ingress"  ? "route"
                                          : "config";
  return n == 1 ? word : fmt::format("{} {}s", n, word);
}

Status run_delete(const DeleteOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto objects, wbw::objects_of_app(*client, ns, o.name));
  if (objects.empty())
    return Error(ErrorCode::NotFound, fmt::format("app '{}' not found in workspace '{}'", o.name, ns),
                 "`wb app list` shows the apps there");
  if (o.dry_run) {
    std::vector<json> refs;
    for (const auto& obj : objects)
      refs.push_back({{"apiVersion", obj.type.api_version()},
                      {"kind", obj.type.kind},
                      {"metadata", {{"name", obj.name}, {"namespace", ns}}}});
    print_objects(ctx, refs);
    return {};
  }
  if (!ctx.global.yes) {
    if (!ctx.can_prompt())
      return Error(ErrorCode::Usage, fmt::format("deleting app '{}' needs confirmation", o.name),
                   "pass --yes when not on a terminal");
    ctx.err() << fmt::format("Delete app '{}' and its configs and routes in workspace '{}'? [y/N] ", o.name, ns)
              << std::flush;
    std::string answer;
    if (!ctx.io.in || !std::getline(*ctx.io.in, answer)) answer.clear();
    answer = util::to_lower(util::trim(answer));
    if (answer != "y" && answer != "yes") {
      ctx.err() << "Nothing deleted.\n";
      return {};
    }
  }
  WB_TRY(wbw::delete_objects(*client, ns, objects));
  std::map<std::string, size_t> counts;
  for (const auto& obj : objects) ++counts[obj.type.kind];
  std::vector<std::string> parts;
  for (const auto& obj : objects) {
    auto& n = counts[obj.type.kind];
    if (n == 0) continue;
    parts.push_back(kind_words(obj, n));
    n = 0;
  }
  if (ctx.global.format() == OutputFormat::Name) {
    ctx.out() << "app/" << o.name << '\n';
  } else if (ctx.global.machine_output()) {
    json deleted = json::array();
    for (const auto& obj : objects) deleted.push_back({{"kind", obj.type.kind}, {"name", obj.name}});
    print_result(ctx, {{"name", o.name}, {"workspace", ns}, {"deleted", deleted}}, [] { return Table{}; });
  } else {
    ctx.out() << fmt::format("Deleted app '{}' from workspace '{}' ({})\n", o.name, ns, util::join(parts, ", "));
  }
  return {};
}

}  // namespace

void register_app_lifecycle(CLI::App& noun, Context& ctx, Action& action) {
  auto* l = add_verb(noun, "list", "List the apps in the workspace: state, version, config version, tracing");
  l->alias("ls");
  l->callback([&ctx, &action] { action = [&ctx] { return run_list(ctx); }; });

  auto name = std::make_shared<std::string>();
  auto dotenv = std::make_shared<std::string>();
  auto* s = add_verb(noun, "status", "An app's state in words: replicas, version, config, URL, recent events");
  s->add_option("name", *name, "App name")->required();
  s->add_option(
       "--dotenv-out", *dotenv,
       "Also write WB_APP_STATUS, WB_APP_PHASE, WB_APP_IMAGE, WB_APP_REVISION, WB_APP_URL... to FILE (a GitLab "
       "dotenv report)")
      ->type_name("FILE");
  s->callback(
      [name, dotenv, &ctx, &action] { action = [name, dotenv, &ctx] { return run_status(*name, *dotenv, ctx); }; });

  auto start = std::make_shared<RunOptions>();
  auto* st = add_verb(noun, "start", "Start the app and wait until every replica runs the newest version");
  st->add_option("name", start->name, "App name")->required();
  auto* replicas = st->add_option("--replicas", start->replicas,
                                  "How many replicas (default: the app's remembered count, else the profile's)")
                       ->type_name("N");
  st->add_flag("--dry-run", start->dry_run, "Print the changed object instead of sending it (-o json|yaml)");
  add_wait_flags(*st, start->wait);
  st->callback([start, replicas, &ctx, &action] {
    start->replicas_set = replicas->count() > 0;
    action = [start, &ctx] { return run_start(*start, ctx); };
  });

  auto stop = std::make_shared<RunOptions>();
  auto* sp = add_verb(noun, "stop", "Stop the app (no replicas run; its version and config stay)");
  sp->add_option("name", stop->name, "App name")->required();
  sp->add_flag("--dry-run", stop->dry_run, "Print the changed object instead of sending it (-o json|yaml)");
  add_wait_flags(*sp, stop->wait);
  sp->callback([stop, &ctx, &action] { action = [stop, &ctx] { return run_stop(*stop, ctx); }; });

  auto restart = std::make_shared<RunOptions>();
  auto* rs = add_verb(noun, "restart", "Restart the app's replicas one at a time");
  rs->add_option("name", restart->name, "App name")->required();
  rs->add_flag("--dry-run", restart->dry_run, "Print the changed object instead of sending it (-o json|yaml)");
  add_wait_flags(*rs, restart->wait);
  rs->callback([restart, &ctx, &action] { action = [restart, &ctx] { return run_restart(*restart, ctx); }; });

  auto scale = std::make_shared<RunOptions>();
  auto* sc = add_verb(noun, "scale", "Run N replicas of the app (0 stops it)");
  sc->add_option("name", scale->name, "App name")->required();
  sc->add_option("replicas", scale->replicas, "Number of replicas")->required()->type_name("N");
  sc->add_flag("--dry-run", scale->dry_run, "Print the changed object instead of sending it (-o json|yaml)");
  add_wait_flags(*sc, scale->wait);
  sc->callback([scale, &ctx, &action] { action = [scale, &ctx] { return run_scale(*scale, ctx); }; });

  auto del = std::make_shared<DeleteOptions>();
  auto* d =
      add_verb(noun, "delete", "Delete the app and everything wb made for it (service, configs, routes); asks first");
  d->alias("rm");
  d->add_option("name", del->name, "App name")->required();
  d->add_flag("--dry-run", del->dry_run, "Print what would be deleted (-o json|yaml|name)");
  d->callback([del, &ctx, &action] { action = [del, &ctx] { return run_delete(*del, ctx); }; });

  register_app_revisions(noun, ctx, action);
}

}  // namespace wb::cli::commands
