#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>

#include "jar/fixture_jars.hpp"
#include "jar/jar.hpp"
#include "jar/plan.hpp"
#include "util/fs.hpp"

using namespace wb;
using wb::test::fixture_jar;

namespace {

std::vector<std::string> names(const jar::Layer& layer) {
  std::vector<std::string> out;
  for (const auto& item : layer.items) out.push_back(item.to);
  return out;
}

std::vector<std::string> layer_names(const jar::LayerPlan& plan) {
  std::vector<std::string> out;
  for (const auto& l : plan.layers) out.push_back(l.name);
  return out;
}

// Writes a zip with the given (name, content) entries.
std::filesystem::path write_zip(const std::string& file,
                                const std::vector<std::pair<std::string, std::string>>& entries) {
  auto path = std::filesystem::temp_directory_path() / (file + "-" + std::to_string(getpid()) + ".jar");
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  for (const auto& [name, content] : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return path;
}

}  // namespace

TEST_CASE("manifest: main section, continuation lines, any line end, case-insensitive names") {
  auto m = jar::parse_manifest(
      "Manifest-Version: 1.0\r\nMain-Class: com.example.VeryLongNameThatGoesOnAndOnAndOnUntilTheLineIsSeventyT\r\n"
      " woBytes\r\nclass-path: a.jar\n  b.jar\rEmpty:\n\nName: com/example/\nMain-Class: other\n");
  REQUIRE(m.ok());
  CHECK(m->at("MAIN-CLASS") == "com.example.VeryLongNameThatGoesOnAndOnAndOnUntilTheLineIsSeventyTwoBytes");
  CHECK(m->at("Class-Path") == "a.jar b.jar");
  CHECK(m->at("Empty").empty());
  CHECK(m->size() == 4);

  auto bad = jar::parse_manifest("Manifest-Version: 1.0\nno colon here\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("line 2") != std::string::npos);
  CHECK_FALSE(jar::parse_manifest(" starts with a continuation\n").ok());
}

TEST_CASE("class-file major versions map to Java releases") {
  CHECK(jar::java_version_for_major(52) == 8);
  CHECK(jar::java_version_for_major(55) == 11);
  CHECK(jar::java_version_for_major(61) == 17);
  CHECK(jar::java_version_for_major(65) == 21);
  CHECK(jar::java_version_for_major(0) == 0);
}

TEST_CASE("inspect a plain executable jar") {
  auto info = jar::inspect_jar(fixture_jar("plain.jar"));
  REQUIRE(info.ok());
  CHECK(info->main_class == "com.example.plain.Main");
  CHECK_FALSE(info->is_spring_boot());
  CHECK(info->launcher().empty());
  CHECK(info->class_path ==
        std::vector<std::string>{"lib/helper.jar", "lib/not-there-but-named-with-a-very-long-file-name-1.2.3.jar"});
  CHECK(info->implementation_title == "plain-app");
  CHECK(info->implementation_version == "1.0.0");
  CHECK(info->class_major == 61);
  CHECK(info->java_version == 17);
  REQUIRE(info->find("com/example/plain/Main.class") != nullptr);
  CHECK(info->find("com/example/plain/Main.class")->size > 0);
  CHECK(info->find("META-INF/") == nullptr);  // directories are not listed
}

TEST_CASE("the Java version comes from the class files (--release 11 vs 17)") {
  auto j11 = jar::inspect_jar(fixture_jar("plain11.jar"));
  REQUIRE(j11.ok());
  CHECK(j11->class_major == 55);
  CHECK(j11->java_version == 11);
  auto j17 = jar::inspect_jar(fixture_jar("plain.jar"));
  REQUIRE(j17.ok());
  CHECK(j17->java_version == 17);
}

TEST_CASE("inspect a Spring Boot jar: launcher, start class, layers.idx") {
  auto info = jar::inspect_jar(fixture_jar("boot.jar"));
  REQUIRE(info.ok());
  CHECK(info->is_spring_boot());
  CHECK(info->launcher() == "org.springframework.boot.loader.launch.JarLauncher");
  CHECK(info->start_class == "com.example.App");
  CHECK(info->spring_boot_version == "3.2.0");
  CHECK(info->boot_classes == "BOOT-INF/classes/");
  CHECK(info->boot_lib == "BOOT-INF/lib/");
  CHECK(info->layers_index_path == "BOOT-INF/layers.idx");
  REQUIRE(info->layers_index.has_value());
  CHECK(info->layers_index->find("- \"config\":") != std::string::npos);
  CHECK(info->java_version == 17);
  CHECK(info->implementation_version == "0.0.1-SNAPSHOT");

  // Spring Boot before 3.2 names another launcher: whatever the manifest says is used.
  auto legacy = jar::inspect_jar(fixture_jar("boot-legacy.jar"));
  REQUIRE(legacy.ok());
  CHECK(legacy->launcher() == "org.springframework.boot.loader.JarLauncher");
  CHECK(legacy->spring_boot_version == "2.7.18");
  CHECK_FALSE(legacy->layers_index.has_value());
}

TEST_CASE("inspect errors say what is wrong with the file") {
  auto text = jar::inspect_jar(fixture_jar("orders.txt"));
  REQUIRE_FALSE(text.ok());
  CHECK(text.error().code == util::ErrorCode::Usage);
  CHECK(text.error().message == fixture_jar("orders.txt").string() + " is not a jar (not a zip archive)");

  auto nomain = jar::inspect_jar(fixture_jar("nomain.jar"));
  REQUIRE_FALSE(nomain.ok());
  CHECK(nomain.error().code == util::ErrorCode::Usage);
  CHECK(nomain.error().message ==
        fixture_jar("nomain.jar").string() +
            " has no Main-Class in META-INF/MANIFEST.MF; build it as an executable jar (e.g. spring-boot-maven-plugin "
            "repackage)");
  CHECK(jar::inspect_jar(fixture_jar("nomain.jar"), {.require_main_class = false}).ok());

  auto missing = jar::inspect_jar(fixture_jar("missing.jar"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == util::ErrorCode::NotFound);
  CHECK(missing.error().message.find("missing.jar not found") != std::string::npos);

  auto dir = jar::inspect_jar(fixture_jar("lib"));
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code == util::ErrorCode::Usage);

  auto evil = write_zip("evil", {{"META-INF/MANIFEST.MF", "Main-Class: X\n"}, {"../../etc/passwd", "x"}});
  auto r = jar::inspect_jar(evil);
  std::filesystem::remove(evil);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("unsafe path") != std::string::npos);
}

TEST_CASE("layers.idx parsing") {
  auto idx = jar::parse_layers_index(
      "- \"dependencies\":\n  - \"BOOT-INF/lib/a.jar\"\n- \"application\":\n  - \"META-INF/\"\n  - "
      "\"BOOT-INF/classes/\"\n");
  REQUIRE(idx.ok());
  REQUIRE(idx->size() == 2);
  CHECK((*idx)[0].first == "dependencies");
  CHECK((*idx)[0].second == std::vector<std::string>{"BOOT-INF/lib/a.jar"});
  CHECK((*idx)[1].second == std::vector<std::string>{"META-INF/", "BOOT-INF/classes/"});
  CHECK_FALSE(jar::parse_layers_index("  - \"x\"\n").ok());
  CHECK_FALSE(jar::parse_layers_index("dependencies:\n").ok());
  CHECK_FALSE(jar::parse_layers_index("").ok());
}

TEST_CASE("plan a Spring Boot jar from its layers.idx") {
  auto info = jar::inspect_jar(fixture_jar("boot.jar"));
  REQUIRE(info.ok());
  auto plan = jar::plan_layers(*info);
  REQUIRE(plan.ok());
  CHECK(plan->spring_boot);
  CHECK(plan->java_args ==
        std::vector<std::string>{"-cp", "/app", "org.springframework.boot.loader.launch.JarLauncher"});
  CHECK(plan->working_dir == "/app");
  CHECK(plan->java_version == 17);
  REQUIRE(layer_names(*plan) == std::vector<std::string>{"dependencies", "spring-boot-loader", "snapshot-dependencies",
                                                         "config", "application"});
  CHECK(names(plan->layers[0]) == std::vector<std::string>{"/app/BOOT-INF/lib/dep-1.0.jar"});
  CHECK(names(plan->layers[1]) ==
        std::vector<std::string>{"/app/org/springframework/boot/loader/launch/JarLauncher.class"});
  CHECK(names(plan->layers[2]) == std::vector<std::string>{"/app/BOOT-INF/lib/foo-2.0-SNAPSHOT.jar"});
  CHECK(names(plan->layers[3]) == std::vector<std::string>{"/app/BOOT-INF/classes/application.properties"});
  auto app = names(plan->layers[4]);
  CHECK(std::is_sorted(app.begin(), app.end()));
  CHECK(std::find(app.begin(), app.end(), "/app/BOOT-INF/classes/com/example/App.class") != app.end());
  CHECK(std::find(app.begin(), app.end(), "/app/META-INF/MANIFEST.MF") != app.end());
  CHECK(std::find(app.begin(), app.end(), "/app/BOOT-INF/layers.idx") != app.end());
  CHECK(plan->layers[4].items.front().source == jar::LayerItem::Source::JarEntry);
  CHECK(plan->layers[4].items.front().from + "" == plan->layers[4].items.front().to.substr(5));
}

TEST_CASE("plan a Spring Boot jar without layers.idx: the default four layers") {
  auto info = jar::inspect_jar(fixture_jar("boot-legacy.jar"));
  REQUIRE(info.ok());
  auto plan = jar::plan_layers(*info);
  REQUIRE(plan.ok());
  CHECK(plan->java_args == std::vector<std::string>{"-cp", "/app", "org.springframework.boot.loader.JarLauncher"});
  REQUIRE(layer_names(*plan) ==
          std::vector<std::string>{"dependencies", "spring-boot-loader", "snapshot-dependencies", "application"});
  CHECK(names(plan->layers[0]) == std::vector<std::string>{"/app/BOOT-INF/lib/dep-1.0.jar"});
  CHECK(names(plan->layers[1]) == std::vector<std::string>{"/app/org/springframework/boot/loader/JarLauncher.class"});
  CHECK(names(plan->layers[2]) == std::vector<std::string>{"/app/BOOT-INF/lib/foo-2.0-SNAPSHOT.jar"});
  auto app = names(plan->layers[3]);
  CHECK(std::find(app.begin(), app.end(), "/app/BOOT-INF/classes/application.properties") != app.end());
  CHECK(std::find(app.begin(), app.end(), "/app/BOOT-INF/classpath.idx") != app.end());
}

TEST_CASE("plan a plain jar: the jar itself, its Class-Path jars below it") {
  auto info = jar::inspect_jar(fixture_jar("plain.jar"));
  REQUIRE(info.ok());
  auto plan = jar::plan_layers(*info);
  REQUIRE(plan.ok());
  CHECK_FALSE(plan->spring_boot);
  CHECK(plan->java_args == std::vector<std::string>{"-jar", "/app/app.jar"});
  REQUIRE(layer_names(*plan) == std::vector<std::string>{"dependencies", "application"});
  CHECK(names(plan->layers[0]) == std::vector<std::string>{"/app/lib/helper.jar"});
  CHECK(plan->layers[0].items[0].source == jar::LayerItem::Source::File);
  CHECK(plan->layers[1].items[0].from == fixture_jar("plain.jar").string());
  CHECK(plan->layers[1].items[0].to == "/app/app.jar");
  CHECK(plan->layers[1].items[0].size == static_cast<int64_t>(std::filesystem::file_size(fixture_jar("plain.jar"))));
  REQUIRE(plan->warnings.size() == 1);
  CHECK(plan->warnings[0].find("not-there") != std::string::npos);

  auto no_siblings = jar::plan_layers(*info, {.app_dir = "/srv", .class_path_siblings = false});
  REQUIRE(no_siblings.ok());
  REQUIRE(layer_names(*no_siblings) == std::vector<std::string>{"application"});
  CHECK(no_siblings->java_args == std::vector<std::string>{"-jar", "/srv/app.jar"});
}

TEST_CASE("entry reader reads entries in any order") {
  auto reader = jar::EntryReader::open(fixture_jar("boot.jar"));
  REQUIRE(reader.ok());
  auto idx = (*reader)->read_all("BOOT-INF/layers.idx");
  REQUIRE(idx.ok());
  CHECK(idx->rfind("- \"dependencies\":", 0) == 0);
  auto manifest = (*reader)->read_all("META-INF/MANIFEST.MF");  // before: reopens
  REQUIRE(manifest.ok());
  CHECK(manifest->find("Start-Class: com.example.App") != std::string::npos);
  auto cls = (*reader)->read_all("BOOT-INF/classes/com/example/App.class");
  REQUIRE(cls.ok());
  CHECK(cls->substr(0, 4) == "\xCA\xFE\xBA\xBE");
  auto dep = (*reader)->read_all("BOOT-INF/lib/dep-1.0.jar");
  REQUIRE(dep.ok());
  CHECK(dep->substr(0, 2) == "PK");
  auto none = (*reader)->read_all("nope");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == util::ErrorCode::NotFound);
}

