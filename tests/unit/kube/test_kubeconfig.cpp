#include <sys/stat.h>

#include "fakes.hpp"
#include "kube/kubeconfig.hpp"
#include "util/encoding.hpp"

using namespace wb;
using namespace wb::kube;
using wb::kube::test::read_text;
using wb::kube::test::TempDir;
using util::ErrorCode;

namespace {

const char* kFileA = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: shared
  cluster:
    server: https://a.example:6443/
    certificate-authority: certs/ca.pem
- name: only-a
  cluster:
    server: https://only-a:6443
users:
- name: alice
  user:
    token: token-from-a
contexts:
- name: dev
  context: {cluster: shared, user: alice, namespace: shop-dev}
- name: both
  context: {cluster: shared, user: alice}
)";

const char* kFileB = R"(apiVersion: v1
kind: Config
current-context: staging
clusters:
- name: shared
  cluster:
    server: https://b.example:6443
- name: only-b
  cluster:
    server: https://only-b:6443
    insecure-skip-tls-verify: true
    tls-server-name: api.internal
    proxy-url: http://proxy.local:3128
users:
- name: alice
  user:
    token: token-from-b
- name: bob
  user:
    username: bob
    password: s3cret
contexts:
- name: both
  context: {cluster: only-b, user: bob}
- name: staging
  context: {cluster: only-b, user: bob, namespace: shop-staging}
)";

LoadOptions env_list(const std::string& list) {
  LoadOptions o;
  o.kubeconfig_env = list;
  o.home = "/nonexistent-home";
  return o;
}

Kubeconfig load_ok(const LoadOptions& o) {
  auto r = load_kubeconfig(o);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return *r;
}

RestConfig resolve_ok(const Kubeconfig& k, const std::string& context = {}) {
  ResolveOptions ro;
  ro.context = context;
  ro.stdin_is_tty = false;
  auto r = resolve_context(k, ro);
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return *r;
}

std::string token_of(const RestConfig& rc) {
  REQUIRE(rc.credentials);
  auto c = rc.credentials->get();
  INFO((c ? std::string() : c.error().message));
  REQUIRE(c.ok());
  return c->bearer_token;
}

}  // namespace

TEST_CASE("KUBECONFIG merge: the first file wins per entry and for current-context", "[kubeconfig]") {
  TempDir d;
  auto a = d.write("a/config", kFileA);
  auto b = d.write("b/config", kFileB);
  auto c = d.write("c/config", "current-context: third\ncontexts:\n- name: third\n  context: {cluster: only-a}\n");
  auto k = load_ok(env_list(a.string() + ":" + (d / "missing").string() + "::" + b.string() + ":" + c.string()));

  CHECK(k.files == std::vector<std::filesystem::path>{a, b, c});
  CHECK(k.current_context == "dev");
  CHECK(k.first_file == a);
  CHECK(k.clusters.at("shared").server == "https://a.example:6443/");
  CHECK(k.users.at("alice").token == "token-from-a");
  CHECK(k.contexts.at("both").cluster == "shared");  // a's, not b's
  CHECK(k.contexts.count("staging") == 1);
  CHECK(k.contexts.count("third") == 1);
  CHECK(k.clusters.count("only-b") == 1);

  SECTION("the first non-empty current-context wins") {
    auto empty = d.write("empty/config", "current-context: \"\"\n");
    auto k2 = load_ok(env_list(empty.string() + ":" + b.string() + ":" + a.string()));
    CHECK(k2.current_context == "staging");
    CHECK(k2.first_file == b);
    CHECK(k2.users.at("alice").token == "token-from-b");
  }
}

