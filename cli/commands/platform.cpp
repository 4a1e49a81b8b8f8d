// wb platform init: installs the ClusterRoles wb's roles map to (the platform team runs it once,
// and again after upgrading wb).
#include <fmt/format.h>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "workbench/tenancy.hpp"

namespace wb::cli::commands {

namespace ten = wb::workbench::tenancy;

namespace {

struct InitOptions {
  bool dry_run = false;
};

Status run_init(const InitOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto applied, ten::platform_init(*client, o.dry_run));
  if (o.dry_run && ctx.global.format() != OutputFormat::Table && ctx.global.format() != OutputFormat::Wide) {
    std::vector<json> objects;
    for (const auto& a : applied) objects.push_back(a.object);
    print_objects(ctx, objects);
    return {};
  }
  json out = json::array();
  Table t{{"kind", "name", "role", "result"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& a : applied) {
    const std::string name = a.object["metadata"]["name"];
    const std::string role = a.object["metadata"]["labels"][ten::kRoleLabel];
    out.push_back({{"kind", "ClusterRole"}, {"name", name}, {"role", role}, {"result", a.outcome}});
    t.rows.push_back({"ClusterRole", name, role, a.outcome});
    names.push_back("clusterrole/" + name);
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  return {};
}

}  // namespace

void register_platform(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "platform", "Set up a cluster for wb (platform team)");
  auto o = std::make_shared<InitOptions>();
  auto* i = add_verb(*noun, "init",
                     "Install the ClusterRoles wb's roles map to: wb:developer, wb:viewer, wb:deployer, "
                     "wb:tenant-admin (idempotent)");
  i->add_flag("--dry-run", o->dry_run, "Show what would change; with -o yaml|json print the ClusterRoles");
  i->callback([o, &ctx, &action] { action = [o, &ctx] { return run_init(*o, ctx); }; });
}

}  // namespace wb::cli::commands
