// The parts of an app's lifecycle that talk to the cluster: reading, read-modify-write with
// retries, describing, the crash log tail, and what `wb app delete` removes.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "util/interrupt.hpp"
#include "util/json.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/app/logs.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
namespace k = wb::kube;

namespace {

std::string selector_of(const std::string& app, bool managed_only) {
  return managed_only ? made_for_app(app) : fmt::format("{}={}", labels::kName, app);
}

Error not_found(const std::string& ns, const std::string& app) {
  return Error(ErrorCode::NotFound, fmt::format("app '{}' not found in workspace '{}'", app, ns),
               "`wb app list` shows the apps there");
}

json items(const Result<json>& list) { return list ? list->value("items", json::array()) : json::array(); }

}  // namespace

Result<json> read_app(k::Client& client, const std::string& ns, const std::string& app) {
  auto d = client.get(k::types::Deployment, ns, app);
  if (!d) {
    if (d.error().code == ErrorCode::NotFound) return not_found(ns, app);
    return refused_in_workspace(std::move(d).error(), ns);
  }
  if (!made_by_wb(*d)) {
    auto e = not_found(ns, app);
    e.hint = fmt::format("'{}' there was not made by wb; `wb app list` shows the apps wb made", app);
    return e;
  }
  return std::move(*d);
}

Result<json> update_app(k::Client& client, const std::string& ns, const std::string& app,
                        const std::function<Status(json&)>& mutate, bool dry_run, int attempts) {
  for (int i = 0; i < std::max(1, attempts); ++i) {
    WB_ASSIGN_OR_RETURN(json d, read_app(client, ns, app));
    d["metadata"].erase("managedFields");
    WB_TRY(mutate(d));
    if (dry_run) {
      d.erase("status");
      return d;
    }
    auto written = client.update(k::types::Deployment, ns, d);
    if (written) return std::move(*written);
    if (k::is_conflict(written.error())) continue;
    if (written.error().code == ErrorCode::NotFound) return not_found(ns, app);
    return refused_in_workspace(std::move(written).error(), ns);
  }
  return Error(
      ErrorCode::Conflict,
      fmt::format("app '{}' in workspace '{}' kept changing while wb was changing it ({} tries)", app, ns, attempts),
      "someone else is changing it too; try again in a moment");
}

Result<AppDetails> describe_app(k::Client& client, const std::string& ns, const std::string& app, size_t events) {
  AppDetails out;
  WB_ASSIGN_OR_RETURN(out.deployment, read_app(client, ns, app));
  k::ListOptions opts;
  opts.label_selector = selector_of(app, false);
  auto rss = client.list(k::types::ReplicaSet, ns, opts);
  if (!rss) return refused_in_workspace(std::move(rss).error(), ns);
  auto pods = client.list(k::types::Pod, ns, opts);
  if (!pods) return refused_in_workspace(std::move(pods).error(), ns);
  out.replica_sets = items(rss);
  out.pods = items(pods);
  out.state = compute_state(app, out.deployment, out.replica_sets, out.pods);
  // Events, routes and the Service are extras: a role that may not read them still gets the rest.
  if (events > 0) {
    auto evs = client.list(k::types::Event, ns);
    out.events = app_events(items(evs), app, out.replica_sets, events);
  }
  if (auto ingress = client.prefer({k::types::IngressV1, k::types::IngressV1beta1})) {
    k::ListOptions mine;
    mine.label_selector = selector_of(app, false);
    for (const auto& ing : items(client.list(*ingress, ns, mine))) {
      std::vector<std::string> tls_hosts;
      for (const auto& t : util::json_at(ing, "/spec/tls", json::array()))
        for (const auto& h : t.value("hosts", json::array())) tls_hosts.push_back(h.get<std::string>());
      for (const auto& rule : util::json_at(ing, "/spec/rules", json::array())) {
        std::string host = rule.value("host", "");
        if (host.empty()) continue;
        bool tls = std::find(tls_hosts.begin(), tls_hosts.end(), host) != tls_hosts.end();
        std::string url = (tls ? "https://" : "http://") + host;
        if (std::find(out.routes.begin(), out.routes.end(), url) == out.routes.end()) out.routes.push_back(url);
      }
    }
  }
  int port = 0;
  if (auto svc = client.get(k::types::Service, ns, app); svc && made_by_wb(*svc)) {
    auto ports = util::json_at(*svc, "/spec/ports", json::array());
    if (!ports.empty()) port = ports[0].value("port", 0);
  }
  if (port == 0) {
    const json pod_template = util::json_at(out.deployment, "/spec/template", json::object());
    if (const json* c = app_container(pod_template, app)) {
      auto ports = c->value("ports", json::array());
      if (!ports.empty()) port = ports[0].value("containerPort", 0);
    }
  }
  out.address = port ? fmt::format("http://{}.{}.svc:{}", app, ns, port) : fmt::format("http://{}.{}.svc", app, ns);
  return out;
}