TEST_CASE("explicit --kubeconfig reads only that file", "[kubeconfig]") {
  TempDir d;
  auto a = d.write("a", kFileA);
  auto b = d.write("b", kFileB);
  LoadOptions o = env_list(a.string());
  o.explicit_path = b.string();
  auto k = load_ok(o);
  CHECK(k.files == std::vector<std::filesystem::path>{b});
  CHECK(k.current_context == "staging");

  o.explicit_path = (d / "nope").string();
  auto r = load_kubeconfig(o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::NotFound);
  CHECK(r.error().message == "kubeconfig file " + (d / "nope").string() + " does not exist");
}

TEST_CASE("~/.kube/config is the default, and a missing one is an empty config", "[kubeconfig]") {
  TempDir d;
  LoadOptions o;
  o.home = d.path().string();
  auto empty = load_ok(o);
  CHECK(empty.files.empty());
  CHECK(empty.contexts.empty());
  CHECK(empty.first_file == d / ".kube/config");

  d.write(".kube/config", kFileA);
  auto k = load_ok(o);
  CHECK(k.current_context == "dev");
}

TEST_CASE("relative paths resolve against the kubeconfig's directory", "[kubeconfig]") {
  TempDir d;
  d.write("conf/certs/ca.pem", "CA");
  auto f = d.write("conf/config", R"(
clusters:
- name: c
  cluster: {server: "https://x", certificate-authority: certs/ca.pem}
users:
- name: u
  user:
    client-certificate: ../pki/u.crt
    client-key: /abs/u.key
    tokenFile: tok
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./bin/plugin}
- name: v
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: kubelogin}
contexts: []
)");
  auto k = load_ok(env_list(f.string()));
  auto dir = (d / "conf").string();
  CHECK(k.clusters.at("c").certificate_authority == dir + "/certs/ca.pem");
  CHECK(k.users.at("u").client_certificate == d.path().string() + "/pki/u.crt");
  CHECK(k.users.at("u").client_key == "/abs/u.key");
  CHECK(k.users.at("u").token_file == dir + "/tok");
  CHECK(k.users.at("u").exec->command == dir + "/bin/plugin");
  CHECK(k.users.at("v").exec->command == "kubelogin");
}

TEST_CASE("*-data fields are base64-decoded; malformed base64 names file and field", "[kubeconfig]") {
  TempDir d;
  std::string ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  auto f = d.write("config", "clusters:\n- name: c\n  cluster:\n    server: https://x\n    certificate-authority-data: " +
                                 util::base64_encode(ca) + "\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
                                 util::base64_encode("CERT") + "\n    client-key-data: " + util::base64_encode("KEY") +
                                 "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n");
  auto k = load_ok(env_list(f.string()));
  CHECK(k.clusters.at("c").certificate_authority_data == ca);
  CHECK(k.users.at("u").client_certificate_data == "CERT");
  auto rc = resolve_ok(k, "x");
  CHECK(rc.tls.ca_data == ca);
  CHECK(rc.tls.client_cert_data == "CERT");
  CHECK(rc.tls.client_key_data == "KEY");
  CHECK_FALSE(rc.credentials);

  auto bad = d.write("bad", "users:\n- name: u\n  user:\n    client-key-data: '!!notbase64!!'\n");
  auto r = load_kubeconfig(env_list(bad.string()));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Usage);
  CHECK(r.error().message == bad.string() + ":4:22: user 'u': 'client-key-data' is not valid base64");
}

TEST_CASE("malformed YAML gives file:line:col", "[kubeconfig]") {
  TempDir d;
  auto f = d.write("config", "clusters:\n- name: c\n  cluster: {server: [unclosed\n");
  auto r = load_kubeconfig(env_list(f.string()));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Usage);
  CHECK_THAT(r.error().message, Catch::StartsWith(f.string() + ":4:1: "));

  auto g = d.write("config2", "clusters: 5\n");
  auto r2 = load_kubeconfig(env_list(g.string()));
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message == g.string() + ":1:11: 'clusters' must be a list");
}

