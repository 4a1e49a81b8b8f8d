#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "image/helpers.hpp"
#include "image/push.hpp"
#include "util/encoding.hpp"

using namespace wb;
using namespace wb::test;
using image::LayerFate;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wb-image-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::map<std::string, LayerFate> app_fates(const image::PushResult& r) {
  std::map<std::string, LayerFate> m;
  for (const auto& l : r.layers) {
    if (!l.from_base) m[l.name] = l.fate;
  }
  return m;
}

std::vector<LayerFate> base_fates(const image::PushResult& r) {
  std::vector<LayerFate> v;
  for (const auto& l : r.layers) {
    if (l.from_base) v.push_back(l.fate);
  }
  return v;
}

struct RecordingObserver : image::PushObserver {
  std::vector<std::string> steps;
  int started = 0;
  int finished = 0;
  int64_t bytes_events = 0;
  void on_step(std::string_view s) override { steps.emplace_back(s); }
  void on_layer_started(const std::string&, const std::string&, int64_t) override { ++started; }
  void on_layer_bytes(const std::string&, int64_t, int64_t) override { ++bytes_events; }
  void on_layer_finished(const image::LayerReport&) override { ++finished; }
};

const auto kBase = ref("fake.io", "library/temurin", "17");
const auto kTarget = ref("fake.io", "shop/orders", "1.0");

}  // namespace

TEST_CASE("push: Docker base, layers.idx, fates, config, then a warm push uploads nothing") {
  FakeRegistry reg;
  add_base(reg, "library/temurin", "17", /*docker=*/true, {"linux/amd64"}, /*index=*/false);
  TempDir tmp;
  auto plan = plan_for("boot.jar");
  image::PushOptions opts;
  opts.cache_file = tmp.path / "cache/layers.json";
  opts.image.env = {"JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75", "LANG=C.UTF-8"};
  opts.image.jvm_flags = {"-XX:+ExitOnOutOfMemoryError"};
  opts.image.labels = {{"org.opencontainers.image.revision", "abc123"}};
  opts.image.ports = {"8080"};
  RecordingObserver obs;
  opts.observer = &obs;

  auto r = image::push_image(reg, kTarget, {}, reg, kBase, plan, opts);
  REQUIRE(r.ok());
  CHECK(r->tags == std::vector<std::string>{"1.0"});
  CHECK(r->media_type == oci::media::kDockerManifest);
  CHECK(reg.repos["shop/orders"].tags["1.0"] == r->digest);
  CHECK(r->reference == "fake.io/shop/orders@" + r->digest);
  REQUIRE(r->platforms.size() == 1);
  CHECK(r->platforms[0].platform == "linux/amd64");
  CHECK(base_fates(*r) == std::vector<LayerFate>{LayerFate::Mounted, LayerFate::Mounted});
  for (const auto& l : r->layers)  // the base's layers are mounted, never read
    if (l.from_base) CHECK(std::count(reg.blobs_read.begin(), reg.blobs_read.end(), l.digest) == 0);
  CHECK(app_fates(*r) == std::map<std::string, LayerFate>{{"dependencies", LayerFate::Uploaded},
                                                          {"spring-boot-loader", LayerFate::Uploaded},
                                                          {"snapshot-dependencies", LayerFate::Uploaded},
                                                          {"config", LayerFate::Uploaded},
                                                          {"application", LayerFate::Uploaded}});
  CHECK(obs.started == 7);
  CHECK(obs.finished == 7);
  CHECK(obs.bytes_events > 0);
  CHECK(obs.steps.size() == 3);
  CHECK(std::filesystem::exists(opts.cache_file));

  // The manifest: Docker types throughout, base layers as they were, then ours in plan order.
  json m = reg.manifest_json("shop/orders", r->digest);
  CHECK(m["mediaType"] == oci::media::kDockerManifest);
  CHECK(m["config"]["mediaType"] == oci::media::kDockerConfig);
  REQUIRE(m["layers"].size() == 7);
  json base_m = reg.manifest_json("library/temurin", reg.repos["library/temurin"].tags["17"]);
  CHECK(m["layers"][0] == base_m["layers"][0]);
  CHECK(m["layers"][1] == base_m["layers"][1]);
  CHECK(m["layers"][6]["digest"] == r->layers.back().digest);

  // The config: entrypoint from the plan, base Cmd gone, env merged, history and diff_ids appended.
  json c = reg.blob_json("shop/orders", m["config"]["digest"].get<std::string>());
  CHECK(c["config"]["Entrypoint"] == json({"java", "-XX:+ExitOnOutOfMemoryError", "-cp", "/app",
                                            "org.springframework.boot.loader.launch.JarLauncher"}));
  CHECK_FALSE(c["config"].contains("Cmd"));
  CHECK(c["config"]["WorkingDir"] == "/app");
  CHECK(c["config"]["Env"] == json({"PATH=/usr/local/sbin:/usr/bin:/bin", "JAVA_HOME=/opt/java/openjdk", "LANG=C.UTF-8",
                                    "JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75"}));
  CHECK(c["config"]["Labels"]["org.opencontainers.image.revision"] == "abc123");
  CHECK(c["config"]["Labels"]["org.opencontainers.image.vendor"] == "base");
  CHECK(c["config"]["ExposedPorts"].contains("8080/tcp"));
  CHECK(c["created"] == "1980-01-01T00:00:01Z");
  REQUIRE(c["rootfs"]["diff_ids"].size() == 7);
  CHECK(c["rootfs"]["diff_ids"][6] == r->layers.back().diff_id);
  // Docker's layer types, gzipped or plain (auto): a plain tar's digest is its diff_id.
  for (size_t i = 2; i < 7; ++i) {
    INFO(i);
    const std::string type = m["layers"][i]["mediaType"];
    CHECK(type == r->layers[i].media_type);
    if (type == oci::media::kDockerLayer)
      CHECK(m["layers"][i]["digest"] == c["rootfs"]["diff_ids"][i]);
    else
      CHECK(type == oci::media::kDockerLayerGzip);
  }
  CHECK(m["layers"][6]["mediaType"] == oci::media::kDockerLayerGzip);  // the classes shrink
  REQUIRE(c["history"].size() == 7);
  CHECK(c["history"][2]["created_by"] == "wb: dependencies");
  CHECK(c["history"][6]["created_by"] == "wb: application");
  CHECK(c["architecture"] == "amd64");

  // Warm push of the same jar: everything skipped, same digest.
  int puts_before = reg.blob_puts;
  auto again = image::push_image(reg, kTarget, {"1.0", "latest"}, reg, kBase, plan, opts);
  REQUIRE(again.ok());
  CHECK(again->digest == r->digest);
  CHECK(reg.blob_puts == puts_before);
  CHECK(base_fates(*again) == std::vector<LayerFate>{LayerFate::Skipped, LayerFate::Skipped});
  for (const auto& [name, fate] : app_fates(*again)) {
    INFO(name);
    CHECK(fate == LayerFate::Skipped);
  }
  CHECK(reg.repos["shop/orders"].tags["latest"] == r->digest);

  // One class changed: only the application layer goes up.
  auto v2 = image::push_image(reg, kTarget, {}, reg, kBase, plan_for("boot-v2.jar"), opts);
  REQUIRE(v2.ok());
  CHECK(v2->digest != r->digest);
  CHECK(app_fates(*v2) == std::map<std::string, LayerFate>{{"dependencies", LayerFate::Skipped},
                                                           {"spring-boot-loader", LayerFate::Skipped},
                                                           {"snapshot-dependencies", LayerFate::Skipped},
                                                           {"config", LayerFate::Skipped},
                                                           {"application", LayerFate::Uploaded}});
  CHECK(reg.blob_puts == puts_before + 2);  // the application layer and the config
}

