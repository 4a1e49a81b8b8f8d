// What `wb export`, `wb push jar --gitops` and `wb config set --gitops` change in a config
// checkout: the app read from the cluster, the commit author, and each commit's files and message.
#include <fmt/format.h>

#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/core/refusal.hpp"
#include "workbench/delivery/gitops.hpp"
#include "workbench/versions/routes.hpp"

namespace wb::workbench::gitops {

namespace k = wb::kube;
using util::ErrorCode;

namespace {

// The Ingress and the routes version it shows, when the app has routes.
Status read_routes(k::Client& client, const std::string& ns, const std::string& app, std::vector<json>& objects) {
  auto type = client.prefer({k::types::IngressV1, k::types::IngressV1beta1});
  if (!type) return {};
  WB_ASSIGN_OR_RETURN(auto ingress, get_if_exists(client, *type, ns, app));
  if (ingress.is_null()) return {};
  objects.push_back(ingress);
  const std::string v = fields::meta_string(ingress, "annotations", kRoutesVersionAnnotation);
  if (auto n = util::parse_int<int>(v, "", 0)) {
    WB_ASSIGN_OR_RETURN(auto routes, get_if_exists(client, k::types::ConfigMap, ns, routes_map_name(app, *n)));
    if (!routes.is_null()) objects.push_back(routes);
  }
  return {};
}

}  // namespace

Result<ClusterApp> read_cluster_app(k::Client& client, const std::string& ns, const std::string& app) {
  ClusterApp out;
  WB_ASSIGN_OR_RETURN(auto deployment, workbench::read_app(client, ns, app));
  out.objects.push_back(deployment);
  WB_ASSIGN_OR_RETURN(auto service, get_if_exists(client, k::types::Service, ns, app));
  if (!service.is_null()) out.objects.push_back(service);
  WB_TRY(read_routes(client, ns, app, out.objects));
  const int uses = referenced_config_version(fields::at(deployment, "/spec/template"), app);
  if (uses > 0) {
    WB_ASSIGN_OR_RETURN(auto cm, get_if_exists(client, k::types::ConfigMap, ns, config_map_name(app, uses)));
    if (cm.is_null()) {
      out.missing_config_version = uses;
    } else {
      out.objects.push_back(cm);
      out.kept_secret = fields::meta_string(cm, "annotations", kConfigSecretAnnotation);
    }
  }
  return out;
}

std::string change_author(const GitRunner& git, const fs::path& root, const EnvLookup& env, bool in_gitlab_ci) {
  if (in_gitlab_ci && env)
    if (auto login = env("GITLAB_USER_LOGIN"); login && !login->empty()) return *login;
  if (auto r = git(root, {"config", "user.name"}); r && r->exit_code == 0) {
    std::string name = util::trim(r->out);
    if (!name.empty()) return name;
  }
  if (env)
    if (auto user = env("USER")) return *user;
  return "";
}

Result<PlannedCommit> image_commit(const CheckoutApp& app, const PushedImage& pushed, const std::string& who) {
  PlannedCommit out;
  WB_ASSIGN_OR_RETURN(out.changes, image_change(app, pushed.image));
  MessageFacts facts;
  facts.workspace = app.workspace;
  facts.app = app.app;
  facts.jar = pushed.jar;
  facts.version = pushed.version;
  facts.image = pushed.image;
  facts.digest = pushed.digest;
  facts.source_commit = pushed.source_commit;
  facts.pipeline = pushed.pipeline;
  facts.who = who;
  out.message = commit_message(facts);
  return out;
}

Result<ConfigPlan> config_commit(const CheckoutApp& app, ConfigChange change, int rollback_to, const std::string& who,
                                 int keep, const EnvLookup& env) {
  if (rollback_to > 0) {
    WB_ASSIGN_OR_RETURN(auto content, config_version_in(app, rollback_to));
    change.replace_with = std::move(content);
  }
  ConfigPlan out;
  WB_ASSIGN_OR_RETURN(out.made, config_change(app, change, who, keep));
  MessageFacts facts;
  facts.workspace = app.workspace;
  facts.app = app.app;
  facts.config_version = out.made.version;
  facts.change = out.made.change;
  facts.reason = change.message;
  if (env) {
    if (auto sha = env("CI_COMMIT_SHA")) facts.source_commit = *sha;
    if (auto url = env("CI_PIPELINE_URL")) facts.pipeline = *url;
  }
  facts.who = who;
  out.message = commit_message(facts);
  return out;
}

}  // namespace wb::workbench::gitops
