// Routes, the pure parts: checks, default host, adding/removing, owners of host+path, route
// versions, Ingress rendering for networking.k8s.io/v1 and v1beta1, external targets.
#include <catch2/catch.hpp>

#include "workbench/versions/routes.hpp"

using namespace wb::workbench;
using nlohmann::json;
using wb::util::ErrorCode;
namespace k = wb::kube;

namespace {
Settings with(std::initializer_list<std::pair<const char*, const char*>> values) {
  Settings s;
  for (const auto& [key, v] : values) s.set(key, {v, Source::Profile, "test"});
  return s;
}
}  // namespace

TEST_CASE("route hosts and paths are checked; the default host comes from the profile") {
  CHECK(check_route_host("orders.shop.example.com").ok());
  CHECK_FALSE(check_route_host("Orders.example.com").ok());
  CHECK_FALSE(check_route_host("localhost").ok());
  CHECK(check_route_path("/api/v1").ok());
  CHECK_FALSE(check_route_path("api").ok());
  CHECK_FALSE(check_route_path("/a b").ok());
  CHECK(default_route_host("orders", "shop-dev", with({{"route.domain", "apps.example.com"}})).value() ==
        "orders.shop-dev.apps.example.com");
  auto none = default_route_host("orders", "shop-dev", Settings{});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::Usage);
}

TEST_CASE("adding and removing routes") {
  std::vector<Route> rs;
  rs = add_route(rs, {"a.example.com", "/", false}, "orders").value();
  rs = add_route(rs, {"a.example.com", "/api", false}, "orders").value();
  CHECK(add_route(rs, {"a.example.com", "/api", false}, "orders").error().code == ErrorCode::Conflict);
  rs = add_route(rs, {"a.example.com", "/api", true}, "orders").value();  // TLS switched on in place
  REQUIRE(rs.size() == 2);
  CHECK(rs[1].tls);
  CHECK(remove_routes(rs, std::nullopt, std::string("/api"), "orders").value().size() == 1);
  CHECK(remove_routes(rs, std::string("a.example.com"), std::nullopt, "orders").value().empty());
  CHECK(remove_routes(rs, std::string("b.example.com"), std::nullopt, "orders").error().code == ErrorCode::NotFound);
}

TEST_CASE("Ingress for networking.k8s.io/v1 and v1beta1") {
  IngressTarget t;
  t.name = "orders";
  t.ns = "shop";
  t.service = "orders";
  t.port = 8080;
  t.routes_version = 3;
  std::vector<Route> routes = {{"a.example.com", "/", false}, {"a.example.com", "/api", true}, {"b.example.com", "/", false}};
  auto s = with({{"route.ingressClass", "nginx"}, {"route.tlsSecret", "wild"}});
  json v1 = ingress_object(k::types::IngressV1, t, routes, s);
  CHECK(v1["apiVersion"] == "networking.k8s.io/v1");
  CHECK(v1["metadata"]["annotations"][kRoutesVersionAnnotation] == "3");
  CHECK(v1["spec"]["ingressClassName"] == "nginx");
  REQUIRE(v1["spec"]["rules"].size() == 2);
  CHECK(v1["spec"]["rules"][0]["http"]["paths"].size() == 2);
  CHECK(v1["spec"]["rules"][0]["http"]["paths"][1]["backend"] ==
        json{{"service", {{"name", "orders"}, {"port", {{"number", 8080}}}}}});
  CHECK(v1["spec"]["tls"] == json::array({{{"hosts", {"a.example.com"}}, {"secretName", "wild"}}}));
  json beta = ingress_object(k::types::IngressV1beta1, t, routes, Settings{});
  CHECK(beta["apiVersion"] == k::types::IngressV1beta1.api_version());
  CHECK(beta["spec"]["rules"][0]["http"]["paths"][0]["backend"] == json{{"serviceName", "orders"}, {"servicePort", 8080}});
  CHECK_FALSE(beta["spec"].contains("ingressClassName"));
  CHECK(beta["spec"]["tls"] == json::array({{{"hosts", {"a.example.com"}}}}));
  // TLS belongs to a host in an Ingress: every path of a.example.com reads back as TLS.
  routes[0].tls = true;
  CHECK(routes_of_ingress(v1) == routes);
  CHECK(routes_of_ingress(beta) == routes);
}

