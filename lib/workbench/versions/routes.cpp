// Routes: versions, Ingress rendering for networking.k8s.io/v1 and v1beta1, external targets,
// and their writes to the cluster.
#include "workbench/versions/routes.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "kube/status.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
namespace k = wb::kube;

namespace {

using fields::at;
using fields::meta_string;

int to_int(const std::string& s) { return util::parse_int<int>(s, "", 0).value_or(0); }

std::optional<int> parse_port(const std::string& s) {
  int p = to_int(s);
  if (p < 1 || p > 65535) return std::nullopt;
  return p;
}

json items(const json& list) { return list.value("items", json::array()); }

}  // namespace

std::string routes_map_name(const std::string& app, int version) { return fmt::format("{}-routes-v{}", app, version); }

Status check_route_host(const std::string& host) {
  if (host.size() > 253 || !util::is_dns1123_subdomain(host) || host.find('.') == std::string::npos)
    return Error(
        ErrorCode::Usage,
        fmt::format("'{}' is not a host name for a route (lower-case DNS name, e.g. orders.example.com)", host));
  return {};
}

Status check_route_path(const std::string& path) {
  if (path.empty() || path[0] != '/' || std::any_of(path.begin(), path.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '?' || c == '#' || c == ';';
      }))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a route path (it starts with '/', e.g. /api)", path));
  return {};
}

Result<std::string> default_route_host(const std::string& name, const std::string& ns, const Settings& settings) {
  const std::string domain = settings.text("route.domain");
  if (domain.empty())
    return Error(ErrorCode::Usage, "the profile names no route.domain, so there is no default host",
                 "pass --host HOST, or ask your platform team to set route.domain");
  return fmt::format("{}.{}.{}", name, ns, domain);
}

Result<std::vector<Route>> add_route(std::vector<Route> routes, const Route& route, const std::string& app) {
  for (auto& r : routes) {
    if (r.host != route.host || r.path != route.path) continue;
    if (r.tls == route.tls)
      return Error(ErrorCode::Conflict,
                   fmt::format("app '{}' already has the route {}{}", app, route.host, route.path));
    r.tls = route.tls;
    return routes;
  }
  routes.push_back(route);
  return routes;
}

Result<std::vector<Route>> remove_routes(std::vector<Route> routes, const std::optional<std::string>& host,
                                         const std::optional<std::string>& path, const std::string& app) {
  const size_t before = routes.size();
  std::erase_if(routes, [&](const Route& r) { return (!host || r.host == *host) && (!path || r.path == *path); });
  if (routes.size() == before)
    return Error(ErrorCode::NotFound,
                 fmt::format("app '{}' has no route{}{}", app, host ? " on " + *host : "", path ? " at " + *path : ""),
                 "`wb route list " + app + "` shows its routes");
  return routes;
}

std::string route_owner(const json& ingresses, const std::string& app, const Route& route) {
  for (const auto& ing : ingresses) {
    std::string owner = meta_string(ing, "labels", labels::kName);
    const std::string name = at(ing, "/metadata/name").is_string() ? at(ing, "/metadata/name").get<std::string>() : "";
    if (owner.empty()) owner = name;
    if (owner == app || name == app) continue;
    for (const auto& r : routes_of_ingress(ing))
      if (r.host == route.host && r.path == route.path) return owner;
  }
  return "";
}

json routes_map_object(const std::string& app, const std::string& ns, int n, const std::vector<Route>& routes,
                       const VersionWho& meta) {
  json list = json::array();
  for (const auto& r : routes) list.push_back({{"host", r.host}, {"path", r.path}, {"tls", r.tls}});
  json m = {
      {"name", routes_map_name(app, n)},
      {"namespace", ns},
      {"labels",
       {{labels::kName, app}, {labels::kManagedBy, labels::kManagedByWb}, {kRoutesVersionLabel, std::to_string(n)}}}};
  json a = json::object();
  if (!meta.who.empty()) a[annotations::kChangedBy] = meta.who;
  if (!meta.cause.empty()) a[annotations::kChangeCause] = meta.cause;
  if (!meta.change.empty()) a["wb.dev/change"] = meta.change;
  if (!a.empty()) m["annotations"] = a;
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", m}, {"data", {{"routes.json", list.dump()}}}};
}

