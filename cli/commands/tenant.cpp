// wb tenant create|list|delete: the platform team's tenants (KubeSphere "workspaces").
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/strings.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace ten = wb::workbench::tenancy;

namespace {

struct CreateOptions {
  std::string name;
  std::vector<std::string> admins;
};

Status run_create(const CreateOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_TRY(ten::create_tenant(*client, o.name, o.admins));
  WB_ASSIGN_OR_RETURN(bool ks, ten::kubesphere_installed(*client));
  if (ctx.global.machine_output()) {
    json out = {{"name", o.name}, {"admins", o.admins}, {"workspaceTemplate", ks}};
    print_result(ctx, out, [] { return Table{}; }, {"tenant/" + o.name});
    return {};
  }
  ctx.out() << fmt::format("Created tenant '{}'{}{}\n", o.name,
                           o.admins.empty() ? std::string() : " with admins " + util::join(o.admins, ", "),
                           ks ? " (and its KubeSphere WorkspaceTemplate)" : "");
  return {};
}

Status run_list(Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto tenants, ten::list_tenants(*client));
  json out = json::array();
  Table t{{"name", "workspaces", "admins", "kubesphere"}, {}, {3}};
  std::vector<std::string> names;
  for (const auto& ti : tenants) {
    out.push_back({{"name", ti.name},
                   {"workspaces", ti.workspaces},
                   {"admins", ti.admins},
                   {"managedByWb", ti.has_role},
                   {"workspaceTemplate", ti.has_template}});
    t.rows.push_back({ti.name, ti.workspaces.empty() ? "-" : util::join(ti.workspaces, ","),
                      ti.admins.empty() ? "-" : util::join(ti.admins, ","), ti.has_template ? "yes" : "no"});
    names.push_back(ti.name);
  }
  if (tenants.empty() && !ctx.global.machine_output()) {
    ctx.err() << "No tenants yet; the platform team creates them with `wb tenant create NAME`.\n";
    return {};
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

Status run_delete(const std::string& name, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto info, ten::get_tenant(*client, name));
  if (!info.workspaces.empty())
    return Error(ErrorCode::Conflict,
                 fmt::format("tenant '{}' still has workspaces: {}", name, util::join(info.workspaces, ", ")),
                 "delete them first with `wb workspace delete NAME`");
  if (!ctx.global.yes) {
    if (!ctx.can_prompt())
      return Error(ErrorCode::Usage, fmt::format("deleting tenant '{}' needs confirmation", name),
                   "pass --yes when not on a terminal");
    ctx.err() << fmt::format("Delete tenant '{}' and its admins' rights? [y/N] ", name) << std::flush;
    std::string answer;
    if (!ctx.io.in || !std::getline(*ctx.io.in, answer)) answer.clear();
    answer = util::to_lower(util::trim(answer));
    if (answer != "y" && answer != "yes") {
      ctx.err() << "Nothing deleted.\n";
      return {};
    }
  }
  WB_TRY(ten::delete_tenant(*client, name));
  if (ctx.global.machine_output())
    print_result(ctx, json{{"name", name}, {"deleted", true}}, [] { return Table{}; }, {"tenant/" + name});
  else
    ctx.out() << fmt::format("Deleted tenant '{}'\n", name);
  return {};
}

}  // namespace

void register_tenant(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "tenant", "Tenants: groups of workspaces with their own admins (platform team)");
  auto co = std::make_shared<CreateOptions>();
  auto* c = add_verb(*noun, "create",
                     "Create a tenant (its admin role; a KubeSphere WorkspaceTemplate where KubeSphere runs)");
  c->add_option("name", co->name, "Tenant name")->required();
  c->add_option("--admin", co->admins, "A tenant admin (repeatable; user name, group:NAME)")->type_name("USER");
  c->callback([co, &ctx, &action] { action = [co, &ctx] { return run_create(*co, ctx); }; });
  auto* l = add_verb(*noun, "list", "List tenants, their workspaces and admins");
  l->alias("ls");
  l->callback([&ctx, &action] { action = [&ctx] { return run_list(ctx); }; });
  auto dn = std::make_shared<std::string>();
  auto* d = add_verb(*noun, "delete", "Delete a tenant that has no workspaces left (asks, or --yes)");
  d->alias("rm");
  d->add_option("name", *dn, "Tenant name")->required();
  d->callback([dn, &ctx, &action] { action = [dn, &ctx] { return run_delete(*dn, ctx); }; });
}

}  // namespace wb::cli::commands
