#include <catch2/catch.hpp>

#include "fake_process_runner.hpp"
#include "oci/auth.hpp"
#include "oci_test_util.hpp"
#include "util/encoding.hpp"

using namespace wb::oci;
using wb::oci::test::FakeEnv;
using wb::oci::test::TempDir;
using wb::util::ErrorCode;

namespace {

std::string b64(const std::string& s) { return wb::util::base64_encode(s); }

CredentialSources sources(const FakeEnv& env) {
  CredentialSources s;
  s.getenv = env;
  return s;
}

// A docker-credential-<name> script that answers for `server` and logs what it was asked.
void write_helper(const TempDir& dir, const std::string& name, const std::string& server, const std::string& user,
                  const std::string& secret) {
  dir.write("bin/docker-credential-" + name,
            "#!/bin/sh\n"
            "read -r url\n"
            "echo \"$1 $url\" >> \"" + (dir / "helper.log").string() + "\"\n"
            "if [ \"$url\" = '" + server + "' ]; then\n"
            "  printf '%s' '{\"ServerURL\":\"" + server + "\",\"Username\":\"" + user + "\",\"Secret\":\"" + secret + "\"}'\n"
            "else\n"
            "  echo 'credentials not found in native keychain'; exit 1\n"
            "fi\n",
            0755);
}

}  // namespace

TEST_CASE("auth: auth key normalisation") {
  CHECK(normalize_auth_key("https://index.docker.io/v1/") == "index.docker.io");
  CHECK(normalize_auth_key("http://127.0.0.1:5000") == "127.0.0.1:5000");
  CHECK(normalize_auth_key("harbor.example.com") == "harbor.example.com");
  CHECK(normalize_auth_key("harbor.example.com/team/app") == "harbor.example.com/team/app");
  CHECK(normalize_auth_key("https://harbor.example.com/") == "harbor.example.com");
  CHECK(docker_config_key("docker.io") == "https://index.docker.io/v1/");
  CHECK(docker_config_key("127.0.0.1:5000") == "127.0.0.1:5000");
}

TEST_CASE("auth: explicit credentials win and keep '$' as is") {
  TempDir home;
  home.write(".docker/config.json",
             R"({"auths":{"127.0.0.1:5000":{"auth":")" + b64("other:pw") + R"("}}})");
  FakeEnv env;
  env.vars["HOME"] = home.path().string();
  CredentialSources s = sources(env);
  s.username = "robot$ci";
  s.password = "pa$$word";
  auto c = find_credentials("127.0.0.1:5000", "shop/orders", s);
  REQUIRE(c.ok());
  CHECK(c->username == "robot$ci");
  CHECK(c->password == "pa$$word");
  CHECK(c->source == "WB_REGISTRY_USER");

  // Limited to one registry: others fall through to the files.
  s.explicit_registry = "harbor.example.com";
  c = find_credentials("127.0.0.1:5000", "shop/orders", s);
  REQUIRE(c.ok());
  CHECK(c->username == "other");
}

TEST_CASE("auth: docker config auths") {
  TempDir home;
  home.write(".docker/config.json", R"({"auths":{
      "https://index.docker.io/v1/":{"auth":")" + b64("hubuser:hubpw") + R"("},
      "http://127.0.0.1:5000":{"auth":")" + b64("robot$harbor+ci:s3:cr$t") + R"("},
      "tokenhost.example.com":{"identitytoken":"refresh-abc"},
      "fields.example.com":{"username":"u","password":"p"}}})");
  FakeEnv env;
  env.vars["HOME"] = home.path().string();
  auto s = sources(env);

  auto c = find_credentials("docker.io", "library/busybox", s);
  REQUIRE(c.ok());
  CHECK(c->username == "hubuser");
  CHECK(c->password == "hubpw");
  CHECK(c->source == (home / ".docker/config.json").string());

  c = find_credentials("127.0.0.1:5000", "shop/orders", s);
  REQUIRE(c.ok());
  CHECK(c->username == "robot$harbor+ci");
  CHECK(c->password == "s3:cr$t");  // split at the first ':'

  c = find_credentials("tokenhost.example.com", "x", s);
  REQUIRE(c.ok());
  CHECK(c->identity_token == "refresh-abc");
  CHECK(c->username.empty());

  c = find_credentials("fields.example.com", "x", s);
  REQUIRE(c.ok());
  CHECK(c->username == "u");

  c = find_credentials("unknown.example.com", "x", s);
  REQUIRE(c.ok());
  CHECK(c->anonymous());

  // DOCKER_CONFIG replaces ~/.docker.
  TempDir other;
  other.write("config.json", R"({"auths":{"127.0.0.1:5000":{"auth":")" + b64("dc:pw") + R"("}}})");
  env.vars["DOCKER_CONFIG"] = other.path().string();
  c = find_credentials("127.0.0.1:5000", "shop/orders", sources(env));
  REQUIRE(c.ok());
  CHECK(c->username == "dc");
}