RouteVersion route_version_from(const json& cm, const std::string& app) {
  RouteVersion v;
  v.number = to_int(meta_string(cm, "labels", kRoutesVersionLabel));
  if (v.number == 0) {
    const std::string name = at(cm, "/metadata/name").is_string() ? at(cm, "/metadata/name").get<std::string>() : "";
    const std::string prefix = app + "-routes-v";
    if (name.rfind(prefix, 0) == 0) v.number = to_int(name.substr(prefix.size()));
  }
  v.when =
      at(cm, "/metadata/creationTimestamp").is_string() ? at(cm, "/metadata/creationTimestamp").get<std::string>() : "";
  v.who = meta_string(cm, "annotations", annotations::kChangedBy);
  v.cause = meta_string(cm, "annotations", annotations::kChangeCause);
  v.change = meta_string(cm, "annotations", "wb.dev/change");
  const json& text = at(cm, "/data/routes.json");
  if (text.is_string()) {
    json list = json::parse(text.get<std::string>(), nullptr, false);
    if (list.is_array())
      for (const auto& r : list)
        if (r.is_object()) v.routes.push_back({r.value("host", ""), r.value("path", "/"), r.value("tls", false)});
  }
  return v;
}

json ingress_object(const k::ResourceType& type, const IngressTarget& t, const std::vector<Route>& routes,
                    const Settings& settings) {
  const bool v1 = type.version == "v1";
  json backend = v1 ? json{{"service", {{"name", t.service}, {"port", {{"number", t.port}}}}}}
                    : json{{"serviceName", t.service}, {"servicePort", t.port}};
  std::vector<std::string> hosts;
  std::map<std::string, json> paths;
  std::vector<std::string> tls_hosts;
  for (const auto& r : routes) {
    if (!paths.count(r.host)) hosts.push_back(r.host), paths[r.host] = json::array();
    paths[r.host].push_back({{"path", r.path}, {"pathType", "Prefix"}, {"backend", backend}});
    if (r.tls && std::find(tls_hosts.begin(), tls_hosts.end(), r.host) == tls_hosts.end()) tls_hosts.push_back(r.host);
  }
  json rules = json::array();
  for (const auto& h : hosts) rules.push_back({{"host", h}, {"http", {{"paths", paths[h]}}}});
  json labels = {{labels::kName, t.name}, {labels::kManagedBy, labels::kManagedByWb}};
  labels.update(t.extra_labels);
  json meta = {{"name", t.name}, {"namespace", t.ns}, {"labels", labels}};
  json ann = t.extra_annotations;
  if (t.routes_version > 0) ann[kRoutesVersionAnnotation] = std::to_string(t.routes_version);
  if (!ann.empty()) meta["annotations"] = ann;
  json spec = {{"rules", rules}};
  if (auto cls = settings.get("route.ingressClass"); cls && !cls->empty()) spec["ingressClassName"] = *cls;
  if (!tls_hosts.empty()) {
    json tls = {{"hosts", tls_hosts}};
    if (auto secret = settings.get("route.tlsSecret"); secret && !secret->empty()) tls["secretName"] = *secret;
    spec["tls"] = json::array({tls});
  }
  return {{"apiVersion", type.api_version()}, {"kind", "Ingress"}, {"metadata", meta}, {"spec", spec}};
}

std::vector<Route> routes_of_ingress(const json& ing) {
  std::vector<std::string> tls_hosts;
  for (const auto& t : at(ing, "/spec/tls"))
    for (const auto& h : t.value("hosts", json::array()))
      if (h.is_string()) tls_hosts.push_back(h.get<std::string>());
  std::vector<Route> out;
  for (const auto& rule : at(ing, "/spec/rules")) {
    const std::string host = rule.value("host", "");
    const bool tls = std::find(tls_hosts.begin(), tls_hosts.end(), host) != tls_hosts.end();
    for (const auto& p : at(rule, "/http/paths")) out.push_back({host, p.value("path", "/"), tls});
  }
  return out;
}