namespace {
std::filesystem::path copy_with(const std::string& jar_name, const std::string& out_name,
                                const std::function<void(std::string&)>& edit) {
  std::string bytes = util::read_file(fixture_jar(jar_name)).value();
  edit(bytes);
  auto out = std::filesystem::temp_directory_path() / (out_name + "-" + std::to_string(getpid()) + ".jar");
  REQUIRE(util::write_file_atomic(out, bytes).ok());
  return out;
}
}  // namespace

TEST_CASE("a fully executable jar (launch script before the zip) reads like any other") {
  auto path = copy_with("boot.jar", "launchscript", [](std::string& b) {
    b.insert(0, "#!/bin/bash\n# a Spring Boot launch script\nexec java -jar \"$0\" \"$@\"\nexit 0\n");
  });
  auto info = jar::inspect_jar(path);
  REQUIRE(info.ok());
  CHECK(info->launcher() == "org.springframework.boot.loader.launch.JarLauncher");
  REQUIRE(info->layers_index.has_value());
  auto reader = jar::EntryReader::open(path);
  REQUIRE(reader.ok());
  auto cls = (*reader)->read_all("BOOT-INF/classes/com/example/App.class");
  REQUIRE(cls.ok());
  CHECK(cls->substr(0, 4) == "\xCA\xFE\xBA\xBE");
  std::filesystem::remove(path);
}

