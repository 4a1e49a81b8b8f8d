// wb export APP --to DIR: the app's objects as plain manifests in a config repository checkout
// (for Argo CD), and the --gitops/--git-push plumbing `wb push jar` and `wb config set` share.
//
// `wb export -o json` prints {app, workspace, dir, files, removed, warnings}.
#include <fmt/format.h>

#include <ostream>

#include "commands/commands.hpp"
#include "commands/gitops_flags.hpp"
#include "output.hpp"
#include "util/strings.hpp"
#include "workbench/versions/config.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace gops = wb::workbench::gitops;

namespace {

struct ExportOptions {
  std::string app;
  std::string to;
};

// DIR as given, relative to the working directory.
std::filesystem::path checkout_path(Context& ctx, const std::string& dir) {
  std::filesystem::path p(dir);
  if (p.is_relative()) p = (ctx.cwd.empty() ? std::filesystem::current_path() : ctx.cwd) / p;
  return p.lexically_normal();
}

Status run_export(const ExportOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto found, gops::read_cluster_app(*client, ns, o.app));
  std::vector<std::string> warnings;
  if (found.missing_config_version > 0)
    warnings.push_back(
        fmt::format("the app uses config v{}, which is gone from the cluster", found.missing_config_version));
  if (!found.kept_secret.empty())
    warnings.push_back(
        fmt::format("secret {} stays in the cluster: secret values never go into git; the "
                    "Deployment keeps referring to it",
                    found.kept_secret));

  const std::filesystem::path root = checkout_path(ctx, o.to);
  WB_ASSIGN_OR_RETURN(auto written, gops::write_app(root, ns, o.app, found.objects));
  for (const auto& w : warnings) ctx.warn(w);
  if (ctx.global.machine_output() && ctx.global.format() != OutputFormat::Name) {
    print_result(ctx,
                 {{"app", o.app},
                  {"workspace", ns},
                  {"dir", written.dir.string()},
                  {"files", written.files},
                  {"removed", written.removed},
                  {"warnings", warnings}},
                 [] { return Table{}; });
    return {};
  }
  for (const auto& f : written.files) ctx.out() << f << '\n';
  ctx.status(fmt::format("Exported {} ({} files) to {}; `kubectl kustomize {}` renders it", o.app, written.files.size(),
                         root.string(), root.string()));
  return {};
}

}  // namespace

// ---------------------------------------------------------------- --gitops for push and config

void add_gitops_flags(CLI::App& verb, GitopsFlags& flags) {
  auto* dir = verb.add_option("--gitops", flags.dir,
                              "Change the app's manifests in this config repository checkout and commit, instead of "
                              "changing the cluster (see `man wb-export`)")
                  ->type_name("DIR");
  verb.add_flag("--git-push", flags.push,
                "With --gitops: push the commit (rebasing once onto commits pushed meanwhile)")
      ->needs(dir);
}

Result<GitopsApp> open_gitops_app(Context& ctx, const GitopsFlags& flags, const std::string& app) {
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  GitopsApp out;
  out.git = ctx.git_runner();
  out.commit.root = checkout_path(ctx, flags.dir);
  out.commit.push = flags.push;
  out.commit.env = ctx.env;
  // Both become folder names: nothing that could climb out of the checkout.
  WB_TRY(wbw::check_app_name(app));
  WB_ASSIGN_OR_RETURN(auto ws, gops::find_workspace(out.commit.root, app, settings->text("workspace")));
  if (!util::is_dns1123_label(ws))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a workspace name", ws), "pass -w WORKSPACE");
  WB_TRY(gops::check_checkout(out.git, out.commit));
  WB_ASSIGN_OR_RETURN(out.app, gops::read_app(out.commit.root, ws, app));
  return out;
}

std::string gitops_who(Context& ctx, const GitopsApp& target) {
  return gops::change_author(target.git, target.commit.root, ctx.env, ctx.in_gitlab_ci());
}