TEST_CASE("the owner of a host and path is named") {
  IngressTarget t;
  t.name = "billing";
  t.ns = "shop";
  t.service = "billing";
  t.port = 8080;
  json ings = json::array({ingress_object(k::types::IngressV1, t, {{"a.example.com", "/pay", false}}, Settings{})});
  CHECK(route_owner(ings, "orders", {"a.example.com", "/pay", false}) == "billing");
  CHECK(route_owner(ings, "orders", {"a.example.com", "/", false}).empty());
  CHECK(route_owner(ings, "billing", {"a.example.com", "/pay", false}).empty());
}

TEST_CASE("route versions round-trip through their ConfigMap") {
  std::vector<Route> routes = {{"a.example.com", "/", true}};
  json cm = routes_map_object("orders", "shop", 4, routes, {"alice", "why", "add"});
  CHECK(cm["metadata"]["name"] == "orders-routes-v4");
  CHECK(cm["metadata"]["labels"][kRoutesVersionLabel] == "4");
  RouteVersion v = route_version_from(cm, "orders");
  CHECK(v.number == 4);
  CHECK(v.routes == routes);
  CHECK(v.who == "alice");
}

TEST_CASE("external targets") {
  auto ips = parse_ip_targets("10.0.0.5:8080, 10.0.0.6:9090,[fd00::1]:80");
  REQUIRE(ips.ok());
  REQUIRE(ips->size() == 3);
  CHECK((*ips)[2].ip == "fd00::1");
  CHECK_FALSE(parse_ip_targets("10.0.0.5").ok());
  CHECK_FALSE(parse_ip_targets("10.0.0.256:80").ok());
  CHECK_FALSE(parse_ip_targets("db.example:80").ok());
  CHECK_FALSE(parse_ip_targets("10.0.0.5:0").ok());
  CHECK(parse_host_target("db.corp.example", true).value() == std::make_pair(std::string("db.corp.example"), 443));
  CHECK(parse_host_target("db.corp.example:8443", false).value().second == 8443);
  CHECK_FALSE(parse_host_target("bad_host:80", false).ok());
  json svc = external_service("legacy", "shop", *ips, "", 0, false);
  CHECK_FALSE(svc["spec"].contains("selector"));
  CHECK(svc["spec"]["ports"][0]["port"] == 8080);
  json eps = external_endpoints("legacy", "shop", *ips, false);
  CHECK(eps["subsets"].size() == 3);
  CHECK(eps["subsets"][0]["ports"][0]["name"] == svc["spec"]["ports"][0]["name"]);
  json dns = external_service("db", "shop", {}, "db.corp.example", 443, true);
  CHECK(dns["spec"]["type"] == "ExternalName");
  CHECK(dns["spec"]["externalName"] == "db.corp.example");
  CHECK(dns["spec"]["ports"][0]["name"] == "https");
  CHECK(external_endpoints("db", "shop", {}, true).is_null());
}

TEST_CASE("external IP targets become one EndpointSlice per address family and port") {
  auto ips = parse_ip_targets("10.0.0.5:8080,[fd00::1]:8080,10.0.0.6:8080,10.0.0.7:9090");
  REQUIRE(ips.ok());
  auto slices = external_endpoint_slices("legacy", "shop", *ips, true);
  REQUIRE(slices.size() == 3);
  CHECK(slices[0]["apiVersion"] == "discovery.k8s.io/v1");
  CHECK(slices[0]["metadata"]["name"] == "legacy-ipv4-8080");
  CHECK(slices[0]["addressType"] == "IPv4");
  CHECK(slices[0]["endpoints"] == json::array({{{"addresses", {"10.0.0.5"}}, {"conditions", {{"ready", true}}}},
                                               {{"addresses", {"10.0.0.6"}}, {"conditions", {{"ready", true}}}}}));
  CHECK(slices[0]["ports"] == json::array({{{"name", "https"}, {"port", 8080}, {"protocol", "TCP"}}}));
  CHECK(slices[1]["metadata"]["name"] == "legacy-ipv6-8080");
  CHECK(slices[1]["addressType"] == "IPv6");
  CHECK(slices[2]["metadata"]["name"] == "legacy-ipv4-9090");
  const auto& labels = slices[2]["metadata"]["labels"];
  CHECK(labels["kubernetes.io/service-name"] == "legacy");
  CHECK(labels["endpointslice.kubernetes.io/managed-by"] == "wb.dev");
  CHECK(labels["app.kubernetes.io/managed-by"] == "wb");
  CHECK(labels["wb.dev/route"] == "external");
  CHECK(external_endpoint_slices("db", "shop", {}, false).empty());
}
