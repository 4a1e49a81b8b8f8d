#include <catch2/catch.hpp>

#include "image/helpers.hpp"
#include "image/layer.hpp"
#include "util/encoding.hpp"

using namespace wb;
using namespace wb::test;
using image::LayerOptions;
using image::LayerStream;

TEST_CASE("layer tar: sorted entries, explicit parents, fixed times and owners, normalised modes") {
  auto plan = plan_for("boot.jar");
  const auto& app = layer_named(plan, "application");
  auto s = LayerStream::open(plan.jar, app, LayerOptions{}, LayerStream::Output::Tar);
  REQUIRE(s.ok());
  std::string tar = read_stream(**s);
  REQUIRE((*s)->finished());
  CHECK((*s)->digests().diff_id == "sha256:" + util::sha256_hex(tar));
  CHECK((*s)->digests().tar_size == static_cast<int64_t>(tar.size()));

  auto items = read_tar(tar);
  std::vector<std::string> names;
  for (const auto& t : items) names.push_back(t.name);
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(names.front() == "app/");
  for (const char* dir : {"app/", "app/BOOT-INF/", "app/BOOT-INF/classes/", "app/BOOT-INF/classes/com/example/", "app/META-INF/"}) {
    CHECK(std::find(names.begin(), names.end(), dir) != names.end());
  }
  const std::string long_name =
      "app/BOOT-INF/classes/static/a-rather-deeply-nested/resource-directory-whose-path-is-longer/"
      "than-one-hundred-characters/index.html";
  CHECK(std::find(names.begin(), names.end(), long_name) != names.end());
  for (const auto& t : items) {
    INFO(t.name);
    CHECK(t.mtime == image::kDefaultEpoch);
    CHECK(t.uid == 0);
    CHECK(t.gid == 0);
    CHECK(t.uname.empty());
    CHECK(t.gname.empty());
    if (t.type == AE_IFDIR) {
      CHECK(t.perm == 0755);
      CHECK(t.name.back() == '/');
    } else {
      CHECK(t.type == AE_IFREG);
      CHECK(t.perm == 0644);
    }
    // Every parent comes before its children.
    if (t.name != "app/") {
      std::string parent = t.name.substr(0, t.name.rfind('/', t.name.size() - 2) + 1);
      auto pos = std::find(names.begin(), names.end(), parent);
      CHECK(pos != names.end());
      CHECK(pos < std::find(names.begin(), names.end(), t.name));
    }
  }
  // File contents are the jar's entries.
  auto reader = jar::EntryReader::open(plan.jar);
  REQUIRE(reader.ok());
  auto cls = std::find_if(items.begin(), items.end(), [](const TarItem& t) {
    return t.name == "app/BOOT-INF/classes/com/example/App.class";
  });
  REQUIRE(cls != items.end());
  CHECK(cls->content == (*reader)->read_all("BOOT-INF/classes/com/example/App.class").value());
}

TEST_CASE("layer tar: the owner and mtime are the caller's") {
  auto plan = plan_for("plain.jar");
  LayerOptions opts;
  opts.uid = 1000;
  opts.gid = 1001;
  opts.mtime = 1700000000;
  auto s = LayerStream::open(plan.jar, layer_named(plan, "application"), opts, LayerStream::Output::Tar);
  REQUIRE(s.ok());
  auto items = read_tar(read_stream(**s));
  REQUIRE(items.size() == 2);
  CHECK(items[0].name == "app/");
  CHECK(items[1].name == "app/app.jar");
  CHECK(items[1].content.size() == std::filesystem::file_size(plan.jar));
  for (const auto& t : items) {
    CHECK(t.uid == 1000);
    CHECK(t.gid == 1001);
    CHECK(t.mtime == 1700000000);
  }
}