TEST_CASE("context selection errors list the known contexts", "[kubeconfig]") {
  TempDir d;
  auto a = d.write("a", kFileA);
  auto k = load_ok(env_list(a.string()));
  ResolveOptions ro;
  ro.context = "devv";
  auto r = resolve_context(k, ro);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::NotFound);
  CHECK(r.error().message == "context 'devv' not found in kubeconfig (known: both, dev)");
  CHECK(r.error().hint == "did you mean 'dev'?");

  k.current_context.clear();
  auto r2 = resolve_context(k, {});
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == ErrorCode::Usage);
  CHECK(r2.error().message == "no current context in kubeconfig; pass --context (known: both, dev)");

  k.contexts["broken"] = ContextEntry{"nowhere", "alice", ""};
  auto r3 = resolve_context(k, ResolveOptions{"broken", {}, {}, false});
  REQUIRE_FALSE(r3.ok());
  CHECK(r3.error().message ==
        "cluster 'nowhere' (used by context 'broken') not found in kubeconfig (known: only-a, shared)");
  k.contexts["nouser"] = ContextEntry{"only-a", "carol", ""};
  auto r4 = resolve_context(k, ResolveOptions{"nouser", {}, {}, false});
  REQUIRE_FALSE(r4.ok());
  CHECK(r4.error().message == "user 'carol' (used by context 'nouser') not found in kubeconfig (known: alice)");
}

TEST_CASE("resolve: server, namespace, CA file, token", "[kubeconfig]") {
  TempDir d;
  d.write("certs/ca.pem", "CA");
  auto a = d.write("a", kFileA);
  auto k = load_ok(env_list(a.string()));
  auto rc = resolve_ok(k);
  CHECK(rc.server == "https://a.example:6443");
  CHECK(rc.namespace_ == "shop-dev");
  CHECK(rc.context_name == "dev");
  CHECK(rc.user_name == "alice");
  CHECK(rc.tls.ca_file == (d / "certs/ca.pem").string());
  CHECK(token_of(rc) == "token-from-a");
  CHECK_FALSE(rc.credentials->refreshable());

  SECTION("a missing CA file is a clear error") {
    std::filesystem::remove(d / "certs/ca.pem");
    auto r = resolve_context(k, {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "certificate-authority (cluster 'shared') file " + (d / "certs/ca.pem").string() + " does not exist");
  }
}

TEST_CASE("resolve: basic auth, insecure, tls-server-name, proxy-url", "[kubeconfig]") {
  TempDir d;
  auto b = d.write("b", kFileB);
  auto rc = resolve_ok(load_ok(env_list(b.string())));
  CHECK(rc.server == "https://only-b:6443");
  CHECK(rc.tls.insecure);
  CHECK(rc.tls.server_name == "api.internal");
  CHECK(rc.proxy == "http://proxy.local:3128");
  auto c = rc.credentials->get();
  REQUIRE(c.ok());
  CHECK(c->basic_user == "bob");
  CHECK(c->basic_password == "s3cret");
  CHECK(c->bearer_token.empty());
}

TEST_CASE("resolve: tokenFile is re-read on every get()", "[kubeconfig]") {
  TempDir d;
  auto tok = d.write("tok", "first-token\n");
  auto f = d.write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {tokenFile: tok}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)");
  auto rc = resolve_ok(load_ok(env_list(f.string())));
  CHECK(token_of(rc) == "first-token");
  CHECK(rc.credentials->refreshable());
  d.write("tok", "second-token");
  CHECK(token_of(rc) == "second-token");

  std::filesystem::remove(tok);
  auto r = rc.credentials->get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Auth);

  auto r2 = resolve_context(load_ok(env_list(f.string())), {});
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message == "tokenFile (user 'u') file " + tok.string() + " does not exist");
}