TEST_CASE("auth: podman auth.json comes first, with per-repository entries") {
  TempDir home, run;
  home.write(".docker/config.json", R"({"auths":{"127.0.0.1:5000":{"auth":")" + b64("docker:pw") + R"("}}})");
  run.write("containers/auth.json", R"({"auths":{
      "127.0.0.1:5000":{"auth":")" + b64("podman:pw") + R"("},
      "127.0.0.1:5000/shop":{"auth":")" + b64("shopns:pw") + R"("},
      "127.0.0.1:5000/shop/orders":{"auth":")" + b64("ordersrepo:pw") + R"("}}})");
  FakeEnv env;
  env.vars["HOME"] = home.path().string();
  env.vars["XDG_RUNTIME_DIR"] = run.path().string();
  auto s = sources(env);
  auto c = find_credentials("127.0.0.1:5000", "other/app", s);
  REQUIRE(c.ok());
  CHECK(c->username == "podman");
  c = find_credentials("127.0.0.1:5000", "shop/billing", s);
  REQUIRE(c.ok());
  CHECK(c->username == "shopns");
  c = find_credentials("127.0.0.1:5000", "shop/orders", s);
  REQUIRE(c.ok());
  CHECK(c->username == "ordersrepo");
  c = find_credentials("127.0.0.1:5000", "shopping/app", s);  // not a path prefix
  REQUIRE(c.ok());
  CHECK(c->username == "podman");

  // REGISTRY_AUTH_FILE replaces the XDG one.
  TempDir f;
  f.write("auth.json", R"({"auths":{"127.0.0.1:5000":{"auth":")" + b64("envfile:pw") + R"("}}})");
  env.vars["REGISTRY_AUTH_FILE"] = (f / "auth.json").string();
  c = find_credentials("127.0.0.1:5000", "other/app", sources(env));
  REQUIRE(c.ok());
  CHECK(c->username == "envfile");

  // Nothing in the podman file for a host: docker's file is next.
  home.write(".docker/config.json", R"({"auths":{"h.example.com":{"auth":")" + b64("dockeronly:pw") + R"("}}})");
  c = find_credentials("h.example.com", "a", sources(env));
  REQUIRE(c.ok());
  CHECK(c->username == "dockeronly");
}

TEST_CASE("auth: credential helpers and stores") {
  TempDir dir;
  write_helper(dir, "fake", "127.0.0.1:5000", "robot$helper", "helper$ecret");
  write_helper(dir, "store", "https://index.docker.io/v1/", "<token>", "identity-xyz");
  dir.write("home/.docker/config.json",
            R"({"auths":{"127.0.0.1:5000":{}},"credHelpers":{"127.0.0.1:5000":"fake"},"credsStore":"store"})");
  FakeEnv env;
  env.vars["HOME"] = (dir / "home").string();
  env.vars["PATH"] = (dir / "bin").string() + ":/usr/bin:/bin";
  auto s = sources(env);

  auto c = find_credentials("127.0.0.1:5000", "shop/orders", s);
  REQUIRE(c.ok());
  CHECK(c->username == "robot$helper");
  CHECK(c->password == "helper$ecret");
  CHECK(c->source == "docker-credential-fake");

  // The store: docker.io is asked by its v1 URL; "<token>" means an identity token.
  c = find_credentials("docker.io", "library/busybox", s);
  REQUIRE(c.ok());
  CHECK(c->identity_token == "identity-xyz");
  CHECK(c->username.empty());

  // "credentials not found" -> anonymous.
  c = find_credentials("nothing.example.com", "a", s);
  REQUIRE(c.ok());
  CHECK(c->anonymous());

  // A missing helper is an error in words.
  dir.write("home/.docker/config.json", R"({"credHelpers":{"q.example.com":"missing"}})");
  c = find_credentials("q.example.com", "a", s);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::Auth);
  CHECK_THAT(c.error().message, Catch::Contains("docker-credential-missing is not installed"));

  // A failing helper.
  dir.write("bin/docker-credential-broken", "#!/bin/sh\necho 'keychain locked' >&2\nexit 3\n", 0755);
  dir.write("home/.docker/config.json", R"({"credHelpers":{"q.example.com":"broken"}})");
  c = find_credentials("q.example.com", "a", s);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.error().message, Catch::Contains("keychain locked"));
}

TEST_CASE("auth: a credential helper gets the server on stdin and a minute to answer") {
  TempDir dir;
  dir.write("bin/docker-credential-fake", "#!/bin/sh\n", 0755);
  auto processes = std::make_shared<wb::test::FakeProcessRunner>();
  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.exit_code = 0;
    r.out = R"({"Username":"u","Secret":"s"})";
    return r;
  };
  auto c = run_credential_helper("fake", "127.0.0.1:5000", (dir / "bin").string(), processes);
  REQUIRE(c.ok());
  CHECK(c->username == "u");
  const auto& spec = processes->runs.at(0);
  CHECK(spec.argv == std::vector<std::string>{(dir / "bin/docker-credential-fake").string(), "get"});
  CHECK(spec.stdin_from == wb::util::ProcessInput::Data);
  CHECK(spec.input == "127.0.0.1:5000\n");
  CHECK(spec.stderr_to == wb::util::ProcessOutput::ToStdout);
  CHECK(spec.timeout == std::chrono::seconds(60));

  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.timed_out = true;
    r.signal = 9;
    return r;
  };
  c = run_credential_helper("fake", "127.0.0.1:5000", (dir / "bin").string(), processes);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::Timeout);
  CHECK(c.error().message == "docker-credential-fake did not answer within 60 seconds");
}

TEST_CASE("auth: broken files are errors in words") {
  TempDir home;
  home.write(".docker/config.json", "{not json");
  FakeEnv env;
  env.vars["HOME"] = home.path().string();
  auto c = find_credentials("x.example.com", "a", sources(env));
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::Usage);
  CHECK_THAT(c.error().message, Catch::Contains("is not valid JSON"));

  home.write(".docker/config.json", R"({"auths":{"x.example.com":{"auth":"bm9jb2xvbg=="}}})");  // "nocolon"
  c = find_credentials("x.example.com", "a", sources(env));
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.error().message, Catch::Contains("user:password"));

  // No files at all: anonymous.
  FakeEnv empty;
  c = find_credentials("x.example.com", "a", sources(empty));
  REQUIRE(c.ok());
  CHECK(c->anonymous());
}
