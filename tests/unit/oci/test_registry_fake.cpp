// The registry client against an in-memory fake registry: auth flows, upload offsets, retries,
// error wording.
#include <catch2/catch.hpp>

#include "fake_registry.hpp"
#include "oci/registry_client.hpp"
#include "oci_test_util.hpp"

using namespace wb::oci;
using wb::oci::test::FakeRegistry;
using wb::oci::test::random_bytes;
using wb::util::ErrorCode;

namespace {

RegistryOptions options_for(FakeRegistry& fake, bool with_credentials = true) {
  RegistryOptions o;
  o.transport_factory = [&fake](const wb::http::ClientOptions&) { return fake.transport(); };
  if (with_credentials) {
    o.credentials = [&fake](const std::string&, const std::string&) -> wb::util::Result<Credentials> {
      Credentials c;
      c.username = fake.user;
      c.password = fake.password;
      c.source = "test";
      return c;
    };
  }
  o.upload_retry_delay = std::chrono::milliseconds(1);
  return o;
}

Reference R(const std::string& s) { return parse_reference(s).value(); }

std::string fetch_blob(Registry& r, const Reference& repo, const std::string& digest) {
  std::string out;
  auto st = r.get_blob(repo, digest, [&](std::string_view c) {
    out.append(c);
    return true;
  });
  REQUIRE(st.ok());
  return out;
}

int count(const FakeRegistry& f, const std::string& method) {
  int n = 0;
  for (const auto& s : f.seen)
    if (s.method == method && s.url.find("auth.example.com") == std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("registry client: WWW-Authenticate parsing") {
  auto cs = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push")");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].scheme == "bearer");
  CHECK(cs[0].params["realm"] == "https://auth.docker.io/token");
  CHECK(cs[0].params["service"] == "registry.docker.io");
  CHECK(cs[0].params["scope"] == "repository:a/b:pull,push");

  cs = parse_www_authenticate(R"(Basic realm="basic-realm")");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].scheme == "basic");
  CHECK(cs[0].params["realm"] == "basic-realm");

  cs = parse_www_authenticate(R"(Basic realm="a, \"b\"", Bearer realm=https://t.example/tok, service=svc ,scope="x:y:pull")");
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].params["realm"] == "a, \"b\"");
  CHECK(cs[1].scheme == "bearer");
  CHECK(cs[1].params["realm"] == "https://t.example/tok");
  CHECK(cs[1].params["service"] == "svc");
  CHECK(cs[1].params["scope"] == "x:y:pull");

  CHECK(parse_www_authenticate("").empty());
  cs = parse_www_authenticate("Bearer");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].params.empty());
}

TEST_CASE("registry client: URLs, hosts and error summaries") {
  CHECK(resolve_location("https://r.example/v2/a/blobs/uploads/", "https://other/x?_state=1") == "https://other/x?_state=1");
  CHECK(resolve_location("https://r.example:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u1?_state=z") ==
        "https://r.example:5000/v2/a/blobs/uploads/u1?_state=z");
  CHECK(resolve_location("http://r.example/v2/a/blobs/uploads/?x=1", "u2") == "http://r.example/v2/a/blobs/uploads/u2");
  CHECK(append_query("https://r/v2/x?_state=abc%3D", "digest", "sha256:00") ==
        "https://r/v2/x?_state=abc%3D&digest=sha256%3A00");
  CHECK(append_query("https://r/v2/x", "digest", "sha256:00") == "https://r/v2/x?digest=sha256%3A00");
  CHECK(append_query("https://r/v2/x?", "a", "b") == "https://r/v2/x?a=b");

  CHECK(registry_api_host("docker.io") == "registry-1.docker.io");
  CHECK(registry_api_host("127.0.0.1:5000") == "127.0.0.1:5000");
  CHECK(is_loopback_registry("127.0.0.1:5000"));
  CHECK(is_loopback_registry("127.1.2.3"));
  CHECK(is_loopback_registry("localhost:5000"));
  CHECK(is_loopback_registry("[::1]:5000"));
  CHECK_FALSE(is_loopback_registry("127.example.com"));
  CHECK_FALSE(is_loopback_registry("10.0.0.1:5000"));

  CHECK(summarize_registry_errors(
            R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]})") ==
        R"(NAME_UNKNOWN: repository name not known to registry ({"name":"x"}))");
  CHECK(summarize_registry_errors(R"({"errors":[{"code":"A","message":"a"},{"code":"B"}]})") == "A: a; B");
  CHECK(summarize_registry_errors("<html>") == "");
}

