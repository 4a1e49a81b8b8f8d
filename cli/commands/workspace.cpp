// wb workspace list|use and wb whoami: where you work and who the cluster thinks you are.
#include <fmt/format.h>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "output.hpp"
#include "workbench/tenancy.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;
using wbw::tenancy::kTenantLabel;

namespace {


// Asks the server whether the current user may do `verb` on `resource` in `ns`.
Result<bool> can_i(k::Client& client, const std::string& verb, const std::string& group, const std::string& resource,
                   const std::string& ns) {
  json review = {{"apiVersion", "authorization.k8s.io/v1"},
                 {"kind", "SelfSubjectAccessReview"},
                 {"spec",
                  {{"resourceAttributes",
                    {{"namespace", ns}, {"verb", verb}, {"group", group}, {"resource", resource}}}}}};
  WB_ASSIGN_OR_RETURN(auto answer, client.create(k::types::SelfSubjectAccessReview, "", review));
  return answer.value("/status/allowed"_json_pointer, false);
}

std::string age_of(const json& obj, util::TimePoint now) {
  auto ts = obj.value("/metadata/creationTimestamp"_json_pointer, std::string());
  auto t = util::parse_rfc3339(ts);
  if (!t) return "";
  return util::format_age(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

Status run_list(Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  const std::string tenant = settings->get_or("tenant", "");
  k::ListOptions opts;
  opts.label_selector = tenant.empty() ? std::string(kTenantLabel) : fmt::format("{}={}", kTenantLabel, tenant);
  auto list = client->list(k::types::Namespace, "", opts);
  if (!list) {
    if (list.error().http_status == 403)
      return Error(ErrorCode::Auth,
                   tenant.empty() ? "you may not list workspaces in this cluster"
                                  : fmt::format("you may not list the workspaces of tenant '{}'", tenant),
                   "ask a tenant admin which workspaces you have, then `wb workspace use NAME`");
    return list.error();
  }
  std::string current = settings->get_or("workspace", "");
  json out = json::array();
  Table t{{"current", "name", "tenant", "status", "age", "can deploy"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& ns : (*list)["items"]) {
    std::string name = ns.value("/metadata/name"_json_pointer, std::string());
    std::string ten = ns["metadata"].value("labels", json::object()).value(kTenantLabel, "");
    std::string phase = ns.value("/status/phase"_json_pointer, std::string("Active"));
    auto deploy = can_i(*client, "create", "apps", "deployments", name);
    if (!deploy && deploy.error().code != ErrorCode::Auth) return deploy.error();
    bool may = deploy.value_or(false);
    std::string age = age_of(ns, ctx.now());
    out.push_back({{"name", name}, {"tenant", ten}, {"status", phase}, {"age", age}, {"canDeploy", may},
                   {"current", name == current}});
    t.rows.push_back({name == current ? "*" : "", name, ten, phase, age, may ? "yes" : "no"});
    names.push_back(name);
  }
  if (names.empty() && !ctx.global.machine_output()) {
    ctx.err() << (tenant.empty() ? std::string("No workspaces found (namespaces labelled kubesphere.io/workspace).\n")
                                 : fmt::format("Tenant '{}' has no workspaces yet.\n", tenant));
    return {};
  }
  print_result(ctx, out, [&] { return t; }, names);
  return {};
}

Status run_use(const std::string& name, Context& ctx) {
  if (!util::is_dns1123_label(name))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid workspace name", name),
                 "workspace names use lower-case letters, digits and '-'");
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  auto ns = client->get(k::types::Namespace, "", name);
  const std::string tenant = settings->get_or("tenant", "");
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
  spec.tenant = o.tenant.empty() ? settings->get_or("tenant", "") : o.tenant;
  if (spec.tenant.empty())
    return Error(ErrorCode::Usage, fmt::format("which tenant does workspace '{}' belong to?", o.name),
                 "pass --tenant T (or set tenant in the profile)");
  auto& d = spec.defaults;
  d.quota_cpu = o.cpu.empty() ? settings->get_or("workspaces.quota.cpu", d.quota_cpu) : o.cpu;
  d.quota_memory = o.memory.empty() ? settings->get_or("workspaces.quota.memory", d.quota_memory) : o.memory;
  d.limit_cpu = settings->get_or("workspaces.limits.cpu", d.limit_cpu);
  d.limit_memory = settings->get_or("workspaces.limits.memory", d.limit_memory);
  d.request_cpu = settings->get_or("workspaces.limits.cpuRequest", d.request_cpu);
  d.request_memory = settings->get_or("workspaces.limits.memoryRequest", d.request_memory);
  d.network_policy = !o.no_network_policy && settings->get_bool("workspaces.networkPolicy", true);
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  if (!o.dry_run) spec.creator = server_username(*client);
  WB_ASSIGN_OR_RETURN(auto objects, ten::create_workspace(*client, spec, o.dry_run));
  if (o.dry_run) {
    print_objects(ctx, objects);
    return {};
  }
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
  WB_ASSIGN_OR_RETURN(auto tenant, wbw::tenancy::delete_workspace(*client, name));
  if (ctx.global.machine_output())
    print_result(ctx, json{{"name", name}, {"tenant", tenant}, {"deleted", true}}, [] { return Table{}; },
                 {"workspace/" + name});
  else
    ctx.out() << fmt::format("Deleted workspace '{}' of tenant '{}'\n", name, tenant);
  return {};
}

Status run_whoami(Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  const auto& cfg = client->config();
  json out = {{"server", cfg.server}, {"context", cfg.context_name}, {"inCluster", cfg.in_cluster}};
  auto type = client->prefer({k::types::SelfSubjectReview, k::types::SelfSubjectReviewV1beta1});
  if (type) {
    json review = {{"apiVersion", type->api_version()}, {"kind", "SelfSubjectReview"}};
    WB_ASSIGN_OR_RETURN(auto answer, client->create(*type, "", review));
    const json user = answer.value("/status/userInfo"_json_pointer, json::object());
    out["username"] = user.value("username", "");
    out["groups"] = user.value("groups", json::array());
    out["known"] = true;
  } else if (type.error().code == ErrorCode::NotFound) {
    out["known"] = false;
    out["kubeconfigUser"] = cfg.user_name;
  } else {
    return type.error();
  }
  if (ctx.global.machine_output()) {
    print_result(ctx, out, [] { return Table{}; }, {out.value("username", cfg.user_name)});
    return {};
  }
  if (out["known"].get<bool>()) {
    std::vector<std::string> groups;
    for (const auto& g : out["groups"]) groups.push_back(g.get<std::string>());
    ctx.out() << fmt::format("You are {}", out["username"].get<std::string>());
    if (!groups.empty()) ctx.out() << fmt::format(" (groups: {})", util::join(groups, ", "));
    ctx.out() << fmt::format(" on {}\n", cfg.server);
  } else {
    ctx.out() << fmt::format(
        "The server at {} cannot tell who you are (it is older than Kubernetes 1.27 and has no SelfSubjectReview); "
        "you are using the credentials of kubeconfig user '{}'\n",
        cfg.server, cfg.user_name.empty() ? "(in-cluster service account)" : cfg.user_name);
  }
  return {};
}

}  // namespace

void register_workspace(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "workspace", "Workspaces (namespaces) of your tenant");
  noun->alias("ws");
  auto* l = add_verb(*noun, "list", "List the tenant's workspaces and whether you may deploy there");
  l->alias("ls");
  l->callback([&ctx, &action] { action = [&ctx] { return run_list(ctx); }; });
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

void register_whoami(CLI::App& app, Context& ctx, Action& action) {
  auto* c = add_verb(app, "whoami", "Who the cluster thinks you are");
  c->callback([&ctx, &action] { action = [&ctx] { return run_whoami(ctx); }; });
}

}  // namespace wb::cli::commands
