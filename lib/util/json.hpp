// Reading fields of JSON a peer sent (manifests, Status answers, discovery, credentials) without
// exceptions: nlohmann's value() throws when a field is there with another type, and a peer
// decides the types.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>

namespace wb::util {

// obj[key] when `obj` is an object whose `key` holds a value of T's kind (string, boolean,
// number, or any JSON for T = json); `fallback` otherwise. Never throws. Integers out of T's range
// and numbers with a fraction read as the fallback.
template <class T>
T json_value(const nlohmann::json& obj, std::string_view key, T fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  const nlohmann::json& v = *it;
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    return v;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string() ? v.get<std::string>() : fallback;
  } else if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean() ? v.get<bool>() : fallback;
  } else {
    static_assert(std::is_integral_v<T>, "json_value reads strings, booleans, integers or JSON");
    if (v.is_number_unsigned()) {
      auto n = v.get<std::uint64_t>();
      return n <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()) ? static_cast<T>(n) : fallback;
    }
    if (v.is_number_integer()) {
      auto n = v.get<std::int64_t>();
      if constexpr (std::is_signed_v<T>) {
        return n >= std::numeric_limits<T>::min() && n <= std::numeric_limits<T>::max() ? static_cast<T>(n) : fallback;
      } else {
        return n >= 0 && static_cast<std::uint64_t>(n) <= std::numeric_limits<T>::max() ? static_cast<T>(n) : fallback;
      }
    }
    return fallback;
  }
}

// The string form: json_value(obj, "kind", "") reads a string.
inline std::string json_value(const nlohmann::json& obj, std::string_view key, const char* fallback) {
  return json_value<std::string>(obj, key, std::string(fallback));
}

// The value at a JSON pointer made of object keys ("/spec/template/metadata"), or nullptr when a
// step is missing or not an object. Array indexes are not steps. Never throws.
inline const nlohmann::json* json_find(const nlohmann::json& obj, std::string_view pointer) {
  const nlohmann::json* at = &obj;
  while (!pointer.empty()) {
    if (pointer.front() != '/' || !at->is_object()) return nullptr;
    pointer.remove_prefix(1);
    const auto end = pointer.find('/');
    const std::string_view key = pointer.substr(0, end);
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    pointer = end == std::string_view::npos ? std::string_view() : pointer.substr(end);
  }
  return at;
}

// json_value at a pointer of object keys: json_at(deployment, "/spec/replicas", 0). A missing step
// or a value of another kind reads as `fallback` (for T = json: a JSON of another type than the
// fallback's, when the fallback is an object or an array). Never throws.
template <class T>
T json_at(const nlohmann::json& obj, std::string_view pointer, T fallback) {
  const auto slash = pointer.rfind('/');
  if (slash == std::string_view::npos) return fallback;
  const nlohmann::json* parent = json_find(obj, pointer.substr(0, slash));
  if (!parent) return fallback;
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    const nlohmann::json v = json_value<nlohmann::json>(*parent, pointer.substr(slash + 1), fallback);
    if ((fallback.is_object() || fallback.is_array()) && v.type() != fallback.type()) return fallback;
    return v;
  } else {
    return json_value<T>(*parent, pointer.substr(slash + 1), std::move(fallback));
  }
}

inline std::string json_at(const nlohmann::json& obj, std::string_view pointer, const char* fallback) {
  return json_at<std::string>(obj, pointer, std::string(fallback));
}

}  // namespace wb::util
