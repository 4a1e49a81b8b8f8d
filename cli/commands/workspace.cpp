// wb workspace list|use|create|delete: where you work.
#include <fmt/format.h>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;
using wbw::tenancy::kTenantLabel;

namespace {

std::string age_of(const std::string& created, util::TimePoint now) {
  auto t = util::parse_rfc3339(created);
  if (!t) return "";
  return util::format_age(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

void warn_records(Context& ctx, const wbw::tenancy::RecordsOutcome& outcome) {
  if (outcome.records) ctx.warn(outcome.records->message + " (" + outcome.records->hint + ")");
}

Status run_list(bool all, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  const std::string tenant = settings->text("tenant");
  WB_ASSIGN_OR_RETURN(auto list, wbw::tenancy::list_workspaces(*client, tenant, all, true));
  std::string current = settings->text("workspace");
  json out = json::array();
  Table t{{"current", "name", "tenant", "status", "age", "can deploy", "role"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& w : list.rows) {
    std::string age = age_of(w.created, ctx.now());
    out.push_back({{"name", w.name},
                   {"tenant", w.tenant},
                   {"role", w.role.empty() ? json(nullptr) : json(w.role)},
                   {"status", w.phase},
                   {"age", age},
                   {"canDeploy", w.can_deploy},
                   {"current", w.name == current}});
    t.rows.push_back({w.name == current ? "*" : "", w.name, w.tenant.empty() ? "-" : w.tenant,
                      w.phase.empty() ? "-" : w.phase, age, w.can_deploy ? "yes" : "no",
                      w.role.empty() ? "-" : w.role});
    names.push_back(w.name);
  }
  if (names.empty() && !ctx.global.machine_output()) {
    if (list.from_records)
      ctx.err() << (tenant.empty()
                        ? std::string("You have no role in any workspace yet; a tenant admin adds you with `wb member "
                                      "add`.\n")
                        : fmt::format("You have no role in any workspace of tenant '{}' yet.\n", tenant));
    else
      ctx.err() << (tenant.empty() ? std::string("No workspaces found (namespaces labelled kubesphere.io/workspace).\n")
                                   : fmt::format("Tenant '{}' has no workspaces yet.\n", tenant));
    return {};
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

Status run_use(const std::string& name, Context& ctx) {
  if (!util::is_dns1123_label(name))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid workspace name", name),
                 "workspace names use lower-case letters, digits and '-'");
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  auto ns = client->get(k::types::Namespace, "", name);
  const std::string tenant = settings->text("tenant");
  if (!ns) {
    if (ns.error().code == ErrorCode::NotFound)
      return Error(ErrorCode::NotFound, fmt::format("workspace '{}' not found", name),
                   "`wb workspace list` shows the ones you have");
    if (ns.error().http_status != 403) return ns.error();
    // Many developers may not read namespaces; the choice is still theirs to make.
    ctx.warn(fmt::format("cannot check that workspace '{}' exists (not allowed to read it)", name));
  } else if (!tenant.empty()) {
    std::string owner = (*ns)["metadata"].value("labels", json::object()).value(kTenantLabel, "");
    if (owner != tenant)
      return Error(ErrorCode::Usage,
                   fmt::format("workspace '{}' belongs to {}, not to tenant '{}'", name,
                               owner.empty() ? std::string("no tenant") : "tenant '" + owner + "'", tenant),
                   "switch profile with `wb profile use`, or pick one from `wb workspace list`");
  }
  const auto dirs = wbw::config_dirs(ctx.env);
  WB_ASSIGN_OR_RETURN(auto state, wbw::load_state(dirs));
  state.workspace_by_profile[settings->profile_name] = name;
  WB_TRY(wbw::save_state(dirs, state));
  if (!ctx.global.quiet) ctx.out() << fmt::format("Now working in workspace '{}'\n", name);
  return {};
}

struct CreateOptions {
  std::string name;
  std::string tenant;
  std::string cpu;
  std::string memory;
  bool no_network_policy = false;
  bool dry_run = false;
};

Status run_create(const CreateOptions& o, Context& ctx) {
  namespace ten = wbw::tenancy;
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  ten::WorkspaceSpec spec;
  spec.name = o.name;
  spec.tenant = o.tenant.empty() ? settings->text("tenant") : o.tenant;
  if (spec.tenant.empty())
    return Error(ErrorCode::Usage, fmt::format("which tenant does workspace '{}' belong to?", o.name),
                 "pass --tenant T (or set tenant in the profile)");
  auto& d = spec.defaults = ten::workspace_defaults(*settings);
  if (!o.cpu.empty()) d.quota_cpu = o.cpu;
  if (!o.memory.empty()) d.quota_memory = o.memory;
  if (o.no_network_policy) d.network_policy = false;
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  if (!o.dry_run) spec.creator = server_username(*client);
  WB_ASSIGN_OR_RETURN(auto created, ten::create_workspace(*client, spec, o.dry_run));
  const auto& objects = created.objects;
  if (o.dry_run) {
    print_objects(ctx, objects);
    return {};
  }
  warn_records(ctx, created.outcome);
  if (ctx.global.machine_output()) {
    if (ctx.global.format() == OutputFormat::Name) {
      ctx.out() << "workspace/" << o.name << '\n';
      return {};
    }
    print_result(ctx, json{{"name", o.name}, {"tenant", spec.tenant}, {"objects", objects}}, [] { return Table{}; });
    return {};
  }
  ctx.out() << fmt::format("Created workspace '{}' in tenant '{}' (quota {} CPU, {} memory{})\n", o.name, spec.tenant,
                           d.quota_cpu, d.quota_memory,
                           d.network_policy ? "; other tenants are kept out" : "; no network policy");
  return {};
}

Status run_delete(const std::string& name, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  if (!ctx.global.yes) {
    if (!ctx.can_prompt())
      return Error(ErrorCode::Usage, fmt::format("deleting workspace '{}' needs confirmation", name),
                   "pass --yes when not on a terminal");
    ctx.err() << fmt::format("Delete workspace '{}' with all its apps, configs and members? [y/N] ", name)
              << std::flush;
    std::string answer;
    if (!ctx.io.in || !std::getline(*ctx.io.in, answer)) answer.clear();
    answer = util::to_lower(util::trim(answer));
    if (answer != "y" && answer != "yes") {
      ctx.err() << "Nothing deleted.\n";
      return {};
    }
  }
  WB_ASSIGN_OR_RETURN(auto deleted, wbw::tenancy::delete_workspace(*client, name));
  warn_records(ctx, deleted.outcome);
  const std::string& tenant = deleted.tenant;
  if (ctx.global.machine_output())
    print_result(ctx, json{{"name", name}, {"tenant", tenant}, {"deleted", true}}, [] { return Table{}; },
                 {"workspace/" + name});
  else
    ctx.out() << fmt::format("Deleted workspace '{}' of tenant '{}'\n", name, tenant);
  return {};
}

}  // namespace

void register_workspace(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "workspace", "Workspaces (namespaces) of your tenant");
  noun->alias("ws");
  auto all = std::make_shared<bool>(false);
  auto* l =
      add_verb(*noun, "list", "List the workspaces you have a role in, your role and whether you may deploy there");
  l->alias("ls");
  l->add_flag("--all", *all, "Every workspace of the cluster (or of the profile's tenant), where you may list them");
  l->callback([all, &ctx, &action] { action = [all, &ctx] { return run_list(*all, ctx); }; });
  auto name = std::make_shared<std::string>();
  auto* u = add_verb(*noun, "use", "Work in this workspace from now on (for the current profile)");
  u->add_option("name", *name, "Workspace name")->required();
  u->callback([name, &ctx, &action] { action = [name, &ctx] { return run_use(*name, ctx); }; });

  auto co = std::make_shared<CreateOptions>();
  auto* c = add_verb(*noun, "create",
                     "Create a workspace of a tenant: namespace, quota, limit range, network policy, tenant admins "
                     "(the tenant's admins, or the platform team)");
  c->add_option("name", co->name, "Workspace name")->required();
  c->add_option("--tenant", co->tenant, "Tenant it belongs to (default: the profile's tenant)")->type_name("TENANT");
  c->add_option("--cpu", co->cpu, "CPU quota (default: profile workspaces.quota.cpu, 8)")->type_name("CPU");
  c->add_option("--memory", co->memory, "Memory quota (default: profile workspaces.quota.memory, 16Gi)")
      ->type_name("SIZE");
  c->add_flag("--no-network-policy", co->no_network_policy,
              "Do not add the NetworkPolicy that keeps other tenants out (profile: workspaces.networkPolicy)");
  c->add_flag("--dry-run", co->dry_run, "Print the objects (YAML; -o json for a List) without creating them");
  c->callback([co, &ctx, &action] { action = [co, &ctx] { return run_create(*co, ctx); }; });

  auto dn = std::make_shared<std::string>();
  auto* d = add_verb(*noun, "delete", "Delete a workspace and everything in it (asks, or --yes)");
  d->alias("rm");
  d->add_option("name", *dn, "Workspace name")->required();
  d->callback([dn, &ctx, &action] { action = [dn, &ctx] { return run_delete(*dn, ctx); }; });
}

}  // namespace wb::cli::commands