TEST_CASE("registry client: bearer token flow with scopes and caching") {
  FakeRegistry fake;
  fake.auth = FakeRegistry::Auth::Bearer;
  auto client = make_registry_client(options_for(fake));
  const Reference repo = R("registry.example.com/shop/orders:1.0");

  const std::string data = random_bytes(1000, 1);
  auto d = put_blob_data(*client, repo, data, media::kOciLayerGzip);
  REQUIRE(d.ok());
  CHECK(d->digest == digest_of(data));
  CHECK(d->size == 1000);
  CHECK(fake.blobs.at(d->digest) == data);

  // Token requests carry the service, the push scope and Basic credentials.
  std::vector<std::string> token_urls;
  for (const auto& s : fake.seen)
    if (s.url.rfind(fake.realm, 0) == 0) {
      token_urls.push_back(s.url);
      CHECK(s.authorization == "Basic " + wb::util::base64_encode("robot$ci:s3cret"));
    }
  REQUIRE(token_urls.size() == 1);
  CHECK_THAT(token_urls[0], Catch::Contains("service=registry.example.com"));
  CHECK_THAT(token_urls[0], Catch::Contains("scope=repository%3Ashop%2Forders%3Apull%2Cpush"));

  // The pull,push token is reused for pulls of the same repository.
  CHECK(client->has_blob(repo, d->digest).value());
  CHECK(fetch_blob(*client, repo, d->digest) == data);
  CHECK(fake.tokens_issued == 1);

  // Another repository needs another token.
  CHECK(client->has_blob(R("registry.example.com/other/app"), d->digest).ok());
  CHECK(fake.tokens_issued == 2);

  // Requests after the ping carry the bearer token.
  for (const auto& s : fake.seen)
    if (s.url.find("/blobs/") != std::string::npos) CHECK(s.authorization.rfind("Bearer tok-", 0) == 0);

  // Expired/revoked token: the 401 is answered with a fresh token, once.
  fake.token_scopes.clear();
  CHECK(client->has_blob(repo, d->digest).value());
  CHECK(fake.tokens_issued == 3);
}

TEST_CASE("registry client: mount requests a pull scope on the source repository") {
  FakeRegistry fake;
  fake.auth = FakeRegistry::Auth::Bearer;
  auto client = make_registry_client(options_for(fake));
  const std::string data = random_bytes(100, 2);
  auto d = put_blob_data(*client, R("registry.example.com/base/jre"), data, media::kOciLayerGzip);
  REQUIRE(d.ok());
  auto mounted = client->mount_blob(R("registry.example.com/shop/orders"), d->digest, "base/jre");
  REQUIRE(mounted.ok());
  CHECK(*mounted);
  bool saw_from_scope = false;
  for (const auto& s : fake.seen)
    if (s.url.find("scope=repository%3Abase%2Fjre%3Apull&") != std::string::npos ||
        (s.url.find(fake.realm) == 0 && s.url.find("repository%3Abase%2Fjre%3Apull") != std::string::npos &&
         s.url.find("repository%3Ashop%2Forders%3Apull%2Cpush") != std::string::npos))
      saw_from_scope = true;
  CHECK(saw_from_scope);

  // 202: the registry opened a session instead; it is cancelled.
  auto not_mounted = client->mount_blob(R("registry.example.com/shop/orders"), d->digest, "no/mount");
  REQUIRE(not_mounted.ok());
  CHECK_FALSE(*not_mounted);
  CHECK(fake.uploads.empty());
  CHECK(count(fake, "DELETE") == 1);
}

