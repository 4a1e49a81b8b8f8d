#include "fakes.hpp"
#include "http/http.hpp"
#include "http/test_server.hpp"
#include "kube/client.hpp"
#include "util/encoding.hpp"

using namespace wb;
using namespace wb::kube;
using util::ErrorCode;
using wb::kube::test::append_to;
using wb::kube::test::binary;
using wb::kube::test::FakeTransport;

namespace {

const std::string kServer = "https://k8s.test:6443";

RestConfig config_with(std::shared_ptr<CredentialSource> creds = static_token_source("t0k3n")) {
  RestConfig rc;
  rc.server = kServer;
  rc.credentials = std::move(creds);
  rc.namespace_ = "shop-dev";
  return rc;
}

http::ClientOptions fast_options() {
  http::ClientOptions o;
  o.retry_base_delay = std::chrono::milliseconds(1);
  o.retry_max_delay = std::chrono::milliseconds(2);
  o.max_retries = 2;
  return o;
}

std::string header(const http::Request& r, const std::string& name) { return r.headers.get(name).value_or("<none>"); }

// Counts get() calls and hands out a new token after each invalidate().
class RotatingSource : public CredentialSource {
 public:
  Result<Credentials> get() override {
    ++gets;
    Credentials c;
    c.bearer_token = "token-" + std::to_string(generation);
    return c;
  }
  void invalidate() override { ++generation; }
  bool refreshable() const override { return true; }
  int gets = 0, generation = 1;
};

std::string status_json(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
              {"message", message}, {"reason", reason},   {"code", code}}
      .dump();
}

}  // namespace

TEST_CASE("get: path, auth and standard headers", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/apis/apps/v1/namespaces/shop-dev/deployments/orders", 200,
           R"({"kind":"Deployment","metadata":{"name":"orders"}})");
  auto client = make_client(config_with(), fake);
  auto r = client->get(types::Deployment, "shop-dev", "orders");
  REQUIRE(r.ok());
  CHECK((*r)["metadata"]["name"] == "orders");
  REQUIRE(fake->requests.size() == 1);
  const auto& req = fake->requests[0];
  CHECK(header(req, "Authorization") == "Bearer t0k3n");
  CHECK(header(req, "Accept") == "application/json");
  CHECK(header(req, "User-Agent") == std::string("wb/") + WB_VERSION);
  CHECK(client->config().namespace_ == "shop-dev");
  fake->verify();
}

TEST_CASE("basic auth and anonymous requests", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/api/v1/namespaces/a", 200, "{}");
  fake->on("GET", "/api/v1/namespaces/b", 200, "{}");
  auto basic = make_client(config_with(basic_auth_source("bob", "s3cret")), fake);
  REQUIRE(basic->get(types::Namespace, "ignored", "a").ok());
  CHECK(header(fake->requests[0], "Authorization") == "Basic " + util::base64_encode("bob:s3cret"));
  auto anon = make_client(config_with(nullptr), fake);
  REQUIRE(anon->get(types::Namespace, "", "b").ok());
  CHECK(header(fake->requests[1], "Authorization") == "<none>");
  fake->verify();
}

TEST_CASE("errors: Status bodies and transport failures", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/api/v1/namespaces/shop-dev/configmaps/nope", 404,
           status_json(404, "NotFound", "configmaps \"nope\" not found"));
  fake->fail("GET", "/api/v1/namespaces/shop-dev/configmaps/x",
             util::Error(ErrorCode::Unavailable, "connection refused"));
  auto client = make_client(config_with(), fake);
  auto nf = client->get(types::ConfigMap, "shop-dev", "nope");
  REQUIRE_FALSE(nf.ok());
  CHECK(nf.error().code == ErrorCode::NotFound);
  CHECK(nf.error().message == "configmaps \"nope\" not found");
  auto down = client->get(types::ConfigMap, "shop-dev", "x");
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == ErrorCode::Unavailable);
  CHECK(down.error().message == "cannot reach the Kubernetes API at https://k8s.test:6443: connection refused");
  fake->verify();
}

TEST_CASE("401 with a refreshable source: invalidate and retry once", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  auto src = std::make_shared<RotatingSource>();
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 401, status_json(401, "Unauthorized", "Unauthorized")).check =
      [](const http::Request& r) { CHECK(header(r, "Authorization") == "Bearer token-1"); };
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 200, "{}").check = [](const http::Request& r) {
    CHECK(header(r, "Authorization") == "Bearer token-2");
  };
  auto client = make_client(config_with(src), fake);
  REQUIRE(client->get(types::Pod, "ns", "p").ok());
  CHECK(src->generation == 2);

  SECTION("a second 401 is an Auth error (no loop)") {
    fake->on("GET", "/api/v1/namespaces/ns/pods/q", 401, "Unauthorized");
    fake->on("GET", "/api/v1/namespaces/ns/pods/q", 401, "Unauthorized");
    auto r = client->get(types::Pod, "ns", "q");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Auth);
    CHECK(r.error().http_status == 401);
    CHECK(r.error().message ==
          "the server rejected your credentials (401 Unauthorized): your token may have expired; log in again");
  }
  SECTION("a static token is not retried") {
    auto fixed = make_client(config_with(static_token_source("old")), fake);
    fake->on("GET", "/api/v1/namespaces/ns/pods/r", 401, "Unauthorized");
    auto r = fixed->get(types::Pod, "ns", "r");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Auth);
  }
  fake->verify();
}

