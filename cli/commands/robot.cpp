// wb robot create|rm|list: service accounts for CI with a role in one workspace, and a kubeconfig for them.
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
  std::string role = "deployer";
  bool token_only = false;
};

Status run_create(const CreateOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ws, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(bool ks, ten::kubesphere_installed(*client));
  WB_ASSIGN_OR_RETURN(auto role, ten::parse_role(o.role, ks, true));
  if (role == ten::Role::TenantAdmin)
    return Error(ErrorCode::Usage, "robots cannot be tenant admins", "use --role deployer, developer or viewer");
  WB_ASSIGN_OR_RETURN(auto robot, ten::create_robot(*client, o.name, ws, role));
  if (robot.outcome.records) ctx.warn(robot.outcome.records->message + " (" + robot.outcome.records->hint + ")");
  // Printing the token is this command's purpose: it goes into a CI variable.
  if (ctx.global.machine_output() && ctx.global.format() != OutputFormat::Name) {
    json out = {{"name", robot.name},
                {"workspace", robot.workspace},
                {"role", ten::role_name(robot.role)},
                {"serviceAccount", "system:serviceaccount:" + robot.workspace + ":" + robot.name},
                {"secret", robot.name + "-token"},
                {"token", robot.token},
                {"kubeconfig", robot.kubeconfig}};
    print_result(ctx, out, [] { return Table{}; });
    return {};
  }
  if (ctx.global.format() == OutputFormat::Name) {
    ctx.out() << "robot/" << robot.name << '\n';
    return {};
  }
  ctx.status(
      fmt::format("Robot '{}' can now act as {} in workspace '{}'. Store what follows as a protected, masked "
                  "GitLab CI variable ({}); remove it with `wb robot rm {}`.",
                  robot.name, ten::role_name(robot.role), ws,
                  o.token_only ? "the token" : "type File, named KUBECONFIG", robot.name));
  ctx.out() << (o.token_only ? robot.token + "\n" : robot.kubeconfig);
  return {};
}

Status run_rm(const std::string& name, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ws, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  if (!ctx.global.yes) {
    if (!ctx.can_prompt())
      return Error(ErrorCode::Usage, fmt::format("removing robot '{}' needs confirmation", name),
                   "pass --yes when not on a terminal");
    ctx.err() << fmt::format("Remove robot '{}' from workspace '{}'? Its token stops working. [y/N] ", name, ws)
              << std::flush;
    std::string answer;
    if (!ctx.io.in || !std::getline(*ctx.io.in, answer)) answer.clear();
    answer = util::to_lower(util::trim(answer));
    if (answer != "y" && answer != "yes") {
      ctx.err() << "Nothing removed.\n";
      return {};
    }
  }
  WB_ASSIGN_OR_RETURN(auto outcome, ten::remove_robot(*client, name, ws));
  if (outcome.records) ctx.warn(outcome.records->message + " (" + outcome.records->hint + ")");
  if (ctx.global.machine_output())
    print_result(ctx, json{{"name", name}, {"workspace", ws}, {"removed", true}}, [] { return Table{}; },
                 {"robot/" + name});
  else
    ctx.out() << fmt::format("Removed robot '{}' from workspace '{}'; its token no longer works\n", name, ws);
  return {};
}

Status run_list(Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ws, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto robots, ten::list_robots(*client, ws));
  if (robots.empty() && !ctx.global.machine_output()) {
    ctx.err() << fmt::format("No robots in workspace '{}'; make one with `wb robot create NAME`.\n", ws);
    return {};
  }
  json out = json::array();
  Table t{{"robot", "role", "token", "created"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& r : robots) {
    out.push_back({{"name", r.name}, {"workspace", ws}, {"role", r.role}, {"token", r.token}, {"created", r.created}});
    t.rows.push_back({r.name, r.role.empty() ? "(none)" : r.role, r.token ? "yes" : "no", r.created});
    names.push_back("robot/" + r.name);
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

}  // namespace

void register_robot(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "robot", "Service accounts for CI, with a role in one workspace (tenant admins)");
  auto o = std::make_shared<CreateOptions>();
  auto* c = add_verb(*noun, "create", "Create a robot and print a kubeconfig for it (for a GitLab CI variable)");
  c->add_option("name", o->name, "Robot name")->required();
  c->add_option("--role", o->role,
                "deployer (default: roll apps to new images and configs, read status and logs), developer or viewer")
      ->type_name("ROLE");
  c->add_flag("--token", o->token_only, "Print only the token instead of a kubeconfig");
  c->callback([o, &ctx, &action] { action = [o, &ctx] { return run_create(*o, ctx); }; });
  auto rn = std::make_shared<std::string>();
  auto* r = add_verb(*noun, "rm", "Remove a robot: its token stops working (asks, or --yes)");
  r->alias("delete");
  r->add_option("name", *rn, "Robot name")->required();
  r->callback([rn, &ctx, &action] { action = [rn, &ctx] { return run_rm(*rn, ctx); }; });
  auto* l = add_verb(*noun, "list", "List the workspace's robots: role, whether a token exists, when made");
  l->alias("ls");
  l->callback([&ctx, &action] { action = [&ctx] { return run_list(ctx); }; });
}

}  // namespace wb::cli::commands
