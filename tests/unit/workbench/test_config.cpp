// Versioned config, the pure parts: inputs (.env, .properties, YAML, keys), versioning math,
// objects of a version and reading them back, pointing a pod template, diffs, retention; and the
// trace redaction of Secret/ConfigMap data.
#include <catch2/catch.hpp>

#include "http/http.hpp"
#include "workbench/versions/config.hpp"

using namespace wb::workbench;
using nlohmann::json;
using wb::util::ErrorCode;

TEST_CASE("env files: KEY=VALUE, export, comments, quotes; bad lines name file:line") {
  // Text after a closing quote that is not a comment is an error.
  auto d = parse_env_file("D='it''s'\n", "x.env");
  CHECK_FALSE(d.ok());
  auto ok = parse_env_file("# c\n\nexport A=1\nB = two words # note\nC=\"x\\ny\"\nE=\n", "x.env");
  REQUIRE(ok.ok());
  CHECK(ok.value() == std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "two words"}, {"C", "x\ny"}, {"E", ""}});
  auto bad = parse_env_file("A=1\nnot a line\n", "x.env");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::Usage);
  CHECK(bad.error().message.rfind("x.env:2:", 0) == 0);
  CHECK_FALSE(parse_env_file("1A=x\n", "x.env").ok());
  CHECK_FALSE(parse_env_file("A=\"open\n", "x.env").ok());
}

TEST_CASE("properties and YAML files are checked with positions") {
  CHECK(check_properties("a=1\nb: 2\nc 3\n# x\n! y\nlong=a\\\n  =continued\nu=\\u00e9\n", "a.properties").ok());
  auto empty_key = check_properties("a=1\n=2\n", "a.properties");
  REQUIRE_FALSE(empty_key.ok());
  CHECK(empty_key.error().message.rfind("a.properties:2:", 0) == 0);
  CHECK_FALSE(check_properties("u=\\u00g9\n", "a.properties").ok());
  CHECK(check_yaml("a: 1\nb: [1, 2]\n---\nc: d\n", "a.yml").ok());
  auto y = check_yaml("a: 1\n b: [1, 2\n", "app.yml");
  REQUIRE_FALSE(y.ok());
  CHECK(y.error().code == ErrorCode::Usage);
  CHECK(y.error().message.rfind("app.yml:", 0) == 0);
  CHECK(check_config_file("application.yaml", "a: [", "dir/application.yaml").error().message.rfind("dir/application.yaml:1:", 0) == 0);
  CHECK_FALSE(check_config_file("x.json", "{", "x.json").ok());
  CHECK(check_config_file("logback.xml", "<anything", "logback.xml").ok());
  CHECK_FALSE(check_config_file_name("noext").ok());
  CHECK_FALSE(check_config_file_name("../x.yml").ok());
}

TEST_CASE("keys are environment variable names") {
  CHECK(check_config_key("DB_URL").ok());
  CHECK(check_config_key("_x9").ok());
  CHECK_FALSE(check_config_key("9X").ok());
  CHECK_FALSE(check_config_key("A-B").ok());
  CHECK_FALSE(check_config_key("").ok());
}

TEST_CASE("a change builds on the base; unset of a missing key is refused; secrets move between kinds") {
  ConfigContent base;
  base.env = {{"A", "1"}, {"B", "2"}};
  base.secrets = {{"PW", "x"}};
  base.files = {{"application.yml", "a: 1\n"}};
  ConfigChange c;
  c.set = {{"B", "3"}, {"C", "4"}};
  c.unset = {"A", "application.yml"};
  auto r = apply_config_change(base, c, "orders");
  REQUIRE(r.ok());
  CHECK(r->env == std::map<std::string, std::string>{{"B", "3"}, {"C", "4"}});
  CHECK(r->files.empty());
  CHECK(r->secrets.size() == 1);
  ConfigChange s;
  s.set = {{"B", "hidden"}};
  s.secret = true;
  auto r2 = apply_config_change(*r, s, "orders");
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->env.count("B"));
  CHECK(r2->secrets.at("B") == "hidden");
  ConfigChange missing;
  missing.unset = {"NOPE"};
  auto e = apply_config_change(base, missing, "orders");
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("NOPE") != std::string::npos);
  ConfigChange rollback;
  rollback.replace_with = base;
  CHECK(apply_config_change(*r2, rollback, "orders").value() == base);
  CHECK(describe_config_change(c) == "set B, C; unset A, application.yml");
  CHECK(describe_config_change(s) == "set secret B");
}

