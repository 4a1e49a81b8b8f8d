// What push_jar.cpp and push_jar_plan.cpp share; only workbench/delivery includes it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "oci/oci.hpp"
#include "workbench/delivery/push_jar.hpp"

namespace wb::workbench::push_detail {

// The value of an environment variable, or nothing when it is unset or empty.
std::optional<std::string> env_value(const EnvLookup& env, const std::string& name);

// The oci:/tar: stand-in reference of a local layout (its registry and repository are ignored).
oci::Reference layout_ref(const std::filesystem::path& dir, const std::string& name, const std::string& tag);

}  // namespace wb::workbench::push_detail
