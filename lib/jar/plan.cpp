#include "jar/plan.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>
#include <system_error>

#include "util/strings.hpp"

namespace wb::jar {

using util::Error;
using util::ErrorCode;

namespace {

// The text between the first pair of double quotes, if the line is exactly `prefix"..."suffix`.
std::optional<std::string> quoted(std::string_view line, std::string_view prefix, std::string_view suffix) {
  if (line.size() < prefix.size() + suffix.size() + 2) return std::nullopt;
  if (line.substr(0, prefix.size()) != prefix) return std::nullopt;
  if (line.substr(line.size() - suffix.size()) != suffix) return std::nullopt;
  std::string_view inner = line.substr(prefix.size(), line.size() - prefix.size() - suffix.size());
  if (inner.size() < 2 || inner.front() != '"' || inner.back() != '"') return std::nullopt;
  return std::string(inner.substr(1, inner.size() - 2));
}

bool matches(const std::string& entry, const std::string& pattern) {
  if (!pattern.empty() && pattern.back() == '/') return entry.rfind(pattern, 0) == 0;
  return entry == pattern;
}

std::string base_name(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool has_dot_dot(const std::string& p) {
  for (const std::string& seg : util::split(p, '/')) {
    if (seg == "..") return true;
  }
  return false;
}

constexpr size_t kMaxSplit = 4;

bool is_dependencies_layer(const std::string& name) {
  static constexpr std::string_view suffix = "-dependencies";
  return name == "dependencies" ||
         (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
}

// FNV-1a, 64 bit: fixed by definition, so bucket membership is the same on every platform and
// every build (std::hash promises neither).
uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Splits a large dependencies layer into up to kMaxSplit layers "<name>-<bucket>" (1-based) that
// compress and upload concurrently: a cold push is otherwise bounded by deflating ~all of the bytes
// on one core. Membership is by a hash of each file's image path modulo K rather than by chunking
// the sorted list by size: chunking balances sizes better, but one added or removed jar shifts the
// chunk boundaries and so changes (re-uploads) every later part; with hashing the other files stay
// where they were, and only the bucket that gains or loses a file changes. K depends only on the
// layer's total size, so it changes (and everything moves) only when the total crosses a multiple of
// the threshold. Empty buckets are left out but the others keep their numbers; a layer whose files
// all land in one bucket (one huge jar, say) is left whole under its own name.
void split_layer(Layer&& layer, int64_t threshold, const std::set<std::string>& taken, std::vector<Layer>& out) {
  int64_t total = 0;
  for (const LayerItem& item : layer.items) total += std::max<int64_t>(item.size, 0);
  if (threshold <= 0 || total <= threshold || layer.items.size() < 2 || !is_dependencies_layer(layer.name)) {
    out.push_back(std::move(layer));
    return;
  }
  const size_t k =
      static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kMaxSplit), (total + threshold - 1) / threshold));
  std::vector<Layer> parts(k);
  for (size_t b = 0; b < k; ++b) {
    parts[b].name = layer.name + "-" + std::to_string(b + 1);
    // A layers.idx that already uses such a name: leave the layer whole rather than clash.
    if (taken.count(parts[b].name)) {
      out.push_back(std::move(layer));
      return;
    }
  }
  for (LayerItem& item : layer.items) parts[fnv1a64(item.to) % k].items.push_back(std::move(item));
  size_t used =
      static_cast<size_t>(std::count_if(parts.begin(), parts.end(), [](const Layer& p) { return !p.items.empty(); }));
  if (used < 2) {  // nothing to gain: keep the name
    for (Layer& p : parts) {
      if (!p.items.empty()) layer.items = std::move(p.items);
    }
    out.push_back(std::move(layer));
    return;
  }
  for (Layer& p : parts) {
    if (!p.items.empty()) out.push_back(std::move(p));  // items stay sorted: a stable partition
  }
}

void finish(LayerPlan& plan, const PlanOptions& options) {
  std::set<std::string> taken;
  for (const Layer& layer : plan.layers) taken.insert(layer.name);
  std::vector<Layer> kept;
  for (Layer& layer : plan.layers) {
    if (layer.items.empty()) continue;
    std::sort(layer.items.begin(), layer.items.end(),
              [](const LayerItem& a, const LayerItem& b) { return a.to < b.to; });
    split_layer(std::move(layer), options.split_threshold, taken, kept);
  }
  plan.layers = std::move(kept);
}

}  // namespace

Result<LayersIndex> parse_layers_index(std::string_view text) {
  LayersIndex index;
  int line_no = 0;
  for (std::string raw : util::split(text, '\n')) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (util::trim(raw).empty()) continue;
    if (auto name = quoted(raw, "- ", ":")) {
      index.emplace_back(*name, std::vector<std::string>{});
    } else if (auto entry = quoted(raw, "  - ", "")) {
      if (index.empty()) {
        return Error(ErrorCode::Usage,
                     "invalid layers.idx: line " + std::to_string(line_no) + " comes before any layer");
      }
      index.back().second.push_back(*entry);
    } else {
      return Error(ErrorCode::Usage, "invalid layers.idx: line " + std::to_string(line_no) +
                                         " is neither '- \"layer\":' nor '  - \"path\"'");
    }
  }
  if (index.empty()) return Error(ErrorCode::Usage, "invalid layers.idx: it names no layers");
  return index;
}

