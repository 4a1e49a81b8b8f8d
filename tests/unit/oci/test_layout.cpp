// OCI image layouts and oci-archive tars, checked with skopeo when it is installed.
#include <catch2/catch.hpp>

#include "oci/layout.hpp"
#include "registry_fixture.hpp"
#include "util/encoding.hpp"

using namespace wb::oci;
using namespace wb::oci::test;
using wb::util::ErrorCode;

namespace {

Reference R(const std::string& s) { return parse_reference(s).value(); }

bool have_skopeo() { return run_command({"sh", "-c", "command -v skopeo"}).status == 0; }

// Writes a small image (one layer, config, OCI manifest) under `tag`; returns the manifest digest.
std::string write_image(Registry& target, const std::string& tag, uint64_t seed) {
  const Reference ref = R("example.com/app:" + tag);
  const std::string layer = random_bytes(4096, seed);
  auto l = put_blob_data(target, ref, layer, media::kOciLayerGzip);
  REQUIRE(l.ok());
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"Cmd", {"java", "-jar", "app.jar"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {l->digest}}}}};
  auto c = put_blob_data(target, ref, config.dump(), media::kOciConfig);
  REQUIRE(c.ok());
  json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config", c->to_json()},
            {"layers", {l->to_json()}}};
  auto d = target.put_manifest(ref, m.dump(), media::kOciManifest);
  REQUIRE(d.ok());
  return *d;
}

}  // namespace

