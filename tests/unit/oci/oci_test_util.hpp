// Shared helpers for the oci unit tests: temporary directories and files.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "temp_dir.hpp"

namespace wb::oci::test {

// A temp dir named wb-oci-test-XXXXXX.
class TempDir : public wb::test::TempDir {
 public:
  TempDir() : wb::test::TempDir("wb-oci-test") {}
};

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = static_cast<char>((v >> (8 * j)) & 0xff);
  }
  return s;
}

// An environment for tests: a map behind the EnvLookup signature.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::optional<std::string> operator()(const std::string& name) const {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace wb::oci::test