TEST_CASE("registry client: anonymous pull token, refused push in words") {
  FakeRegistry fake;
  fake.auth = FakeRegistry::Auth::Bearer;
  fake.anonymous_pull = true;
  fake.manifests["library/busybox@latest"] = {R"({"schemaVersion":2})", media::kOciManifest};
  auto client = make_registry_client(options_for(fake, false));
  auto m = client->get_manifest(R("registry.example.com/library/busybox:latest"));
  REQUIRE(m.ok());
  CHECK(m->media_type == media::kOciManifest);
  CHECK(m->digest == digest_of(R"({"schemaVersion":2})"));

  auto pushed = put_blob_data(*client, R("registry.example.com/library/busybox"), "x", media::kOciLayer);
  REQUIRE_FALSE(pushed.ok());
  CHECK(pushed.error().code == ErrorCode::Auth);
  CHECK_THAT(pushed.error().message, Catch::Contains("requires you to log in to push library/busybox"));
}

TEST_CASE("registry client: wrong password is an Auth error in words (bearer and basic)") {
  for (auto mode : {FakeRegistry::Auth::Bearer, FakeRegistry::Auth::Basic}) {
    FakeRegistry fake;
    fake.auth = mode;
    RegistryOptions o = options_for(fake, false);
    o.credentials = [](const std::string&, const std::string&) -> wb::util::Result<Credentials> {
      Credentials c;
      c.username = "robot$ci";
      c.password = "wrong";
      c.source = "WB_REGISTRY_USER";
      return c;
    };
    auto client = make_registry_client(o);
    auto r = put_blob_data(*client, R("registry.example.com/shop/orders"), "x", media::kOciLayer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Auth);
    CHECK_THAT(r.error().message,
               Catch::Contains("registry registry.example.com refused your credentials for shop/orders (push)"));
    CHECK_THAT(r.error().hint, Catch::Contains("podman login registry.example.com"));
    CHECK_THAT(r.error().hint, Catch::Contains("WB_REGISTRY_USER/WB_REGISTRY_PASSWORD"));
  }
}

TEST_CASE("registry client: basic auth sends credentials after the challenge") {
  FakeRegistry fake;
  fake.auth = FakeRegistry::Auth::Basic;
  auto client = make_registry_client(options_for(fake));
  auto d = put_blob_data(*client, R("registry.example.com/shop/orders"), "hello", media::kOciLayer);
  REQUIRE(d.ok());
  for (size_t i = 1; i < fake.seen.size(); ++i)
    CHECK(fake.seen[i].authorization == "Basic " + wb::util::base64_encode("robot$ci:s3cret"));
}

TEST_CASE("registry client: monolithic and chunked uploads send correct offsets") {
  for (bool relative : {false, true}) {
    FakeRegistry fake;
    fake.relative_urls = relative;
    RegistryOptions o = options_for(fake);
    o.chunk_size = 1000;
    o.monolithic_max = 1500;
    std::vector<int64_t> progress;
    o.on_upload_progress = [&](const std::string&, int64_t done, int64_t) { progress.push_back(done); };
    auto client = make_registry_client(o);
    const Reference repo = R("registry.example.com/shop/orders");

    // Small: POST + one PUT with the body.
    const std::string small = random_bytes(1500, 3);
    REQUIRE(put_blob_data(*client, repo, small, media::kOciLayer).ok());
    CHECK(count(fake, "PATCH") == 0);
    CHECK(fake.seen.back().method == "PUT");
    CHECK(fake.seen.back().content_type == "application/octet-stream");
    CHECK(fake.seen.back().body_size == 1500);
    CHECK_THAT(fake.seen.back().url, Catch::Contains("_state="));
    CHECK_THAT(fake.seen.back().url, Catch::Contains("&digest=sha256%3A"));

    // Bigger, unknown digest, unknown size: PATCH chunks then PUT.
    fake.seen.clear();
    progress.clear();
    const std::string big = random_bytes(4321, 4);
    size_t pos = 0;
    wb::http::BodyReader reader = [&](char* buf, size_t n) -> wb::util::Result<size_t> {
      size_t k = std::min<size_t>({n, big.size() - pos, 700});  // short reads
      std::memcpy(buf, big.data() + pos, k);
      pos += k;
      return k;
    };
    auto d = client->put_blob(repo, reader, -1, "", media::kOciLayerGzip);
    REQUIRE(d.ok());
    CHECK(d->digest == digest_of(big));
    CHECK(d->size == 4321);
    CHECK(fake.blobs.at(d->digest) == big);
    std::vector<std::string> ranges;
    for (const auto& s : fake.seen)
      if (s.method == "PATCH") {
        ranges.push_back(s.content_range);
        CHECK(s.content_type == "application/octet-stream");
      }
    CHECK(ranges == std::vector<std::string>{"0-999", "1000-1999", "2000-2999", "3000-3999", "4000-4320"});
    CHECK(progress == std::vector<int64_t>{1000, 2000, 3000, 4000, 4321, 4321});
  }
}

