// Helpers shared by the fuzz targets: a per-process scratch directory and writing an input to a
// file there (for parsers that read from a path).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace wb::fuzz {

// A directory of this process's own under the temp dir, made on first use and reused.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wb-fuzz-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

// Writes `data` to `name` in the scratch directory (replacing it) and returns its path.
inline std::filesystem::path write_input(const std::string& name, const uint8_t* data, size_t size) {
  auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) std::abort();
  return path;
}

}  // namespace wb::fuzz