TEST_CASE("in a pod a refused token is the pod's service account's, not a kubeconfig's", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  auto src = std::make_shared<RotatingSource>();
  RestConfig rc = config_with(src);
  rc.in_cluster = true;
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 401, status_json(401, "Unauthorized", "Unauthorized"));
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 401, status_json(401, "Unauthorized", "Unauthorized")).check =
      [](const http::Request& r) { CHECK(header(r, "Authorization") == "Bearer token-2"); };
  auto client = make_client(rc, fake);
  auto r = client->get(types::Pod, "ns", "p");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Auth);
  CHECK(r.error().message == "the server rejected the pod's service-account token (401 Unauthorized)");
  CHECK(r.error().hint.find("serviceAccountName") != std::string::npos);
  CHECK(r.error().hint.find("kubeconfig context") == std::string::npos);
  fake->verify();
}

namespace {
util::Error transport_failure(http::TransportFailure::Kind kind, const std::string& message, const std::string& named) {
  http::TransportFailure f;
  f.kind = kind;
  f.origin = kServer;
  f.named = named;
  return util::Error(ErrorCode::Unavailable, message).with(std::move(f));
}
}  // namespace

TEST_CASE("a transport failure names the API server once", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  using Kind = http::TransportFailure::Kind;
  fake->fail("GET", "/api/v1/namespaces/ns/pods/a",
             transport_failure(Kind::Refused, "cannot connect to " + kServer + ": connection refused", kServer));
  fake->fail("GET", "/api/v1/namespaces/ns/pods/b",
             transport_failure(Kind::HostnameMismatch, "TLS: the server's certificate is not valid for k8s.test", ""));
  auto client = make_client(config_with(), fake);
  auto named = client->get(types::Pod, "ns", "a");
  REQUIRE_FALSE(named.ok());
  CHECK(named.error().message == "cannot connect to " + kServer + ": connection refused");
  CHECK(named.error().detail<http::TransportFailure>());
  auto unnamed = client->get(types::Pod, "ns", "b");
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.error().message ==
        "cannot reach the Kubernetes API at " + kServer + ": TLS: the server's certificate is not valid for k8s.test");
  fake->verify();
}

TEST_CASE("in a pod an untrusted server certificate points at the service account's ca.crt", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  RestConfig rc = config_with();
  rc.in_cluster = true;
  fake->fail("GET", "/api/v1/namespaces/ns/pods/p",
             transport_failure(http::TransportFailure::Kind::UntrustedCa,
                               "TLS: the certificate of " + kServer + " is not signed by a trusted CA", kServer));
  auto client = make_client(rc, fake);
  auto r = client->get(types::Pod, "ns", "p");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "TLS: the certificate of " + kServer + " is not signed by a trusted CA");
  CHECK(r.error().hint ==
        "the ca.crt of the pod's service account must be the CA that signed " + kServer + "'s certificate");
  fake->verify();
}

TEST_CASE("401 refreshes an exec plugin credential", "[client]") {
  int runs = 0;
  ExecSourceOptions so;
  so.exec.api_version = "client.authentication.k8s.io/v1beta1";
  so.exec.command = "plugin";
  so.user_name = "u";
  so.runner = [&](const ExecConfig&, const std::string&) -> Result<std::string> {
    ++runs;
    return json{{"apiVersion", "client.authentication.k8s.io/v1beta1"},
                {"kind", "ExecCredential"},
                {"status", {{"token", "exec-" + std::to_string(runs)}}}}
        .dump();
  };
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 401, "{}").check = [](const http::Request& r) {
    CHECK(header(r, "Authorization") == "Bearer exec-1");
  };
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 200, "{}").check = [](const http::Request& r) {
    CHECK(header(r, "Authorization") == "Bearer exec-2");
  };
  fake->on("GET", "/api/v1/namespaces/ns/pods/p", 200, "{}").check = [](const http::Request& r) {
    CHECK(header(r, "Authorization") == "Bearer exec-2");  // cached
  };
  auto client = make_client(config_with(exec_credential_source(so)), fake);
  REQUIRE(client->get(types::Pod, "ns", "p").ok());
  REQUIRE(client->get(types::Pod, "ns", "p").ok());
  CHECK(runs == 2);
  fake->verify();
}

TEST_CASE("client certificates from an exec plugin build a transport with them", "[client]") {
  int cert_no = 1;
  ExecSourceOptions so;
  so.exec.api_version = "client.authentication.k8s.io/v1";
  so.exec.interactive_mode = "Never";
  so.exec.command = "certs";
  so.runner = [&](const ExecConfig&, const std::string&) -> Result<std::string> {
    return json{{"apiVersion", "client.authentication.k8s.io/v1"},
                {"kind", "ExecCredential"},
                {"status", {{"clientCertificateData", "CERT-" + std::to_string(cert_no)}, {"clientKeyData", "KEY"}}}}
        .dump();
  };
  auto src = exec_credential_source(so);
  std::vector<http::ClientOptions> built;
  std::vector<std::shared_ptr<FakeTransport>> fakes;
  auto rc = config_with(src);
  rc.tls.ca_data = "CA";
  rc.tls.client_cert_file = "/from/kubeconfig.crt";
  rc.proxy = "http://proxy.local:3128";
  auto client =
      make_client_with_factory(rc, [&](const http::ClientOptions& o) -> Result<std::shared_ptr<http::Transport>> {
        built.push_back(o);
        auto f = std::make_shared<FakeTransport>();
        f->on("GET", "/api/v1/namespaces/a", 200, "{}");
        fakes.push_back(f);
        return std::shared_ptr<http::Transport>(f);
      });
  REQUIRE(client->get(types::Namespace, "", "a").ok());
  REQUIRE(built.size() == 1);
  CHECK(built[0].tls.client_cert_data == "CERT-1");
  CHECK(built[0].tls.client_key_data == "KEY");
  CHECK(built[0].tls.client_cert_file.empty());
  CHECK(built[0].tls.ca_data == "CA");
  CHECK(built[0].proxy == "http://proxy.local:3128");
  CHECK(built[0].user_agent == std::string("wb/") + WB_VERSION);
  CHECK(header(fakes[0]->requests[0], "Authorization") == "<none>");
  // Same certificate: same transport. A new one after invalidate: a new transport.
  fakes[0]->on("GET", "/api/v1/namespaces/a", 200, "{}");
  REQUIRE(client->get(types::Namespace, "", "a").ok());
  CHECK(built.size() == 1);
  cert_no = 2;
  src->invalidate();
  REQUIRE(client->get(types::Namespace, "", "a").ok());
  REQUIRE(built.size() == 2);
  CHECK(built[1].tls.client_cert_data == "CERT-2");
  for (auto& f : fakes) f->verify();
}

