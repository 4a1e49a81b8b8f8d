#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

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

namespace {

// Writes a Spring-Boot-shaped jar (no layers.idx) with `libs` dependency jars of 4 KiB each.
std::filesystem::path write_boot_jar(const std::string& file, int libs, const std::string& c7,
                                     const std::string& extra_lib = "") {
  auto path = std::filesystem::temp_directory_path() / (file + "-" + std::to_string(getpid()) + ".jar");
  std::vector<std::pair<std::string, std::string>> entries = {
      {"META-INF/MANIFEST.MF",
       "Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\r\n"
       "Start-Class: com.example.App\r\nSpring-Boot-Version: 3.2.0\r\n"
       "Spring-Boot-Classes: BOOT-INF/classes/\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n\r\n"},
      {"org/springframework/boot/loader/launch/JarLauncher.class", "\xCA\xFE\xBA\xBE loader"},
      {"BOOT-INF/classes/com/example/App.class", "\xCA\xFE\xBA\xBE app"},
      {"BOOT-INF/classes/com/example/C7.class", c7},
  };
  auto lib = [](const std::string& name) { return std::string(4096, static_cast<char>(name.size() * 7 + name.back())); };
  for (int i = 0; i < libs; ++i) {
    std::string name = "BOOT-INF/lib/dep" + std::to_string(i) + "-1.0.jar";
    entries.emplace_back(name, lib(name));
  }
  if (!extra_lib.empty()) entries.emplace_back("BOOT-INF/lib/" + extra_lib, lib(extra_lib));
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) throw std::runtime_error("cannot write " + path.string());
  for (const auto& [name, content] : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return path;
}

// Layer name -> compressed digest.
std::map<std::string, std::string> split_digests(const std::filesystem::path& jar_path) {
  auto info = jar::inspect_jar(jar_path);
  if (!info.ok()) throw std::runtime_error(info.error().message);
  jar::PlanOptions options;
  options.split_threshold = 4096 * 10;  // 40 jars of 4 KiB -> K = 4
  auto plan = jar::plan_layers(*info, options);
  if (!plan.ok()) throw std::runtime_error(plan.error().message);
  std::map<std::string, std::string> out;
  for (const auto& layer : plan->layers) {
    auto d = image::compute_layer_digests(plan->jar, layer, LayerOptions{});
    if (!d.ok()) throw std::runtime_error(d.error().message);
    out[layer.name] = d->digest;
  }
  return out;
}

}  // namespace

TEST_CASE("split dependencies layers: reproducible, a class change or a new jar re-uploads one layer") {
  auto v1_path = write_boot_jar("split-v1", 40, "\xCA\xFE\xBA\xBE one");
  auto v1b_path = write_boot_jar("split-v1b", 40, "\xCA\xFE\xBA\xBE one");
  auto v2_path = write_boot_jar("split-v2", 40, "\xCA\xFE\xBA\xBE two");
  auto v3_path = write_boot_jar("split-v3", 40, "\xCA\xFE\xBA\xBE one", "brand-new-lib-2.3.jar");
  auto v1 = split_digests(v1_path);
  auto v1b = split_digests(v1b_path);
  auto v2 = split_digests(v2_path);
  auto v3 = split_digests(v3_path);
  for (const auto& p : {v1_path, v1b_path, v2_path, v3_path}) std::filesystem::remove(p);

  std::vector<std::string> names;
  for (const auto& [name, _] : v1) names.push_back(name);
  CHECK(names == std::vector<std::string>{"application", "dependencies-1", "dependencies-2", "dependencies-3",
                                          "dependencies-4", "spring-boot-loader"});
  CHECK(v1 == v1b);  // the same jar written twice: the same layers

  REQUIRE(v2.size() == v1.size());
  for (const auto& [name, digest] : v1) {
    INFO(name);
    CHECK((v2.at(name) == digest) == (name != "application"));
  }

  REQUIRE(v3.size() == v1.size());
  int changed = 0;
  for (const auto& [name, digest] : v1) {
    INFO(name);
    if (v3.at(name) == digest) continue;
    ++changed;
    CHECK(name.rfind("dependencies-", 0) == 0);
  }
  CHECK(changed == 1);
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

TEST_CASE("auto compression: compressed bytes stay a plain tar, text is gzipped; the key follows the content") {
  auto plan = plan_for("plain.jar");
  const auto dir = std::filesystem::temp_directory_path() / ("wb-layer-choice-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return jar::LayerItem{jar::LayerItem::Source::File, (dir / name).string(), "/app/" + name,
                          static_cast<int64_t>(bytes.size()), 0644};
  };
  std::string noise(200000, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : noise) {  // xorshift: bytes no compressor shrinks
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::string text;
  while (text.size() < 200000) text += "spring.datasource.url=jdbc:postgresql://db/orders\n";
  jar::Layer deps{"dependencies", {write("dep.jar", noise)}};
  jar::Layer app{"application", {write("application.properties", text)}};

  using Output = LayerStream::Output;
  auto choose = [&](const jar::Layer& l, image::Compression c) {
    auto r = image::choose_layer_output(plan.jar, l, LayerOptions{}, c);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(choose(deps, image::Compression::Auto).output == Output::Tar);
  CHECK(choose(app, image::Compression::Auto).output == Output::Gzip);
  CHECK(choose(app, image::Compression::None).output == Output::Tar);
  CHECK(choose(deps, image::Compression::Gzip).output == Output::Gzip);

  // The key: the same for the same files and choice, another for other bytes or another choice.
  const std::string key = choose(deps, image::Compression::Auto).key;
  CHECK(choose(deps, image::Compression::Auto).key == key);
  CHECK(choose(deps, image::Compression::Gzip).key != key);
  noise[100] ^= 1;  // same size: the file's time tells
  deps.items[0] = write("dep.jar", noise);
  std::filesystem::last_write_time(dir / "dep.jar",
                                   std::filesystem::file_time_type::clock::now() + std::chrono::seconds(5));
  CHECK(choose(deps, image::Compression::Auto).key != key);

  CHECK(image::parse_compression("none") == image::Compression::None);
  CHECK(image::parse_compression("auto") == image::Compression::Auto);
  CHECK(image::parse_compression("zstd") == std::nullopt);
  std::filesystem::remove_all(dir);
}