TEST_CASE("registry client: known size above the monolithic limit goes chunked; mismatches are caught") {
  FakeRegistry fake;
  RegistryOptions o = options_for(fake);
  o.chunk_size = 1000;
  o.monolithic_max = 100;
  auto client = make_registry_client(o);
  const Reference repo = R("registry.example.com/shop/orders");
  const std::string data = random_bytes(2500, 5);
  auto d = put_blob_data(*client, repo, data, media::kOciLayer);
  REQUIRE(d.ok());
  CHECK(count(fake, "PATCH") == 3);

  // Wrong known digest: refused before the final PUT.
  auto opener = [&]() -> wb::util::Result<wb::http::BodyReader> {
    auto off = std::make_shared<size_t>(0);
    return wb::http::BodyReader([&, off](char* b, size_t n) -> wb::util::Result<size_t> {
      size_t k = std::min(n, data.size() - *off);
      std::memcpy(b, data.data() + *off, k);
      *off += k;
      return k;
    });
  };
  auto bad = client->put_blob(repo, Registry::BlobOpener(opener), 2500, "sha256:" + std::string(64, '0'),
                              media::kOciLayer);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("not sha256:0000"));
  auto short_size = client->put_blob(repo, Registry::BlobOpener(opener), 2600, "", media::kOciLayer);
  REQUIRE_FALSE(short_size.ok());
  CHECK_THAT(short_size.error().message, Catch::Contains("2500 bytes, not the 2600 announced"));
}

TEST_CASE("registry client: a cut chunk resumes at the confirmed offset") {
  FakeRegistry fake;
  fake.cut_patch_after = {0, 300};  // 2nd chunk: first cut stores nothing, then one stores 300 bytes
  RegistryOptions o = options_for(fake);
  o.chunk_size = 1000;
  o.monolithic_max = 0;
  auto client = make_registry_client(o);
  const Reference repo = R("registry.example.com/shop/orders");
  const std::string data = random_bytes(3500, 6);
  auto d = put_blob_data(*client, repo, data, media::kOciLayer);
  REQUIRE(d.ok());
  REQUIRE(fake.blobs.count(d->digest));
  CHECK(fake.blobs.at(d->digest) == data);
  std::vector<std::string> ranges;
  for (const auto& s : fake.seen)
    if (s.method == "PATCH") ranges.push_back(s.content_range);
  CHECK(ranges == std::vector<std::string>{"0-999", "0-999", "300-999", "1000-1999", "2000-2999", "3000-3499"});
  CHECK(count(fake, "GET") == 1 + 2);  // the /v2/ ping and two status requests
}

