// AppSpec: wb.yaml's app section, merging flags over the file, validation and quantities.
#include <catch2/catch.hpp>

#include "workbench/core/app.hpp"

using namespace wb::workbench;
using wb::util::ErrorCode;

namespace {

AppOverrides parse_ok(const std::string& text) {
  auto r = parse_app_file(text, "wb.yaml");
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  return *r;
}

std::string parse_error(const std::string& text) {
  auto r = parse_app_file(text, "wb.yaml");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::Usage);
  return r.error().message;
}

}  // namespace

TEST_CASE("quantities follow the Kubernetes grammar", "[workbench][app]") {
  auto value = [](const std::string& t) {
    auto q = parse_quantity(t);
    REQUIRE(q);
    return static_cast<double>(q->value);
  };
  CHECK(value("500m") == Approx(0.5));
  CHECK(value("1") == Approx(1));
  CHECK(value("1.5") == Approx(1.5));
  CHECK(value(".5") == Approx(0.5));
  CHECK(value("1Gi") == Approx(1073741824.0));
  CHECK(value("512Mi") == Approx(536870912.0));
  CHECK(value("1G") == Approx(1e9));
  CHECK(value("2k") == Approx(2000));
  CHECK(value("1Ki") == Approx(1024));
  CHECK(value("2e3") == Approx(2000));
  CHECK(value("1E") == Approx(1e18));
  CHECK(value("100n") == Approx(1e-7));
  CHECK(parse_quantity("1Gi")->text == "1Gi");
  for (const char* bad : {"", "m", "Gi", "1 Gi", "1GB", "1gi", "abc", "1.2.3", "1e", "1e1000", "--1", "0x10", "1K"})
    CHECK_FALSE(parse_quantity(bad));
  CHECK(format_millicores(250) == "250m");
  CHECK(format_millicores(2000) == "2");
}

TEST_CASE("app names are DNS labels starting with a letter, at most 47 characters", "[workbench][app]") {
  CHECK(check_app_name("orders"));
  CHECK(check_app_name("order-api-2"));
  CHECK(check_app_name(std::string(47, 'a')));
  auto bad = check_app_name("Orders");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::Usage);
  CHECK(bad.error().message ==
        "'Orders' is not a valid app name: use lower-case letters, digits and '-', starting with a letter");
  for (const char* name : {"1orders", "-orders", "orders-", "order_s", "orders.api", "ordérs"})
    CHECK_FALSE(check_app_name(name));
  auto long_name = check_app_name(std::string(48, 'a'));
  REQUIRE_FALSE(long_name);
  CHECK_THAT(long_name.error().message, Catch::Contains("at most 47"));
  auto empty = check_app_name("");
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error().hint, Catch::Contains("app.name"));
}

TEST_CASE("value checks: port, replicas, cpu, memory, env names, health path", "[workbench][app]") {
  CHECK(check_port(1));
  CHECK(check_port(65535));
  CHECK_FALSE(check_port(0));
  CHECK_FALSE(check_port(65536));
  CHECK(check_replicas(0));
  CHECK_FALSE(check_replicas(-1));

  for (const char* ok : {"500m", "1", "1.5", "2", "100m"}) CHECK(check_cpu(ok));
  CHECK_FALSE(check_cpu("lots"));
  CHECK_THAT(check_cpu("1Gi").error().message, Catch::Contains("looks like memory"));
  CHECK_FALSE(check_cpu("0"));
  CHECK_FALSE(check_cpu("-1"));

  for (const char* ok : {"512Mi", "1Gi", "1G", "1.5Gi", "64M"}) CHECK(check_memory(ok));
  CHECK_THAT(check_memory("512").error().message, Catch::Contains("too little"));
  CHECK_THAT(check_memory("512m").error().message, Catch::Contains("512Mi"));
  CHECK_THAT(check_memory("1 GB").error().message, Catch::Contains("not a Kubernetes quantity"));

  for (const char* ok : {"A", "_X", "SPRING_PROFILES_ACTIVE", "server_port2"}) CHECK(check_env_name(ok));
  for (const char* bad : {"", "1A", "A=B", "A-B", "A.B", "A B"}) CHECK_FALSE(check_env_name(bad));

  CHECK(check_health_path("/healthz"));
  CHECK_FALSE(check_health_path("healthz"));
  CHECK_FALSE(check_health_path("/health z"));
}

