// YAML as wb reads it (util/yaml: every document to JSON) and writes it: whatever parses is
// written back with to_yaml and must read back as the same value; any one-line string written
// as a scalar reads back as that string.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

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
// they cannot come back as they were; the round trips are checked on UTF-8 input only. NUL bytes
// count as not UTF-8 here: yaml-cpp takes text that starts "X\0\0\0" or "\0X" for UTF-32/16.
bool valid_utf8(const std::string& s) {
  // U+FFFE and U+FFFF are outside YAML's printable set: yaml-cpp 0.7 reads them raw but writes
  // U+FFFD even when escaping, so text holding them cannot round-trip (found by fuzzing; YAML
  // cannot carry them, not a wb bug). Held to the same rule as text that is not UTF-8.
  if (s.find("\xEF\xBF\xBE") != std::string::npos || s.find("\xEF\xBF\xBF") != std::string::npos) return false;
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < s.size();) {
    const unsigned c = byte(i);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
    size_t more = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      more = 1;
    else if (c >= 0xE0 && c <= 0xEF)
      more = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
      more = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
      return false;
    if (i + more >= s.size()) return false;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return false;
    for (size_t k = 2; k <= more; ++k)
      if ((byte(i + k) >> 6) != 2) return false;
    i += more + 1;
  }
  return true;
}

}  // namespace

// Whether any string (key or value) in `j` is not UTF-8: yaml-cpp 0.7 decodes the escape \N to
// the lone byte 0x85, and such text does not read back the same (as for input that is not UTF-8).
bool has_invalid_utf8(const nlohmann::json& j) {
  if (j.is_string()) return !valid_utf8(j.get_ref<const std::string&>());
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!valid_utf8(it.key()) || has_invalid_utf8(it.value())) return true;
  }
  if (j.is_array()) {
    for (const auto& v : j)
      if (has_invalid_utf8(v)) return true;
  }
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb::util;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto docs = parse_yaml(text, "fuzz.yaml", "");
  if (!valid_utf8(text)) return 0;
  if (docs.ok()) {
    for (const auto& doc : *docs) {
      if (has_invalid_utf8(doc)) continue;
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
