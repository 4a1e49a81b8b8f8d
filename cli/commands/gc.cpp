// wb gc: retention — old versions, config and routes versions and images beyond what the
// profile keeps go; what runs and what can be rolled back to stays.
#include "commands/gc.hpp"

#include <fmt/format.h>

#include <map>
#include <ostream>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/delivery/gc.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

struct GcOptions {
  std::string app;
  bool dry_run = false;
};

std::string short_digest(const std::string& d) {
  auto colon = d.find(':');
  return colon == std::string::npos ? d : d.substr(0, colon + 1 + 12);
}

// The apps to clean: the one named, else every app wb made in the workspace.
Result<std::vector<std::string>> apps_to_clean(k::Client& client, const std::string& ns, const std::string& app) {
  if (!app.empty()) {
    WB_TRY(wbw::check_app_name(app));
    WB_ASSIGN_OR_RETURN(auto d, wbw::read_app(client, ns, app));
    (void)d;
    return std::vector<std::string>{app};
  }
  k::ListOptions opts;
  opts.label_selector = fmt::format("{}=wb", wbw::labels::kManagedBy);
  auto list = client.list(k::types::Deployment, ns, opts);
  if (!list) return wbw::refused_in_workspace(std::move(list).error(), ns);
  std::vector<std::string> out;
  for (const auto& d : list->value("items", json::array()))
    out.push_back(util::json_at(d, "/metadata/name", std::string()));
  std::sort(out.begin(), out.end());
  return out;
}

// One app's plan and, once applied, what happened to each item.
struct AppRun {
  wbw::GcPlan plan;
  std::map<const wbw::GcItem*, std::string> status;  // "kept", "would delete", "deleted", "not deleted"
};

json item_document(const wbw::GcItem& item, const std::string& status) {
  json j = {{"kind", wbw::gc_kind_name(item.kind)},
            {"name", item.name},
            {"keep", item.keep},
            {"status", status},
            {"reasons", item.reasons}};
  if (item.kind == wbw::GcKind::Image) j["tags"] = item.tags;
  if (item.kind == wbw::GcKind::Revision) j["revision"] = item.number;
  if (item.kind == wbw::GcKind::Config || item.kind == wbw::GcKind::Routes) j["version"] = item.number;
  if (item.kind != wbw::GcKind::Image) {
    json objects = json::array();
    for (const auto& [type, name] : item.objects) objects.push_back(util::to_lower(type.kind) + "/" + name);
    j["objects"] = objects;
  }
  return j;
}

std::string item_name(const wbw::GcItem& item) {
  switch (item.kind) {
    case wbw::GcKind::Revision:
      return fmt::format("{} ({})", item.number, item.name);
    case wbw::GcKind::Image:
      return short_digest(item.name);
    default:
      return item.name;
  }
}

// What applying every plan did, over all apps.
struct GcTotals {
  size_t deleted = 0, not_deleted = 0;
  bool refused = false;  // the registry refuses deletes (reported once)
  std::string refusal;   // its words
  std::optional<Error> failure;
};

// Applies the plans app by app (nothing with --dry-run), marking each item; after a failure the
// remaining apps' deletes are not attempted.
GcTotals apply_plans(k::Client& client, oci::Registry* registry, std::vector<AppRun>& runs, bool dry_run) {
  GcTotals totals;
  for (auto& run : runs) {
    for (const auto& item : run.plan.items) run.status[&item] = item.keep ? "kept" : (dry_run ? "would delete" : "");
    if (dry_run) continue;
    if (totals.failure) {
      for (const auto& item : run.plan.items)
        if (!item.keep) run.status[&item] = "not deleted", ++totals.not_deleted;
      continue;
    }
    auto outcome = wbw::apply_gc_plan(client, totals.refused ? nullptr : registry, run.plan);
    for (const auto* item : outcome.deleted) run.status[item] = "deleted", ++totals.deleted;
    for (const auto* item : outcome.not_deleted) run.status[item] = "not deleted", ++totals.not_deleted;
    if (outcome.registry_refused && !totals.refused) {
      totals.refused = true;
      totals.refusal = outcome.registry_message;
    }
    if (outcome.failure) totals.failure = outcome.failure;
  }
  return totals;
}

