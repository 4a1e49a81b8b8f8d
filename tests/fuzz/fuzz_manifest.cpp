// META-INF/MANIFEST.MF and Spring Boot's layers.idx as a jar carries them, and the layering plan
// made from them. The input is a manifest, optionally followed by "\n--layers.idx--\n" and a
// layers.idx, then "\n--entries--\n" and entry paths one per line.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "jar/jar.hpp"
#include "jar/plan.hpp"

namespace {

std::string_view cut(std::string_view& text, std::string_view sep) {
  auto at = text.find(sep);
  if (at == std::string_view::npos) {
    auto all = text;
    text = {};
    return all;
  }
  auto head = text.substr(0, at);
  text.remove_prefix(at + sep.size());
  return head;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const auto manifest_text = cut(rest, "\n--layers.idx--\n");
  const auto layers_text = cut(rest, "\n--entries--\n");
  const auto entries_text = rest;

  auto manifest = jar::parse_manifest(manifest_text);
  auto layers = jar::parse_layers_index(layers_text);
  if (!manifest.ok()) return 0;

  jar::JarInfo info;
  info.path = "/nonexistent/app.jar";
  info.manifest = *manifest;
  auto attr = [&](const char* name) {
    auto it = info.manifest.find(name);
    return it == info.manifest.end() ? std::string() : it->second;
  };
  info.main_class = attr("Main-Class");
  info.start_class = attr("Start-Class");
  info.spring_boot_version = attr("Spring-Boot-Version");
  if (auto v = attr("Spring-Boot-Classes"); !v.empty()) info.boot_classes = v;
  if (auto v = attr("Spring-Boot-Lib"); !v.empty()) info.boot_lib = v;
  if (layers.ok()) info.layers_index = std::string(layers_text);
  std::istringstream cp(attr("Class-Path"));
  for (std::string item; cp >> item;) info.class_path.push_back(item);
  std::istringstream lines{std::string(entries_text)};
  int64_t n = 0;
  for (std::string line; std::getline(lines, line) && n < 256; ++n)
    if (!line.empty()) info.entries.push_back({line, n * 1000, 0644, 0});
  (void)info.is_spring_boot();
  (void)info.launcher();

  jar::PlanOptions options;
  options.class_path_siblings = false;
  options.split_threshold = 4096;
  (void)jar::plan_layers(info, options);
  return 0;
}