TEST_CASE("registry client: a lost session restarts the upload from a re-opened source") {
  FakeRegistry fake;
  fake.cut_patch_after = {};
  RegistryOptions o = options_for(fake);
  o.chunk_size = 1000;
  o.monolithic_max = 0;
  auto client = make_registry_client(o);
  const Reference repo = R("registry.example.com/shop/orders");
  const std::string data = random_bytes(2500, 7);
  int opened = 0;
  Registry::BlobOpener opener = [&]() -> wb::util::Result<wb::http::BodyReader> {
    ++opened;
    auto off = std::make_shared<size_t>(0);
    return wb::http::BodyReader([&, off](char* b, size_t n) -> wb::util::Result<size_t> {
      size_t k = std::min(n, data.size() - *off);
      std::memcpy(b, data.data() + *off, k);
      *off += k;
      return k;
    });
  };
  // The third PATCH is cut and the registry forgets the session (like distribution does).
  int patches = 0;
  fake.inject = [&](const wb::http::Request& req, int) -> std::optional<wb::util::Result<wb::http::Response>> {
    if (req.method == "PATCH" && ++patches == 3) {
      fake.uploads.clear();
      return wb::util::Result<wb::http::Response>(
          wb::util::Error(ErrorCode::Unavailable, "the connection broke off"));
    }
    return std::nullopt;
  };
  auto d = client->put_blob(repo, opener, 2500, "", media::kOciLayer);
  REQUIRE(d.ok());
  CHECK(opened == 2);
  CHECK(fake.blobs.at(d->digest) == data);

  // A one-shot reader cannot restart: the original error comes back.
  patches = 0;
  fake.blobs.clear();
  size_t off = 0;
  wb::http::BodyReader once = [&](char* b, size_t n) -> wb::util::Result<size_t> {
    size_t k = std::min(n, data.size() - off);
    std::memcpy(b, data.data() + off, k);
    off += k;
    return k;
  };
  auto failed = client->put_blob(repo, once, 2500, "", media::kOciLayer);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::Unavailable);
}

TEST_CASE("registry client: persistent 5xx gives up after the attempts") {
  FakeRegistry fake;
  RegistryOptions o = options_for(fake);
  o.upload_attempts = 3;
  auto client = make_registry_client(o);
  int puts = 0;
  fake.inject = [&](const wb::http::Request& req, int) -> std::optional<wb::util::Result<wb::http::Response>> {
    if (req.method == "PUT") {
      ++puts;
      wb::http::Response r;
      r.status = 503;
      r.body = R"({"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]})";
      return wb::util::Result<wb::http::Response>(r);
    }
    return std::nullopt;
  };
  auto r = put_blob_data(*client, R("registry.example.com/shop/orders"), "abc", media::kOciLayer);
  REQUIRE_FALSE(r.ok());
  CHECK(puts == 3);
  CHECK(r.error().code == ErrorCode::Unavailable);
  CHECK_THAT(r.error().message, Catch::Contains("answered 503"));
  CHECK_THAT(r.error().message, Catch::Contains("UNAVAILABLE: service unavailable"));
}

