#include "workbench/platform/doctor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>

#include "http/http.hpp"
#include "kube/identity.hpp"
#include "oci/registry_client.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
namespace k = wb::kube;
using json = nlohmann::json;

const char* check_state_name(CheckState s) {
  switch (s) {
    case CheckState::Ok:
      return "ok";
    case CheckState::Warn:
      return "warn";
    case CheckState::Fail:
      return "fail";
    case CheckState::Skip:
      return "skip";
  }
  return "fail";
}

const CheckResult* DoctorReport::first_failure() const {
  for (const auto& c : checks)
    if (c.state == CheckState::Fail) return &c;
  return nullptr;
}

CheckResult clock_check(std::optional<util::TimePoint> server_time, util::TimePoint local,
                        std::chrono::seconds warn_after, std::chrono::seconds fail_after) {
  CheckResult c{"clock", "clock in sync", CheckState::Ok, "", "", ErrorCode::Failure};
  if (!server_time) {
    c.state = CheckState::Skip;
    c.detail = "the API server sent no Date header to compare with";
    return c;
  }
  // The Date header has whole seconds: round the local clock the same way.
  auto diff = std::chrono::duration_cast<std::chrono::seconds>(local - *server_time);
  const long long secs = diff.count();
  const long long off = std::llabs(secs);
  const std::string side = secs > 0 ? "ahead of" : "behind";
  if (off <= 1) {
    c.detail = "same time as the API server";
  } else if (off <= warn_after.count()) {
    c.detail = fmt::format("{} s {} the API server", off, side);
  } else {
    c.state = off > fail_after.count() ? CheckState::Fail : CheckState::Warn;
    c.detail =
        fmt::format("this machine's clock is {} {} the API server", util::format_age(std::chrono::seconds(off)), side);
    c.hint = "sync it (NTP: `timedatectl set-ntp true`); a skewed clock breaks tokens (JWT) and TLS certificates";
  }
  return c;
}

