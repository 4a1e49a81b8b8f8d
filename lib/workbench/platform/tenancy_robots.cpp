// Robots (CI service accounts) of a workspace: creating, removing, listing, and their kubeconfig.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "util/encoding.hpp"
#include "util/fs.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"
#include "util/yaml.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/platform/tenancy_internal.hpp"

namespace wb::workbench::tenancy {

using util::ErrorCode;
namespace t = kube::types;
using namespace detail;

std::string robot_kubeconfig(const kube::RestConfig& config, const std::string& name, const std::string& ns,
                             const std::string& token) {
  std::string ca = config.tls.ca_data;
  if (ca.empty() && !config.tls.ca_file.empty()) {
    if (auto data = util::read_file(config.tls.ca_file)) ca = *data;
  }
  const std::string user = "robot-" + name;
  const std::string ctxname = name + "@" + ns;
  std::string out = "apiVersion: v1\nkind: Config\nclusters:\n- name: wb\n  cluster:\n";
  out += "    server: " + util::yaml_quoted(config.server) + "\n";
  if (config.tls.insecure) {
    out += "    insecure-skip-tls-verify: true\n";
  } else if (!ca.empty()) {
    out += "    certificate-authority-data: " + util::base64_encode(ca) + "\n";
  }
  if (!config.tls.server_name.empty())
    out += "    tls-server-name: " + util::yaml_quoted(config.tls.server_name) + "\n";
  out += "users:\n- name: " + util::yaml_quoted(user) + "\n  user:\n    token: " + util::yaml_quoted(token) + "\n";
  out += "contexts:\n- name: " + util::yaml_quoted(ctxname) +
         "\n  context:\n    cluster: wb\n    user: " + util::yaml_quoted(user) +
         "\n    namespace: " + util::yaml_quoted(ns) + "\n";
  out += "current-context: " + util::yaml_quoted(ctxname) + "\n";
  return out;
}

Result<Robot> create_robot(kube::Client& client, const std::string& name, const std::string& workspace, Role role) {
  if (!util::is_dns1123_label(name))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a valid robot name", name),
                 "robot names use lower-case letters, digits and '-'");
  WB_TRY(get_workspace(client, workspace));
  if (auto sa = client.get(t::ServiceAccount, workspace, name))
    return Error(ErrorCode::Conflict, fmt::format("robot '{}' already exists in workspace '{}'", name, workspace),
                 fmt::format("`wb robot rm {}` first, or pick another name", name));
  else if (sa.error().http_status != 404)
    return sa.error();
  json labels = {{labels::kManagedBy, labels::kManagedByWb}, {kRobotLabel, name}};
  json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", name}, {"namespace", workspace}, {"labels", labels}}}};
  WB_TRY(client.create(t::ServiceAccount, workspace, sa));
  auto undo = [&] {
    (void)client.remove(t::RoleBinding, workspace, "wb:robot:" + name);
    (void)client.remove(t::Secret, workspace, name + "-token");
    (void)client.remove(t::ServiceAccount, workspace, name);
  };
  json rb = role_binding(workspace, "wb:robot:" + name, role, cluster_role_of(role),
                         json::array({{{"kind", "ServiceAccount"}, {"name", name}, {"namespace", workspace}}}));
  rb["metadata"]["labels"][kRobotLabel] = name;
  if (auto made = client.create(t::RoleBinding, workspace, rb); !made) {
    undo();
    return made.error();
  }
  // A long-lived token Secret rather than a TokenRequest: it goes into a CI variable that must keep
  // working, and it is revoked by deleting the Secret (`wb robot rm`).
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"type", "kubernetes.io/service-account-token"},
                 {"metadata",
                  {{"name", name + "-token"},
                   {"namespace", workspace},
                   {"labels", labels},
                   {"annotations", {{"kubernetes.io/service-account.name", name}}}}}};
  if (auto made = client.create(t::Secret, workspace, secret); !made) {
    undo();
    return made.error();
  }
  std::string token;
  for (int i = 0; i < 100 && token.empty(); ++i) {  // the token controller fills it in (up to 10 s)
    auto s = client.get(t::Secret, workspace, name + "-token");
    if (!s) {
      undo();
      return s.error();
    }
    auto enc = fields::str(*s, "/data/token");
    if (!enc.empty()) {
      if (auto dec = util::base64_decode(enc)) token = *dec;
    }
    if (token.empty() && !util::sleep_for(std::chrono::milliseconds(100))) break;
  }
  if (token.empty() && util::interrupted()) {
    undo();
    return Error(ErrorCode::Interrupted, "interrupted");
  }
  if (token.empty()) {
    undo();
    return Error(ErrorCode::Timeout, fmt::format("the cluster gave robot '{}' no token within 10 s", name),
                 "check that the service-account token controller runs (kube-controller-manager)");
  }
  Robot r{name, workspace, role, token, robot_kubeconfig(client.config(), name, workspace, token), {}};
  r.outcome = outcome_of(record_members(client, workspace));
  return r;
}

Result<RecordsOutcome> remove_robot(kube::Client& client, const std::string& name, const std::string& workspace) {
  auto sa = client.get(t::ServiceAccount, workspace, name);
  if (!sa) {
    if (sa.error().http_status == 404)
      return Error(ErrorCode::NotFound, fmt::format("robot '{}' not found in workspace '{}'", name, workspace), "");
    return sa.error();
  }
  if (fields::meta_string(*sa, "labels", kRobotLabel) != name)
    return Error(ErrorCode::Usage, fmt::format("service account '{}' in '{}' is not a wb robot", name, workspace),
                 "wb removes only robots it made");
  WB_TRY(gone(client.remove(t::RoleBinding, workspace, "wb:robot:" + name)));
  WB_TRY(gone(client.remove(t::Secret, workspace, name + "-token")));
  WB_TRY(gone(client.remove(t::ServiceAccount, workspace, name)));
  return outcome_of(record_members(client, workspace));
}

Result<std::vector<RobotInfo>> list_robots(kube::Client& client, const std::string& workspace) {
  WB_TRY(get_workspace(client, workspace));
  kube::ListOptions robots;
  robots.label_selector = kRobotLabel;
  WB_ASSIGN_OR_RETURN(json sas, client.list(t::ServiceAccount, workspace, robots));
  WB_ASSIGN_OR_RETURN(json rbs, client.list(t::RoleBinding, workspace, robots));
  std::map<std::string, std::string> roles;
  for (const auto& rb : items_of(rbs)) {
    auto role = role_of_cluster_role(fields::str(rb, "/roleRef/name"));
    roles[fields::meta_string(rb, "labels", kRobotLabel)] = role ? role_name(*role) : fields::str(rb, "/roleRef/name");
  }
  // Token Secrets carry the same label; reading them needs the right to read secrets, which a
  // viewer lacks: then the column stays unknown (false) rather than failing the list.
  std::set<std::string> tokens;
  if (auto secrets = client.list(t::Secret, workspace, robots))
    for (const auto& s : items_of(*secrets)) tokens.insert(fields::meta_string(s, "labels", kRobotLabel));
  std::vector<RobotInfo> out;
  for (const auto& sa : items_of(sas)) {
    RobotInfo r;
    r.name = name_of(sa);
    r.role = roles.count(r.name) ? roles[r.name] : "";
    r.created = fields::str(sa, "/metadata/creationTimestamp");
    r.token = tokens.count(r.name) > 0;
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const RobotInfo& a, const RobotInfo& b) { return a.name < b.name; });
  return out;
}
}  // namespace wb::workbench::tenancy