TEST_CASE("entry reader: corrupt data is an error, not wrong bytes") {
  auto path = copy_with("plain.jar", "corrupt", [](std::string& b) {
    size_t at = b.find("com/example/plain/Main.class");  // the local header's name
    REQUIRE(at != std::string::npos);
    for (size_t i = at + 40; i < at + 60; ++i) b[i] = static_cast<char>(b[i] ^ 0x5a);
  });
  auto reader = jar::EntryReader::open(path);
  REQUIRE(reader.ok());
  auto cls = (*reader)->read_all("com/example/plain/Main.class");
  REQUIRE_FALSE(cls.ok());
  CHECK(cls.error().message.find("is not a valid jar") != std::string::npos);
  std::filesystem::remove(path);

  auto text = jar::EntryReader::open(fixture_jar("orders.txt"));
  REQUIRE_FALSE(text.ok());
  CHECK(text.error().message.find("is not a jar (not a zip archive)") != std::string::npos);
}

namespace {

// A Spring Boot jar's metadata without a file: the plan only looks at the entries.
jar::JarInfo boot_info(int libs, int64_t lib_size, int classes = 20) {
  jar::JarInfo info;
  info.path = "/nonexistent/app.jar";
  info.main_class = "org.springframework.boot.loader.launch.JarLauncher";
  info.start_class = "com.example.App";
  info.spring_boot_version = "3.2.0";
  info.entries.push_back({"META-INF/MANIFEST.MF", 200, 0644, 0});
  for (int i = 0; i < 10; ++i) {
    info.entries.push_back({"org/springframework/boot/loader/launch/L" + std::to_string(i) + ".class", 4000, 0644, 0});
  }
  for (int i = 0; i < classes; ++i) {
    info.entries.push_back({"BOOT-INF/classes/com/example/C" + std::to_string(i) + ".class", 3000, 0644, 0});
  }
  for (int i = 0; i < libs; ++i) {
    info.entries.push_back({"BOOT-INF/lib/dep" + std::to_string(i) + "-1.0.jar", lib_size, 0644, 0});
  }
  return info;
}

const jar::Layer* find_layer(const jar::LayerPlan& plan, const std::string& name) {
  for (const auto& l : plan.layers) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a large dependencies layer is split into size-balanced hash buckets") {
  // 100 jars of 1 MB: 100 MB > 16 MiB, so K = min(4, ceil(100 MB / 16 MiB)) = 4.
  auto info = boot_info(100, 1'000'000);
  REQUIRE(info.is_spring_boot());
  auto plan = jar::plan_layers(info);
  REQUIRE(plan.ok());
  REQUIRE(layer_names(*plan) == std::vector<std::string>{"dependencies-1", "dependencies-2", "dependencies-3",
                                                         "dependencies-4", "spring-boot-loader", "application"});
  std::vector<std::string> all;
  for (int b = 0; b < 4; ++b) {
    auto part = names(plan->layers[b]);
    INFO(plan->layers[b].name);
    CHECK(std::is_sorted(part.begin(), part.end()));
    CHECK(part.size() >= 10);  // roughly balanced: 25 expected each
    CHECK(part.size() <= 45);
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end());
  CHECK(all.size() == 100);
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());