TEST_CASE("list_page query strings and list following continue", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on(
      "GET",
      "/api/v1/namespaces/ns/"
      "pods?labelSelector=app%3Dorders%2Ctier%21%3Dweb&fieldSelector=status.phase%3DRunning&limit=2",
      200,
      R"({"kind":"PodList","metadata":{"resourceVersion":"10","continue":"c1"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  fake->on("GET",
           "/api/v1/namespaces/ns/"
           "pods?labelSelector=app%3Dorders%2Ctier%21%3Dweb&fieldSelector=status.phase%3DRunning&limit=2&continue=c1",
           200, R"({"kind":"PodList","metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"c"}}]})");
  auto client = make_client(config_with(), fake);
  ListOptions o;
  o.label_selector = "app=orders,tier!=web";
  o.field_selector = "status.phase=Running";
  o.limit = 2;
  auto r = client->list(types::Pod, "ns", o);
  REQUIRE(r.ok());
  REQUIRE((*r)["items"].size() == 3);
  CHECK((*r)["items"][2]["metadata"]["name"] == "c");
  CHECK((*r)["metadata"]["resourceVersion"] == "10");
  CHECK_FALSE((*r)["metadata"].contains("continue"));
  fake->verify();
}

TEST_CASE("list restarts once when a continue token expired (410)", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/api/v1/configmaps?limit=1", 200,
           R"({"metadata":{"resourceVersion":"5","continue":"old"},"items":[{"metadata":{"name":"a"}}]})");
  fake->on("GET", "/api/v1/configmaps?limit=1&continue=old", 410,
           status_json(410, "Expired", "The provided continue parameter is too old"));
  fake->on("GET", "/api/v1/configmaps?limit=1", 200,
           R"({"metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a"}}]})");
  auto client = make_client(config_with(), fake);
  ListOptions o;
  o.limit = 1;
  auto r = client->list(types::ConfigMap, "", o);
  REQUIRE(r.ok());
  CHECK((*r)["items"].size() == 1);
  CHECK((*r)["metadata"]["resourceVersion"] == "9");
  fake->verify();
}

TEST_CASE("a list whose continue tokens come back is a loop, not followed for ever", "[client][limits]") {
  auto fake = std::make_shared<FakeTransport>();
  const std::string item = R"(,"items":[{"metadata":{"name":"a"}}]})";
  fake->on("GET", "/api/v1/configmaps?limit=1", 200, R"({"metadata":{"continue":"x"})" + item);
  fake->on("GET", "/api/v1/configmaps?limit=1&continue=x", 200, R"({"metadata":{"continue":"y"})" + item);
  fake->on("GET", "/api/v1/configmaps?limit=1&continue=y", 200, R"({"metadata":{"continue":"x"})" + item);
  auto client = make_client(config_with(), fake);
  ListOptions o;
  o.limit = 1;
  auto r = client->list(types::ConfigMap, "", o);
  REQUIRE_FALSE(r);
  CHECK(r.error().message ==
        "the Kubernetes API sent the list of configmaps in a loop (a continue token came back): not read further");
  fake->verify();
}

