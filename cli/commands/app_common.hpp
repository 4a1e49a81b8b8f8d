// What the `wb app` verbs share: printing objects for --dry-run, who is making a change, and
// waiting for a rollout with one progress line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/profile.hpp"

namespace wb::cli::commands {

using json = nlohmann::json;

// Objects as -o asks: json -> a v1 List, name -> kind/name lines, otherwise a YAML stream.
void print_objects(Context& ctx, const std::vector<json>& objects);

// Who the server says we are (SelfSubjectReview, Kubernetes 1.27+); "" when it cannot tell.
std::string server_username(kube::Client& client);

// Who makes a change (the server's name for us, else the kubeconfig user; in GitLab CI
// "GITLAB_USER_LOGIN via <that>" and the pipeline URL) and why.
workbench::ChangeInfo change_info(Context& ctx, kube::Client& client, const std::string& cause);

// --no-wait and --timeout for the verbs that wait for the app to settle.
struct WaitFlags {
  bool no_wait = false;
  std::string timeout;  // "" = workbench::kRolloutTimeout
};
void add_wait_flags(CLI::App& verb, WaitFlags& flags);

// Waits until the app is Running on its newest version (or Stopped), showing one progress line on
// stderr on a TTY. Not in time: Timeout with the reason in words; when the app keeps crashing, the
// last lines of the crashed replica's log follow the error line.
Result<workbench::AppState> wait_for_app(Context& ctx, kube::Client& client, const std::string& ns,
                                         const std::string& app, const WaitFlags& flags);

// The app's state as `wb app status -o json` shows it (see app_lifecycle.cpp for the shape).
// `settings` (the profile's base images) tells an app that still runs the base image create
// gave it (version null) from one that runs a pushed version.
json status_document(const std::string& ns, const workbench::AppDetails& details,
                     const workbench::Settings* settings = nullptr);

// Prints the app's state after a verb: the status document with -o json|yaml, "app/NAME" with
// -o name, otherwise `line` (with "{state}" replaced by "running 2/2 at URL" and the like).
Status report_app(Context& ctx, kube::Client& client, const std::string& ns, const std::string& app,
                  const std::string& line);

// Registers list, status, start, stop, restart, scale and delete (app_lifecycle.cpp).
void register_app_lifecycle(CLI::App& noun, Context& ctx, Action& action);
// Registers set, history and rollback (app_revisions.cpp).
void register_app_revisions(CLI::App& noun, Context& ctx, Action& action);

}  // namespace wb::cli::commands