TEST_CASE("resolve: client certificate files must exist; cert needs key", "[kubeconfig]") {
  TempDir d;
  d.write("u.crt", "CERT");
  auto f = d.write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://x"}}]
users:
- {name: u, user: {client-certificate: u.crt, client-key: u.key}}
- {name: half, user: {client-certificate: u.crt}}
contexts:
- {name: x, context: {cluster: c, user: u}}
- {name: h, context: {cluster: c, user: half}}
)");
  auto k = load_ok(env_list(f.string()));
  auto r = resolve_context(k, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::NotFound);
  CHECK(r.error().message == "client-key (user 'u') file " + (d / "u.key").string() + " does not exist");

  d.write("u.key", "KEY");
  auto rc = resolve_ok(k);
  CHECK(rc.tls.client_cert_file == (d / "u.crt").string());
  CHECK(rc.tls.client_key_file == (d / "u.key").string());

  auto r2 = resolve_context(k, ResolveOptions{"h", {}, {}, false});
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().message == "user 'half' in kubeconfig has a client certificate but no client key");
}

TEST_CASE("resolve: an auth-provider is refused with a pointer to exec plugins", "[kubeconfig]") {
  TempDir d;
  auto f = d.write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://x"}}]
users: [{name: u, user: {auth-provider: {name: oidc, config: {idp-issuer-url: "https://id"}}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)");
  auto k = load_ok(env_list(f.string()));
  CHECK(k.users.at("u").has_auth_provider);
  auto r = resolve_context(k, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Auth);
  CHECK(r.error().message == "auth-provider oidc of user 'u' is not supported; use an exec credential plugin");
}

TEST_CASE("in-cluster config", "[kubeconfig]") {
  TempDir d;
  d.write("sa/token", "tok-1\n");
  d.write("sa/ca.crt", "CA");
  d.write("sa/namespace", "shop-prod\n");
  InClusterOptions o;
  o.service_host = "10.0.0.1";
  o.service_port = "443";
  o.sa_dir = d / "sa";
  auto r = in_cluster_config(o);
  REQUIRE(r.ok());
  CHECK(r->server == "https://10.0.0.1:443");
  CHECK(r->in_cluster);
  CHECK(r->namespace_ == "shop-prod");
  CHECK(r->tls.ca_file == (d / "sa/ca.crt").string());
  CHECK(token_of(*r) == "tok-1");
  d.write("sa/token", "tok-2");
  CHECK(token_of(*r) == "tok-2");

  o.service_host = "fd00::1";
  auto r6 = in_cluster_config(o);
  REQUIRE(r6.ok());
  CHECK(r6->server == "https://[fd00::1]:443");

  std::filesystem::remove(d / "sa/token");
  auto missing = in_cluster_config(o);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::NotFound);
}

TEST_CASE("load_rest_config: kubeconfig, in-cluster fallback, nothing found", "[kubeconfig]") {
  TempDir d;
  d.write("sa/token", "sa-token");
  std::map<std::string, std::string> env{{"HOME", d.path().string()}};
  ConnectOptions o;
  o.env = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  o.sa_dir = d / "sa";
  o.stdin_is_tty = false;

  auto none = load_rest_config(o);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::NotFound);
  CHECK(none.error().message ==
        "no kubeconfig found (looked at ~/.kube/config); set KUBECONFIG or pass --kubeconfig");
  CHECK_FALSE(none.error().hint.empty());

  env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  env["KUBERNETES_SERVICE_PORT"] = "6443";
  auto ic = load_rest_config(o);
  REQUIRE(ic.ok());
  CHECK(ic->in_cluster);
  CHECK(ic->server == "https://10.96.0.1:6443");
  CHECK(ic->namespace_ == "default");

  d.write(".kube/config", kFileB);
  auto kc = load_rest_config(o);
  REQUIRE(kc.ok());
  CHECK_FALSE(kc->in_cluster);
  CHECK(kc->context_name == "staging");

  o.context_flag = "both";
  auto both = load_rest_config(o);
  REQUIRE(both.ok());
  CHECK(both->server == "https://only-b:6443");
}
