#include <catch2/catch.hpp>

#include "workbench/profile.hpp"

using namespace wb::workbench;

TEST_CASE("env names of settings", "[profile]") {
  CHECK(env_name("workspace") == "WB_WORKSPACE");
  CHECK(env_name("registry.pullSecret") == "WB_REGISTRY_PULL_SECRET");
  CHECK(env_name("defaults.replicas") == "WB_DEFAULTS_REPLICAS");
}

TEST_CASE("profile parsing: nested keys, maps, types", "[profile]") {
  auto r = parse_settings_yaml(
      "tenant: shop\nregistry:\n  host: h:5000\n  insecure: yes\nbaseImages:\n  \"17\": j:17\n  \"21\": j:21\n"
      "defaults:\n  replicas: 3\n",
      "p.yaml");
  REQUIRE(r.ok());
  CHECK(r->at("tenant") == "shop");
  CHECK(r->at("registry.host") == "h:5000");
  CHECK(r->at("registry.insecure") == "true");
  CHECK(r->at("baseImages.21") == "j:21");
  CHECK(r->at("defaults.replicas") == "3");
}

TEST_CASE("profile parsing errors carry file:line:col", "[profile]") {
  auto bad_yaml = parse_settings_yaml("a: [1,\n", "p.yaml");
  REQUIRE_FALSE(bad_yaml.ok());
  CHECK(bad_yaml.error().message.rfind("p.yaml:", 0) == 0);
  CHECK(bad_yaml.error().code == wb::util::ErrorCode::Usage);

  auto unknown = parse_settings_yaml("tenant: a\nregistyr:\n  host: x\n", "p.yaml");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "p.yaml:2:1: unknown setting 'registyr' (did you mean 'registry'?)");

  auto type = parse_settings_yaml("tracing:\n  enabled: maybe\n", "p.yaml");
  REQUIRE_FALSE(type.ok());
  CHECK(type.error().message == "p.yaml:2:12: tracing.enabled must be true or false, not 'maybe'");

  auto not_map = parse_settings_yaml("registry: harbor\n", "p.yaml");
  REQUIRE_FALSE(not_map.ok());
  CHECK(not_map.error().message == "p.yaml:1:1: registry must be a map of settings");
}

TEST_CASE("rendered profiles parse back to the same values", "[profile]") {
  SettingMap values{{"name", "acme"}, {"tenant", "shop"}, {"registry.host", "h:1"}, {"baseImages.17", "j:17"},
                    {"registry.insecure", "true"}, {"route.domain", "apps.example"}};
  auto text = render_profile("acme", values);
  auto back = parse_settings_yaml(text, "x.yaml");
  REQUIRE(back.ok());
  CHECK(*back == values);
}
