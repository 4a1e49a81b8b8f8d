// wb whoami: who the cluster thinks you are.
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "kube/identity.hpp"
#include "output.hpp"
#include "util/strings.hpp"

namespace wb::cli::commands {

namespace k = wb::kube;

namespace {

Status run_whoami(Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  const auto& cfg = client->config();
  json out = {{"server", cfg.server}, {"context", cfg.context_name}, {"inCluster", cfg.in_cluster}};
  WB_ASSIGN_OR_RETURN(auto who, k::who_am_i(*client));
  if (who) {
    out["username"] = who->username;
    out["groups"] = who->groups;
    out["known"] = true;
  } else {
    out["known"] = false;
    out["kubeconfigUser"] = cfg.user_name;
  }
  if (ctx.global.machine_output()) {
    print_result(ctx, out, [] { return Table{}; }, {out.value("username", cfg.user_name)});
    return {};
  }
  if (who) {
    ctx.out() << fmt::format("You are {}", who->username);
    if (!who->groups.empty()) ctx.out() << fmt::format(" (groups: {})", util::join(who->groups, ", "));
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

void register_whoami(CLI::App& app, Context& ctx, Action& action) {
  auto* c = add_verb(app, "whoami", "Who the cluster thinks you are");
  c->callback([&ctx, &action] { action = [&ctx] { return run_whoami(ctx); }; });
}

}  // namespace wb::cli::commands