TEST_CASE("a version over 1 MiB is refused") {
  ConfigContent c;
  c.env["A"] = std::string(kMaxConfigBytes, 'x');
  CHECK(check_config_size(c).error().code == ErrorCode::Usage);
  ConfigContent files;
  files.files["big.txt"] = std::string(800 * 1024, 'x');  // base64 grows it past 1 MiB
  CHECK_FALSE(check_config_size(files).ok());
  ConfigContent small;
  small.files["a.txt"] = std::string(700 * 1024, 'x');
  CHECK(check_config_size(small).ok());
}

TEST_CASE("a version's objects: names, labels, immutable, data vs binaryData, and back") {
  ConfigContent c;
  c.env = {{"MODE", "prod"}};
  c.secrets = {{"PW", "s3cret"}};
  c.files = {{"application.yml", "a: 1\n"}};
  VersionMeta meta{"alice", "why", "set MODE"};
  json cm = config_map_object("orders", "shop", 7, c, meta, true);
  CHECK(cm["metadata"]["name"] == "orders-config-v7");
  CHECK(cm["metadata"]["labels"][kConfigVersionLabel] == "7");
  CHECK(cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "wb");
  CHECK(cm["metadata"]["annotations"]["kubernetes.io/change-cause"] == "why");
  CHECK(cm["metadata"]["annotations"][kConfigSecretAnnotation] == "orders-secret-v7");
  CHECK(cm["immutable"] == true);
  CHECK(cm["data"] == json{{"MODE", "prod"}});
  CHECK(cm["binaryData"]["application.yml"] == "YTogMQo=");
  json secret = config_secret_object("orders", "shop", 7, c, meta, false);
  CHECK(secret["metadata"]["name"] == "orders-secret-v7");
  CHECK_FALSE(secret.contains("immutable"));
  CHECK(secret["data"]["PW"] == "czNjcmV0");
  ConfigVersion back = config_version_from(cm, secret);
  CHECK(back.number == 7);
  CHECK(back.content == c);
  CHECK(back.who == "alice");
  ConfigContent no_secrets;
  CHECK(config_secret_object("orders", "shop", 1, no_secrets, meta, true).is_null());
  CHECK(config_version_number(json{{"metadata", {{"name", "orders-config-v12"}}}}, "orders") == 12);
  CHECK(config_version_number(json{{"metadata", {{"name", "orders-secret-v3"}}}}, "orders") == 3);
  CHECK(config_version_number(json{{"metadata", {{"name", "orders-config-vx"}}}}, "orders") == 0);
}

TEST_CASE("pointing a pod template at a version replaces the old references and keeps the rest") {
  json tmpl = {{"spec",
                {{"containers",
                  json::array({{{"name", "orders"},
                                {"envFrom", json::array({{{"configMapRef", {{"name", "orders-config-v1"}}}},
                                                         {{"secretRef", {{"name", "orders-secret-v1"}}}},
                                                         {{"configMapRef", {{"name", "shared"}}}}})},
                                {"volumeMounts", json::array({{{"name", "tmp"}, {"mountPath", "/tmp"}},
                                                              {{"name", "wb-config"}, {"mountPath", "/app/config"}}})}}})},
                 {"volumes", json::array({{{"name", "tmp"}, {"emptyDir", json::object()}},
                                          {{"name", "wb-config"}, {"configMap", {{"name", "orders-config-v1"}}}}})}}}};
  CHECK(referenced_config_version(tmpl, "orders") == 1);
  ConfigContent c;
  c.env = {{"A", "1"}};
  c.files = {{"application.yml", "x: 1"}};
  point_template_to_config(tmpl, "orders", 2, c);
  CHECK(referenced_config_version(tmpl, "orders") == 2);
  const json& ctr = tmpl["spec"]["containers"][0];
  CHECK(ctr["envFrom"] == json::array({{{"configMapRef", {{"name", "shared"}}}},
                                       {{"configMapRef", {{"name", "orders-config-v2"}}}}}));
  CHECK(ctr["volumeMounts"].size() == 2);
  CHECK(ctr["volumeMounts"][1] == json{{"name", "wb-config"}, {"mountPath", "/app/config"}, {"readOnly", true}});
  CHECK(tmpl["spec"]["volumes"][1]["configMap"]["items"] == json::array({{{"key", "application.yml"}, {"path", "application.yml"}}}));
  ConfigContent secrets_only;
  secrets_only.secrets = {{"PW", "x"}};
  point_template_to_config(tmpl, "orders", 3, secrets_only);
  CHECK(tmpl["spec"]["volumes"].size() == 1);
  CHECK(tmpl["spec"]["containers"][0]["volumeMounts"].size() == 1);
  CHECK(tmpl["spec"]["containers"][0]["envFrom"].back() == json{{"secretRef", {{"name", "orders-secret-v3"}}}});
}