TEST_CASE("registry client: manifests, not found, deletes") {
  FakeRegistry fake;
  fake.auth = FakeRegistry::Auth::Bearer;
  auto client = make_registry_client(options_for(fake));
  const std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"})";
  auto digest = client->put_manifest(R("registry.example.com/shop/orders:1.0"), body, media::kDockerManifest);
  REQUIRE(digest.ok());
  CHECK(*digest == digest_of(body));
  CHECK(fake.seen.back().content_type == media::kDockerManifest);

  auto m = client->get_manifest(R("registry.example.com/shop/orders:1.0"));
  REQUIRE(m.ok());
  CHECK(m->bytes == body);
  CHECK(m->media_type == media::kDockerManifest);
  auto byd = client->get_manifest(R("registry.example.com/shop/orders@" + *digest));
  REQUIRE(byd.ok());
  auto head = client->head_manifest(R("registry.example.com/shop/orders:1.0"));
  REQUIRE(head.ok());
  CHECK(head->digest == *digest);
  CHECK(head->size == static_cast<int64_t>(body.size()));
  CHECK(fake.seen.back().method == "HEAD");

  auto missing = client->get_manifest(R("registry.example.com/shop/orders:2.0"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::NotFound);
  CHECK_THAT(missing.error().message,
             Catch::Contains("manifest registry.example.com/shop/orders:2.0 not found in registry registry.example.com"));
  CHECK_THAT(missing.error().message, Catch::Contains("MANIFEST_UNKNOWN"));

  // A blob that arrives corrupted is refused.
  const std::string blob_digest = digest_of("real");
  fake.blobs[blob_digest] = "fake";
  std::string sink;
  auto got = client->get_blob(R("registry.example.com/shop/orders"), blob_digest, [&](std::string_view c) {
    sink.append(c);
    return true;
  });
  REQUIRE_FALSE(got.ok());
  CHECK_THAT(got.error().message, Catch::Contains("arrived with digest"));

  // Deletes.
  CHECK(client->delete_manifest(R("registry.example.com/shop/orders@" + *digest)).ok());
  auto no_digest = client->delete_manifest(R("registry.example.com/shop/orders:1.0"));
  CHECK(no_digest.error().code == ErrorCode::Usage);
  fake.deletes_enabled = false;
  auto disabled = client->delete_manifest(R("registry.example.com/shop/orders@" + *digest));
  REQUIRE_FALSE(disabled.ok());
  CHECK_THAT(disabled.error().message, Catch::Contains("does not allow deleting images"));
}

TEST_CASE("registry client: connection failures are Unavailable") {
  FakeRegistry fake;
  fake.host = "elsewhere.example.com";
  auto client = make_registry_client(options_for(fake));
  auto r = client->has_blob(R("registry.example.com/shop/orders"), digest_of("x"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::Unavailable);
  CHECK_THAT(r.error().message, Catch::Contains("cannot reach registry registry.example.com"));
}

TEST_CASE("registry client: Link header parsing for the next page") {
  const std::string req = "https://r.example/v2/shop/orders/tags/list?n=2";
  CHECK(next_page_link(req, R"(</v2/shop/orders/tags/list?last=b&n=2>; rel="next")") ==
        "https://r.example/v2/shop/orders/tags/list?last=b&n=2");
  CHECK(next_page_link(req, R"(<https://cdn.example/x?last=b>; rel=next)") == "https://cdn.example/x?last=b");
  CHECK(next_page_link(req, R"(</first>; rel="first", </v2/n?last=c>; rel="next")") == "https://r.example/v2/n?last=c");
  CHECK(next_page_link(req, R"(</prev>; rel="prev")").empty());
  CHECK(next_page_link(req, "").empty());
}

TEST_CASE("registry client: tag listing follows Link pages; deletes by digest take every tag") {
  FakeRegistry fake;
  fake.auth = FakeRegistry::Auth::Bearer;
  fake.tag_page_limit = 2;  // the registry caps pages below what the client asks
  auto client = make_registry_client(options_for(fake));
  CHECK(client->list_tags(R("registry.example.com/shop/orders")).value().empty());  // no repository yet

  std::map<std::string, std::string> digests;
  for (int i = 1; i <= 5; ++i) {
    const std::string body = R"({"schemaVersion":2,"v":)" + std::to_string(i) + "}";
    auto d = client->put_manifest(R("registry.example.com/shop/orders:v" + std::to_string(i)), body, media::kOciManifest);
    REQUIRE(d.ok());
    digests["v" + std::to_string(i)] = *d;
  }
  // A second tag on v5's manifest, and another repository that must not show up.
  REQUIRE(client->put_manifest(R("registry.example.com/shop/orders:latest"), R"({"schemaVersion":2,"v":5})",
                               media::kOciManifest).ok());
  REQUIRE(client->put_manifest(R("registry.example.com/shop/billing:b1"), R"({"schemaVersion":2})",
                               media::kOciManifest).ok());

  fake.seen.clear();
  auto tags = client->list_tags(R("registry.example.com/shop/orders"));
  REQUIRE(tags.ok());
  CHECK(*tags == std::vector<std::string>{"latest", "v1", "v2", "v3", "v4", "v5"});
  int pages = 0;
  for (const auto& s : fake.seen)
    if (s.method == "GET" && s.url.find("/tags/list") != std::string::npos && s.url.find("auth.example") == std::string::npos)
      ++pages;
  CHECK(pages == 3);

  REQUIRE(client->delete_manifest(R("registry.example.com/shop/orders@" + digests["v5"])).ok());
  CHECK(*client->list_tags(R("registry.example.com/shop/orders")) ==
        std::vector<std::string>{"v1", "v2", "v3", "v4"});
  CHECK(*client->list_tags(R("registry.example.com/shop/billing")) == std::vector<std::string>{"b1"});

  fake.deletes_enabled = false;
  auto refused = client->delete_manifest(R("registry.example.com/shop/orders@" + digests["v1"]));
  REQUIRE_FALSE(refused.ok());
  CHECK(deletes_disabled(refused.error()));
  auto gone = client->delete_manifest(R("registry.example.com/shop/orders@" + digests["v5"]));
  fake.deletes_enabled = true;
  gone = client->delete_manifest(R("registry.example.com/shop/orders@" + digests["v5"]));
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::NotFound);
  CHECK_FALSE(deletes_disabled(gone.error()));
}

TEST_CASE("registry client: a Link loop is refused, not followed forever") {
  FakeRegistry fake;
  fake.inject = [](const wb::http::Request& req, int) -> std::optional<wb::util::Result<wb::http::Response>> {
    if (req.url.find("/tags/list") == std::string::npos) return std::nullopt;
    wb::http::Response r;
    r.status = 200;
    r.body = R"({"name":"shop/orders","tags":["a"]})";
    r.headers.add("Link", R"(</v2/shop/orders/tags/list?last=a>; rel="next")");
    return wb::util::Result<wb::http::Response>(r);
  };
  auto client = make_registry_client(options_for(fake));
  auto tags = client->list_tags(R("registry.example.com/shop/orders"));
  REQUIRE_FALSE(tags.ok());
  CHECK_THAT(tags.error().message, Catch::Contains("Link loop"));
}

TEST_CASE("registry client: streamed uploads read the source while sending and go on after a cut") {
  const std::string data = random_bytes(3500, 21);
  int opened = 0;
  Registry::BlobOpener opener = [&]() -> wb::util::Result<wb::http::BodyReader> {
    ++opened;
    auto off = std::make_shared<size_t>(0);
    return wb::http::BodyReader([&, off](char* b, size_t n) -> wb::util::Result<size_t> {
      size_t k = std::min({n, data.size() - *off, size_t{700}});  // short reads
      std::memcpy(b, data.data() + *off, k);
      *off += k;
      return k;
    });
  };
  auto patches = [](const FakeRegistry& fake) {
    std::vector<size_t> sizes;
    for (const auto& s : fake.seen)
      if (s.method == "PATCH") {
        CHECK(s.content_range.empty());  // a stream: no range, no length
        sizes.push_back(s.body_size);
      }
    return sizes;
  };
  FakeRegistry fake;
  RegistryOptions o = options_for(fake);
  o.stream_uploads = true;
  o.chunk_size = 1000;
  o.monolithic_max = 500;
  const Reference repo = R("registry.example.com/shop/orders");

  SECTION("small blobs go up in one PUT, big ones in PATCHes of at most chunk_size") {
    auto client = make_registry_client(o);
    REQUIRE(put_blob_data(*client, repo, data.substr(0, 500), media::kOciLayer).ok());
    CHECK(count(fake, "PATCH") == 0);
    auto d = client->put_blob(repo, opener, -1, "", media::kOciLayer);
    REQUIRE(d.ok());
    CHECK(d->digest == digest_of(data));
    CHECK(d->size == 3500);
    CHECK(fake.blobs.at(d->digest) == data);
    CHECK(patches(fake) == std::vector<size_t>{1000, 1000, 1000, 500});
    CHECK(opened == 1);
  }
  SECTION("a cut PATCH goes on where the registry stands, reading the source again up to there") {
    fake.cut_patch_after = {300};
    auto client = make_registry_client(o);
    auto d = client->put_blob(repo, opener, -1, "", media::kOciLayer);
    REQUIRE(d.ok());
    CHECK(fake.blobs.at(d->digest) == data);
    CHECK(patches(fake) == std::vector<size_t>{1000, 1000, 1000, 1000, 200});
    CHECK(opened == 2);
  }
  SECTION("a session lost with the cut starts over") {
    fake.cut_patch_after = {300};
    fake.forget_uploads_on_cut = true;
    auto client = make_registry_client(o);
    auto d = client->put_blob(repo, opener, -1, "", media::kOciLayer);
    REQUIRE(d.ok());
    CHECK(fake.blobs.at(d->digest) == data);
    CHECK(count(fake, "POST") == 2);
    CHECK(opened == 2);
  }
}