  // Deterministic: the same jar gives the same plan.
  auto again = jar::plan_layers(info);
  REQUIRE(again.ok());
  REQUIRE(again->layers.size() == plan->layers.size());
  for (size_t i = 0; i < plan->layers.size(); ++i) CHECK(names(again->layers[i]) == names(plan->layers[i]));

  // Fewer parts for a smaller layer: 20 MB -> K = 2.
  auto two = jar::plan_layers(boot_info(20, 1'000'000));
  REQUIRE(two.ok());
  CHECK(layer_names(*two) ==
        std::vector<std::string>{"dependencies-1", "dependencies-2", "spring-boot-loader", "application"});

  // Under the threshold, or with splitting off: one layer, as before.
  auto small = jar::plan_layers(boot_info(10, 1'000'000));
  REQUIRE(small.ok());
  CHECK(layer_names(*small) == std::vector<std::string>{"dependencies", "spring-boot-loader", "application"});
  jar::PlanOptions off;
  off.split_threshold = 0;
  auto unsplit = jar::plan_layers(info, off);
  REQUIRE(unsplit.ok());
  CHECK(layer_names(*unsplit) == std::vector<std::string>{"dependencies", "spring-boot-loader", "application"});
  CHECK(names(unsplit->layers[0]) == all);
}

