// Routes: public host names and paths that reach an app (an Ingress), versioned like config; and
// external routes to services outside the cluster.
//
// Version N of the routes of app `orders` is the ConfigMap `orders-routes-vN` (labels
// app.kubernetes.io/name, managed-by=wb, wb.dev/routes-version=N; who/why annotations) holding
// the whole route set as JSON under `routes.json`. The live Ingress `orders` shows the newest
// version (annotation wb.dev/routes-version). Ingress networking.k8s.io/v1, or v1beta1 on servers
// without it (Kubernetes 1.18: serviceName/servicePort backends).
//
// External routes: `NAME` -> IP targets become a Service without selector plus EndpointSlices
// (discovery.k8s.io/v1, one per address family and port, "NAME-ipv4-8080", labelled
// kubernetes.io/service-name=NAME and endpointslice.kubernetes.io/managed-by=wb.dev); servers
// without that API (before Kubernetes 1.21) get Endpoints instead. A DNS target becomes an
// ExternalName Service. Then an Ingress `NAME` to it. ingress-nginx sends the target's host name as
// Host (upstream-vhost) and speaks HTTPS to it with --https (backend-protocol).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/core/versioned.hpp"

namespace wb::workbench {

using json = nlohmann::json;

inline constexpr const char* kRoutesVersionLabel = "wb.dev/routes-version";
inline constexpr const char* kRoutesVersionAnnotation = "wb.dev/routes-version";  // on the Ingress
inline constexpr const char* kRouteKindLabel = "wb.dev/route";                    // "external" on external routes
inline constexpr const char* kUpstreamVhost = "nginx.ingress.kubernetes.io/upstream-vhost";
inline constexpr const char* kBackendProtocol = "nginx.ingress.kubernetes.io/backend-protocol";
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";  // on EndpointSlices
inline constexpr const char* kSliceManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr const char* kSliceManager = "wb.dev";

struct Route {
  std::string host;
  std::string path = "/";
  bool tls = false;
  bool operator==(const Route&) const = default;
};

struct RouteVersion {
  int number = 0;
  std::string when, who, cause, change;
  std::vector<Route> routes;
};

std::string routes_map_name(const std::string& app, int version);
// A DNS name (lower case) for a route.
Status check_route_host(const std::string& host);
// A path: starts with '/', no spaces, '?' or '#'.
Status check_route_path(const std::string& path);
// `<name>.<workspace>.<route.domain>`; Usage error when the profile has no route.domain.
Result<std::string> default_route_host(const std::string& name, const std::string& ns, const Settings& settings);

// Adds a route (replacing one with the same host and path); Conflict when it is there already.
Result<std::vector<Route>> add_route(std::vector<Route> routes, const Route& route, const std::string& app);
// Removes the routes matching host (if given) and path (if given); NotFound when none matches.
Result<std::vector<Route>> remove_routes(std::vector<Route> routes, const std::optional<std::string>& host,
                                         const std::optional<std::string>& path, const std::string& app);

// The app (or external route) that already serves host+path among a workspace's Ingresses,
// other than `app` itself; "" when it is free.
std::string route_owner(const json& ingresses, const std::string& app, const Route& route);

struct VersionWho {
  std::string who, cause, change;
};
json routes_map_object(const std::string& app, const std::string& ns, int n, const std::vector<Route>& routes,
                       const VersionWho& meta);
RouteVersion route_version_from(const json& config_map, const std::string& app);

// What an Ingress needs beyond its routes.
struct IngressTarget {
  std::string name;  // Ingress name = app / external route name
  std::string ns;
  std::string service;     // backend Service
  int port = 0;            // backend Service port
  int routes_version = 0;  // 0 = not versioned (external routes)
  json extra_labels = json::object();
  json extra_annotations = json::object();
};
// The Ingress for `routes` in the shape of `type` (IngressV1 or IngressV1beta1), with the
// profile's route.ingressClass and route.tlsSecret.
json ingress_object(const kube::ResourceType& type, const IngressTarget& target, const std::vector<Route>& routes,
                    const Settings& settings);
// Routes read back from an Ingress of either version.
std::vector<Route> routes_of_ingress(const json& ingress);

// External targets.
struct IpTarget {
  std::string ip;
  int port = 0;
};
// "10.0.0.5:8080,10.0.0.6:8080" (IPv4, or [IPv6]:port); Usage error naming a bad one.
Result<std::vector<IpTarget>> parse_ip_targets(const std::string& text);
// "db.corp.example:443" (port defaults to 443 with https, else 80).
Result<std::pair<std::string, int>> parse_host_target(const std::string& text, bool https);
// The Service (and Endpoints, null for a DNS target) of an external route.
json external_service(const std::string& name, const std::string& ns, const std::vector<IpTarget>& ips,
                      const std::string& dns_host, int dns_port, bool https);
json external_endpoints(const std::string& name, const std::string& ns, const std::vector<IpTarget>& ips, bool https);
// The EndpointSlices of an external route to IP targets: one per address family and port, named
// "NAME-ipv4-8080" (unique: no other route's slice can end that way), each endpoint ready.
std::vector<json> external_endpoint_slices(const std::string& name, const std::string& ns,
                                           const std::vector<IpTarget>& ips, bool https);

// ---------------------------------------------------------------- on the cluster

Result<std::vector<RouteVersion>> read_route_versions(kube::Client& client, const std::string& ns,
                                                      const std::string& app);
// Writes a new version: the newest version's routes changed by `change` (which may fail),
// numbered newest + 1; retries on a number taken by another writer.
Result<RouteVersion> write_route_version(
    kube::Client& client, const std::string& ns, const std::string& app,
    const std::function<Result<std::vector<Route>>(const std::vector<Route>&)>& change, const VersionWho& meta,
    int attempts = kVersionAttempts);
// Creates, replaces or (no routes) deletes the Ingress; a versioned Ingress never goes back to an
// older version than it shows.
Status publish_ingress(kube::Client& client, const kube::ResourceType& type, const IngressTarget& target,
                       const std::vector<Route>& routes, const Settings& settings);
// Every Ingress in the workspace (of the version the server prefers).
Result<json> workspace_ingresses(kube::Client& client, const std::string& ns, kube::ResourceType& type);
// Writes the Service of an external route and where it leads: EndpointSlices for IP targets (or
// Endpoints where the server has no discovery.k8s.io/v1), none for a DNS target (`dns_host`).
// Slices of the route that no longer fit are deleted, and so are the Endpoints an older wb made
// for it on a server with EndpointSlices (the cluster would mirror them into slices of its own).
Status publish_external_backend(kube::Client& client, const std::string& name, const std::string& ns,
                                const std::vector<IpTarget>& ips, const std::string& dns_host, int dns_port,
                                bool https);
// Creates or replaces an object (create, else GET + PUT with its resourceVersion).
Result<json> create_or_replace(kube::Client& client, const kube::ResourceType& type, const std::string& ns,
                               json object);

}  // namespace wb::workbench
