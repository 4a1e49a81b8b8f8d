// wb member add|list|rm: who works in a workspace (or a whole tenant), and in which role.
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

struct MemberOptions {
  std::string who;
  std::string role;
  std::string tenant;
};

void warn_records(Context& ctx, const ten::RecordsOutcome& outcome) {
  if (outcome.records) ctx.warn(outcome.records->message + " (" + outcome.records->hint + ")");
}

// "-w WS" (or the current workspace) unless --tenant was given.
Result<std::string> scope_workspace(const MemberOptions& o, Context& ctx) {
  if (!o.tenant.empty()) return std::string();
  return ctx.workspace();
}

Status run_add(const MemberOptions& o, Context& ctx) {
  if (!o.tenant.empty() && !ctx.global.workspace.empty())
    return Error(ErrorCode::Usage, "give either -w WORKSPACE or --tenant TENANT, not both", "");
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(bool ks, ten::kubesphere_installed(*client));
  WB_ASSIGN_OR_RETURN(auto role, ten::parse_role(o.role, ks));
  std::string where;
  if (!o.tenant.empty()) {
    WB_ASSIGN_OR_RETURN(auto outcome, ten::add_tenant_member(*client, o.who, role, o.tenant));
    warn_records(ctx, outcome);
    where = fmt::format("tenant '{}'", o.tenant);
  } else {
    WB_ASSIGN_OR_RETURN(auto ws, scope_workspace(o, ctx));
    WB_ASSIGN_OR_RETURN(auto outcome, ten::add_member(*client, o.who, role, ws));
    warn_records(ctx, outcome);
    where = fmt::format("workspace '{}'", ws);
  }
  if (ctx.global.machine_output()) {
    json out = {{"member", o.who}, {"role", ten::role_name(role)}};
    if (!o.tenant.empty())
      out["tenant"] = o.tenant;
    else
      out["workspace"] = ctx.workspace().value_or("");
    print_result(ctx, out, [] { return Table{}; }, {o.who});
    return {};
  }
  std::string alias = util::to_lower(o.role) != ten::role_name(role) ? fmt::format(" (KubeSphere '{}')", o.role) : "";
  ctx.out() << fmt::format("{} is now {} in {}{}\n", o.who, ten::role_name(role), where, alias);
  return {};
}

Status run_list(const MemberOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  std::vector<ten::Member> members;
  if (!o.tenant.empty()) {
    WB_ASSIGN_OR_RETURN(members, ten::list_tenant_members(*client, o.tenant));
  } else {
    WB_ASSIGN_OR_RETURN(auto ws, scope_workspace(o, ctx));
    WB_ASSIGN_OR_RETURN(members, ten::list_members(*client, ws));
  }
  json out = json::array();
  Table t{{"member", "kind", "role", "workspace"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& m : members) {
    json row = {{"member", m.who}, {"kind", m.kind}, {"role", m.role}, {"workspace", m.workspace}};
    if (m.workspace.empty()) row["tenant"] = o.tenant;
    out.push_back(row);
    t.rows.push_back({m.who, m.kind, m.role, m.workspace.empty() ? "(all of " + o.tenant + ")" : m.workspace});
    names.push_back(m.who);
  }
  if (members.empty() && !ctx.global.machine_output()) {
    ctx.err() << "No members yet; add one with `wb member add USER --role developer`.\n";
    return {};
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

Status run_rm(const MemberOptions& o, Context& ctx) {
  if (!o.tenant.empty() && !ctx.global.workspace.empty())
    return Error(ErrorCode::Usage, "give either -w WORKSPACE or --tenant TENANT, not both", "");
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  std::string where;
  if (!o.tenant.empty()) {
    WB_ASSIGN_OR_RETURN(auto outcome, ten::remove_tenant_member(*client, o.who, o.tenant));
    warn_records(ctx, outcome);
    where = fmt::format("tenant '{}'", o.tenant);
  } else {
    WB_ASSIGN_OR_RETURN(auto ws, scope_workspace(o, ctx));
    WB_ASSIGN_OR_RETURN(auto outcome, ten::remove_member(*client, o.who, ws));
    warn_records(ctx, outcome);
    where = fmt::format("workspace '{}'", ws);
  }
  if (ctx.global.machine_output())
    print_result(ctx, json{{"member", o.who}, {"removed", true}}, [] { return Table{}; }, {o.who});
  else
    ctx.out() << fmt::format("{} no longer has a role in {}\n", o.who, where);
  return {};
}

}  // namespace

void register_member(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "member", "Who works in a workspace or tenant, and in which role (tenant admins)");
  auto a = std::make_shared<MemberOptions>();
  auto* add =
      add_verb(*noun, "add", "Give USER a role in the workspace (-w) or in every workspace of a tenant (--tenant)");
  add->add_option("user", a->who, "User name (group:NAME for a group)")->required();
  add->add_option("--role", a->role,
                  "developer, viewer or tenant-admin (on KubeSphere also workspace-admin, workspace-regular, "
                  "workspace-viewer, admin, operator)")
      ->required()
      ->type_name("ROLE");
  add->add_option("--tenant", a->tenant, "The whole tenant instead of one workspace")->type_name("TENANT");
  add->callback([a, &ctx, &action] { action = [a, &ctx] { return run_add(*a, ctx); }; });

  auto l = std::make_shared<MemberOptions>();
  auto* ls = add_verb(*noun, "list", "List the members of the workspace (-w) or of a tenant (--tenant)");
  ls->alias("ls");
  ls->add_option("--tenant", l->tenant, "List the tenant's admins and every workspace's members")->type_name("TENANT");
  ls->callback([l, &ctx, &action] { action = [l, &ctx] { return run_list(*l, ctx); }; });

  auto r = std::make_shared<MemberOptions>();
  auto* rm = add_verb(*noun, "rm", "Take USER's roles in the workspace (-w) or the whole tenant (--tenant) away");
  rm->alias("remove");
  rm->add_option("user", r->who, "User name (group:NAME for a group)")->required();
  rm->add_option("--tenant", r->tenant, "The whole tenant instead of one workspace")->type_name("TENANT");
  rm->callback([r, &ctx, &action] { action = [r, &ctx] { return run_rm(*r, ctx); }; });
}

}  // namespace wb::cli::commands
