// A layering plan: which files of a jar go into which image layer, at which path, and how the
// image starts them. The image builder (lib/image) turns a plan into tar layers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jar/jar.hpp"

namespace wb::jar {

// One file of a layer.
struct LayerItem {
  enum class Source { JarEntry, File };
  Source source = Source::JarEntry;
  std::string from;   // the entry path in the jar (JarEntry), or a path on disk (File)
  std::string to;     // absolute path in the image: "/app/BOOT-INF/lib/dep-1.0.jar"
  int64_t size = 0;
  uint32_t mode = 0;  // original permission bits; 0 when unknown
};

struct Layer {
  std::string name;              // "dependencies", "spring-boot-loader", "application", ...
  std::vector<LayerItem> items;  // sorted by `to`
};

struct LayerPlan {
  std::filesystem::path jar;
  bool spring_boot = false;
  std::string main_class;         // the class that starts: the launcher (Spring Boot) or Main-Class
  std::string start_class;        // Spring Boot's Start-Class, "" otherwise
  std::vector<Layer> layers;      // bottom first; empty layers are left out
  // What follows "java" and the JVM flags in the entrypoint:
  // {"-cp", "/app", "<launcher>"} for Spring Boot, {"-jar", "/app/app.jar"} otherwise.
  std::vector<std::string> java_args;
  std::string working_dir = "/app";
  int java_version = 0;           // the Java feature release the classes need (0: unknown)
  std::vector<std::string> warnings;  // e.g. Class-Path entries not found beside the jar
};

// layers.idx: layer names in order, each with its entries (a trailing '/' marks a folder prefix).
using LayersIndex = std::vector<std::pair<std::string, std::vector<std::string>>>;
// Parses Spring Boot's layers.idx ("- \"name\":" lines followed by "  - \"path\"" lines).
Result<LayersIndex> parse_layers_index(std::string_view text);

struct PlanOptions {
  std::string app_dir = "/app";  // where the application lives in the image
  // Plain jars: also add Class-Path jars that sit beside the jar (relative paths only).
  // This is the one place the plan looks at the disk beyond the jar.
  bool class_path_siblings = true;
  // A dependencies layer ("dependencies", "snapshot-dependencies", or any layers.idx layer whose
  // name ends in "-dependencies") whose files total more than this many bytes (uncompressed) is
  // split into K = min(4, ceil(total / split_threshold)) layers "<name>-1".."<name>-K" that
  // compress and upload in parallel. Each file goes to bucket fnv1a64(its image path) % K, so
  // adding or removing one dependency changes only the layer that holds it (while K stays the
  // same). 0: never split. "application" and "spring-boot-loader" are never split.
  int64_t split_threshold = int64_t{16} * 1024 * 1024;
};

// Splits a jar into layers.
// Spring Boot: runs exploded; layers from layers.idx when the jar has one, else dependencies,
// spring-boot-loader, snapshot-dependencies, application. Plain jar: the jar as /app/app.jar
// (layer "application"), below it its Class-Path jars (layer "dependencies").
// Only "application" changes when only the application's own classes change.
// Large dependencies layers are split (see PlanOptions::split_threshold).
Result<LayerPlan> plan_layers(const JarInfo& info, const PlanOptions& options = {});

}  // namespace wb::jar
