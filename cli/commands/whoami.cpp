// wb whoami: who the cluster thinks you are.
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/strings.hpp"

namespace wb::cli::commands {

using util::ErrorCode;
namespace k = wb::kube;

namespace {

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

void register_whoami(CLI::App& app, Context& ctx, Action& action) {
  auto* c = add_verb(app, "whoami", "Who the cluster thinks you are");
  c->callback([&ctx, &action] { action = [&ctx] { return run_whoami(ctx); }; });
}

}  // namespace wb::cli::commands