TEST_CASE("mutating calls: create, update, merge_patch, apply, remove, dry run", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}, {"namespace", "ns"}}}};
  fake->on("POST", "/api/v1/namespaces/ns/configmaps?dryRun=All&fieldValidation=Strict", 201, cm.dump()).check =
      [&](const http::Request& r) {
        CHECK(json::parse(r.body) == cm);
        CHECK(header(r, "Content-Type") == "application/json");
      };
  fake->on("PUT", "/api/v1/namespaces/ns/configmaps/c?fieldValidation=Strict", 200, cm.dump());
  fake->on("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d?fieldValidation=Strict", 200, "{}").check =
      [](const http::Request& r) {
        CHECK(header(r, "Content-Type") == "application/merge-patch+json");
        CHECK(r.body == R"({"spec":{"replicas":3}})");
      };
  fake->on("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d?fieldManager=wb&force=true&fieldValidation=Strict", 200,
           "{}")
      .check = [](const http::Request& r) {
    CHECK(header(r, "Content-Type") == "application/apply-patch+yaml");
    auto body = json::parse(r.body);
    CHECK(body["apiVersion"] == "apps/v1");
    CHECK(body["kind"] == "Deployment");
    CHECK(body["metadata"]["name"] == "d");
  };
  fake->on("PATCH",
           "/apis/apps/v1/namespaces/ns/deployments/d?fieldManager=wb&force=false&dryRun=All&fieldValidation=Strict",
           409,
           status_json(409, "Conflict", "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"));
  fake->on("DELETE", "/apis/apps/v1/namespaces/ns/deployments/d", 200, "{}").check = [](const http::Request& r) {
    auto body = json::parse(r.body);
    CHECK(body["kind"] == "DeleteOptions");
    CHECK(body["propagationPolicy"] == "Foreground");
    CHECK_FALSE(body.contains("dryRun"));
  };
  fake->on("DELETE", "/api/v1/namespaces/ns/configmaps/c?dryRun=All", 200, "{}").check = [](const http::Request& r) {
    CHECK(json::parse(r.body)["dryRun"] == json::array({"All"}));
    CHECK(json::parse(r.body)["propagationPolicy"] == "Background");
  };
  fake->on("DELETE", "/api/v1/namespaces/ns/configmaps/gone", 404,
           status_json(404, "NotFound", "configmaps \"gone\" not found"));

  auto client = make_client(config_with(), fake);
  REQUIRE(client->create(types::ConfigMap, "", cm, true).ok());  // namespace from the object
  REQUIRE(client->update(types::ConfigMap, "ns", cm).ok());
  REQUIRE(client->merge_patch(types::Deployment, "ns", "d", json{{"spec", {{"replicas", 3}}}}).ok());
  json dep = {{"metadata", {{"name", "d"}}}, {"spec", {{"replicas", 2}}}};
  REQUIRE(client->apply(types::Deployment, "ns", dep, true).ok());
  auto conflict = client->apply(types::Deployment, "ns", dep, false, true);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code == ErrorCode::Conflict);
  CHECK(conflict.error().message == "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas");
  DeleteOptions fg;
  fg.propagation = "Foreground";
  REQUIRE(client->remove(types::Deployment, "ns", "d", fg).ok());
  DeleteOptions dry;
  dry.dry_run = true;
  REQUIRE(client->remove(types::ConfigMap, "ns", "c", dry).ok());
  auto gone = client->remove(types::ConfigMap, "ns", "gone");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::NotFound);

  auto noname = client->update(types::ConfigMap, "ns", json{{"metadata", json::object()}});
  REQUIRE_FALSE(noname.ok());
  CHECK(noname.error().code == ErrorCode::Usage);
  fake->verify();
}

// The answers below are a 1.32 apiserver's, captured with curl on the kit's cluster.
TEST_CASE("writes ask for strict field validation; refused fields are an internal error naming them", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}, {"bogus", true}};
  fake->on("POST", "/api/v1/namespaces/ns/configmaps?fieldValidation=Strict", 400,
           status_json(400, "BadRequest",
                       "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown "
                       "field \"metadata.foo\", unknown field \"bogus\""));
  fake->on("PUT", "/api/v1/namespaces/ns/configmaps/c?fieldValidation=Strict", 400,
           status_json(400, "BadRequest",
                       "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: "
                       "duplicate field \"data.k\""));
  json invalid_patch = json::parse(status_json(
      422, "Invalid",
      " \"\" is invalid: patch: Invalid value: \"{\\\"apiVersion\\\":\\\"apps/v1\\\",\\\"spec\\\":{\\\"x\\\":1}}\": "
      "strict decoding error: unknown field \"spec.x\""));
  invalid_patch["details"] = {{"causes", json::array({{{"reason", "FieldValueInvalid"}, {"field", "patch"}}})}};
  fake->on("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d?fieldValidation=Strict", 422, invalid_patch.dump());
  // Server-side apply: a 500 without a reason, whatever fieldValidation says.
  fake->on("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d?fieldManager=wb&force=true&fieldValidation=Strict", 500,
           json{{"kind", "Status"},
                {"apiVersion", "v1"},
                {"metadata", json::object()},
                {"status", "Failure"},
                {"message",
                 "failed to create typed patch object (ns/d; apps/v1, Kind=Deployment): errors:\n"
                 "  .spec.template.spec.containers[name=\"c\"].cbogus: field not declared in schema\n"
                 "  .zzz: field not declared in schema"},
                {"code", 500}}
               .dump());

  auto client = make_client(config_with(), fake);
  auto made = client->create(types::ConfigMap, "ns", cm);
  REQUIRE_FALSE(made.ok());
  CHECK(made.error().code == ErrorCode::Failure);
  CHECK(util::exit_status(made.error().code) == 1);
  CHECK(made.error().http_status == 400);
  CHECK(made.error().message ==
        "internal error: the Kubernetes API refused the ConfigMap wb sent: unknown field \"metadata.foo\", unknown "
        "field \"bogus\"");
  CHECK(made.error().hint == "please report this as a bug");

  auto updated = client->update(types::ConfigMap, "ns", cm);
  REQUIRE_FALSE(updated.ok());
  CHECK(updated.error().message ==
        "internal error: the Kubernetes API refused the ConfigMap wb sent: duplicate field \"data.k\"");

  auto patched = client->merge_patch(types::Deployment, "ns", "d", json{{"spec", {{"x", 1}}}});
  REQUIRE_FALSE(patched.ok());
  CHECK(patched.error().code == ErrorCode::Failure);
  CHECK(patched.error().message ==
        "internal error: the Kubernetes API refused a patch wb sent: unknown field \"spec.x\"");

  auto applied = client->apply(types::Deployment, "ns", json{{"metadata", {{"name", "d"}}}}, true);
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().code == ErrorCode::Failure);
  CHECK(applied.error().http_status == 500);
  CHECK(applied.error().message ==
        "internal error: the Kubernetes API refused the Deployment wb applied: "
        ".spec.template.spec.containers[name=\"c\"].cbogus: field not declared in schema, .zzz: field not declared "
        "in schema");
  fake->verify();
}