TEST_CASE("validate_app_spec checks the whole spec", "[workbench][app]") {
  AppSpec s;
  s.name = "orders";
  CHECK(validate_app_spec(s));
  s.env = {{"A", "1"}, {"A", "2"}};
  CHECK_THAT(validate_app_spec(s).error().message, Catch::Contains("set twice"));
  s.env.clear();
  s.route_host = "Orders.Example.com";
  CHECK_FALSE(validate_app_spec(s));
  s.route_host = "orders.apps.example.com";
  CHECK(validate_app_spec(s));
  s.description = std::string(257, 'x');
  CHECK_FALSE(validate_app_spec(s));
  s.description.clear();
  s.java_version = "seventeen";
  CHECK_FALSE(validate_app_spec(s));
  s.java_version = "17";
  s.port = 0;
  CHECK_FALSE(validate_app_spec(s));
}

TEST_CASE("the app section of wb.yaml is read with every key", "[workbench][app]") {
  auto o = parse_ok(R"(registry:
  host: harbor.example.com
app:
  name: orders
  port: 8081
  replicas: 2
  cpu: 1
  memory: 768Mi
  env:
    SPRING_PROFILES_ACTIVE: prod
    JAVA_OPTS: -Xss512k
    EMPTY:
    NUMBER: 42
  health: /healthz
  trace: yes
  route:
    host: orders.apps.example.com
  description: Takes orders
  alias: Orders
  java: 21
  springBoot: true
)");
  CHECK(o.name == "orders");
  CHECK(o.port == 8081);
  CHECK(o.replicas == 2);
  CHECK(o.cpu == "1");
  CHECK(o.memory == "768Mi");
  REQUIRE(o.env.size() == 4);
  CHECK(o.env[0] == std::pair<std::string, std::string>{"SPRING_PROFILES_ACTIVE", "prod"});
  CHECK(o.env[1] == std::pair<std::string, std::string>{"JAVA_OPTS", "-Xss512k"});
  CHECK(o.env[2] == std::pair<std::string, std::string>{"EMPTY", ""});
  CHECK(o.env[3] == std::pair<std::string, std::string>{"NUMBER", "42"});
  CHECK(o.health_path == "/healthz");
  CHECK(o.trace == true);
  CHECK(o.route_host == "orders.apps.example.com");
  CHECK(o.description == "Takes orders");
  CHECK(o.alias == "Orders");
  CHECK(o.java_version == "21");
  CHECK(o.spring_boot == true);
}

TEST_CASE("short forms, empty files and files without an app section", "[workbench][app]") {
  auto o = parse_ok("app:\n  health:\n    path: /ready\n  route: orders.example.com\n");
  CHECK(o.health_path == "/ready");
  CHECK(o.route_host == "orders.example.com");
  auto none = parse_ok("registry:\n  host: x\n");
  CHECK_FALSE(none.name);
  CHECK_FALSE(none.port);
  CHECK(none.env.empty());
  CHECK_FALSE(parse_ok("").name);
  CHECK_FALSE(parse_ok("app:\n").name);
  auto unset = parse_ok("app:\n  port:\n  cpu:\n");
  CHECK_FALSE(unset.port);
  CHECK_FALSE(unset.cpu);
}