std::string app_url(const AppDetails& details) { return details.routes.empty() ? details.address : details.routes[0]; }

namespace {

// The last `count` non-empty lines of `text`.
std::vector<std::string> last_lines(const std::string& text, size_t count) {
  std::vector<std::string> out;
  for (auto& line : util::split(text, '\n'))
    if (!line.empty()) out.push_back(line);
  if (out.size() > count) out.erase(out.begin(), out.end() - static_cast<long>(count));
  return out;
}

}  // namespace

util::Result<AppState> wait_for_app(k::Client& client, const std::string& ns, const std::string& app,
                                    const WaitOptions& options, size_t log_lines) {
  auto state = wait_for_rollout(client, ns, app, options);
  if (state) return state;
  Error e = refused_in_workspace(std::move(state).error(), ns);
  if (const auto* crashing = e.detail<Crashing>(); crashing && crashing->crash.reason != "OOMKilled") {
    Crashing facts = *crashing;
    facts.log_tail = crash_log_tail(client, ns, app, log_lines);
    // The end of the log the kubelet kept in the pod's status: shown when the previous log cannot
    // be read (yet), and read for a missing agent too (the log read may have caught another run).
    const std::vector<std::string> kept = last_lines(facts.crash.message, log_lines);
    if (facts.log_tail.empty()) facts.log_tail = kept;
    std::string agent = missing_java_agent(facts.log_tail);
    if (agent.empty()) agent = missing_java_agent(kept);
    if (!agent.empty())
      e.hint = fmt::format(
          "the image has no Java agent at {} (tracing needs a base image with the SkyWalking agent there); "
          "`wb app set {} --trace off` runs the app without it",
          agent, app);
    e.with(std::move(facts));
  }
  return e;
}

std::vector<std::string> crash_log_tail(k::Client& client, const std::string& ns, const std::string& app,
                                        size_t lines) {
  auto state = read_state(client, ns, app);
  if (!state) return {};
  const ReplicaState* worst = nullptr;
  for (const auto& r : state->replicas)
    if (r.current && r.restarts > 0 && (!worst || r.restarts > worst->restarts)) worst = &r;
  if (!worst) return {};
  k::LogOptions opts;
  opts.previous = true;
  opts.tail_lines = static_cast<int64_t>(lines);
  opts.limit_bytes = 64 * 1024;
  std::string text;
  for (int attempt = 0;; ++attempt) {
    text.clear();
    auto st = client.pod_logs(ns, worst->name, opts, [&](std::string_view data) {
      text.append(data);
      return true;
    });
    if (!st) return {};
    if (!kubelet_log_error(text)) break;
    // The kubelet is between two runs of the container (its error text, not the log): ask again
    // shortly, and show no tail rather than that text.
    if (attempt >= 40 || !util::sleep_for(std::chrono::milliseconds(250))) return {};
  }
  return last_lines(text, lines);
}

Result<std::vector<OwnedObject>> objects_of_app(k::Client& client, const std::string& ns, const std::string& app) {
  std::vector<OwnedObject> out;
  auto d = client.get(k::types::Deployment, ns, app);
  if (d) {
    if (made_by_wb(*d)) out.push_back({k::types::Deployment, app});
  } else if (d.error().code != ErrorCode::NotFound) {
    return refused_in_workspace(std::move(d).error(), ns, true);
  }
  std::vector<k::ResourceType> kinds = {k::types::Service, k::types::ConfigMap, k::types::Secret};
  if (auto ingress = client.prefer({k::types::IngressV1, k::types::IngressV1beta1})) kinds.push_back(*ingress);
  k::ListOptions opts;
  opts.label_selector = selector_of(app, true);
  for (const auto& type : kinds) {
    auto list = client.list(type, ns, opts);
    if (!list) return refused_in_workspace(std::move(list).error(), ns, true);
    for (const auto& obj : items(list)) {
      if (!made_by_wb(obj)) continue;  // the selector says so; a second look costs nothing
      out.push_back({type, util::json_at(obj, "/metadata/name", std::string())});
    }
  }
  return out;
}

Status delete_objects(k::Client& client, const std::string& ns, const std::vector<OwnedObject>& objects) {
  k::DeleteOptions opts;
  opts.propagation = "Background";
  for (const auto& o : objects) {
    auto st = client.remove(o.type, ns, o.name, opts);
    if (!st && st.error().code != ErrorCode::NotFound) return refused_in_workspace(std::move(st).error(), ns);
  }
  return {};
}

}  // namespace wb::workbench