TEST_CASE("watch parses events split across chunks, several per chunk, bookmarks", "[client][watch]") {
  auto fake = std::make_shared<FakeTransport>();
  std::string e1 = R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})";
  std::string e2 = R"({"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"12"}}})";
  std::string e3 = R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})";
  std::string e4 = R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"16"}}})";
  std::string all = e1 + "\n" + e2 + "\n" + e3 + "\n" + e4;  // the last one without a newline
  fake->stream(
      "/apis/apps/v1/namespaces/ns/deployments?watch=1&resourceVersion=10&allowWatchBookmarks=true&"
      "timeoutSeconds=30&labelSelector=app%3Dx",
      {all.substr(0, 7), all.substr(7, 60), all.substr(67, 150), all.substr(217)});
  auto client = make_client(config_with(), fake);
  WatchOptions o;
  o.resource_version = "10";
  o.label_selector = "app=x";
  o.timeout = std::chrono::seconds(30);
  std::vector<std::string> seen;
  auto r = client->watch(types::Deployment, "ns", o, [&](const WatchEvent& ev) {
    seen.push_back(ev.type + ":" + ev.object["metadata"]["resourceVersion"].get<std::string>());
    return true;
  });
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.ok());
  CHECK(seen == std::vector<std::string>{"ADDED:11", "MODIFIED:12", "BOOKMARK:15", "DELETED:16"});
  REQUIRE(fake->requests[0].timeout.has_value());
  CHECK(fake->requests[0].timeout->count() == 60000);
  fake->verify();
}

TEST_CASE("an error answer that never ends is one short line with its status", "[client][limits]") {
  RestConfig rc = config_with();
  rc.server = wb::test::TestServer::get().url("");
  auto client = make_client(rc);  // libcurl against the test server, whose 403 body never ends
  const auto start = std::chrono::steady_clock::now();
  auto r = client->raw("GET", "/endless/403", "", "");
  REQUIRE_FALSE(r);
  CHECK(r.error().http_status == 403);
  CHECK(r.error().message.size() < 400);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("a watch event longer than 16 MiB ends the watch, read in linear time", "[client][watch][limits]") {
  auto fake = std::make_shared<FakeTransport>();
  std::vector<std::string> chunks{R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})"
                                  "\n{\"type\":\"ADDED\",\"object\":{\"x\":\""};
  // 20 MiB of one event in 4 KiB pieces (each piece rescanning all before it would take minutes).
  for (int i = 0; i < 20 * 256; ++i) chunks.push_back(std::string(4096, 'x'));
  fake->stream("/api/v1/namespaces/ns/pods?watch=1&allowWatchBookmarks=true", std::move(chunks));
  auto client = make_client(config_with(), fake);
  int seen = 0;
  const auto start = std::chrono::steady_clock::now();
  auto r = client->watch(types::Pod, "ns", WatchOptions{}, [&](const WatchEvent&) {
    ++seen;
    return true;
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "the Kubernetes API sent a watch event larger than 16 MiB: not read further");
  CHECK(r.error().code == ErrorCode::Failure);  // not a broken stream to reconnect to
  CHECK(seen == 1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("watch: ERROR 410 is Conflict/410; on_event false stops cleanly; HTTP errors", "[client][watch]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->stream(
      "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=1&allowWatchBookmarks=true",
      {R"J({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (50)","reason":"Expired","code":410}})J"
       "\n"});
  fake->stream("/api/v1/namespaces/ns/pods?watch=1&allowWatchBookmarks=true",
               {R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                "\n"
                R"({"type":"ADDED","object":{"metadata":{"name":"b"}}})"
                "\n",
                R"({"type":"ADDED","object":{"metadata":{"name":"c"}}})"
                "\n"});
  fake->stream("/api/v1/namespaces/other/pods?watch=1&allowWatchBookmarks=true",
               {status_json(403, "Forbidden", "pods is forbidden: User \"alice\" cannot watch resource \"pods\"")},
               403);
  auto client = make_client(config_with(), fake);
  WatchOptions o;
  o.resource_version = "1";
  auto gone = client->watch(types::Pod, "ns", o, [](const WatchEvent&) { return true; });
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::Conflict);
  CHECK(gone.error().http_status == 410);
  CHECK(gone.error().message == "too old resource version: 1 (50)");

  int n = 0;
  auto stopped = client->watch(types::Pod, "ns", WatchOptions{}, [&](const WatchEvent&) { return ++n < 2; });
  CHECK(stopped.ok());
  CHECK(n == 2);

  auto denied = client->watch(types::Pod, "other", WatchOptions{}, [](const WatchEvent&) { return true; });
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::Auth);
  CHECK(denied.error().message == "pods is forbidden: User \"alice\" cannot watch resource \"pods\"");
  fake->verify();
}

