// Discovery: the server's version, the API groups and resources it serves, and the choice among
// API versions of a type.
#include <mutex>

#include "kube/client_internal.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"

namespace wb::kube::detail {

Result<std::vector<std::string>> HttpClient::group_version_resources(const std::string& gv) {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    auto it = gv_cache_.find(gv);
    if (it != gv_cache_.end()) return it->second;
  }
  std::string path = gv.find('/') == std::string::npos ? "/api/" + gv : "/apis/" + gv;
  std::vector<std::string> names;
  auto resp = call({"GET", path});
  if (!resp) {
    if (resp.error().code != ErrorCode::NotFound) return std::move(resp).error();
  } else {
    WB_ASSIGN_OR_RETURN(json j, parse_json(*resp, "discovery"));
    if (j.contains("resources") && j["resources"].is_array())
      for (const auto& res : j["resources"]) {
        std::string n = res.is_object() ? util::json_value(res, "name", "") : "";
        if (!n.empty() && n.find('/') == std::string::npos) names.push_back(n);
      }
  }
  std::lock_guard<std::mutex> lock(state_mu_);
  gv_cache_[gv] = names;
  return names;
}

std::optional<Discovery> HttpClient::cached_discovery() {
  std::lock_guard<std::mutex> lock(state_mu_);
  return discovery_;
}

Result<Discovery> HttpClient::discovery() {
  if (auto cached = cached_discovery()) return *std::move(cached);
  Discovery d;
  WB_ASSIGN_OR_RETURN(auto vresp, call({"GET", "/version"}));
  WB_ASSIGN_OR_RETURN(json v, parse_json(vresp, "version"));
  d.git_version = util::json_value(v, "gitVersion", "");
  auto leading_int = [](const std::string& s) {
    int n = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') break;
      n = n * 10 + (ch - '0');
    }
    return n;
  };
  d.major = leading_int(util::json_value(v, "major", ""));
  d.minor = leading_int(util::json_value(v, "minor", ""));
  if ((d.major == 0 || d.minor == 0) && d.git_version.size() > 1 && d.git_version[0] == 'v') {
    auto parts = util::split(d.git_version.substr(1), '.');
    if (parts.size() >= 2) {
      d.major = leading_int(parts[0]);
      d.minor = leading_int(parts[1]);
    }
  }

  std::vector<std::string> gvs;
  WB_ASSIGN_OR_RETURN(auto core, call({"GET", "/api"}));
  WB_ASSIGN_OR_RETURN(json cj, parse_json(core, "discovery"));
  if (cj.contains("versions") && cj["versions"].is_array())
    for (const auto& ver : cj["versions"])
      if (ver.is_string()) gvs.push_back(ver.get<std::string>());
  if (!gvs.empty()) d.preferred_versions[""] = gvs.front();

  WB_ASSIGN_OR_RETURN(auto apis, call({"GET", "/apis"}));
  WB_ASSIGN_OR_RETURN(json aj, parse_json(apis, "discovery"));
  if (aj.contains("groups") && aj["groups"].is_array()) {
    for (const auto& g : aj["groups"]) {
      if (!g.is_object()) continue;
      std::string name = util::json_value(g, "name", "");
      if (g.contains("preferredVersion") && g["preferredVersion"].is_object())
        d.preferred_versions[name] = util::json_value(g["preferredVersion"], "version", "");
      if (g.contains("versions") && g["versions"].is_array())
        for (const auto& ver : g["versions"])
          if (ver.is_object() && ver.contains("groupVersion")) gvs.push_back(util::json_value(ver, "groupVersion", ""));
    }
  }
  for (const auto& gv : gvs) {
    if (gv.empty()) continue;
    auto names = group_version_resources(gv);
    if (!names) {
      // An aggregated API that is down (metrics, custom APIs) must not break everything else.
      if (names.error().code == ErrorCode::Unavailable || names.error().code == ErrorCode::Timeout ||
          names.error().code == ErrorCode::Auth)
        continue;
      return std::move(names).error();
    }
    d.resources[gv] = *names;
  }
  std::lock_guard<std::mutex> lock(state_mu_);
  discovery_ = d;
  return d;
}

Result<ResourceType> HttpClient::prefer(const std::vector<ResourceType>& candidates) {
  std::vector<std::string> tried;
  for (const auto& c : candidates) {
    bool served = false;
    if (auto cached = cached_discovery()) {
      served = cached->has(c.api_version(), c.plural);
    } else {
      WB_ASSIGN_OR_RETURN(auto names, group_version_resources(c.api_version()));
      for (const auto& n : names) served = served || n == c.plural;
    }
    if (served) return c;
    tried.push_back(c.plural + "." + c.api_version());
  }
  return Error(ErrorCode::NotFound, "the cluster serves none of: " + util::join(tried, ", "),
               "this Kubernetes version may be too old or too new for wb");
}

}  // namespace wb::kube::detail