Result<json> commit_gitops(Context& ctx, GitopsApp& target, const gops::FileChanges& changes,
                           const std::string& message) {
  json files = json::array();
  for (const auto& [path, text] : changes.files) files.push_back(path);
  if (changes.empty()) {
    if (!ctx.global.quiet && !ctx.global.machine_output())
      ctx.err() << fmt::format("note: {} already says so; nothing to commit\n", target.commit.root.string());
    return json{{"dir", target.commit.root.string()},
                {"commit", nullptr},
                {"files", files},
                {"pushed", nullptr},
                {"rebased", false}};
  }
  target.commit.message = message;
  WB_ASSIGN_OR_RETURN(auto done, gops::commit_changes(target.git, target.commit, changes));
  if (!ctx.global.quiet && !ctx.global.machine_output()) {
    std::string line = fmt::format("Committed {} to {}", done.commit.substr(0, 12), target.commit.root.string());
    if (!done.branch.empty()) line += fmt::format(" ({})", done.branch);
    if (!done.pushed_to.empty())
      line += fmt::format("; pushed to {}{}", done.pushed_to, done.rebased ? " after rebasing onto newer commits" : "");
    ctx.err() << line << '\n';
  }
  return json{{"dir", target.commit.root.string()},
              {"commit", done.commit},
              {"branch", done.branch},
              {"files", files},
              {"pushed", done.pushed_to.empty() ? json(nullptr) : json(done.pushed_to)},
              {"rebased", done.rebased}};
}

void register_export(CLI::App& app, Context& ctx, Action& action) {
  auto o = std::make_shared<ExportOptions>();
  auto* v =
      add_verb(app, "export", "Write an app as plain manifests + kustomization into a config repository (GitOps)");
  v->footer(
      "Layout: DIR/kustomization.yaml -> DIR/<workspace>/kustomization.yaml -> DIR/<workspace>/<app>/ with "
      "deployment.yaml, service.yaml, ingress.yaml and routes-vN.yaml (when the app has routes), config-vN.yaml (the "
      "config version in use) and kustomization.yaml. Cluster-owned fields (status, resourceVersion, uid, "
      "managedFields, creationTimestamp, ...) are left out; `kubectl kustomize DIR` renders the app as it is. Secret "
      "values never go into the files. Then commit, point Argo CD at DIR, and use `wb push jar --gitops DIR` and "
      "`wb config set --gitops DIR`. See `man wb-export`.");
  v->add_option("app", o->app, "App name")->required();
  v->add_option("--to", o->to, "The config repository checkout (created when missing)")->type_name("DIR")->required();
  v->callback([o, &ctx, &action] { action = [o, &ctx] { return run_export(*o, ctx); }; });
}

}  // namespace wb::cli::commands

namespace wb::cli::commands {

Result<json> gitops_set_image(Context& ctx, GitopsApp& target, const wbw::PushPlan& plan, const std::string& image,
                              const std::string& digest) {
  gops::PushedImage pushed;
  pushed.image = image;
  pushed.digest = digest;
  pushed.jar = plan.jar_name;
  pushed.version = plan.provenance.version;
  pushed.source_commit = plan.provenance.revision;
  pushed.pipeline = plan.provenance.pipeline;
  WB_ASSIGN_OR_RETURN(auto planned, gops::image_commit(target.app, pushed, gitops_who(ctx, target)));
  return commit_gitops(ctx, target, planned.changes, planned.message);
}

Status gitops_config_set(Context& ctx, const GitopsFlags& flags, const std::string& app, wbw::ConfigChange change,
                         int rollback_to) {
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto target, open_gitops_app(ctx, flags, app));
  WB_ASSIGN_OR_RETURN(auto plan, gops::config_commit(target.app, change, rollback_to, gitops_who(ctx, target),
                                                     settings->get_int("retention.configs"), ctx.env));
  const auto& made = plan.made;
  for (const auto& w : made.warnings) ctx.warn(w);
  WB_ASSIGN_OR_RETURN(auto committed, commit_gitops(ctx, target, made.changes, plan.message));
  const int v = made.version;
  const auto format = ctx.global.format();
  if (format == OutputFormat::Name) {
    ctx.out() << "configmap/" << wbw::config_map_name(app, v) << '\n';
    return {};
  }
  if (ctx.global.machine_output()) {
    print_result(ctx,
                 {{"app", app},
                  {"workspace", target.app.workspace},
                  {"version", v},
                  {"base", made.base == 0 ? json(nullptr) : json(made.base)},
                  {"change", made.change},
                  {"cause", change.message.empty() ? made.change : change.message},
                  {"uses", v},
                  {"deleted", made.dropped},
                  {"gitops", committed}},
                 [] { return Table{}; });
    return {};
  }
  ctx.out() << fmt::format("Config v{} of {}: {} (in {}; Argo CD rolls the app when it syncs)\n", v, app, made.change,
                           target.commit.root.string());
  return {};
}

}  // namespace wb::cli::commands