TEST_CASE("list_watch: list, watch from its resourceVersion, reconnect, re-list on 410", "[client][watch]") {
  auto fake = std::make_shared<FakeTransport>();
  auto obj = [](const std::string& name, const std::string& rv) {
    return json{{"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
  };
  auto ev = [](const std::string& type, const json& o) { return json{{"type", type}, {"object", o}}.dump() + "\n"; };
  fake->on("GET", "/api/v1/namespaces/ns/pods?labelSelector=app%3Dx", 200,
           json{{"metadata", {{"resourceVersion", "100"}}}, {"items", {obj("a", "90"), obj("b", "95")}}}.dump());
  // First stream: one change and a bookmark, then the server ends it.
  fake->stream("/api/v1/namespaces/ns/pods?watch=1&resourceVersion=100&allowWatchBookmarks=true&labelSelector=app%3Dx",
               {ev("MODIFIED", obj("a", "101")) + ev("BOOKMARK", json{{"metadata", {{"resourceVersion", "120"}}}})});
  // Reconnect from the bookmark's version; the connection breaks.
  fake->fail("GET",
             "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=120&allowWatchBookmarks=true&labelSelector=app%3Dx",
             util::Error(ErrorCode::Unavailable, "connection reset"));
  // Retry: too old -> re-list.
  fake->stream("/api/v1/namespaces/ns/pods?watch=1&resourceVersion=120&allowWatchBookmarks=true&labelSelector=app%3Dx",
               {ev("ERROR", json{{"kind", "Status"}, {"code", 410}, {"message", "too old"}})});
  fake->on("GET", "/api/v1/namespaces/ns/pods?labelSelector=app%3Dx", 200,
           json{{"metadata", {{"resourceVersion", "200"}}}, {"items", {obj("a", "150"), obj("c", "160")}}}.dump());
  fake->stream("/api/v1/namespaces/ns/pods?watch=1&resourceVersion=200&allowWatchBookmarks=true&labelSelector=app%3Dx",
               {ev("DELETED", obj("c", "201"))});

  auto client = make_client(config_with(), fake, fast_options());
  WatchOptions o;
  o.label_selector = "app=x";
  std::vector<std::string> seen;
  auto r = client->list_watch(types::Pod, "ns", o, [&](const WatchEvent& e) {
    CHECK(e.object["kind"] == "Pod");
    CHECK(e.object["apiVersion"] == "v1");
    seen.push_back(e.type + ":" + e.object["metadata"]["name"].get<std::string>() + "@" +
                   e.object["metadata"]["resourceVersion"].get<std::string>());
    return seen.size() < 7;
  });
  INFO((r ? std::string() : r.error().message));
  INFO(Catch::Detail::stringify(seen));
  REQUIRE(r.ok());
  CHECK(seen == std::vector<std::string>{"ADDED:a@90", "ADDED:b@95", "MODIFIED:a@101", "MODIFIED:a@150", "ADDED:c@160",
                                         "DELETED:b@95", "DELETED:c@201"});
  fake->verify();
}

TEST_CASE("list_watch gives up after max_retries consecutive connection failures", "[client][watch]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/api/v1/namespaces/ns/pods", 200, R"({"metadata":{"resourceVersion":"7"},"items":[]})");
  for (int i = 0; i < 3; ++i)
    fake->fail("GET", "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=7&allowWatchBookmarks=true",
               util::Error(ErrorCode::Unavailable, "connection refused"));
  auto client = make_client(config_with(), fake, fast_options());
  auto r = client->list_watch(types::Pod, "ns", WatchOptions{}, [](const WatchEvent&) { return true; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Unavailable);
  CHECK(r.error().message == "cannot reach the Kubernetes API at https://k8s.test:6443: connection refused");
  fake->verify();
}

TEST_CASE("discovery and prefer", "[client][discovery]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/version", 200, R"({"major":"1","minor":"18+","gitVersion":"v1.18.20"})");
  fake->on("GET", "/api", 200, R"({"kind":"APIVersions","versions":["v1"]})");
  fake->on("GET", "/apis", 200, R"({"kind":"APIGroupList","groups":[
    {"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},
    {"name":"networking.k8s.io","versions":[{"groupVersion":"networking.k8s.io/v1","version":"v1"},{"groupVersion":"networking.k8s.io/v1beta1","version":"v1beta1"}],
     "preferredVersion":{"groupVersion":"networking.k8s.io/v1","version":"v1"}},
    {"name":"metrics.k8s.io","versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}]}]})");
  fake->on("GET", "/api/v1", 200, R"({"resources":[{"name":"pods"},{"name":"pods/log"},{"name":"services"}]})");
  fake->on("GET", "/apis/apps/v1", 200, R"({"resources":[{"name":"deployments"},{"name":"deployments/scale"}]})");
  fake->on("GET", "/apis/networking.k8s.io/v1", 200, R"({"resources":[{"name":"networkpolicies"}]})");
  fake->on("GET", "/apis/networking.k8s.io/v1beta1", 200, R"({"resources":[{"name":"ingresses"}]})");
  fake->on("GET", "/apis/metrics.k8s.io/v1beta1", 503, "service unavailable");
  auto client = make_client(config_with(), fake);
  auto d = client->discovery();
  REQUIRE(d.ok());
  CHECK(d->git_version == "v1.18.20");
  CHECK(d->major == 1);
  CHECK(d->minor == 18);
  CHECK(d->has("v1", "pods"));
  CHECK_FALSE(d->has("v1", "pods/log"));
  CHECK(d->has("apps/v1", "deployments"));
  CHECK(d->preferred_versions.at("networking.k8s.io") == "v1");
  CHECK(d->resources.count("metrics.k8s.io/v1beta1") == 0);
  // Cached: no more requests.
  REQUIRE(client->discovery().ok());
  auto ing = client->prefer({types::IngressV1, types::IngressV1beta1});
  REQUIRE(ing.ok());
  CHECK(ing->version == "v1beta1");
  auto none = client->prefer({types::IngressV1});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::NotFound);
  fake->verify();
}

TEST_CASE("prefer without full discovery fetches only the candidates' group versions", "[client][discovery]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/apis/networking.k8s.io/v1", 404, "404 page not found");
  fake->on("GET", "/apis/networking.k8s.io/v1beta1", 200, R"({"resources":[{"name":"ingresses"}]})");
  auto client = make_client(config_with(), fake);
  auto ing = client->prefer({types::IngressV1, types::IngressV1beta1});
  REQUIRE(ing.ok());
  CHECK(ing->api_version() == "networking.k8s.io/v1beta1");
  REQUIRE(client->prefer({types::IngressV1, types::IngressV1beta1}).ok());  // cached
  fake->verify();
}

TEST_CASE("pod_logs streams to the sink with LogOptions as query", "[client][logs]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->stream(
      "/api/v1/namespaces/ns/pods/web-1/log?container=app&follow=true&timestamps=true&sinceSeconds=60&"
      "tailLines=10&limitBytes=1000",
      {"line 1\nli", "ne 2\n", "line 3\n"});
  fake->stream("/api/v1/namespaces/ns/pods/web-2/log?previous=true", {"a\n", "b\n"});
  fake->stream("/api/v1/namespaces/ns/pods/gone/log", {status_json(404, "NotFound", "pods \"gone\" not found")}, 404);
  auto client = make_client(config_with(), fake);
  LogOptions o;
  o.container = "app";
  o.follow = true;
  o.timestamps = true;
  o.since_seconds = 60;
  o.tail_lines = 10;
  o.limit_bytes = 1000;
  std::string got;
  REQUIRE(client
              ->pod_logs("ns", "web-1", o,
                         [&](std::string_view s) {
                           got.append(s);
                           return true;
                         })
              .ok());
  CHECK(got == "line 1\nline 2\nline 3\n");
  LogOptions prev;
  prev.previous = true;
  int chunks = 0;
  REQUIRE(client->pod_logs("ns", "web-2", prev, [&](std::string_view) { return ++chunks < 1; }).ok());
  CHECK(chunks == 1);
  std::string none;
  auto r = client->pod_logs("ns", "gone", {}, [&](std::string_view s) {
    none.append(s);
    return true;
  });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::NotFound);
  CHECK(r.error().message == "pods \"gone\" not found");
  CHECK(none.empty());
  fake->verify();
}

