// wb platform init: installs the ClusterRoles wb's roles map to (the platform team runs it once,
// and again after upgrading wb).
#include <fmt/format.h>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "util/strings.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::cli::commands {

namespace ten = wb::workbench::tenancy;

namespace {

struct InitOptions {
  bool dry_run = false;
};

Status run_init(const InitOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto init, ten::platform_init(*client, o.dry_run));
  const auto& applied = init.applied;
  if (o.dry_run && ctx.global.format() != OutputFormat::Table && ctx.global.format() != OutputFormat::Wide) {
    std::vector<json> objects;
    for (const auto& a : applied) objects.push_back(a.object);
    print_objects(ctx, objects);
    return {};
  }
  if (!init.self_service)
    ctx.err() << "note: this cluster has no ValidatingAdmissionPolicy (Kubernetes 1.30+), so tenant admins cannot "
                 "create workspaces; the platform team does.\n";
  json out = json::array();
  Table t{{"kind", "name", "role", "result"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& a : applied) {
    const std::string kind = a.object.value("kind", "");
    const std::string name = a.object["metadata"]["name"];
    std::string role = a.object["metadata"]["labels"].value(ten::kRoleLabel, "");
    if (auto tenant = a.object["metadata"]["labels"].value(ten::kTenantRoleLabel, ""); !tenant.empty())
      role = "tenant " + tenant;
    if (role.empty()) role = "-";
    out.push_back({{"kind", kind}, {"name", name}, {"role", role}, {"result", a.outcome}});
    t.rows.push_back({kind, name, role, a.outcome});
    names.push_back(util::to_lower(kind) + "/" + name);
  }
  print_result(
      ctx, out, [&] { return t; }, names);
  if (!o.dry_run && !ctx.global.machine_output())
    ctx.status(fmt::format("Membership records rewritten for {} workspace{} (namespace {}).", init.recorded_workspaces,
                           init.recorded_workspaces == 1 ? "" : "s", ten::kRecordsNamespace));
  return {};
}

}  // namespace

void register_platform(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "platform", "Set up a cluster for wb (platform team)");
  auto o = std::make_shared<InitOptions>();
  auto* i = add_verb(*noun, "init",
                     "Install the ClusterRoles wb's roles map to (wb:developer, wb:viewer, wb:deployer, "
                     "wb:tenant-admin) and the admission policy that keeps tenant admins in their tenants "
                     "(idempotent)");
  i->add_flag("--dry-run", o->dry_run, "Show what would change; with -o yaml|json print the objects");
  i->callback([o, &ctx, &action] { action = [o, &ctx] { return run_init(*o, ctx); }; });
}

}  // namespace wb::cli::commands
