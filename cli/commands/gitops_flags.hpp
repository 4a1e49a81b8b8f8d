// --gitops DIR and --git-push, shared by `wb push jar` and `wb config set` (export.cpp): instead of
// changing the cluster, they edit the app's manifests in a config repository checkout and commit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "run.hpp"
#include "workbench/versions/config.hpp"
#include "workbench/delivery/gitops.hpp"
#include "workbench/delivery/push_jar.hpp"

namespace wb::cli::commands {

struct GitopsFlags {
  std::string dir;    // --gitops: the config checkout ("" = change the cluster)
  bool push = false;  // --git-push
  bool on() const { return !dir.empty(); }
};
// Adds --gitops DIR and --git-push (which needs --gitops) to a verb.
void add_gitops_flags(CLI::App& verb, GitopsFlags& flags);

// An app found in the checkout, the checkout checked (a git clone, clean, on a branch for a push).
struct GitopsApp {
  workbench::gitops::CheckoutApp app;
  workbench::gitops::CommitOptions commit;
  workbench::gitops::GitRunner git;
};
// Never talks to the cluster: the workspace is -w/WB_WORKSPACE/wb.yaml/profile, else the only
// folder of the checkout holding the app.
Result<GitopsApp> open_gitops_app(Context& ctx, const GitopsFlags& flags, const std::string& app);

// Who changes the app in GitOps mode: GITLAB_USER_LOGIN in CI, else git's user.name, else $USER.
std::string gitops_who(Context& ctx, const GitopsApp& target);

// Commits the changes (and pushes with --git-push); returns what `-o json` shows under "gitops".
// A line saying what was committed goes to stderr unless --quiet or a machine format.
Result<nlohmann::json> commit_gitops(Context& ctx, GitopsApp& target, const workbench::gitops::FileChanges& changes,
                                     const std::string& message);

// `wb push jar --gitops`: the pushed image (by digest) written into the checkout's Deployment and
// committed with the jar, version, digest, commit and pipeline in the message; -o json's "gitops".
Result<nlohmann::json> gitops_set_image(Context& ctx, GitopsApp& target, const workbench::PushPlan& plan,
                                        const std::string& image, const std::string& digest);

// `wb config set --gitops`: a new config version file in the checkout, the Deployment pointed at
// it, committed; prints like `wb config set`. `rollback_to` > 0 (`wb config rollback --gitops`):
// the change is the whole content of that version as the checkout holds it.
Status gitops_config_set(Context& ctx, const GitopsFlags& flags, const std::string& app,
                         workbench::ConfigChange change, int rollback_to = 0);

}  // namespace wb::cli::commands