namespace {

CheckResult skipped(const std::string& id, const std::string& title, const std::string& needs) {
  return {id, title, CheckState::Skip, "skipped: needs " + needs, "", ErrorCode::Failure};
}

CheckResult failed(const std::string& id, const std::string& title, const Error& e, const std::string& fallback_hint) {
  return {id, title, CheckState::Fail, e.message, e.hint.empty() ? fallback_hint : e.hint, e.code};
}

// May the current user `verb` `resource` in `ns`? (SelfSubjectAccessReview)
Result<bool> may(k::Client& client, const std::string& verb, const std::string& group, const std::string& resource,
                 const std::string& subresource, const std::string& ns) {
  json attrs = {{"namespace", ns}, {"verb", verb}, {"group", group}, {"resource", resource}};
  if (!subresource.empty()) attrs["subresource"] = subresource;
  json review = {{"apiVersion", "authorization.k8s.io/v1"},
                 {"kind", "SelfSubjectAccessReview"},
                 {"spec", {{"resourceAttributes", attrs}}}};
  WB_ASSIGN_OR_RETURN(auto answer, client.create(k::types::SelfSubjectAccessReview, "", review));
  return util::json_at(answer, "/status/allowed", false);
}

struct Right {
  const char* verb;
  const char* group;
  const char* resource;
  const char* subresource;
  const char* words;  // what it lets you do
  bool required;      // without it wb cannot deploy at all
};

// Deploying is rolling an existing app to a new image (patch); creating apps is a right of its own,
// which CI robots (the deployer role) do not have and do not need.
const Right kRights[] = {
    {"patch", "apps", "deployments", "", "deploy", true},
    {"create", "", "configmaps", "", "configure", true},
    {"create", "", "secrets", "", "configure", true},
    {"create", "apps", "deployments", "", "create apps", false},
    {"create", "", "services", "", "create apps", false},
    {"get", "", "pods", "log", "read logs", false},
    {"create", "", "pods", "exec", "copy files", false},
    {"create", "networking.k8s.io", "ingresses", "", "add routes", false},
};

std::string words_list(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  if (items.size() == 1) return items[0];
  std::vector<std::string> head(items.begin(), items.end() - 1);
  return util::join(head, ", ") + " and " + items.back();
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// "shop-dev (developer), shop-prod (viewer)"
std::string memberships_words(const tenancy::Memberships& m) {
  std::vector<std::string> parts;
  for (const auto& w : m.workspaces) parts.push_back(fmt::format("{} ({})", w.workspace, tenancy::role_name(w.role)));
  return util::join(parts, ", ");
}

CheckResult workspace_check(k::Client& client, const std::string& ns) {
  const std::string title = "workspace access";
  // Where the cluster keeps membership records: the user's workspaces and roles, for the hints.
  tenancy::Memberships mine;
  if (auto m = tenancy::my_memberships(client)) mine = std::move(*m);
  std::optional<tenancy::Role> role_here;
  for (const auto& w : mine.workspaces)
    if (w.workspace == ns) role_here = w.role;
  if (ns.empty())
    return {"workspace",
            title,
            CheckState::Fail,
            "no workspace chosen",
            "pass -w WORKSPACE, run `wb workspace use NAME`, or set one in your profile" +
                (mine.workspaces.empty() ? std::string() : "; you have a role in " + memberships_words(mine)),
            ErrorCode::Usage};
  std::string ask = fmt::format("ask a tenant admin for the operator (edit) role in '{}'", ns);
  if (role_here)
    ask = fmt::format("you are a {} in '{}': ask a tenant admin of its tenant for the developer role there",
                      tenancy::role_name(*role_here), ns);
  else if (mine.recorded)
    ask = fmt::format("you have no role in '{}'{}: ask a tenant admin of its tenant for the developer role there", ns,
                      mine.workspaces.empty() ? std::string() : " (you have one in " + memberships_words(mine) + ")");
  std::vector<std::string> can, cannot_required, cannot_optional, denied;
  for (const Right& r : kRights) {
    auto ok = may(client, r.verb, r.group, r.resource, r.subresource, ns);
    if (!ok) return failed("workspace", title, ok.error(), "");
    std::string what = std::string(r.resource) + (*r.subresource ? std::string("/") + r.subresource : "");
    if (*ok) {
      add_unique(can, r.words);
    } else {
      add_unique(denied, std::string(r.verb) + " " + what);
      add_unique(r.required ? cannot_required : cannot_optional, r.words);
    }
  }
  // A right counts only when every request behind it is allowed.
  std::vector<std::string> fine;
  for (const auto& w : can)
    if (std::find(cannot_required.begin(), cannot_required.end(), w) == cannot_required.end() &&
        std::find(cannot_optional.begin(), cannot_optional.end(), w) == cannot_optional.end())
      fine.push_back(w);
  if (!cannot_required.empty())
    return {"workspace",
            title,
            CheckState::Fail,
            fmt::format("you may not {} in workspace '{}' (denied: {})", words_list(cannot_required), ns,
                        util::join(denied, ", ")),
            ask + "; `wb workspace list` shows where you may deploy",
            ErrorCode::Auth};
  const std::string as =
      role_here ? fmt::format(" (your role there: {})", tenancy::role_name(*role_here)) : std::string();
  if (!cannot_optional.empty())
    return {"workspace",
            title,
            CheckState::Warn,
            fmt::format("you may {} in '{}', but not {} (denied: {}){}", words_list(fine), ns,
                        words_list(cannot_optional), util::join(denied, ", "), as),
            ask + " if you need them",
            ErrorCode::Auth};
  return {"workspace",       title, CheckState::Ok, fmt::format("you may {} in '{}'{}", words_list(fine), ns, as), "",
          ErrorCode::Failure};
}

std::string server_version(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return "";
  return j.value("gitVersion", "");
}

using Checks = std::vector<CheckResult>;

// The profile: read, or why not. Null when it could not be read.
const Settings* check_profile(const DoctorInputs& in, Checks& out) {
  if (!in.settings) {
    out.push_back(failed("profile", "profile", in.settings.error(), "fix the file, or choose another with --profile"));
    return nullptr;
  }
  const Settings* settings = *in.settings;
  std::string name = settings && !settings->profile_name.empty() ? settings->profile_name : "";
  out.push_back({"profile", "profile", CheckState::Ok,
                 name.empty() ? "none (built-in defaults; `wb profile init` makes one)" : name, "",
                 ErrorCode::Failure});
  return settings;
}

// What the Kubernetes checks learned, for the checks after them.
struct KubeAccess {
  std::optional<k::RestConfig> config;
  std::shared_ptr<k::Client> client;
  std::optional<util::TimePoint> server_time;
  bool server_ok = false;
  bool identity_ok = false;
};

void check_kubeconfig(const DoctorInputs& in, KubeAccess& kube, Checks& out) {
  if (!in.load_kube) return;
  auto loaded = in.load_kube();
  if (loaded) {
    out.push_back({"kubeconfig", "kubeconfig found", CheckState::Ok, in.kube_source ? in.kube_source(*loaded) : "", "",
                   ErrorCode::Failure});
    kube.config = std::move(loaded).value();
  } else {
    out.push_back(failed("kubeconfig", "kubeconfig found", loaded.error(),
                         "ask your platform team for a kubeconfig; put it in ~/.kube/config or point KUBECONFIG "
                         "(or --kubeconfig) at it"));
  }
}

// The API server answers /version (a refusal counts as an answer); its Date header is the clock's.
void check_server(const DoctorInputs& in, KubeAccess& kube, Checks& out) {
  if (!kube.config) {
    out.push_back(skipped("server", "server reachable", "a kubeconfig"));
    return;
  }
  const std::string server = kube.config->server;
  kube.client = in.make_kube(*kube.config);
  auto r = kube.client->raw("GET", "/version");
  if (r) {
    kube.server_ok = true;
    if (auto d = r->headers.get("date")) kube.server_time = http::parse_http_date(*d);
    std::string v = server_version(r->body);
    out.push_back({"server", "server reachable", CheckState::Ok,
                   v.empty() ? server : fmt::format("{} (Kubernetes {})", server, v), "", ErrorCode::Failure});
  } else if (r.error().http_status == 401 || r.error().http_status == 403) {
    kube.server_ok = true;  // it answered; who-you-are says why it refuses
    out.push_back({"server", "server reachable", CheckState::Ok,
                   fmt::format("{} (it answered {})", server, r.error().http_status), "", ErrorCode::Failure});
  } else {
    out.push_back(failed("server", "server reachable", r.error(),
                         "check the server address in your kubeconfig, and your network, VPN or proxy"));
  }
}

// Who the server says you are (a SelfSubjectReview), or the kubeconfig's user on servers too old to say.
void check_identity(KubeAccess& kube, Checks& out) {
  if (!kube.server_ok) {
    out.push_back(skipped("identity", "who you are", "server reachable"));
    return;
  }
  const std::string hint =
      "your credentials are expired or wrong: get a fresh kubeconfig (or token) from your "
      "platform team";
  auto who = k::who_am_i(*kube.client);
  if (!who) {
    out.push_back(failed("identity", "who you are", who.error(), who.error().code == ErrorCode::Auth ? hint : ""));
  } else if (*who) {
    kube.identity_ok = true;
    std::vector<std::string> groups;
    for (const auto& g : (*who)->groups)
      if (g != "system:authenticated") groups.push_back(g);
    const std::string& name = (*who)->username;
    out.push_back({"identity", "who you are", CheckState::Ok,
                   groups.empty() ? name : fmt::format("{} (groups: {})", name, util::join(groups, ", ")), "",
                   ErrorCode::Failure});
  } else {
    // Before Kubernetes 1.27 the server cannot say; the workspace check still proves the credentials.
    kube.identity_ok = true;
    out.push_back({"identity", "who you are", CheckState::Ok,
                   fmt::format("kubeconfig user '{}' (the server is too old to say more)",
                               kube.config->user_name.empty() ? "(service account)" : kube.config->user_name),
                   "", ErrorCode::Failure});
  }
}

// Kubernetes: kubeconfig, server, identity, workspace; each skipped when the one before failed.
KubeAccess check_kubernetes(const DoctorInputs& in, Checks& out) {
  KubeAccess kube;
  check_kubeconfig(in, kube, out);
  check_server(in, kube, out);
  check_identity(kube, out);
  if (!kube.identity_ok) {
    out.push_back(skipped("workspace", "workspace access", "who you are"));
  } else {
    out.push_back(workspace_check(*kube.client, in.workspace.empty() ? kube.config->namespace_ : in.workspace));
  }
  return kube;
}

// What the registry checks learned, for the checks after them.
struct RegistryAccess {
  std::string host;
  std::unique_ptr<oci::Registry> registry;
  bool ok = false;
};

void check_registry_reachable(const DoctorInputs& in, const Settings* settings, RegistryAccess& reg, Checks& out) {
  if (!settings) {
    out.push_back(skipped("registry", "registry reachable", "a profile"));
  } else if (reg.host.empty()) {
    out.push_back({"registry", "registry reachable", CheckState::Skip,
                   "no registry in the profile (registry.host): `wb push jar` writes local images", "",
                   ErrorCode::Failure});
  } else {
    reg.registry = in.make_registry();
    auto st = reg.registry->ping(reg.host);
    if (st) {
      reg.ok = true;
      out.push_back({"registry", "registry reachable", CheckState::Ok, reg.host, "", ErrorCode::Failure});
    } else {
      out.push_back(failed("registry", "registry reachable", st.error(),
                           "check registry.host (and registry.ca / registry.insecure) with `wb profile show "
                           "--resolved`, and your network"));
    }
  }
}

// The registry lets you push to the app's repository.
void check_push(const DoctorInputs& in, const Settings* settings, RegistryAccess& reg, Checks& out) {
  if (!reg.ok) {
    out.push_back(skipped("push", "registry push allowed", reg.host.empty() ? "a registry" : "registry reachable"));
    return;
  }
  std::string project = settings->text("registry.project");
  while (!project.empty() && project.back() == '/') project.pop_back();
  const std::string repo = reg.host + "/" + (project.empty() ? "" : project + "/") + in.app;
  auto ref = oci::parse_reference(repo);
  if (!ref) {
    out.push_back(failed("push", "registry push allowed", ref.error(), "check registry.host and registry.project"));
  } else {
    auto st = reg.registry->check_push(*ref);
    if (st)
      out.push_back({"push", "registry push allowed", CheckState::Ok, ref->name(), "", ErrorCode::Failure});
    else
      out.push_back(failed("push", "registry push allowed", st.error(), ""));
  }
}

// Every base image the profile names (local layouts aside) is readable; the first that is not fails.
void check_base_images(const DoctorInputs& in, const Settings* settings, RegistryAccess& reg, Checks& out) {
  const auto bases = settings ? settings->get_map("baseImages") : std::map<std::string, std::string>{};
  if (!settings) {
    out.push_back(skipped("base-image", "base image readable", "a profile"));
    return;
  }
  if (bases.empty()) {
    out.push_back({"base-image", "base image readable", CheckState::Skip,
                   "no baseImages in the profile: pass --base to `wb push jar`", "", ErrorCode::Failure});
    return;
  }
  std::vector<std::string> read;
  std::optional<CheckResult> bad;
  bool skip = false;
  for (const auto& [java, image] : bases) {
    if (image.rfind("oci:", 0) == 0) continue;  // a local layout: nothing to reach
    auto ref = oci::parse_reference(image);
    if (!ref) {
      bad = failed("base-image", "base image readable", ref.error(), "fix baseImages in your profile");
      break;
    }
    if (ref->registry == reg.host && !reg.ok) {
      skip = true;
      continue;
    }
    if (!reg.registry) reg.registry = in.make_registry();
    auto d = reg.registry->head_manifest(*ref);
    if (!d) {
      Error e = d.error();
      std::string hint = e.code == ErrorCode::NotFound
                             ? fmt::format(
                                   "the base image for Java {} is missing: ask your platform team, or fix "
                                   "baseImages in your profile (`wb profile show --resolved`)",
                                   java)
                             : e.hint;
      e.message = fmt::format("base image {} (Java {}): {}", image, java, e.message);
      bad = failed("base-image", "base image readable", e, hint);
      break;
    }
    read.push_back(image);
  }
  if (bad)
    out.push_back(*bad);
  else if (read.empty() && skip)
    out.push_back(skipped("base-image", "base image readable", "registry reachable"));
  else
    out.push_back(
        {"base-image", "base image readable", CheckState::Ok, util::join(read, ", "), "", ErrorCode::Failure});
}

// The registry: reachable, push allowed, base images readable.
void check_registry(const DoctorInputs& in, const Settings* settings, Checks& out) {
  RegistryAccess reg;
  reg.host = settings ? settings->text("registry.host") : "";
  check_registry_reachable(in, settings, reg, out);
  check_push(in, settings, reg, out);
  check_base_images(in, settings, reg, out);
}

}  // namespace

DoctorReport run_doctor(const DoctorInputs& in) {
  DoctorReport report;
  auto& out = report.checks;
  const Settings* settings = check_profile(in, out);
  const KubeAccess kube = check_kubernetes(in, out);
  check_registry(in, settings, out);
  // The clock, from the API server's answer.
  if (!kube.server_ok)
    out.push_back(skipped("clock", "clock in sync", "server reachable"));
  else
    out.push_back(clock_check(kube.server_time, in.now(), in.skew_warn, in.skew_fail));
  return report;
}

}  // namespace wb::workbench