json gc_document(const GcOptions& o, const std::string& ns, const wbw::RetentionPolicy& policy,
                 std::vector<AppRun>& runs, const GcTotals& totals) {
  json apps_doc = json::array();
  for (auto& run : runs) {
    json items = json::array();
    for (const auto& item : run.plan.items) items.push_back(item_document(item, run.status[&item]));
    apps_doc.push_back({{"app", run.plan.app},
                        {"repository", run.plan.repository.empty() ? json(nullptr) : json(run.plan.repository)},
                        {"items", items},
                        {"notes", run.plan.notes}});
  }
  return {{"workspace", ns},
          {"dryRun", o.dry_run},
          {"retention", {{"images", policy.images}, {"configs", policy.configs}, {"revisions", policy.revisions}}},
          {"apps", apps_doc},
          {"deleted", totals.deleted},
          {"notDeleted", totals.not_deleted},
          {"registryRefusedDeletes", totals.refused ? json(totals.refusal) : json(nullptr)},
          {"failure", totals.failure ? json(totals.failure->message) : json(nullptr)}};
}

// The table of every item and why, notes and a last line on stderr.
void print_gc_table(Context& ctx, const GcOptions& o, const std::string& ns, bool no_apps, std::vector<AppRun>& runs,
                    const GcTotals& totals) {
  Table t{{"app", "kind", "name", "tags", "status", "why"}, {}, {}};
  for (auto& run : runs)
    for (const auto& item : run.plan.items)
      t.rows.push_back({run.plan.app, wbw::gc_kind_name(item.kind), item_name(item),
                        item.tags.empty() ? "-" : util::join(item.tags, ","), run.status[&item],
                        util::join(item.reasons, "; ")});
  for (auto& run : runs)
    for (const auto& n : run.plan.notes)
      if (!ctx.global.quiet) ctx.err() << "note: " << run.plan.app << ": " << n << '\n';
  if (t.rows.empty()) {
    if (!ctx.global.quiet)
      ctx.err() << (no_apps ? fmt::format("No apps in workspace '{}'.\n", ns) : "Nothing to clean up.\n");
  } else {
    print_table(ctx, t);
  }
  if (ctx.global.quiet || totals.failure) return;
  size_t would = 0;
  for (auto& run : runs) would += run.plan.deletes();
  const size_t deleted = totals.deleted, not_deleted = totals.not_deleted;
  ctx.err() << (o.dry_run
                    ? fmt::format("Dry run: {} thing{} would be deleted; nothing was.\n", would, would == 1 ? "" : "s")
                    : fmt::format("Deleted {} thing{}{}.\n", deleted, deleted == 1 ? "" : "s",
                                  not_deleted ? fmt::format(", {} not deleted", not_deleted) : ""));
}

Status run_gc(const GcOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  const wbw::RetentionPolicy policy = wbw::retention_policy(*settings);
  WB_ASSIGN_OR_RETURN(auto apps, apps_to_clean(*client, ns, o.app));

  // Every plan first: nothing is deleted when anything cannot be read.
  std::unique_ptr<oci::Registry> registry;
  std::vector<AppRun> runs;
  for (const auto& app : apps) {
    WB_ASSIGN_OR_RETURN(auto repository, wbw::app_repository(*settings, app));
    if (repository && !registry) registry = ctx.registry(*settings, *repository);
    WB_ASSIGN_OR_RETURN(auto snapshot,
                        wbw::read_gc_snapshot(*client, repository ? registry.get() : nullptr, ns, app, repository));
    runs.push_back({wbw::plan_gc(snapshot, policy), {}});
  }

  const GcTotals totals = apply_plans(*client, registry.get(), runs, o.dry_run);
  if (totals.refused) {
    size_t images_left = 0;
    for (auto& run : runs)
      for (const auto& item : run.plan.items)
        if (item.kind == wbw::GcKind::Image && run.status[&item] == "not deleted") ++images_left;
    ctx.warn(fmt::format("{}: {} image{} stay{}; the rest was cleaned up", totals.refusal, images_left,
                         images_left == 1 ? "" : "s", images_left == 1 ? "s" : ""));
  }

  const auto format = ctx.global.format();
  if (format == OutputFormat::Name) {
    for (auto& run : runs)
      for (const auto& item : run.plan.items)
        if (run.status[&item] == "deleted" || run.status[&item] == "would delete")
          ctx.out() << wbw::gc_kind_name(item.kind) << "/" << run.plan.app << "/" << item.name << '\n';
  } else if (format == OutputFormat::Json || format == OutputFormat::Yaml) {
    print_result(ctx, gc_document(o, ns, policy, runs, totals), [] { return Table{}; });
  } else {
    print_gc_table(ctx, o, ns, apps.empty(), runs, totals);
  }
  if (totals.failure) {
    Error e = *totals.failure;
    e.message += fmt::format(" ({} deleted before it, {} not deleted)", totals.deleted, totals.not_deleted);
    if (e.hint.empty()) e.hint = "run `wb gc --dry-run` to see what is left, then `wb gc` again";
    return e;
  }
  return {};
}

