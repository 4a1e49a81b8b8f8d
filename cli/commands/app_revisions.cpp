// wb app set|history|rollback: changing an app (a new version), its versions, going back to one.
#include <fmt/format.h>

#include <ostream>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

// ---------------------------------------------------------------- set

struct SetOptions {
  std::string name;
  std::string memory, cpu, health, trace;
  int replicas = 0, port = 0;
  bool replicas_set = false, port_set = false;
  std::vector<std::string> env, unset_env;
  bool dry_run = false;
  WaitFlags wait;
};

Result<wbw::AppChanges> changes_from(const SetOptions& o, std::string& cause) {
  wbw::AppChanges c;
  std::vector<std::string> said;
  if (!o.memory.empty()) c.memory = o.memory, said.push_back("--memory " + o.memory);
  if (!o.cpu.empty()) c.cpu = o.cpu, said.push_back("--cpu " + o.cpu);
  if (!o.health.empty()) c.health_path = o.health, said.push_back("--health " + o.health);
  if (o.port_set) c.port = o.port, said.push_back(fmt::format("--port {}", o.port));
  if (o.replicas_set) c.replicas = o.replicas, said.push_back(fmt::format("--replicas {}", o.replicas));
  if (!o.trace.empty()) {
    std::string v = util::to_lower(o.trace);
    c.trace = v == "on" || v == "true" || v == "yes";
    said.push_back(std::string("--trace=") + (*c.trace ? "on" : "off"));
  }
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(ErrorCode::Usage, fmt::format("--env '{}' must look like NAME=VALUE", kv));
    c.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    said.push_back("--env " + kv.substr(0, eq));  // names only: values may be secret
  }
  for (const auto& k : o.unset_env) {
    WB_TRY(wbw::check_env_name(k));
    c.unset_env.push_back(k);
    said.push_back("--unset-env " + k);
  }
  if (said.empty())
    return Error(ErrorCode::Usage, "nothing to change",
                 "pass what to change, e.g. --memory 2Gi, --env K=V or --trace=on (see `wb app set --help`)");
  cause = "set " + util::join(said, " ");
  return c;
}

Status run_set(const SetOptions& o, Context& ctx) {
  std::string cause;
  WB_ASSIGN_OR_RETURN(auto changes, changes_from(o, cause));
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto current, wbw::read_app(*client, ns, o.name));
  auto sb = wbw::spec_from_deployment(current, *settings);
  WB_TRY(wbw::apply_changes(sb, changes));
  WB_ASSIGN_OR_RETURN(auto objects, wbw::build_objects(sb.spec, *settings, sb.build));
  for (const auto& w : objects.warnings) ctx.warn(w);
  wbw::keep_other_parts(objects.deployment, current);
  if (sb.spec.replicas)
    objects.deployment["metadata"]["annotations"][wbw::annotations::kReplicas] = std::to_string(*sb.spec.replicas);
  if (o.dry_run) {
    wbw::record_change(objects.deployment, {"", cause, ""});
    print_objects(ctx, {objects.deployment, objects.service});
    return {};
  }
  // Only a change that makes a new version records who and why: the cluster copies these
  // annotations onto the version that runs, and `wb app history` reads them from there. The
  // server's defaults make a local comparison useless, so ask it (a dry-run apply).
  auto trial = client->apply(k::types::Deployment, ns, objects.deployment, /*force=*/true, /*dry_run=*/true);
  if (!trial) return wbw::refused_in_workspace(std::move(trial).error(), ns);
  if (util::json_at(*trial, "/spec/template", json()) != util::json_at(current, "/spec/template", json()))
    wbw::record_change(objects.deployment, change_info(ctx, *client, cause));
  // The same server-side apply as `wb app create --update`: wb owns what it sets.
  auto d = client->apply(k::types::Deployment, ns, objects.deployment, /*force=*/true);
  if (!d) return wbw::refused_in_workspace(std::move(d).error(), ns);
  auto s = client->apply(k::types::Service, ns, objects.service, /*force=*/true);
  if (!s) return wbw::refused_in_workspace(std::move(s).error(), ns);
  const int replicas = objects.deployment["spec"]["replicas"].get<int>();
  if (replicas == 0) {
    if (ctx.global.machine_output()) return report_app(ctx, *client, ns, o.name, "");
    ctx.out() << fmt::format("Changed {} (stopped; `wb app start {}` runs it)\n", o.name, o.name);
    return {};
  }
  if (o.wait.no_wait) {
    if (ctx.global.machine_output()) return report_app(ctx, *client, ns, o.name, "");
    ctx.out() << fmt::format("Changed {}; `wb app status {}` shows the new version rolling out\n", o.name, o.name);
    return {};
  }
  WB_TRY(wait_for_app(ctx, *client, ns, o.name, o.wait));
  return report_app(ctx, *client, ns, o.name, "Changed " + o.name + ": {state}");
}

// ---------------------------------------------------------------- history

Result<std::pair<json, std::vector<wbw::Revision>>> read_history(Context& ctx, const std::string& ns,
                                                                 const std::string& app) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto d, wbw::read_app(*client, ns, app));
  k::ListOptions opts;
  opts.label_selector = fmt::format("{}={}", wbw::labels::kName, app);
  auto rss = client->list(k::types::ReplicaSet, ns, opts);
  if (!rss) return wbw::refused_in_workspace(std::move(rss).error(), ns);
  // With the profile's base images, the version made by `app create` (base image, no jar) reads "-".
  auto settings = ctx.settings();
  return std::make_pair(d, wbw::history(d, rss->value("items", json::array()), settings ? *settings : nullptr));
}

