// YAML from and to JSON, one set of rules for every place wb writes or reads YAML (-o yaml, GitOps
// manifests, kubeconfigs it writes): block style, keys in the object's order, and a string quoted
// wherever a YAML 1.1 reader (kubectl's, yaml-cpp's) would read a plain scalar as something else.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace wb::util {

// One value as a YAML document ending in a newline: block style; empty objects and arrays as {}
// and []; strings quoted where a plain scalar would read as another type (true, yes, 1.0, 0755,
// 0x1f, 1:30, 2024-01-02, null, ~, "") and multi-line strings as literal blocks when a block keeps
// them exactly.
std::string to_yaml(const nlohmann::json& value);

// A one-line string as one YAML scalar: plain where that reads back as the same string, else
// double-quoted ("1.0", "yes").
std::string yaml_scalar(const std::string& text);

// A string as one double-quoted YAML scalar ("a \"b\"\n"), for hand-written YAML lines.
std::string yaml_quoted(const std::string& text);

// Every document of YAML text as JSON (plain scalars resolved to null/bool/number, quoted ones
// stay strings); empty documents are skipped. When it does not parse: Usage
// "<file_name>:line:col: <what>" with `hint`.
Result<std::vector<nlohmann::json>> parse_yaml(const std::string& text, const std::string& file_name,
                                               const std::string& hint);

}  // namespace wb::util