TEST_CASE("push: reproducible across pushes; SOURCE_DATE_EPOCH changes the image") {
  auto plan = plan_for("boot.jar");
  auto push = [&](image::PushOptions opts) {
    FakeRegistry reg;
    add_base(reg, "library/temurin", "17", false, {"linux/amd64"}, false);
    auto r = image::push_image(reg, kTarget, {}, reg, kBase, plan, opts);
    REQUIRE(r.ok());
    return r->digest;
  };
  image::PushOptions opts;
  std::string a = push(opts);
  CHECK(push(opts) == a);
  opts.image.source_date_epoch = 1714550400;
  std::string b = push(opts);
  CHECK(b != a);
  CHECK(push(opts) == b);
  opts.image.created_now = true;
  opts.image.clock = [] { return util::TimePoint(std::chrono::seconds(1800000000)); };
  CHECK(push(opts) != b);
}

TEST_CASE("push: compression none stores plain tars (digest = diff_id), gzip gzips every layer") {
  auto plan = plan_for("boot.jar");
  for (auto c : {image::Compression::None, image::Compression::Gzip}) {
    INFO(image::compression_name(c));
    image::PushOptions opts;
    opts.image.compression = c;
    std::string first;
    for (int round = 0; round < 2; ++round) {  // the same jar, the same image
      FakeRegistry reg;
      add_base(reg, "library/temurin", "17", false, {"linux/amd64"}, false);
      auto r = image::push_image(reg, kTarget, {}, reg, kBase, plan, opts);
      REQUIRE(r.ok());
      if (round == 1) CHECK(r->digest == first);
      first = r->digest;
      json m = reg.manifest_json("shop/orders", r->digest);
      json cfg = reg.blob_json("shop/orders", m["config"]["digest"].get<std::string>());
      for (size_t i = 2; i < m["layers"].size(); ++i) {
        const json& l = m["layers"][i];
        const std::string& blob = reg.repos["shop/orders"].blobs.at(l["digest"].get<std::string>());
        CHECK(static_cast<size_t>(l["size"].get<int64_t>()) == blob.size());
        if (c == image::Compression::None) {
          CHECK(l["mediaType"] == oci::media::kOciLayer);
          CHECK(l["digest"] == cfg["rootfs"]["diff_ids"][i]);
          CHECK_FALSE(read_tar(blob).empty());
        } else {
          CHECK(l["mediaType"] == oci::media::kOciLayerGzip);
          CHECK(oci::digest_of(gunzip(blob)) == cfg["rootfs"]["diff_ids"][i].get<std::string>());
        }
      }
    }
  }
}