TEST_CASE("the server's clock comes from the latest Date header", "[client][logs]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("GET", "/api/v1/namespaces/ns/pods/web-1").headers.add("Date", "Wed, 25 Nov 2026 18:00:00 GMT");
  fake->stream("/api/v1/namespaces/ns/pods/web-1/log?follow=true", {"a\n"})
      .headers.add("Date", "Wed, 25 Nov 2026 18:00:07 GMT");
  fake->stream("/api/v1/namespaces/ns/pods/web-1/log", {"a\n"});
  auto client = make_client(config_with(), fake);
  CHECK_FALSE(client->server_now());  // nothing heard yet
  REQUIRE(client->get(types::Pod, "ns", "web-1").ok());
  auto now = client->server_now();
  REQUIRE(now);
  // Our clock moved on a little since the answer: the estimate is that Date, at most a bit later.
  const auto date = *wb::http::parse_http_date("Wed, 25 Nov 2026 18:00:00 GMT");
  CHECK(*now >= date);
  CHECK(*now - date < std::chrono::seconds(5));
  // A stream's headers count too. A follow is never sent again by the transport by itself (the
  // caller resumes it from what it saw); a plain read may be.
  LogOptions follow;
  follow.follow = true;
  REQUIRE(client->pod_logs("ns", "web-1", follow, [](std::string_view) { return true; }).ok());
  CHECK(*client->server_now() - date >= std::chrono::seconds(7));
  REQUIRE(client->pod_logs("ns", "web-1", {}, [](std::string_view) { return true; }).ok());
  REQUIRE(fake->requests.size() == 3);
  CHECK(fake->requests[1].idempotent == std::optional<bool>(false));
  CHECK(fake->requests[1].fresh_connection);
  CHECK_FALSE(fake->requests[2].idempotent.has_value());
  CHECK_FALSE(fake->requests[2].fresh_connection);
  fake->verify();
}

TEST_CASE("raw: any method and path with auth and Status errors", "[client]") {
  auto fake = std::make_shared<FakeTransport>();
  fake->on("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", 201, R"({"status":{"allowed":true}})")
      .check = [](const http::Request& r) {
    CHECK(header(r, "Authorization") == "Bearer t0k3n");
    CHECK(header(r, "Content-Type") == "application/json");
  };
  fake->on("GET", "/healthz", 500, "healthz check failed");
  auto client = make_client(config_with(), fake);
  auto ok = client->raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "{}");
  REQUIRE(ok.ok());
  CHECK(ok->status == 201);
  auto bad = client->raw("GET", "/healthz");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::Unavailable);
  CHECK(bad.error().message == "the Kubernetes API failed (500 Internal Server Error): healthz check failed");
  fake->verify();
}

// ---------------------------------------------------------------------------------------------
// exec

namespace {

const std::string kExecPath =
    "/api/v1/namespaces/ns/pods/web-1/exec?command=sh&command=-c&command=echo%20hi%3B%20exit%203&container=app&"
    "stdin=true&stdout=true&stderr=true&tty=false";

ExecOptions exec_options() {
  ExecOptions o;
  o.container = "app";
  o.command = {"sh", "-c", "echo hi; exit 3"};
  o.stdin = true;
  return o;
}

}  // namespace