namespace {

LayerItem jar_entry_item(const Entry& e, const std::string& app) {
  return LayerItem{LayerItem::Source::JarEntry, e.path, app + "/" + e.path, e.size, e.mode};
}

// The layers layers.idx names, each entry in the first whose patterns match it (in file order,
// as Spring Boot's own IndexedLayers does), else in "application" (or the last layer).
Result<std::vector<Layer>> indexed_layers(const JarInfo& info, const std::string& app) {
  auto parsed = parse_layers_index(*info.layers_index);
  if (!parsed.ok()) return parsed.error().with_context(info.path.string() + " " + info.layers_index_path);
  const LayersIndex& index = *parsed;
  std::vector<Layer> layers;
  for (const auto& [name, _] : index) layers.push_back(Layer{name, {}});
  size_t fallback = index.size() - 1;
  for (size_t i = 0; i < index.size(); ++i) {
    if (index[i].first == "application") fallback = i;
  }
  for (const Entry& e : info.entries) {
    size_t target = fallback;
    for (size_t i = 0; i < index.size(); ++i) {
      const auto& patterns = index[i].second;
      if (std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return matches(e.path, p); })) {
        target = i;
        break;
      }
    }
    layers[target].items.push_back(jar_entry_item(e, app));
  }
  return layers;
}

// Spring Boot's default layers for a jar without layers.idx: released and snapshot
// dependencies, the loader, and the application.
std::vector<Layer> default_boot_layers(const JarInfo& info, const std::string& app) {
  std::vector<Layer> layers = {Layer{"dependencies", {}}, Layer{"spring-boot-loader", {}},
                               Layer{"snapshot-dependencies", {}}, Layer{"application", {}}};
  for (const Entry& e : info.entries) {
    size_t target = 3;
    if (e.path.rfind(info.boot_lib, 0) == 0) {
      target = base_name(e.path).find("SNAPSHOT") != std::string::npos ? 2 : 0;
    } else if (e.path.rfind("org/springframework/boot/loader/", 0) == 0) {
      target = 1;
    }
    layers[target].items.push_back(jar_entry_item(e, app));
  }
  return layers;
}

// The jars a plain jar's Class-Path names beside it, as one layer; what cannot be taken is a
// warning in the plan.
Layer class_path_layer(const JarInfo& info, const std::string& app, std::vector<std::string>& warnings) {
  Layer deps{"dependencies", {}};
  std::error_code ec;
  const auto dir = info.path.parent_path();
  for (std::string cp : info.class_path) {
    if (cp.find("://") != std::string::npos || cp.rfind("file:", 0) == 0 || cp.front() == '/' || has_dot_dot(cp) ||
        cp.back() == '/') {
      warnings.push_back("Class-Path entry " + cp + " is not a jar beside " + info.path.filename().string() +
                         "; the image will not include it");
      continue;
    }
    while (cp.rfind("./", 0) == 0) cp.erase(0, 2);
    if (cp == "app.jar") {
      warnings.push_back("Class-Path entry app.jar clashes with the application jar; left out");
      continue;
    }
    auto file = dir / cp;
    if (!std::filesystem::is_regular_file(file, ec)) {
      warnings.push_back("Class-Path entry " + cp + " was not found beside " + info.path.filename().string() +
                         "; the image will not include it");
      continue;
    }
    auto size = std::filesystem::file_size(file, ec);
    deps.items.push_back(
        LayerItem{LayerItem::Source::File, file.string(), app + "/" + cp, ec ? 0 : static_cast<int64_t>(size), 0644});
  }
  return deps;
}

}  // namespace

Result<LayerPlan> plan_layers(const JarInfo& info, const PlanOptions& options) {
  LayerPlan plan;
  plan.jar = info.path;
  plan.main_class = info.main_class;
  plan.java_version = info.java_version;
  plan.working_dir = options.app_dir;
  if (info.main_class.empty()) {
    return Error(ErrorCode::Usage, info.path.string() + " has no Main-Class in META-INF/MANIFEST.MF",
                 "build it as an executable jar (e.g. spring-boot-maven-plugin repackage)");
  }
  const std::string app =
      options.app_dir.back() == '/' ? options.app_dir.substr(0, options.app_dir.size() - 1) : options.app_dir;

  if (info.is_spring_boot()) {
    plan.spring_boot = true;
    plan.start_class = info.start_class;
    // The exploded jar runs through the launcher the manifest names (Main-Class), as Jib and
    // Buildpacks do, rather than `-cp BOOT-INF/classes:BOOT-INF/lib/* Start-Class`: the launcher
    // keeps Spring Boot's class path order (classpath.idx), its nested-jar URL handling and its
    // version-specific behaviour, and its class name comes from the jar, so Spring Boot 3.2's
    // move to org.springframework.boot.loader.launch needs nothing from us.
    plan.java_args = {"-cp", app, info.main_class};
    if (info.layers_index) {
      WB_ASSIGN_OR_RETURN(plan.layers, indexed_layers(info, app));
    } else {
      plan.layers = default_boot_layers(info, app);
    }
    finish(plan, options);
    return plan;
  }

  // A plain jar runs as itself.
  std::error_code ec;
  auto jar_size = std::filesystem::file_size(info.path, ec);
  plan.java_args = {"-jar", app + "/app.jar"};
  if (options.class_path_siblings)
    plan.layers.push_back(class_path_layer(info, app, plan.warnings));
  else
    plan.layers.push_back(Layer{"dependencies", {}});
  plan.layers.push_back(Layer{"application",
                              {LayerItem{LayerItem::Source::File, info.path.string(), app + "/app.jar",
                                         static_cast<int64_t>(jar_size), 0644}}});
  finish(plan, options);
  return plan;
}

}  // namespace wb::jar