constexpr const char* kGcHelp =
    R"(Keeps, per app: the current version; the newest retention.revisions older versions (for `wb app rollback`); the newest retention.configs config and routes versions plus every one a kept version uses or the Ingress shows; the newest retention.images images in the app's repository (<registry.host>/<registry.project>/<app>) plus every image a kept version, the Deployment or a pod of the workspace uses. Everything else goes: versions first, then configs and routes, the registry last (by digest; every tag on a deleted digest goes with it).
"Newest" for images means: ran most recently (the highest revision that ran it); images no version ran rank below those, by tag.
Only objects labelled app.kubernetes.io/managed-by=wb and only the apps' own repositories are touched. A registry that does not allow deletes is reported once as a warning; the rest is still cleaned up.
Run it from cron or CI, or set retention.auto in the profile to clean up after every `wb push jar`. See `man wb-gc`.)";

}  // namespace

json retention_after_push(Context& ctx, k::Client& client, const std::string& ns, const std::string& app,
                          const std::string& pushed_digest) {
  json summary = {{"deleted", json::object()}, {"notDeleted", 0}, {"warnings", json::array()}};
  auto warn = [&](const std::string& w) {
    ctx.warn(w);
    summary["warnings"].push_back(w);
  };
  auto settings = ctx.settings();
  if (!settings) {
    warn("retention after the push skipped: " + settings.error().message);
    return summary;
  }
  auto repository = wbw::app_repository(**settings, app);
  if (!repository) {
    warn("retention after the push skipped: " + repository.error().message);
    return summary;
  }
  std::unique_ptr<oci::Registry> registry;
  if (*repository) registry = ctx.registry(**settings, **repository);
  const wbw::PushRetention done = wbw::retain_after_push(client, registry.get(), wbw::retention_policy(**settings), ns,
                                                         app, *repository, pushed_digest);
  if (done.skipped) {
    warn("retention after the push skipped: " + explain_error(ctx, *done.skipped).message);
    return summary;
  }
  for (const auto& [kind, n] : done.deleted) summary["deleted"][kind] = n;
  summary["notDeleted"] = done.not_deleted;
  if (!done.registry_refused.empty())
    warn(fmt::format("{}: old images of {} stay (the push itself succeeded)", done.registry_refused, app));
  if (done.failure)
    warn(fmt::format("retention after the push stopped: {} ({} deleted, {} not)", done.failure->message,
                     done.deleted_total(), done.not_deleted));
  if (!done.deleted.empty() && !ctx.global.quiet && !ctx.global.machine_output()) {
    std::vector<std::string> parts;
    for (const auto& [kind, n] : done.deleted) parts.push_back(fmt::format("{} {}{}", n, kind, n == 1 ? "" : "s"));
    ctx.err() << fmt::format("Retention: deleted {} of {}\n", util::join(parts, ", "), app);
  }
  return summary;
}

void register_gc(CLI::App& app, Context& ctx, Action& action) {
  auto o = std::make_shared<GcOptions>();
  auto* v = add_verb(app, "gc",
                     "Clean up by the profile's retention: old versions, configs, routes and images nothing needs");
  v->footer(kGcHelp);
  v->add_option("app", o->app, "Only this app (default: every app in the workspace)")->type_name("APP");
  v->add_flag("--dry-run", o->dry_run, "Show what would be deleted and why each kept thing is kept; delete nothing");
  v->callback([o, &ctx, &action] { action = [o, &ctx] { return run_gc(*o, ctx); }; });
}

}  // namespace wb::cli::commands
