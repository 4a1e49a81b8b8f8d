// The registry client against Debian's real docker-registry (distribution 2.8), checked with skopeo.
#include <catch2/catch.hpp>

#include <algorithm>

#include "oci/registry_client.hpp"
#include "registry_fixture.hpp"
#include "util/encoding.hpp"

using namespace wb::oci;
using namespace wb::oci::test;
using wb::util::ErrorCode;

namespace {

bool have_tools() {
  static const bool ok = run_command({"sh", "-c", "command -v docker-registry && command -v skopeo"}).status == 0;
  if (!ok) WARN("docker-registry or skopeo not installed: skipping");
  return ok;
}

Reference R(const std::string& s) { return parse_reference(s).value(); }

RegistryOptions plain_options() {
  RegistryOptions o;
  if (getenv("WB_TEST_TRACE")) {
    o.http.verbosity = 2;
    o.http.trace = [](std::string_view l) { fprintf(stderr, "%.*s\n", int(l.size()), l.data()); };
  }
  o.upload_retry_delay = std::chrono::milliseconds(50);
  o.http.retry_base_delay = std::chrono::milliseconds(20);
  return o;
}

RegistryOptions tls_options(const RegistryServer& reg, const std::string& password) {
  RegistryOptions o = plain_options();
  o.http.tls.ca_file = reg.ca_file();
  std::string user = reg.user();
  o.credentials = [user, password](const std::string&, const std::string&) -> wb::util::Result<Credentials> {
    Credentials c;
    c.username = user;
    c.password = password;
    c.source = "WB_REGISTRY_USER";
    return c;
  };
  return o;
}

std::string config_json(const std::vector<std::string>& diff_ids) {
  json c = {{"architecture", "amd64"},
            {"os", "linux"},
            {"config", {{"Env", {"PATH=/usr/bin"}}, {"Cmd", {"java", "-jar", "/app/app.jar"}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  return c.dump();
}

std::string manifest_json(const std::string& type, const Descriptor& config, const std::vector<Descriptor>& layers) {
  const bool oci = type == media::kOciManifest;
  json m = {{"schemaVersion", 2}, {"mediaType", type}};
  Descriptor c = config;
  c.media_type = oci ? media::kOciConfig : media::kDockerConfig;
  m["config"] = c.to_json();
  m["layers"] = json::array();
  for (Descriptor l : layers) {
    l.media_type = oci ? media::kOciLayerGzip : media::kDockerLayerGzip;
    m["layers"].push_back(l.to_json());
  }
  return m.dump();
}

struct Pushed {
  std::string manifest;
  std::string digest;
  std::vector<Descriptor> layers;
};

// Pushes layers (from memory, as re-openable sources), the config, then the manifest: the order
// a real push keeps so that a failure never leaves a tag on a partial image.
wb::util::Result<Pushed> push_image(Registry& reg, const Reference& ref, const std::vector<std::string>& layers,
                                    const std::string& type = media::kOciManifest) {
  Pushed p;
  std::vector<std::string> diff_ids;
  for (const std::string& data : layers) {
    WB_ASSIGN_OR_RETURN(Descriptor d, put_blob_data(reg, ref, data, media::kOciLayerGzip));
    p.layers.push_back(d);
    diff_ids.push_back(d.digest);
  }
  WB_ASSIGN_OR_RETURN(Descriptor config, put_blob_data(reg, ref, config_json(diff_ids), media::kOciConfig));
  p.manifest = manifest_json(type, config, p.layers);
  WB_ASSIGN_OR_RETURN(p.digest, reg.put_manifest(ref, p.manifest, type));
  return p;
}

std::string blob_digest_by_get(Registry& reg, const Reference& repo, const std::string& digest) {
  wb::util::Sha256 h;
  auto st = reg.get_blob(repo, digest, [&](std::string_view c) {
    h.update(c);
    return true;
  });
  if (!st) return "error: " + st.error().message;
  return "sha256:" + h.hex_digest();
}

CommandResult skopeo(const std::vector<std::string>& args) {
  std::vector<std::string> a{"skopeo", "--insecure-policy"};
  a.insert(a.end(), args.begin(), args.end());
  return run_command(a);
}

}  // namespace

TEST_CASE("real registry: monolithic and chunked pushes, manifests read by skopeo", "[registry]") {
  if (!have_tools()) return;
  RegistryServer server;
  RegistryOptions o = plain_options();
  o.chunk_size = 5 << 20;
  o.monolithic_max = 5 << 20;
  int patches_seen = 0;
  o.http.verbosity = 1;
  o.http.trace = [&](std::string_view line) {
    if (line.rfind("> PATCH", 0) == 0) ++patches_seen;
  };
  auto client = make_registry_client(o);
  const Reference ref = R(server.host() + "/shop/orders:1.0");

  const std::string small = random_bytes(3000, 11);
  const std::string big = random_bytes(25 << 20, 12);
  auto pushed = push_image(*client, ref, {small, big});
  REQUIRE(pushed.ok());
  CHECK(patches_seen == 5);  // 25 MB in 5 MB chunks; the small layer and the config went in one PUT
  // What the registry stored is exactly what we sent (it does not check Content-Range itself).
  CHECK(blob_digest_by_get(*client, ref, pushed->layers[0].digest) == digest_of(small));
  CHECK(blob_digest_by_get(*client, ref, pushed->layers[1].digest) == digest_of(big));
  CHECK(pushed->layers[1].size == (25 << 20));

  auto raw = skopeo({"inspect", "--raw", "--tls-verify=false", "docker://" + ref.str()});
  INFO(raw.output);
  REQUIRE(raw.status == 0);
  CHECK(raw.output == pushed->manifest);
  auto cfg = skopeo({"inspect", "--config", "--tls-verify=false", "docker://" + ref.str()});
  INFO(cfg.output);
  REQUIRE(cfg.status == 0);
  json config = json::parse(cfg.output);
  CHECK(config["rootfs"]["diff_ids"][1] == digest_of(big));
  CHECK(config["config"]["Cmd"][0] == "java");

  // The client reads them back too.
  auto m = client->get_manifest(ref);
  REQUIRE(m.ok());
  CHECK(m->bytes == pushed->manifest);
  CHECK(m->media_type == media::kOciManifest);
  CHECK(m->digest == pushed->digest);
  auto head = client->head_manifest(ref);
  REQUIRE(head.ok());
  CHECK(head->digest == pushed->digest);
  auto by_digest = client->get_manifest(R(ref.with_digest(pushed->digest)));
  REQUIRE(by_digest.ok());

  // Docker media types under another tag.
  const Reference docker_ref = R(server.host() + "/shop/orders:docker");
  auto docker = push_image(*client, docker_ref, {small}, media::kDockerManifest);
  REQUIRE(docker.ok());
  auto raw2 = skopeo({"inspect", "--raw", "--tls-verify=false", "docker://" + docker_ref.str()});
  REQUIRE(raw2.status == 0);
  CHECK(json::parse(raw2.output)["mediaType"] == media::kDockerManifest);
  auto dm = client->get_manifest(docker_ref);
  REQUIRE(dm.ok());
  CHECK(dm->media_type == media::kDockerManifest);

  // A second push finds every blob present (HEAD) and can skip them.
  for (const Descriptor& l : pushed->layers) CHECK(client->has_blob(ref, l.digest).value());
  CHECK_FALSE(client->has_blob(ref, digest_of("never pushed")).value());

  // Unknown things are NotFound in words.
  auto missing = client->get_manifest(R(server.host() + "/shop/orders:nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::NotFound);
  CHECK_THAT(missing.error().message, Catch::Contains("shop/orders:nope not found"));
  auto no_repo = client->get_manifest(R(server.host() + "/no/such:1"));
  REQUIRE_FALSE(no_repo.ok());
  CHECK(no_repo.error().code == ErrorCode::NotFound);

  // Cross-repository mount: 201 from another repository, false (202, cancelled) for unknown blobs.
  const Reference other = R(server.host() + "/shop/billing");
  auto mounted = client->mount_blob(other, pushed->layers[1].digest, "shop/orders");
  REQUIRE(mounted.ok());
  CHECK(*mounted);
  CHECK(client->has_blob(other, pushed->layers[1].digest).value());
  auto not_mounted = client->mount_blob(other, digest_of("unknown"), "shop/orders");
  REQUIRE(not_mounted.ok());
  CHECK_FALSE(*not_mounted);

  // Delete by digest removes the tag.
  REQUIRE(client->delete_manifest(R(ref.with_digest(pushed->digest))).ok());
  auto gone = client->get_manifest(ref);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::NotFound);
}

TEST_CASE("real registry: unknown-size stream is hashed while uploading", "[registry]") {
  if (!have_tools()) return;
  RegistryServer server;
  RegistryOptions o = plain_options();
  o.chunk_size = 1 << 20;
  o.monolithic_max = 1 << 20;
  auto client = make_registry_client(o);
  const Reference ref = R(server.host() + "/stream/app");
  const std::string data = random_bytes((3 << 20) + 12345, 13);
  size_t pos = 0;
  wb::http::BodyReader reader = [&](char* buf, size_t n) -> wb::util::Result<size_t> {
    size_t k = std::min<size_t>({n, data.size() - pos, 100000});
    std::memcpy(buf, data.data() + pos, k);
    pos += k;
    return k;
  };
  auto d = client->put_blob(ref, reader, -1, "", media::kOciLayerGzip);
  REQUIRE(d.ok());
  CHECK(d->digest == digest_of(data));
  CHECK(blob_digest_by_get(*client, ref, d->digest) == digest_of(data));

  // An empty blob works too.
  auto empty = put_blob_data(*client, ref, "", media::kOciLayer);
  REQUIRE(empty.ok());
  CHECK(empty->digest == digest_of(""));
  CHECK(client->has_blob(ref, empty->digest).value());
}

TEST_CASE("real registry: TLS with a custom CA and htpasswd (Basic) auth", "[registry]") {
  if (!have_tools()) return;
  RegistryServer server(true);
  const Reference ref = R(server.host() + "/shop/orders:tls");

  auto client = make_registry_client(tls_options(server, server.password()));
  auto pushed = push_image(*client, ref, {random_bytes(5000, 21)});
  INFO(server.log());
  REQUIRE(pushed.ok());
  auto raw = skopeo({"inspect", "--raw", "--tls-verify=false",
                     "--creds", server.user() + ":" + server.password(), "docker://" + ref.str()});
  INFO(raw.output);
  REQUIRE(raw.status == 0);
  CHECK(raw.output == pushed->manifest);
  auto m = client->get_manifest(ref);
  REQUIRE(m.ok());
  CHECK(m->digest == pushed->digest);

  // Wrong password: an Auth error in words.
  auto wrong = make_registry_client(tls_options(server, "wrong"));
  auto r = push_image(*wrong, ref, {"x"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Auth);
  CHECK_THAT(r.error().message,
             Catch::Contains("registry " + server.host() + " refused your credentials for shop/orders (push)"));
  CHECK_THAT(r.error().hint, Catch::Contains("WB_REGISTRY_USER/WB_REGISTRY_PASSWORD"));

  // No credentials at all.
  RegistryOptions anon = plain_options();
  anon.http.tls.ca_file = server.ca_file();
  auto a = make_registry_client(anon)->get_manifest(ref);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == ErrorCode::Auth);
  CHECK_THAT(a.error().message, Catch::Contains("requires you to log in to pull shop/orders"));

  // Without the CA the certificate is refused (no silent fallback to plain HTTP) ...
  RegistryOptions no_ca = tls_options(server, server.password());
  no_ca.http.tls.ca_file.clear();
  auto t = make_registry_client(no_ca)->get_manifest(ref);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.error().message, Catch::Contains("certificate"));
  // ... unless the registry is marked insecure.
  no_ca.insecure_registries = {server.host()};
  auto ok = make_registry_client(no_ca)->get_manifest(ref);
  REQUIRE(ok.ok());
}

TEST_CASE("real registry: pushes survive connections cut mid-body", "[registry]") {
  if (!have_tools()) return;
  RegistryServer server;
  RegistryOptions o = plain_options();
  o.chunk_size = 5 << 20;
  o.monolithic_max = 1 << 20;

  SECTION("a chunk cut after 3 MB") {
    PythonServer proxy("cutproxy.py", {"--target", server.host(), "--cut-after", std::to_string(3 << 20)});
    auto client = make_registry_client(o);
    const Reference ref = R(proxy.host() + "/cut/app:1");
    const std::string data = random_bytes(12 << 20, 31);
    auto pushed = push_image(*client, ref, {data});
    INFO(proxy.log());
    INFO((pushed.ok() ? "" : pushed.error().message));
    REQUIRE(pushed.ok());
    CHECK_THAT(proxy.log(), Catch::Contains("CUT PATCH"));
    CHECK(blob_digest_by_get(*client, ref, digest_of(data)) == digest_of(data));
    auto raw = skopeo({"inspect", "--raw", "--tls-verify=false", "docker://" + server.host() + "/cut/app:1"});
    CHECK(raw.status == 0);
  }
  SECTION("a streamed PATCH cut after 3 MB goes on where the registry stands") {
    PythonServer proxy("cutproxy.py", {"--target", server.host(), "--cut-after", std::to_string(3 << 20)});
    o.stream_uploads = true;
    auto client = make_registry_client(o);
    const Reference ref = R(proxy.host() + "/cut/stream:1");
    const std::string data = random_bytes(12 << 20, 34);
    auto pushed = push_image(*client, ref, {data});
    INFO(proxy.log());
    INFO((pushed.ok() ? "" : pushed.error().message));
    REQUIRE(pushed.ok());
    CHECK_THAT(proxy.log(), Catch::Contains("CUT PATCH"));
    CHECK(blob_digest_by_get(*client, ref, digest_of(data)) == digest_of(data));
    auto raw = skopeo({"inspect", "--raw", "--tls-verify=false", "docker://" + server.host() + "/cut/stream:1"});
    CHECK(raw.status == 0);
  }
  SECTION("a monolithic PUT cut after 100 kB") {
    PythonServer proxy("cutproxy.py", {"--target", server.host(), "--cut-after", "100000", "--methods", "PUT"});
    auto client = make_registry_client(o);
    const Reference ref = R(proxy.host() + "/cut/mono:1");
    const std::string data = random_bytes(500000, 32);
    auto d = put_blob_data(*client, ref, data, media::kOciLayerGzip);
    INFO(proxy.log());
    INFO((d.ok() ? "" : d.error().message));
    REQUIRE(d.ok());
    CHECK_THAT(proxy.log(), Catch::Contains("CUT PUT"));
    CHECK(blob_digest_by_get(*client, ref, d->digest) == digest_of(data));
  }
  SECTION("a push that keeps failing leaves no tag") {
    PythonServer proxy("cutproxy.py", {"--target", server.host(), "--cut-after", "1000", "--cuts", "-1"});
    o.upload_attempts = 3;
    auto client = make_registry_client(o);
    const Reference ref = R(proxy.host() + "/cut/fails:1");
    auto pushed = push_image(*client, ref, {random_bytes(2 << 20, 33)});
    REQUIRE_FALSE(pushed.ok());
    CHECK(pushed.error().code == ErrorCode::Unavailable);
    auto raw = skopeo({"inspect", "--raw", "--tls-verify=false", "docker://" + server.host() + "/cut/fails:1"});
    CHECK(raw.status != 0);
  }
}

TEST_CASE("real registry: bearer token flow through a token-auth front", "[registry]") {
  if (!have_tools()) return;
  RegistryServer server;
  PythonServer front("tokenauth.py", {"--target", server.host(), "--user", "robot$ci", "--password", "t0k$n",
                                      "--anonymous-pull"});
  RegistryOptions o = plain_options();
  o.chunk_size = 1 << 20;
  o.monolithic_max = 1 << 20;
  o.credentials = [](const std::string&, const std::string&) -> wb::util::Result<Credentials> {
    Credentials c;
    c.username = "robot$ci";
    c.password = "t0k$n";
    return c;
  };
  auto client = make_registry_client(o);
  const Reference ref = R(front.host() + "/shop/orders:bearer");
  auto pushed = push_image(*client, ref, {random_bytes(3 << 20, 41), random_bytes(1000, 42)});
  INFO(front.log());
  INFO((pushed.ok() ? "" : pushed.error().message));
  REQUIRE(pushed.ok());
  CHECK_THAT(front.log(), Catch::Contains("TOKEN robot$ci repository:shop/orders:pull,push service=tokenauth"));
  // One token covers the whole push.
  size_t tokens = 0;
  for (size_t p = front.log().find("TOKEN "); p != std::string::npos; p = front.log().find("TOKEN ", p + 1)) ++tokens;
  CHECK(tokens == 1);
  auto raw = skopeo({"inspect", "--raw", "--tls-verify=false", "docker://" + server.host() + "/shop/orders:bearer"});
  REQUIRE(raw.status == 0);
  CHECK(raw.output == pushed->manifest);

  // Mount from another repository asks for pull on the source in the same token.
  auto mounted = client->mount_blob(R(front.host() + "/shop/billing"), pushed->layers[0].digest, "shop/orders");
  REQUIRE(mounted.ok());
  CHECK(*mounted);
  CHECK_THAT(front.log(), Catch::Contains("repository:shop/billing:pull,push repository:shop/orders:pull"));

  // Anonymous: pull works with an anonymous token; push is refused in words.
  RegistryOptions anon = plain_options();
  auto a = make_registry_client(anon);
  auto m = a->get_manifest(ref);
  REQUIRE(m.ok());
  CHECK(m->bytes == pushed->manifest);
  auto denied = put_blob_data(*a, ref, "x", media::kOciLayer);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::Auth);
  CHECK_THAT(denied.error().message, Catch::Contains("requires you to log in to push shop/orders"));

  // Wrong password: the token service refuses.
  RegistryOptions bad = o;
  bad.credentials = [](const std::string&, const std::string&) -> wb::util::Result<Credentials> {
    Credentials c;
    c.username = "robot$ci";
    c.password = "nope";
    c.source = "/root/.docker/config.json";
    return c;
  };
  auto w = make_registry_client(bad)->get_manifest(ref);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == ErrorCode::Auth);
  CHECK_THAT(w.error().message, Catch::Contains("refused your credentials for shop/orders (pull)"));
  CHECK_THAT(w.error().message, Catch::Contains("[credentials from /root/.docker/config.json]"));
}

// Distribution 2.8 answers the tag list in one page whatever `n` asks (paging came with 3.0 and
// Harbor; the fake registry's tests cover following Link pages): here the list must be whole.
TEST_CASE("real registry: tag listing, delete by digest takes every tag", "[registry]") {
  if (!have_tools()) return;
  RegistryServer server;
  RegistryOptions o = plain_options();
  o.tag_page_size = 2;
  int pages = 0;
  o.http.verbosity = 1;
  o.http.trace = [&](std::string_view line) {
    if (line.rfind("> GET", 0) == 0 && line.find("/tags/list") != std::string_view::npos) ++pages;
  };
  auto client = make_registry_client(o);
  const Reference repo = R(server.host() + "/shop/orders");
  CHECK(client->list_tags(repo).value().empty());  // not pushed yet: NAME_UNKNOWN is an empty list

  std::vector<std::string> digests;
  for (int i = 1; i <= 3; ++i) {
    auto pushed = push_image(*client, R(repo.name() + ":v" + std::to_string(i)), {random_bytes(100, 40 + i)});
    REQUIRE(pushed.ok());
    digests.push_back(pushed->digest);
  }
  // Two more tags on v3's manifest.
  auto v3 = client->get_manifest(R(repo.name() + ":v3"));
  REQUIRE(v3.ok());
  for (const char* t : {"latest", "stable"}) REQUIRE(client->put_manifest(R(repo.name() + ":" + t), v3->bytes, v3->media_type).ok());

  pages = 0;
  auto tags = client->list_tags(repo);
  REQUIRE(tags.ok());
  std::vector<std::string> sorted = *tags;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<std::string>{"latest", "stable", "v1", "v2", "v3"});
  CHECK(pages >= 1);
  auto listed = skopeo({"list-tags", "--tls-verify=false", "docker://" + repo.name()});
  REQUIRE(listed.status == 0);
  CHECK(json::parse(listed.output)["Tags"].size() == 5);

  REQUIRE(client->delete_manifest(R(repo.with_digest(digests[2]))).ok());
  tags = client->list_tags(repo);
  REQUIRE(tags.ok());
  sorted = *tags;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<std::string>{"v1", "v2"});
  listed = skopeo({"list-tags", "--tls-verify=false", "docker://" + repo.name()});
  REQUIRE(listed.status == 0);
  CHECK(json::parse(listed.output)["Tags"] == json::array({"v1", "v2"}));
  auto again = client->delete_manifest(R(repo.with_digest(digests[2])));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::NotFound);
}