TEST_CASE("push: an OCI base gives OCI media types; a base in another registry is copied") {
  FakeRegistry hub;
  add_base(hub, "library/temurin", "17", /*docker=*/false, {"linux/arm64/v8"}, false);
  FakeRegistry target;
  auto plan = plan_for("plain.jar");
  auto base_ref = ref("docker.io", "library/temurin", "17");
  auto r = image::push_image(target, kTarget, {}, hub, base_ref, plan, {});
  REQUIRE(r.ok());
  CHECK(r->media_type == oci::media::kOciManifest);
  CHECK(base_fates(*r) == std::vector<LayerFate>{LayerFate::Copied, LayerFate::Copied});
  CHECK(app_fates(*r) == std::map<std::string, LayerFate>{{"dependencies", LayerFate::Uploaded},
                                                          {"application", LayerFate::Uploaded}});
  json m = target.manifest_json("shop/orders", r->digest);
  CHECK(m["mediaType"] == oci::media::kOciManifest);
  CHECK(m["config"]["mediaType"] == oci::media::kOciConfig);
  CHECK(m["layers"][2]["mediaType"] == oci::media::kOciLayerGzip);
  for (const auto& l : m["layers"]) {
    std::string d = l["digest"];
    CHECK(target.repos["shop/orders"].blobs.count(d) == 1);
  }
  CHECK(r->platforms[0].platform == "linux/arm64/v8");
  json c = target.blob_json("shop/orders", m["config"]["digest"].get<std::string>());
  CHECK(c["config"]["Entrypoint"] == json({"java", "-jar", "/app/app.jar"}));
}

TEST_CASE("push: a multi-platform base gives one image per platform and an index of the same family") {
  for (bool docker : {false, true}) {
    INFO((docker ? "docker" : "oci"));
    FakeRegistry reg;
    add_base(reg, "library/temurin", "17", docker, {"linux/amd64", "linux/arm64/v8"}, true);
    auto plan = plan_for("boot.jar");
    auto r = image::push_image(reg, kTarget, {}, reg, kBase, plan, {});
    REQUIRE(r.ok());
    CHECK(r->media_type == (docker ? oci::media::kDockerManifestList : oci::media::kOciIndex));
    REQUIRE(r->platforms.size() == 2);
    CHECK(r->platforms[0].platform == "linux/amd64");
    CHECK(r->platforms[1].platform == "linux/arm64/v8");
    json index = reg.manifest_json("shop/orders", r->digest);
    REQUIRE(index["manifests"].size() == 2);
    CHECK(index["manifests"][1]["platform"]["architecture"] == "arm64");
    CHECK(index["manifests"][1]["platform"]["variant"] == "v8");
    // The application layers are shared.
    json m0 = reg.manifest_json("shop/orders", index["manifests"][0]["digest"]);
    json m1 = reg.manifest_json("shop/orders", index["manifests"][1]["digest"]);
    CHECK(m0["layers"][6] == m1["layers"][6]);
    CHECK(m0["layers"][0] != m1["layers"][0]);
    CHECK(m0["mediaType"] == (docker ? oci::media::kDockerManifest : oci::media::kOciManifest));
    int app_layers = 0;
    for (const auto& l : r->layers) app_layers += l.from_base ? 0 : 1;
    CHECK(app_layers == 5);
    CHECK(r->layers.size() == 4 + 5);
  }

  FakeRegistry reg;
  add_base(reg, "library/temurin", "17", false, {"linux/amd64", "linux/arm64/v8"}, true);
  image::PushOptions only_arm;
  only_arm.image.platforms = {"linux/arm64"};
  auto r = image::push_image(reg, kTarget, {}, reg, kBase, plan_for("plain.jar"), only_arm);
  REQUIRE(r.ok());
  REQUIRE(r->platforms.size() == 1);
  CHECK(r->platforms[0].platform == "linux/arm64/v8");

  image::PushOptions s390;
  s390.image.platforms = {"linux/s390x"};
  auto missing = image::push_image(reg, kTarget, {}, reg, kBase, plan_for("plain.jar"), s390);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == util::ErrorCode::NotFound);
  CHECK(missing.error().message ==
        "base image fake.io/library/temurin:17 has no linux/s390x image (it has linux/amd64, linux/arm64/v8)");
}