Status run_history(const std::string& app, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto found, read_history(ctx, ns, app));
  const auto& revisions = found.second;
  if (revisions.empty() && !ctx.global.machine_output()) {
    ctx.err() << fmt::format("App '{}' has no versions yet (it has never been started).\n", app);
    return {};
  }
  json out = json::array();
  Table t{{"current", "revision", "when", "who", "image", "config", "cause"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& r : revisions) {
    out.push_back({{"revision", r.number},
                   {"current", r.current},
                   {"when", r.when},
                   {"who", r.who},
                   {"image", r.image},
                   {"version", r.version},
                   {"config", r.config.empty() ? json(nullptr) : json(r.config)},
                   {"cause", r.cause}});
    std::string when;
    if (auto t0 = util::parse_rfc3339(r.when))
      when = util::format_age(std::chrono::duration_cast<std::chrono::seconds>(ctx.now() - *t0)) + " ago";
    t.rows.push_back({r.current ? "*" : "", std::to_string(r.number), when, r.who.empty() ? "-" : r.who,
                      r.version.empty() ? "-" : r.version, r.config.empty() ? "-" : r.config,
                      r.cause.empty() ? "-" : r.cause});
    names.push_back(std::to_string(r.number));
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

// ---------------------------------------------------------------- rollback

struct RollbackOptions {
  std::string name;
  long to = 0;
  bool to_set = false;
  bool dry_run = false;
  WaitFlags wait;
};

Status run_rollback(const RollbackOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto found, read_history(ctx, ns, o.name));
  std::optional<long> to;
  if (o.to_set) to = o.to;
  WB_ASSIGN_OR_RETURN(auto target, wbw::rollback_target(found.second, to, o.name));
  if (target.current) {
    if (ctx.global.machine_output()) return report_app(ctx, *client, ns, o.name, "");
    ctx.out() << fmt::format("{} already runs revision {}; nothing to do\n", o.name, target.number);
    return {};
  }
  const auto change = change_info(ctx, *client, fmt::format("rollback to revision {}", target.number));
  auto mutate = [&](json& d) -> Status {
    d["spec"]["template"] = target.pod_template;
    wbw::record_change(d, change);
    return {};
  };
  WB_ASSIGN_OR_RETURN(auto written, wbw::update_app(*client, ns, o.name, mutate, o.dry_run));
  if (o.dry_run) {
    print_objects(ctx, {written});
    return {};
  }
  const std::string line = fmt::format("{} is back on revision {} ({}): {{state}}", o.name, target.number,
                                       target.version.empty() ? target.image : target.version);
  if (util::json_at(written, "/spec/replicas", 0) == 0 || o.wait.no_wait) {
    if (ctx.global.machine_output()) return report_app(ctx, *client, ns, o.name, "");
    ctx.out() << fmt::format("Rolled {} back to revision {}{}\n", o.name, target.number,
                             util::json_at(written, "/spec/replicas", 0) == 0 ? " (stopped)" : "");
    return {};
  }
  WB_TRY(wait_for_app(ctx, *client, ns, o.name, o.wait));
  return report_app(ctx, *client, ns, o.name, line);
}

}  // namespace

void register_app_revisions(CLI::App& noun, Context& ctx, Action& action) {
  auto set = std::make_shared<SetOptions>();
  auto* s = add_verb(noun, "set", "Change an app (resources, environment, tracing, port, health path) and roll it out");
  s->add_option("name", set->name, "App name")->required();
  s->add_option("--memory", set->memory, "Memory limit, e.g. 512Mi or 2Gi")->type_name("QUANTITY");
  s->add_option("--cpu", set->cpu, "CPU limit, e.g. 500m or 2")->type_name("QUANTITY");
  auto* replicas =
      s->add_option("--replicas", set->replicas, "Replicas (remembered for `wb app start`)")->type_name("N");
  s->add_option("--env", set->env, "Set an environment variable NAME=VALUE (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  s->add_option("--unset-env", set->unset_env, "Remove an environment variable (repeatable)")
      ->type_name("NAME")
      ->allow_extra_args(false);
  s->add_option("--trace", set->trace, "Tracing with the SkyWalking agent: on or off")
      ->type_name("on|off")
      ->check(CLI::IsMember({"on", "off", "true", "false", "yes", "no"}, CLI::ignore_case));
  auto* port = s->add_option("--port", set->port, "HTTP port the app listens on")->type_name("N");
  s->add_option("--health", set->health, "HTTP path for health probes")->type_name("PATH");
  s->add_flag("--dry-run", set->dry_run, "Print the objects instead of sending them (-o json|yaml)");
  add_wait_flags(*s, set->wait);
  s->callback([set, replicas, port, &ctx, &action] {
    set->replicas_set = replicas->count() > 0;
    set->port_set = port->count() > 0;
    action = [set, &ctx] { return run_set(*set, ctx); };
  });

  auto name = std::make_shared<std::string>();
  auto* h = add_verb(noun, "history", "The app's versions: when, who, image, config version and why");
  h->add_option("name", *name, "App name")->required();
  h->callback([name, &ctx, &action] { action = [name, &ctx] { return run_history(*name, ctx); }; });

  auto rb = std::make_shared<RollbackOptions>();
  auto* r =
      add_verb(noun, "rollback", "Go back to an earlier version (image and config together); default: the previous");
  r->add_option("name", rb->name, "App name")->required();
  auto* to = r->add_option("--to", rb->to, "Revision to go back to (see `wb app history`)")->type_name("REV");
  r->add_flag("--dry-run", rb->dry_run, "Print the changed object instead of sending it (-o json|yaml)");
  add_wait_flags(*r, rb->wait);
  r->callback([rb, to, &ctx, &action] {
    rb->to_set = to->count() > 0;
    action = [rb, &ctx] { return run_rollback(*rb, ctx); };
  });
}

}  // namespace wb::cli::commands
