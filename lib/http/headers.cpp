#include "http/http.hpp"
#include "util/strings.hpp"

namespace wb::http {

void Headers::set(const std::string& name, std::string value) {
  std::erase_if(items_, [&](const auto& kv) { return util::iequals(kv.first, name); });
  items_.emplace_back(name, std::move(value));
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (util::iequals(k, name)) return v;
  return std::nullopt;
}

std::vector<std::string> Headers::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (util::iequals(k, name)) out.push_back(v);
  return out;
}

}  // namespace wb::http