TEST_CASE("splitting: application and spring-boot-loader never split, snapshot-dependencies does") {
  auto info = boot_info(0, 0, 200);
  for (int i = 0; i < 10; ++i) {
    info.entries.push_back({"BOOT-INF/lib/snap" + std::to_string(i) + "-1.0-SNAPSHOT.jar", 1000, 0644, 0});
  }
  jar::PlanOptions tiny;
  tiny.split_threshold = 100;  // every layer is "large"
  auto plan = jar::plan_layers(info, tiny);
  REQUIRE(plan.ok());
  auto got = layer_names(*plan);
  CHECK(std::count_if(got.begin(), got.end(),
                      [](const std::string& n) { return n.rfind("snapshot-dependencies-", 0) == 0; }) >= 2);
  CHECK(find_layer(*plan, "spring-boot-loader") != nullptr);
  REQUIRE(find_layer(*plan, "application") != nullptr);
  CHECK(find_layer(*plan, "application")->items.size() == 201);  // the classes and the manifest

  // A single jar bigger than the threshold stays one layer, under its own name.
  auto one = jar::plan_layers(boot_info(1, 100'000'000));
  REQUIRE(one.ok());
  CHECK(layer_names(*one) == std::vector<std::string>{"dependencies", "spring-boot-loader", "application"});

  // layers.idx layers: split by name, and never onto a name the index already uses.
  auto indexed = boot_info(100, 1'000'000);
  indexed.layers_index =
      "- \"dependencies\":\n  - \"BOOT-INF/lib/\"\n- \"spring-boot-loader\":\n  - \"org/\"\n"
      "- \"application\":\n  - \"BOOT-INF/classes/\"\n  - \"META-INF/\"\n";
  auto ip = jar::plan_layers(indexed);
  REQUIRE(ip.ok());
  CHECK(layer_names(*ip).size() == 6);
  indexed.layers_index = *indexed.layers_index + "- \"dependencies-2\":\n  - \"nothing/\"\n";
  auto clash = jar::plan_layers(indexed);
  REQUIRE(clash.ok());
  CHECK(layer_names(*clash) == std::vector<std::string>{"dependencies", "spring-boot-loader", "application"});
}

