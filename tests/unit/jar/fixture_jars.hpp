// The test jars of tests/fixtures/jars, built once per version of their sources into a shared
// temporary directory (ctest runs every test case in its own process).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/encoding.hpp"
#include "util/fs.hpp"

namespace wb::test {

inline const std::filesystem::path& fixture_jars() {
  static const std::filesystem::path dir = [] {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(WB_SOURCE_DIR) / "tests/fixtures/jars";
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(src)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::string all;
    for (const auto& f : files) all += f.string() + "\n" + util::read_file(f).value_or("") + "\n";
    const fs::path out = fs::temp_directory_path() /
                         ("wb-test-jars-" + std::to_string(getuid()) + "-" + util::sha256_hex(all).substr(0, 16));
    if (fs::exists(out / "boot.jar")) return out;
    const fs::path staging = out.string() + ".tmp-" + std::to_string(getpid());
    fs::remove_all(staging);
    std::string cmd = "sh '" + (src / "build.sh").string() + "' '" + staging.string() + "' >&2";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("building the test jars failed: " + cmd);
    std::error_code ec;
    fs::rename(staging, out, ec);  // another test process may have won the race; use its result
    if (ec) fs::remove_all(staging);
    return out;
  }();
  return dir;
}

inline std::filesystem::path fixture_jar(const std::string& name) { return fixture_jars() / name; }

}  // namespace wb::test