TEST_CASE("layout: create, tag, read back, retag, delete") {
  TempDir dir;
  auto layout = OciLayout::open(dir / "img", true);
  REQUIRE(layout.ok());
  OciLayout& l = **layout;
  CHECK(std::filesystem::exists(dir / "img" / "oci-layout"));

  const std::string d1 = write_image(l, "1.0", 1);
  const std::string d2 = write_image(l, "2.0", 2);
  auto idx = l.index();
  REQUIRE(idx.ok());
  REQUIRE(idx->size() == 2);
  CHECK(idx->at(0).annotations.at(kRefNameAnnotation) == "1.0");
  CHECK(idx->at(0).media_type == media::kOciManifest);

  auto m = l.get_manifest(R("example.com/app:1.0"));
  REQUIRE(m.ok());
  CHECK(m->digest == d1);
  CHECK(m->media_type == media::kOciManifest);
  CHECK(l.get_manifest(R("example.com/app@" + d2)).ok());
  auto missing = l.get_manifest(R("example.com/app:3.0"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::NotFound);

  // Retagging 1.0 replaces the entry.
  const std::string d3 = write_image(l, "1.0", 3);
  idx = l.index();
  REQUIRE(idx->size() == 2);
  CHECK(l.get_manifest(R("example.com/app:1.0"))->digest == d3);

  // Blobs: present, streamed with verification, corrupt ones refused.
  json manifest = json::parse(m->bytes);
  const std::string layer = manifest["layers"][0]["digest"];
  CHECK(l.has_blob(R("x/y"), layer).value());
  CHECK(l.mount_blob(R("x/y"), layer, "other").value());
  std::string got;
  REQUIRE(l.get_blob(R("x/y"), layer, [&](std::string_view c) {
               got.append(c);
               return true;
             }).ok());
  CHECK(digest_of(got) == layer);
  dir.write("img/blobs/sha256/" + layer.substr(7), "tampered");
  CHECK_FALSE(l.get_blob(R("x/y"), layer, [](std::string_view) { return true; }).ok());

  // Known digest mismatch: nothing is stored.
  auto bad = l.put_blob(R("x/y"),
                        Registry::BlobOpener([]() -> wb::util::Result<wb::http::BodyReader> {
                          auto done = std::make_shared<bool>(false);
                          return wb::http::BodyReader([done](char* b, size_t) -> wb::util::Result<size_t> {
                            if (*done) return size_t{0};
                            *done = true;
                            b[0] = 'x';
                            return size_t{1};
                          });
                        }),
                        1, digest_of("y"), media::kOciLayer);
  REQUIRE_FALSE(bad.ok());
  CHECK_FALSE(std::filesystem::exists(l.blob_path(digest_of("x"))));
  for (auto& e : std::filesystem::directory_iterator(dir / "img/blobs/sha256"))
    CHECK(e.path().filename().string().rfind(".tmp", 0) != 0);

  REQUIRE(l.delete_manifest(R("example.com/app@" + d2)).ok());
  CHECK(l.index()->size() == 1);

  // Opening: an existing layout, a non-layout directory, a missing one.
  CHECK(OciLayout::open(dir / "img", false).ok());
  dir.write("notalayout/file", "x");
  CHECK(OciLayout::open(dir / "notalayout", true).error().code == ErrorCode::Usage);
  CHECK(OciLayout::open(dir / "absent", false).error().code == ErrorCode::NotFound);
}

TEST_CASE("layout: skopeo reads the layout and the oci-archive") {
  TempDir dir;
  auto layout = OciLayout::open(dir / "img", true);
  REQUIRE(layout.ok());
  const std::string digest = write_image(**layout, "1.0", 7);
  write_image(**layout, "latest", 8);

  REQUIRE(write_oci_archive(dir / "img", dir / "img.tar").ok());
  // Deterministic: the same layout gives the same bytes.
  REQUIRE(write_oci_archive(dir / "img", dir / "again.tar").ok());
  CHECK(wb::util::sha256_hex(read_all(dir / "img.tar")) == wb::util::sha256_hex(read_all(dir / "again.tar")));

  // The archive unpacks into an equivalent layout.
  REQUIRE(extract_oci_archive(dir / "img.tar", dir / "unpacked").ok());
  auto back = OciLayout::open(dir / "unpacked", false);
  REQUIRE(back.ok());
  CHECK((*back)->get_manifest(R("example.com/app:1.0"))->digest == digest);

  if (!have_skopeo()) {
    WARN("skopeo not installed: skipping the independent check");
    return;
  }
  auto raw = run_command({"skopeo", "inspect", "--raw", "oci:" + (dir / "img").string() + ":1.0"});
  INFO(raw.output);
  REQUIRE(raw.status == 0);
  CHECK(digest_of(raw.output) == digest);
  auto cfg = run_command({"skopeo", "inspect", "--config", "oci:" + (dir / "img").string() + ":1.0"});
  INFO(cfg.output);
  REQUIRE(cfg.status == 0);
  CHECK(json::parse(cfg.output)["config"]["Cmd"][1] == "-jar");
  auto archive = run_command({"skopeo", "inspect", "--raw", "oci-archive:" + (dir / "img.tar").string() + ":1.0"});
  INFO(archive.output);
  REQUIRE(archive.status == 0);
  CHECK(digest_of(archive.output) == digest);

  // And what skopeo writes, we read.
  auto copy = run_command({"skopeo", "--insecure-policy", "copy", "oci:" + (dir / "img").string() + ":1.0",
                           "oci:" + (dir / "skopeo").string() + ":copied"});
  INFO(copy.output);
  REQUIRE(copy.status == 0);
  auto theirs = OciLayout::open(dir / "skopeo", false);
  REQUIRE(theirs.ok());
  auto m = (*theirs)->get_manifest(R("example.com/app:copied"));
  REQUIRE(m.ok());
  CHECK(digest_of(m->bytes) == m->digest);  // skopeo may re-serialise the manifest: compare content
  // (skopeo recompresses our random "layer", which is not really gzip: compare the config only)
  CHECK(json::parse(m->bytes)["config"]["digest"] == json::parse(raw.output)["config"]["digest"]);
}

TEST_CASE("layout: hostile archives are refused") {
  TempDir dir;
  // A tar with a path-traversal entry, made with the system tar.
  dir.write("evil/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  dir.write("evil/index.json", "{}");
  auto r = run_command({"tar", "-cf", (dir / "evil.tar").string(), "-C", (dir / "evil").string(), "oci-layout",
                        "index.json", "--transform", "s,index.json,../escape.json,", "index.json"});
  REQUIRE(r.status == 0);
  auto st = extract_oci_archive(dir / "evil.tar", dir / "out");
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.error().message, Catch::Contains("unexpected entry"));
  CHECK_FALSE(std::filesystem::exists(dir / "escape.json"));
}