Result<std::vector<IpTarget>> parse_ip_targets(const std::string& text) {
  std::vector<IpTarget> out;
  for (const auto& raw : util::split(text, ',')) {
    const std::string t = util::trim(raw);
    auto bad = [&] {
      return Error(ErrorCode::Usage, fmt::format("'{}' is not an IP:PORT target (e.g. 10.0.0.5:8080)", t));
    };
    std::string ip, port;
    if (!t.empty() && t[0] == '[') {
      auto close = t.find("]:");
      if (close == std::string::npos) return bad();
      ip = t.substr(1, close - 1);
      port = t.substr(close + 2);
      in6_addr a6{};
      if (inet_pton(AF_INET6, ip.c_str(), &a6) != 1) return bad();
    } else {
      auto colon = t.rfind(':');
      if (colon == std::string::npos) return bad();
      ip = t.substr(0, colon);
      port = t.substr(colon + 1);
      in_addr a4{};
      if (inet_pton(AF_INET, ip.c_str(), &a4) != 1) return bad();
    }
    auto p = parse_port(port);
    if (!p) return bad();
    out.push_back({ip, *p});
  }
  if (out.empty()) return Error(ErrorCode::Usage, "--to needs at least one IP:PORT target");
  return out;
}

Result<std::pair<std::string, int>> parse_host_target(const std::string& text, bool https) {
  std::string host = text;
  int port = https ? 443 : 80;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    auto p = parse_port(text.substr(colon + 1));
    if (!p) return Error(ErrorCode::Usage, fmt::format("'{}' has no valid port (e.g. db.corp.example:443)", text));
    port = *p;
  }
  if (!util::is_dns1123_subdomain(host))
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a DNS name (e.g. db.corp.example:443)", text));
  return std::make_pair(host, port);
}

json external_service(const std::string& name, const std::string& ns, const std::vector<IpTarget>& ips,
                      const std::string& dns_host, int dns_port, bool https) {
  const std::string port_name = https ? "https" : "http";
  json meta = {
      {"name", name},
      {"namespace", ns},
      {"labels", {{labels::kName, name}, {labels::kManagedBy, labels::kManagedByWb}, {kRouteKindLabel, "external"}}}};
  json spec;
  if (!dns_host.empty()) {
    spec = {{"type", "ExternalName"},
            {"externalName", dns_host},
            {"ports",
             json::array({{{"name", port_name}, {"protocol", "TCP"}, {"port", dns_port}, {"targetPort", dns_port}}})}};
  } else {
    const int port = ips.front().port;
    spec = {{"type", "ClusterIP"},
            {"ports", json::array({{{"name", port_name}, {"protocol", "TCP"}, {"port", port}, {"targetPort", port}}})}};
  }
  return {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", meta}, {"spec", spec}};
}

json external_endpoints(const std::string& name, const std::string& ns, const std::vector<IpTarget>& ips, bool https) {
  if (ips.empty()) return nullptr;
  std::map<int, json> by_port;
  std::vector<int> order;
  for (const auto& t : ips) {
    if (!by_port.count(t.port)) order.push_back(t.port), by_port[t.port] = json::array();
    by_port[t.port].push_back({{"ip", t.ip}});
  }
  json subsets = json::array();
  for (int p : order)
    subsets.push_back(
        {{"addresses", by_port[p]},
         {"ports", json::array({{{"name", https ? "https" : "http"}, {"port", p}, {"protocol", "TCP"}}})}});
  return {{"apiVersion", "v1"},
          {"kind", "Endpoints"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels",
             {{labels::kName, name}, {labels::kManagedBy, labels::kManagedByWb}, {kRouteKindLabel, "external"}}}}},
          {"subsets", subsets}};
}