TEST_CASE("splitting is stable: a class change touches only application, a new jar only its bucket") {
  auto base = boot_info(100, 1'000'000);
  auto v1 = jar::plan_layers(base);
  REQUIRE(v1.ok());

  auto changed = base;
  for (auto& e : changed.entries) {
    if (e.path == "BOOT-INF/classes/com/example/C7.class") e.size += 10;
  }
  changed.entries.push_back({"BOOT-INF/classes/com/example/New.class", 500, 0644, 0});
  auto v2 = jar::plan_layers(changed);
  REQUIRE(v2.ok());
  REQUIRE(layer_names(*v2) == layer_names(*v1));
  for (size_t i = 0; i < v1->layers.size(); ++i) {
    INFO(v1->layers[i].name);
    bool same = names(v1->layers[i]) == names(v2->layers[i]);
    for (size_t j = 0; same && j < v1->layers[i].items.size(); ++j) {
      same = v1->layers[i].items[j].size == v2->layers[i].items[j].size;
    }
    CHECK(same == (v1->layers[i].name != "application"));
  }

  auto added = base;
  added.entries.push_back({"BOOT-INF/lib/brand-new-lib-2.3.jar", 1'000'000, 0644, 0});
  auto v3 = jar::plan_layers(added);
  REQUIRE(v3.ok());
  REQUIRE(layer_names(*v3) == layer_names(*v1));  // 101 MB: still K = 4
  int differing = 0;
  for (size_t i = 0; i < v1->layers.size(); ++i) {
    auto before = names(v1->layers[i]);
    auto after = names(v3->layers[i]);
    if (before == after) continue;
    ++differing;
    INFO(v1->layers[i].name);
    CHECK(v1->layers[i].name.rfind("dependencies-", 0) == 0);
    CHECK(after.size() == before.size() + 1);
    CHECK(std::find(after.begin(), after.end(), "/app/BOOT-INF/lib/brand-new-lib-2.3.jar") != after.end());
  }
  CHECK(differing == 1);
}

TEST_CASE("a zip whose later entry header libarchive refuses without words is a usage error") {
  // Found by fuzzing: libarchive gave no error text, and wb read a null pointer into the message.
  const auto path = std::filesystem::path(WB_SOURCE_DIR) / "tests/fuzz/corpus/jar/crash-null-archive-error-string.jar";
  auto info = jar::inspect_jar(path);
  REQUIRE_FALSE(info);
  CHECK(info.error().code == util::ErrorCode::Usage);
  CHECK(info.error().message.find("cannot read") != std::string::npos);
}