TEST_CASE("exec v5: demux, stdin frames, close_stdin [255,0], exit code", "[client][exec]") {
  auto fake = std::make_shared<FakeTransport>();
  auto ws = fake->websocket(kExecPath, "v5.channel.k8s.io");
  ws->incoming.push_back(binary(1, "hello "));
  ws->incoming.push_back(binary(2, "warning\n"));
  ws->incoming.push_back(binary(1, "world\n"));
  ws->incoming.push_back(binary(
      3,
      R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c echo hi; exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})"));
  auto client = make_client(config_with(), fake);
  std::string out, err;
  auto s = client->exec("ns", "web-1", exec_options(), append_to(out), append_to(err));
  REQUIRE(s.ok());
  CHECK(fake->offered_protocols == std::vector<std::string>{"v5.channel.k8s.io", "v4.channel.k8s.io"});
  CHECK(header(fake->requests[0], "Authorization") == "Bearer t0k3n");
  auto& session = *s;
  CHECK(session->protocol() == "v5.channel.k8s.io");
  REQUIRE(session->write_stdin("input").ok());
  REQUIRE(session->close_stdin().ok());
  REQUIRE(ws->sent.size() == 2);
  CHECK(ws->sent[0] == std::string("\0input", 6));
  CHECK(ws->sent[1] == std::string("\xff\x00", 2));
  auto r = session->wait();
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->failure_message.empty());
  CHECK(out == "hello world\n");
  CHECK(err == "warning\n");
  CHECK(ws->closed);
  fake->verify();
}

TEST_CASE("exec v4: success status; close_stdin is refused", "[client][exec]") {
  auto fake = std::make_shared<FakeTransport>();
  auto ws = fake->websocket(kExecPath, "v4.channel.k8s.io");
  ws->incoming.push_back(binary(1, "ok\n"));
  ws->incoming.push_back(binary(3, R"({"metadata":{},"status":"Success"})"));
  auto client = make_client(config_with(), fake);
  std::string out;
  auto s = client->exec("ns", "web-1", exec_options(), append_to(out), nullptr);
  REQUIRE(s.ok());
  CHECK((*s)->protocol() == "v4.channel.k8s.io");
  auto c = (*s)->close_stdin();
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message ==
        "the server speaks v4.channel.k8s.io, which cannot close stdin on its own; close the connection instead");
  CHECK(ws->sent.empty());
  auto r = (*s)->wait();
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(out == "ok\n");
  fake->verify();
}

TEST_CASE("exec: runtime failure, connection closing without status, open errors", "[client][exec]") {
  auto fake = std::make_shared<FakeTransport>();
  auto client = make_client(config_with(), fake);
  ExecOptions o;
  o.command = {"nope"};
  o.stdin = false;
  const std::string path =
      "/api/v1/namespaces/ns/pods/p/exec?command=nope&stdin=false&stdout=true&stderr=true&tty=false";

  SECTION("command not found") {
    auto ws = fake->websocket(path, "v5.channel.k8s.io");
    ws->incoming.push_back(binary(
        3,
        R"({"metadata":{},"status":"Failure","message":"OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown","reason":"InternalError","details":{"causes":[{"message":"OCI runtime exec failed"}]}})"));
    auto s = client->exec("ns", "p", o, nullptr, nullptr);
    REQUIRE(s.ok());
    auto r = (*s)->wait();
    REQUIRE(r.ok());
    CHECK(r->exit_code == -1);
    CHECK(r->failure_message ==
          "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file "
          "not found in $PATH: unknown");
  }
  SECTION("closed without status") {
    auto ws = fake->websocket(path, "v5.channel.k8s.io");
    ws->incoming.push_back(binary(1, "partial"));
    http::WsMessage close;
    close.kind = http::WsMessage::Kind::Close;
    close.close_code = 1006;
    ws->incoming.push_back(close);
    auto s = client->exec("ns", "p", o, nullptr, nullptr);
    REQUIRE(s.ok());
    auto r = (*s)->wait();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Unavailable);
    CHECK(r.error().message == "the connection to the pod closed before the command's exit status arrived");
  }
  SECTION("401 on the upgrade refreshes the credentials once") {
    auto src = std::make_shared<RotatingSource>();
    auto c2 = make_client(config_with(src), fake);
    fake->websocket_error(path, http::upgrade_refused_error(kServer, 401, "Unauthorized", ""));
    auto ws = fake->websocket(path, "v5.channel.k8s.io");
    auto s = c2->exec("ns", "p", o, nullptr, nullptr);
    REQUIRE(s.ok());
    CHECK(src->generation == 2);
    CHECK(header(fake->requests.back(), "Authorization") == "Bearer token-2");
  }
  SECTION("403 on the upgrade") {
    fake->websocket_error(path, http::upgrade_refused_error(
                                    kServer, 403, "Forbidden",
                                    status_json(403, "Forbidden",
                                                "pods \"p\" is forbidden: User \"alice\" cannot create "
                                                "resource \"pods/exec\" in API group \"\" in the namespace \"ns\"")));
    auto s = client->exec("ns", "p", o, nullptr, nullptr);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::Auth);
    CHECK(s.error().message ==
          "pods \"p\" is forbidden: User \"alice\" cannot create resource \"pods/exec\" in API group \"\" in the "
          "namespace \"ns\"");
    REQUIRE(s.error().detail<Forbidden>());
    CHECK(s.error().detail<Forbidden>()->user == "alice");
  }
  SECTION("an upgrade refused by a proxy without a body") {
    fake->websocket_error(path, http::upgrade_refused_error(kServer, 502, "Bad Gateway", ""));
    auto s = client->exec("ns", "p", o, nullptr, nullptr);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::Unavailable);
    CHECK(s.error().message == "the Kubernetes API failed (502 Bad Gateway): websocket upgrade refused by " + kServer +
                                   ": HTTP 502 Bad Gateway");
  }
  fake->verify();
}