TEST_CASE("pointing a pod template at a version keeps the config volume's place and the server's defaults") {
  // As a real API server returns it: defaultMode filled in, the config volume before another one.
  json tmpl = {{"spec",
                {{"containers",
                  json::array({{{"name", "orders"},
                                {"envFrom", json::array({{{"configMapRef", {{"name", "orders-config-v1"}}}}})},
                                {"volumeMounts", json::array({{{"name", "wb-config"}, {"mountPath", "/app/config"},
                                                               {"readOnly", true}},
                                                              {{"name", "tmp"}, {"mountPath", "/tmp"}}})}}})},
                 {"volumes", json::array({{{"name", "wb-config"},
                                           {"configMap", {{"name", "orders-config-v1"}, {"defaultMode", 420},
                                                          {"items", json::array({{{"key", "a.yml"}, {"path", "a.yml"}}})}}}},
                                          {{"name", "tmp"}, {"emptyDir", json::object()}}})}}}};
  json want = tmpl;
  want["spec"]["volumes"][0]["configMap"]["name"] = "orders-config-v2";
  want["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] = "orders-config-v2";
  ConfigContent c;
  c.files = {{"a.yml", "x: 2"}};
  point_template_to_config(tmpl, "orders", 2, c);
  CHECK(tmpl == want);
}

TEST_CASE("diffs: entries old -> new, secrets only 'changed', files line by line") {
  ConfigContent a, b;
  a.env = {{"A", "1"}, {"B", "2"}};
  b.env = {{"B", "3"}, {"C", "4"}};
  a.secrets = {{"PW", "old"}, {"GONE", "x"}};
  b.secrets = {{"PW", "new"}};
  a.files = {{"app.yml", "a: 1\nb: 2\nc: 3\n"}};
  b.files = {{"app.yml", "a: 1\nb: 9\nc: 3\n"}};
  auto d = diff_config(a, b);
  REQUIRE(d.size() == 6);
  using K = ConfigDiffEntry::Kind;
  CHECK((d[0].kind == K::Removed && d[0].name == "A" && d[0].old_value == "1"));
  CHECK((d[1].kind == K::Changed && d[1].old_value == "2" && d[1].new_value == "3"));
  CHECK((d[2].kind == K::Added && d[2].name == "C"));
  for (const auto& e : d)
    if (e.what == "secret") CHECK((e.old_value.empty() && e.new_value.empty()));
  CHECK(d[5].lines == std::vector<std::string>{"  a: 1", "- b: 2", "+ b: 9", "  c: 3"});
  CHECK(diff_config(a, a).empty());
  auto far = line_diff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\n5\n6\n7\nX\n", 1);
  CHECK(far == std::vector<std::string>{"  7", "- 8", "+ X"});
}

TEST_CASE("retention keeps the newest N and whatever is in use") {
  CHECK(config_versions_to_delete({1, 2, 3, 4, 5}, {}, 2) == std::vector<int>{1, 2, 3});
  CHECK(config_versions_to_delete({1, 2, 3, 4, 5}, {2, 0}, 2) == std::vector<int>{1, 3});
  CHECK(config_versions_to_delete({5, 4}, {}, 10).empty());
  CHECK(config_versions_to_delete({1, 2, 3}, {}, 0) == std::vector<int>{1, 2});  // at least one kept
}

TEST_CASE("traces never show Secret or ConfigMap data values") {
  const std::string body =
      R"({"apiVersion":"v1","data":{"DB_PASSWORD":"aHVudGVyMg==","OTHER":"c2VjcmV0"},"kind":"Secret","metadata":{"name":"x"}})";
  const std::string out = wb::http::redact_text(body);
  CHECK(out.find("aHVudGVyMg==") == std::string::npos);
  CHECK(out.find("c2VjcmV0") == std::string::npos);
  CHECK(out.find("\"OTHER\"") != std::string::npos);
  CHECK(out.find("\"name\":\"x\"") != std::string::npos);
  const std::string string_data = wb::http::redact_text(R"({"stringData": {"K": "plain value"}, "type": "Opaque"})");
  CHECK(string_data.find("plain value") == std::string::npos);
  CHECK(string_data.find("Opaque") != std::string::npos);
  // A truncated body still hides what is there.
  CHECK(wb::http::redact_text(R"({"data":{"K":"abc)").find("abc") == std::string::npos);
  // Other uses of the word are left alone.
  CHECK(wb::http::redact_text("metadata: x") == "metadata: x");
}
