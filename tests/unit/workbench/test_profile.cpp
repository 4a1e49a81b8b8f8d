#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "temp_dir.hpp"
#include "util/numbers.hpp"
#include "workbench/core/profile.hpp"

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

TEST_CASE("WB_PROFILE may name a profile file (a GitLab CI/CD variable of type File)", "[profile]") {
  wb::test::TempDir dir("wb-profile-path");
  {
    std::ofstream f(dir.path() / "ci-profile.yaml");
    f << "workspace: shop-ci\nregistry:\n  host: harbor.example.com\n";
  }
  std::map<std::string, std::string> vars = {{"HOME", (dir.path() / "home").string()},
                                             {"WB_PROFILE", (dir.path() / "ci-profile.yaml").string()}};
  ResolveInputs in;
  in.env = [&](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto s = resolve_settings(in);
  REQUIRE(s.ok());
  CHECK(s->text("workspace") == "shop-ci");
  CHECK(s->text("registry.host") == "harbor.example.com");
  CHECK(s->profile_name == "ci-profile");

  in.cwd = dir.path();
  vars["WB_PROFILE"] = "ci-profile.yaml";  // relative to the working directory
  REQUIRE(resolve_settings(in).ok());

  vars["WB_PROFILE"] = (dir.path() / "missing.yaml").string();
  auto missing = resolve_settings(in);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == wb::util::ErrorCode::NotFound);
  CHECK(missing.error().message.find("missing.yaml not found (WB_PROFILE)") != std::string::npos);
}

TEST_CASE("settings nothing set read as the table's defaults", "[profile]") {
  Settings none;
  CHECK(none.get_int("retention.configs") == 10);
  CHECK(none.get_int("defaults.shutdownSeconds") == 45);
  CHECK(none.get_bool("security.restricted"));
  CHECK_FALSE(none.get_bool("retention.auto"));
  CHECK(none.text("defaults.cpu") == "500m");
  CHECK(none.text("registry.host").empty());
  CHECK_FALSE(none.get("registry.host"));
  CHECK(none.get("defaults.preStopCommand") == std::optional<std::string>("sleep"));
  CHECK(none.get_map("baseImages").empty());

  Settings set;
  set.set("retention.configs", {"3", Source::Profile, "p.yaml"});
  set.set("defaults.cpu", {"", Source::Profile, "p.yaml"});    // empty: the default
  set.set("retention.images", {"many", Source::Flag, "--x"});  // not a number: the default
  set.set("baseImages.17", {"j:17", Source::Profile, "p.yaml"});
  CHECK(set.get_int("retention.configs") == 3);
  CHECK(set.text("defaults.cpu") == "500m");
  CHECK(set.get_int("retention.images") == 10);
  CHECK(set.get_map("baseImages") == std::map<std::string, std::string>{{"17", "j:17"}});
}

TEST_CASE("every default in the table is a value of its setting's type", "[profile]") {
  for (const auto& info : known_settings()) {
    INFO(info.key);
    if (info.type == SettingInfo::Type::Int) CHECK(wb::util::parse_int<int>(info.default_value, info.key, 0).ok());
    if (info.type == SettingInfo::Type::Bool) CHECK((info.default_value == "true" || info.default_value == "false"));
    if (info.type == SettingInfo::Type::Map) CHECK(info.default_value.empty());
  }
}

TEST_CASE("resolved settings hold every default, marked as such", "[profile]") {
  wb::test::TempDir dir("wb-profile-defaults");
  ResolveInputs in;
  in.env = [&](const std::string& k) -> std::optional<std::string> {
    if (k == "HOME") return (dir.path() / "home").string();
    return std::nullopt;
  };
  auto s = resolve_settings(in);
  REQUIRE(s.ok());
  for (const auto& info : known_settings()) {
    INFO(info.key);
    auto it = s->all().find(std::string(info.key));
    if (info.default_value.empty()) {
      CHECK(it == s->all().end());
    } else {
      REQUIRE(it != s->all().end());
      CHECK(it->second.value == info.default_value);
      CHECK(it->second.source == Source::Default);
    }
  }
}