TEST_CASE("gzip layer: decompresses to the tar whose sha256 is the diff_id; deterministic header") {
  auto plan = plan_for("boot.jar");
  for (const auto& layer : plan.layers) {
    INFO(layer.name);
    auto s = LayerStream::open(plan.jar, layer, LayerOptions{});
    REQUIRE(s.ok());
    std::string gz = read_stream(**s, 517);
    const auto& d = (*s)->digests();
    CHECK(d.digest == "sha256:" + util::sha256_hex(gz));
    CHECK(d.size == static_cast<int64_t>(gz.size()));
    std::string tar = gunzip(gz);
    CHECK(d.diff_id == "sha256:" + util::sha256_hex(tar));
    CHECK(d.tar_size == static_cast<int64_t>(tar.size()));
    REQUIRE(gz.size() > 10);
    CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);
    CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
    CHECK(gz[3] == 0);                         // no name, no comment, no extra
    CHECK(gz.substr(4, 4) == std::string(4, '\0'));  // mtime 0

    auto cheap = image::compute_diff_id(plan.jar, layer, LayerOptions{});
    REQUIRE(cheap.ok());
    CHECK(cheap->diff_id == d.diff_id);
  }
}

TEST_CASE("layers are reproducible; SOURCE_DATE_EPOCH and the gzip level change them") {
  auto plan = plan_for("boot.jar");
  const auto& app = layer_named(plan, "application");
  auto a = image::compute_layer_digests(plan.jar, app, LayerOptions{});
  auto b = image::compute_layer_digests(plan.jar, app, LayerOptions{});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->diff_id == b->diff_id);
  CHECK(a->digest == b->digest);
  CHECK(a->size == b->size);

  LayerOptions epoch;
  epoch.mtime = 1714550400;
  auto c = image::compute_layer_digests(plan.jar, app, epoch);
  REQUIRE(c.ok());
  CHECK(c->diff_id != a->diff_id);

  LayerOptions level9;
  level9.gzip_level = 9;
  auto d = image::compute_layer_digests(plan.jar, app, level9);
  REQUIRE(d.ok());
  CHECK(d->diff_id == a->diff_id);
  CHECK(d->digest != a->digest);

  LayerOptions bad;
  bad.gzip_level = 10;
  CHECK_FALSE(LayerStream::open(plan.jar, app, bad).ok());
}

TEST_CASE("a one-class change changes only the application layer") {
  auto v1 = plan_for("boot.jar");
  auto v2 = plan_for("boot-v2.jar");
  REQUIRE(v1.layers.size() == v2.layers.size());
  for (size_t i = 0; i < v1.layers.size(); ++i) {
    INFO(v1.layers[i].name);
    auto a = image::compute_layer_digests(v1.jar, v1.layers[i], LayerOptions{});
    auto b = image::compute_layer_digests(v2.jar, v2.layers[i], LayerOptions{});
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    if (v1.layers[i].name == "application") {
      CHECK(a->digest != b->digest);
    } else {
      CHECK(a->digest == b->digest);
    }
  }
}

TEST_CASE("a missing jar or file is an error, not a broken layer") {
  auto plan = plan_for("plain.jar");
  jar::Layer layer{"x", {jar::LayerItem{jar::LayerItem::Source::File, "/nonexistent/file.jar", "/app/x.jar", 3, 0}}};
  auto s = LayerStream::open(plan.jar, layer, LayerOptions{});
  REQUIRE(s.ok());
  std::vector<char> buf(1000);
  util::Status st;
  for (;;) {
    auto n = (*s)->read(buf.data(), buf.size());
    if (!n.ok()) {
      st = n.error();
      break;
    }
    if (*n == 0) break;
  }
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == util::ErrorCode::NotFound);

  jar::Layer bad{"x", {jar::LayerItem{jar::LayerItem::Source::File, plan.jar.string(), "/app/../etc/x", 3, 0}}};
  CHECK_FALSE(LayerStream::open(plan.jar, bad, LayerOptions{}).ok());
}