TEST_CASE("push: a failing manifest PUT leaves no tag") {
  for (bool index : {false, true}) {
    INFO((index ? "index" : "single"));
    FakeRegistry reg;
    add_base(reg, "library/temurin", "17", false, {"linux/amd64", "linux/arm64"}, index);
    int calls = 0;
    reg.before_put_manifest = [&](const oci::Reference& r) -> util::Status {
      ++calls;
      if (r.repository == "shop/orders" && (!r.tag.empty() || calls == 2)) {
        return util::Error(util::ErrorCode::Unavailable, "registry unavailable", "", 503);
      }
      return {};
    };
    auto r = image::push_image(reg, kTarget, {"1.0", "latest"}, reg, kBase, plan_for("boot.jar"), {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == util::ErrorCode::Unavailable);
    CHECK(reg.repos["shop/orders"].tags.empty());
  }
}

TEST_CASE("push: a cached digest the registry lacks is uploaded again; a failed blob fails the push") {
  TempDir tmp;
  image::PushOptions opts;
  opts.cache_file = tmp.path / "layers.json";
  auto plan = plan_for("plain.jar");
  {
    FakeRegistry reg;
    add_base(reg, "library/temurin", "17", false, {"linux/amd64"}, false);
    REQUIRE(image::push_image(reg, kTarget, {}, reg, kBase, plan, opts).ok());
  }
  auto cache = json::parse(util::read_file(opts.cache_file).value());
  CHECK(cache["version"] == 1);
  CHECK(cache["layers"].size() == 2);

  FakeRegistry fresh;  // another registry: the cache knows the digests, the registry has nothing
  add_base(fresh, "library/temurin", "17", false, {"linux/amd64"}, false);
  fresh.allow_mount = false;
  auto r = image::push_image(fresh, kTarget, {}, fresh, kBase, plan, opts);
  REQUIRE(r.ok());
  CHECK(app_fates(*r) == std::map<std::string, LayerFate>{{"dependencies", LayerFate::Uploaded},
                                                          {"application", LayerFate::Uploaded}});
  CHECK(base_fates(*r) == std::vector<LayerFate>{LayerFate::Copied, LayerFate::Copied});

  // A broken cache file is ignored.
  std::ofstream(opts.cache_file) << "{not json";
  FakeRegistry third;
  add_base(third, "library/temurin", "17", false, {"linux/amd64"}, false);
  CHECK(image::push_image(third, kTarget, {}, third, kBase, plan, opts).ok());

  // A base missing from its registry.
  FakeRegistry empty;
  auto nobase = image::push_image(empty, kTarget, {}, empty, kBase, plan, {});
  REQUIRE_FALSE(nobase.ok());
  CHECK(nobase.error().code == util::ErrorCode::NotFound);
}

TEST_CASE("the pushed image runs: layers extracted, entrypoint executed with java") {
  for (const char* jar_name : {"boot.jar", "boot-legacy.jar", "plain.jar"}) {
    INFO(jar_name);
    FakeRegistry reg;
    add_base(reg, "library/temurin", "17", false, {"linux/amd64"}, false);
    auto plan = plan_for(jar_name);
    auto r = image::push_image(reg, kTarget, {}, reg, kBase, plan, {});
    REQUIRE(r.ok());
    TempDir root;
    json m = reg.manifest_json("shop/orders", r->digest);
    for (size_t i = 2; i < m["layers"].size(); ++i) {
      std::string tar = layer_tar(reg.repos["shop/orders"].blobs.at(m["layers"][i]["digest"].get<std::string>()),
                                  m["layers"][i]["mediaType"]);
      auto file = root.path / ("layer" + std::to_string(i) + ".tar");
      std::ofstream(file, std::ios::binary) << tar;
      REQUIRE(std::system(("tar -xf '" + file.string() + "' -C '" + root.path.string() + "'").c_str()) == 0);
    }
    json c = reg.blob_json("shop/orders", m["config"]["digest"].get<std::string>());
    std::string cmd = "cd '" + root.path.string() + "/app' &&";
    for (const auto& arg : c["config"]["Entrypoint"]) {
      std::string a = arg.get<std::string>();
      if (a.rfind("/app", 0) == 0) a = root.path.string() + a;
      cmd += " '" + a + "'";
    }
    cmd += " 2>&1";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[512];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      CHECK(pclose(p) == 0);
    }
    if (std::string(jar_name) == "plain.jar") {
      CHECK(out == "plain says hi\n");
    } else {
      CHECK(out == "boot app v1: greetings from dep-1.0 and foo-2.0-SNAPSHOT\n");
    }
  }
}