std::vector<json> external_endpoint_slices(const std::string& name, const std::string& ns,
                                           const std::vector<IpTarget>& ips, bool https) {
  // One slice per address family and port, in the order the targets came.
  std::vector<std::pair<std::string, int>> order;
  std::map<std::pair<std::string, int>, json> endpoints;
  for (const auto& t : ips) {
    const std::string family = t.ip.find(':') == std::string::npos ? "IPv4" : "IPv6";
    const auto key = std::make_pair(family, t.port);
    if (!endpoints.count(key)) order.push_back(key), endpoints[key] = json::array();
    endpoints[key].push_back({{"addresses", json::array({t.ip})}, {"conditions", {{"ready", true}}}});
  }
  std::vector<json> out;
  for (const auto& key : order) {
    const auto& [family, port] = key;
    json labels = {{kServiceNameLabel, name},
                   {kSliceManagedByLabel, kSliceManager},
                   {labels::kName, name},
                   {labels::kManagedBy, labels::kManagedByWb},
                   {kRouteKindLabel, "external"}};
    out.push_back({{"apiVersion", "discovery.k8s.io/v1"},
                   {"kind", "EndpointSlice"},
                   {"metadata",
                    {{"name", fmt::format("{}-{}-{}", name, util::to_lower(family), port)},
                     {"namespace", ns},
                     {"labels", labels}}},
                   {"addressType", family},
                   {"ports", json::array({{{"name", https ? "https" : "http"}, {"port", port}, {"protocol", "TCP"}}})},
                   {"endpoints", endpoints[key]}});
  }
  return out;
}

// ---------------------------------------------------------------- on the cluster

Result<std::vector<RouteVersion>> read_route_versions(k::Client& client, const std::string& ns,
                                                      const std::string& app) {
  k::ListOptions opts;
  opts.label_selector = made_for_app(app) + "," + kRoutesVersionLabel;
  auto list = client.list(k::types::ConfigMap, ns, opts);
  if (!list) return refused_in_workspace(std::move(list).error(), ns);
  std::vector<RouteVersion> out;
  for (const auto& cm : items(*list)) out.push_back(route_version_from(cm, app));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
  return out;
}

Result<RouteVersion> write_route_version(
    k::Client& client, const std::string& ns, const std::string& app,
    const std::function<Result<std::vector<Route>>(const std::vector<Route>&)>& change, const VersionWho& meta,
    int attempts) {
  RouteVersion out;
  auto attempt = [&]() -> Result<bool> {
    WB_ASSIGN_OR_RETURN(auto versions, read_route_versions(client, ns, app));
    const std::vector<Route> base = versions.empty() ? std::vector<Route>{} : versions.back().routes;
    const int n = versions.empty() ? 1 : versions.back().number + 1;
    WB_ASSIGN_OR_RETURN(auto routes, change(base));
    WB_ASSIGN_OR_RETURN(
        auto created, create_version(client, ns, {{k::types::ConfigMap, routes_map_object(app, ns, n, routes, meta)}}));
    if (created.taken) return false;
    out = route_version_from(created.objects.back(), app);
    return true;
  };
  WB_TRY(claim_next_version(attempt, attempts, fmt::format("the routes of app '{}'", app)));
  return out;
}