TEST_CASE("errors in the app section name file:line:col", "[workbench][app]") {
  CHECK(parse_error("app:\n  name: Orders\n") ==
        "wb.yaml:2:9: 'Orders' is not a valid app name: use lower-case letters, digits and '-', starting with a letter");
  CHECK(parse_error("app:\n  port: http\n") == "wb.yaml:2:9: app.port must be a whole number, not 'http'");
  CHECK(parse_error("app:\n  port: 70000\n") ==
        "wb.yaml:2:9: port 70000 is out of range: use 1 to 65535 (8080 is usual)");
  CHECK_THAT(parse_error("app:\n  name: orders\n  memroy: 1Gi\n"),
             Catch::StartsWith("wb.yaml:3:3: unknown setting 'app.memroy'") && Catch::Contains("did you mean 'app.memory'"));
  CHECK_THAT(parse_error("app:\n  cpu: lots\n"), Catch::StartsWith("wb.yaml:2:8: cpu 'lots'"));
  CHECK_THAT(parse_error("app:\n  env:\n    GOOD: 1\n    BAD-NAME: 2\n"),
             Catch::StartsWith("wb.yaml:4:5: 'BAD-NAME' is not a valid environment variable name"));
  CHECK_THAT(parse_error("app:\n  env: [A, B]\n"), Catch::StartsWith("wb.yaml:2:8: app.env must be a map"));
  CHECK_THAT(parse_error("app:\n  env:\n    A: [1, 2]\n"), Catch::StartsWith("wb.yaml:3:8: app.env.A must be a single value"));
  CHECK_THAT(parse_error("app:\n  trace: maybe\n"), Catch::StartsWith("wb.yaml:2:10: app.trace must be true or false"));
  CHECK_THAT(parse_error("app:\n  health:\n    url: /x\n"), Catch::StartsWith("wb.yaml:3:5: unknown setting 'app.health.url'"));
  CHECK_THAT(parse_error("app:\n  route: Not_A_Host\n"), Catch::StartsWith("wb.yaml:2:10: app.route.host"));
  CHECK_THAT(parse_error("app: orders\n"), Catch::StartsWith("wb.yaml:1:6: app must be a map"));
  CHECK_THAT(parse_error("- a\n- b\n"), Catch::StartsWith("wb.yaml:1:1: expected a map"));
  CHECK_THAT(parse_error("app:\n  name: [orders\n"), Catch::StartsWith("wb.yaml:"));
  CHECK_THAT(parse_error("app:\n  replicas: -1\n"), Catch::StartsWith("wb.yaml:2:13: app.replicas must be a whole number"));
}

TEST_CASE("flags win over the file; env merges by name keeping the file's order", "[workbench][app]") {
  auto file = parse_ok("app:\n  name: orders\n  port: 8081\n  cpu: 1\n  trace: true\n  description: from file\n"
                       "  env:\n    A: file-a\n    B: file-b\n");
  AppOverrides flags;
  flags.port = 9090;
  flags.trace = false;
  flags.env = {{"B", "flag-b"}, {"C", "flag-c"}};
  AppSpec s = merge_app_spec({&file, &flags});
  CHECK(s.name == "orders");
  CHECK(s.port == 9090);
  CHECK(s.cpu == "1");
  CHECK(s.trace == false);
  CHECK(s.description == "from file");
  REQUIRE(s.env.size() == 3);
  CHECK(s.env[0] == std::pair<std::string, std::string>{"A", "file-a"});
  CHECK(s.env[1] == std::pair<std::string, std::string>{"B", "flag-b"});
  CHECK(s.env[2] == std::pair<std::string, std::string>{"C", "flag-c"});

  AppOverrides rename;
  rename.name = "payments";
  CHECK(merge_app_spec({&file, &rename}).name == "payments");

  AppSpec defaults = merge_app_spec({});
  CHECK(defaults.port == 8080);
  CHECK_FALSE(defaults.trace);
  CHECK_FALSE(defaults.replicas);
  CHECK(defaults.cpu.empty());
}
