#include "kube/fields.hpp"

namespace wb::kube::fields {

const json& at(const json& obj, const char* pointer) {
  static const json null;
  json::json_pointer p(pointer);
  return obj.is_object() && obj.contains(p) ? obj.at(p) : null;
}

std::string str(const json& obj, const char* pointer) {
  const json& v = at(obj, pointer);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int integer(const json& obj, const char* pointer, int fallback) {
  const json& v = at(obj, pointer);
  return v.is_number_integer() ? v.get<int>() : fallback;
}

std::string meta_string(const json& obj, const char* section, const std::string& key) {
  const json& m = at(obj, "/metadata");
  if (!m.is_object() || !m.contains(section) || !m[section].is_object()) return "";
  auto it = m[section].find(key);
  return it != m[section].end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace wb::kube::fields
