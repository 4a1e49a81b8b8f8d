// A refusal (403) as wb's commands see it: the server's facts (kube::Forbidden) in the terms of an
// app's parts, where it happened and what the user meant; platform's tenancy::explain_refusal adds
// their role there and who can change it. Words for it are made once, where errors are printed.
#pragma once

#include <optional>
#include <string>

#include "kube/client.hpp"
#include "kube/status.hpp"
#include "util/result.hpp"

namespace wb::workbench {

struct Refusal : kube::Forbidden {
  std::string workspace;  // "" at the cluster scope
  // Asked of the server by tenancy::explain_refusal (explained = true once it has been):
  bool explained = false;
  std::string tenant;                  // the workspace's tenant ("" when it cannot be told)
  std::optional<std::string> role;     // the user's wb role there ("developer", "tenant-admin"); "" none;
                                       // nullopt when it cannot be told
  bool cluster_role_outdated = false;  // wb's role allows it; this cluster's copy of the role does not
  bool no_role_allows = false;         // no role a tenant admin can give allows it
};

// A 403 met while working on an app's parts in workspace `ns` (other errors pass unchanged): the
// request in app terms (a version's, a replica's or the app's Service count as the app, "get" or
// "update"); `changing`: the user meant to change something, so a refused read on the way counts
// as a change (also for a refusal already in app terms). A 403 on something that is not an app's
// part keeps the server's facts.
util::Error refused_in_workspace(util::Error e, const std::string& ns, bool changing = false);
// A 403 met while doing `verb` ("create", "delete", "update") to an app in workspace `ns`.
util::Error refused_app(util::Error e, const std::string& verb, const std::string& ns);
// GET of an app's part in workspace `ns`: null when it is not there, a 403 as refused_in_workspace.
util::Result<nlohmann::json> get_if_exists(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                                           const std::string& name);

}  // namespace wb::workbench
