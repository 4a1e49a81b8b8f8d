// A tenant profile and a repository's wb.yaml, as the platform team and developers write them:
// settings (keys, types, maps), the app section, the merged spec and its checks, and the
// Deployment and Service built from it. Input: bit 0 of the first byte says whether the text is
// read as a profile (0) or as wb.yaml (1); the rest is the YAML.
#include <cstddef>
#include <cstdint>
#include <string>

#include "workbench/core/app.hpp"
#include "workbench/core/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb::workbench;
  if (size < 1) return 0;
  const bool app_file = data[0] & 1;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  Settings settings;
  auto values = app_file ? parse_settings_yaml(text, "wb.yaml", {"app"}) : parse_settings_yaml(text, "profile.yaml");
  if (values.ok()) {
    for (const auto& [key, value] : *values) {
      settings.set(key, {value, app_file ? Source::AppFile : Source::Profile, "fuzz"});
      (void)env_name(key);
    }
    if (!app_file) (void)render_profile("fuzz", *values);
  }

  AppOverrides overrides;
  if (app_file) {
    auto parsed = parse_app_file(text, "wb.yaml");
    if (!parsed.ok()) return 0;
    overrides = std::move(*parsed);
  }
  if (!overrides.name) overrides.name = "orders";
  AppSpec spec = merge_app_spec({&overrides});
  spec.workspace = "shop-dev";
  if (!validate_app_spec(spec).ok()) return 0;
  BuildContext context;
  context.creator = "alice";
  context.version = "1.0";
  (void)build_objects(spec, settings, context);
  return 0;
}