Result<json> create_or_replace(k::Client& client, const k::ResourceType& type, const std::string& ns, json object) {
  const std::string name = object["metadata"]["name"].get<std::string>();
  for (int i = 0; i < 5; ++i) {
    auto made = client.create(type, ns, object);
    if (made) return made;
    if (!k::is_conflict(made.error())) return refused_in_workspace(std::move(made).error(), ns, true);
    auto current = client.get(type, ns, name);
    if (!current) {
      if (current.error().code == ErrorCode::NotFound) continue;
      return refused_in_workspace(std::move(current).error(), ns, true);
    }
    object["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
    if (type.kind == "Service" && current->contains("spec")) {
      // The cluster IP is immutable: keep what was allocated (none for ExternalName).
      const json& spec = (*current)["spec"];
      if (object["spec"].value("type", "") != "ExternalName" && spec.value("type", "") != "ExternalName") {
        if (spec.contains("clusterIP")) object["spec"]["clusterIP"] = spec["clusterIP"];
        if (spec.contains("clusterIPs")) object["spec"]["clusterIPs"] = spec["clusterIPs"];
      }
    }
    auto replaced = client.update(type, ns, object);
    if (replaced) return replaced;
    if (!k::is_conflict(replaced.error())) return refused_in_workspace(std::move(replaced).error(), ns, true);
    object["metadata"].erase("resourceVersion");
  }
  return Error(ErrorCode::Conflict, fmt::format("{} '{}' kept changing while wb was writing it", type.kind, name));
}

Status publish_external_backend(k::Client& client, const std::string& name, const std::string& ns,
                                const std::vector<IpTarget>& ips, const std::string& dns_host, int dns_port,
                                bool https) {
  WB_TRY(create_or_replace(client, k::types::Service, ns, external_service(name, ns, ips, dns_host, dns_port, https)));
  WB_ASSIGN_OR_RETURN(auto d, client.discovery());
  if (!d.has(k::types::EndpointSlice.api_version(), k::types::EndpointSlice.plural)) {
    if (ips.empty()) return {};
    WB_TRY(create_or_replace(client, k::types::Endpoints, ns, external_endpoints(name, ns, ips, https)));
    return {};
  }
  std::set<std::string> wanted;
  for (auto& slice : external_endpoint_slices(name, ns, ips, https)) {
    wanted.insert(slice["metadata"]["name"].get<std::string>());
    WB_TRY(create_or_replace(client, k::types::EndpointSlice, ns, std::move(slice)));
  }
  k::ListOptions mine;
  mine.label_selector = fmt::format("{}={},{}={}", kServiceNameLabel, name, kSliceManagedByLabel, kSliceManager);
  auto slices = client.list(k::types::EndpointSlice, ns, mine);
  if (!slices) return refused_in_workspace(std::move(slices).error(), ns, true);
  for (const auto& s : items(*slices)) {
    const std::string n = at(s, "/metadata/name").is_string() ? at(s, "/metadata/name").get<std::string>() : "";
    if (n.empty() || wanted.count(n)) continue;
    auto st = client.remove(k::types::EndpointSlice, ns, n);
    if (!st && st.error().code != ErrorCode::NotFound) return refused_in_workspace(std::move(st).error(), ns, true);
  }
  // Endpoints of this route from a wb that wrote them: the cluster mirrors them into a slice of its
  // own, which would keep sending traffic to the old targets.
  auto old = client.get(k::types::Endpoints, ns, name);
  if (old && meta_string(*old, "labels", kRouteKindLabel) == "external" && made_by_wb(*old)) {
    auto st = client.remove(k::types::Endpoints, ns, name);
    if (!st && st.error().code != ErrorCode::NotFound) return refused_in_workspace(std::move(st).error(), ns, true);
  }
  return {};
}

Status publish_ingress(k::Client& client, const k::ResourceType& type, const IngressTarget& target,
                       const std::vector<Route>& routes, const Settings& settings) {
  for (int i = 0; i < 5; ++i) {
    auto current = client.get(type, target.ns, target.name);
    if (!current && current.error().code != ErrorCode::NotFound)
      return refused_in_workspace(std::move(current).error(), target.ns, true);
    if (current && target.routes_version > 0 &&
        to_int(meta_string(*current, "annotations", kRoutesVersionAnnotation)) > target.routes_version)
      return {};  // a newer version is already live
    if (current && !made_by_wb(*current))
      return Error(
          ErrorCode::Conflict,
          fmt::format("an Ingress named '{}' that wb did not make exists in workspace '{}'", target.name, target.ns),
          "rename or remove it first");
    if (routes.empty()) {
      if (!current) return {};
      auto st = client.remove(type, target.ns, target.name);
      if (!st && st.error().code != ErrorCode::NotFound) return refused_in_workspace(std::move(st).error(), target.ns);
      return {};
    }
    json ing = ingress_object(type, target, routes, settings);
    Result<json> written = current ? [&] {
      ing["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
      return client.update(type, target.ns, ing);
    }()
                                   : client.create(type, target.ns, ing);
    if (written) return {};
    if (k::is_conflict(written.error())) continue;
    return refused_in_workspace(std::move(written).error(), target.ns, true);
  }
  return Error(ErrorCode::Conflict, fmt::format("the Ingress '{}' kept changing while wb was writing it", target.name));
}

Result<json> workspace_ingresses(k::Client& client, const std::string& ns, k::ResourceType& type) {
  auto t = client.prefer({k::types::IngressV1, k::types::IngressV1beta1});
  if (!t) return Error(ErrorCode::Failure, "this cluster serves no Ingress API, so routes are not possible");
  type = *t;
  auto list = client.list(type, ns);
  if (!list) return refused_in_workspace(std::move(list).error(), ns);
  return items(*list);
}

}  // namespace wb::workbench
