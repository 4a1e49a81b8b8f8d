// YAML as wb reads it (util/yaml: every document to JSON) and writes it: whatever parses is
// written back with to_yaml and must read back as the same value; any one-line string written
// as a scalar reads back as that string.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "util/yaml.hpp"

namespace {

// NaN never equals itself; such a document cannot be compared (and is not wb's to write).
bool has_nan(const nlohmann::json& j) {
  if (j.is_number_float()) return std::isnan(j.get<double>());
  if (j.is_structured())
    for (const auto& v : j)
      if (has_nan(v)) return true;
  return false;
}

// Strings that are not UTF-8 are written with U+FFFD in their place (JSON text is UTF-8), so
// they cannot come back as they were; the round trips are checked on UTF-8 input only.
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t more = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 0;
    if (more == 0 || i + more >= s.size()) return false;
    for (size_t k = 1; k <= more; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += more + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb::util;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto docs = parse_yaml(text, "fuzz.yaml", "");
  if (!valid_utf8(text)) return 0;
  if (docs.ok()) {
    for (const auto& doc : *docs) {
      const std::string out = to_yaml(doc);
      auto back = parse_yaml(out, "written.yaml", "");
      if (!back.ok()) std::abort();  // what wb writes, it reads
      if (!has_nan(doc) && (back->size() != 1 || (*back)[0] != doc)) {
        if (!(doc.is_null() && back->empty())) std::abort();
      }
    }
  }
  if (text.find('\n') == std::string::npos && text.find('\r') == std::string::npos) {
    for (const std::string& scalar : {yaml_scalar(text), yaml_quoted(text)}) {
      auto back = parse_yaml("v: " + scalar + "\n", "scalar.yaml", "");
      if (!back.ok() || back->size() != 1 || !(*back)[0].is_object() || (*back)[0]["v"] != text) std::abort();
    }
  }
  return 0;
}
