// Reading fields of Kubernetes objects (nlohmann::json) without exceptions: missing or mistyped
// fields read as null / "" / the fallback. The one way wb reads an object's fields, from the API
// client up to the commands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace wb::kube::fields {

using json = nlohmann::json;

// The value at a JSON pointer ("/spec/replicas"), or null when absent.
const json& at(const json& obj, const char* pointer);
// The string at a JSON pointer, or "".
std::string str(const json& obj, const char* pointer);
// The integer at a JSON pointer, or `fallback`.
int integer(const json& obj, const char* pointer, int fallback = 0);
// metadata.<section>[key] for section "labels" or "annotations", or "".
std::string meta_string(const json& obj, const char* section, const std::string& key);

}  // namespace wb::kube::fields
