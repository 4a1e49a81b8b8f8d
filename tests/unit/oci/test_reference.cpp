#include <catch2/catch.hpp>

#include "oci/oci.hpp"

using namespace wb::oci;
using wb::util::ErrorCode;

namespace {
const std::string kDigest = "sha256:" + std::string(64, 'a');

Reference parse_ok(const std::string& s) {
  auto r = parse_reference(s);
  INFO(s << " -> " << (r ? std::string("ok") : r.error().message));
  REQUIRE(r.ok());
  return *r;
}
}  // namespace

TEST_CASE("references: docker hub defaults") {
  auto r = parse_ok("orders");
  CHECK(r.registry == "docker.io");
  CHECK(r.repository == "library/orders");
  CHECK(r.tag == "latest");
  CHECK(r.digest.empty());
  CHECK(r.str() == "docker.io/library/orders:latest");

  r = parse_ok("shop/orders:1.2");
  CHECK(r.registry == "docker.io");
  CHECK(r.repository == "shop/orders");
  CHECK(r.tag == "1.2");

  r = parse_ok("index.docker.io/library/eclipse-temurin:17-jre");
  CHECK(r.registry == "docker.io");
  CHECK(r.repository == "library/eclipse-temurin");
  CHECK(r.tag == "17-jre");

  r = parse_ok("docker.io/busybox");
  CHECK(r.repository == "library/busybox");
  r = parse_ok("docker://shop/orders");
  CHECK(r.repository == "shop/orders");
}

TEST_CASE("references: registries, ports and domains") {
  auto r = parse_ok("127.0.0.1:5000/shop/orders:1.2");
  CHECK(r.registry == "127.0.0.1:5000");
  CHECK(r.repository == "shop/orders");
  CHECK(r.tag == "1.2");
  CHECK(r.name() == "127.0.0.1:5000/shop/orders");

  r = parse_ok("localhost/app");
  CHECK(r.registry == "localhost");
  CHECK(r.repository == "app");  // no library/ outside docker hub
  r = parse_ok("localhost:5000/app");
  CHECK(r.registry == "localhost:5000");
  r = parse_ok("harbor.example.com/team/sub/app");
  CHECK(r.registry == "harbor.example.com");
  CHECK(r.repository == "team/sub/app");
  r = parse_ok("myhost:8080/app");
  CHECK(r.registry == "myhost:8080");
  r = parse_ok("[::1]:5000/app:v1");
  CHECK(r.registry == "[::1]:5000");
  CHECK(r.tag == "v1");
  // A first component without '.' or ':' is a path component.
  r = parse_ok("team/app");
  CHECK(r.registry == "docker.io");
  CHECK(r.repository == "team/app");
  // Upper case in the first component means a host name (docker's rule).
  r = parse_ok("MyRegistry/app");
  CHECK(r.registry == "MyRegistry");
}

TEST_CASE("references: digests and tags") {
  auto r = parse_ok("127.0.0.1:5000/app@" + kDigest);
  CHECK(r.tag.empty());
  CHECK(r.digest == kDigest);
  CHECK(r.str() == "127.0.0.1:5000/app@" + kDigest);
  CHECK(r.tag_or_digest() == kDigest);

  r = parse_ok("127.0.0.1:5000/app:1.0@" + kDigest);
  CHECK(r.tag == "1.0");
  CHECK(r.digest == kDigest);
  CHECK(r.str() == "127.0.0.1:5000/app:1.0@" + kDigest);
  CHECK(r.with_digest("sha256:" + std::string(64, 'b')) == "127.0.0.1:5000/app@sha256:" + std::string(64, 'b'));

  parse_ok("app:_under");
  parse_ok("app:" + std::string(128, 'x'));
  parse_ok("app:V1.2-rc_3");
}

TEST_CASE("references: separators in path components") {
  for (const char* ok : {"a.b/c", "x/a_b", "x/a__b", "x/a-b", "x/a---b", "x/a.b-c_d", "x/0app"}) parse_ok(ok);
  struct Bad {
    const char* text;
    const char* words;
  };
  for (const Bad& b : {Bad{"Orders", "lower-case"}, Bad{"x/Orders", "lower-case"}, Bad{"x/a___b", "separator"},
                       Bad{"x/a..b", "separator"}, Bad{"x/-a", "start and end"}, Bad{"x/a-", "start and end"},
                       Bad{"x/a._b", "separator"}, Bad{"x//a", "empty path"}, Bad{"x/a b", "white space"},
                       Bad{"", "empty"}, Bad{"app:", "tag"}, Bad{"app:-x", "tag"},
                       Bad{"app:" + std::string(129, 'x') == "" ? "" : "app:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "128"},
                       Bad{"app@sha256:abc", "64"}, Bad{"app@md5:abc", "not supported"},
                       Bad{"app@" , "digest"}, Bad{"x/a$b", "not allowed"}, Bad{"host:port/app", "not a number"},
                       Bad{"host:/app", "empty port"}, Bad{"-bad.com/app", "host name"},
                       Bad{"localhost:5000/", "missing"}, Bad{":tag", "missing"}, Bad{"app:t@g", "digest"}}) {
    auto r = parse_reference(b.text);
    INFO(b.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Usage);
    CHECK_THAT(r.error().message, Catch::Contains(b.words));
    CHECK_THAT(r.error().message, Catch::Contains("is not a valid image reference"));
  }
}

TEST_CASE("references: digest helpers and descriptors") {
  CHECK(is_valid_digest(kDigest));
  CHECK_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
  CHECK(digest_of("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  Descriptor d;
  d.media_type = media::kOciLayerGzip;
  d.digest = kDigest;
  d.size = 42;
  d.annotations["a"] = "b";
  auto back = Descriptor::from_json(d.to_json());
  REQUIRE(back.ok());
  CHECK(back->digest == kDigest);
  CHECK(back->size == 42);
  CHECK(back->annotations.at("a") == "b");
  CHECK_FALSE(Descriptor::from_json(json{{"digest", "x"}, {"size", 1}}).ok());
  CHECK_FALSE(Descriptor::from_json(json{{"digest", kDigest}}).ok());
}
