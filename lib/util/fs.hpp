// Files: whole-file reads and atomic writes, home and config directories.
#pragma once

#include <filesystem>
#include <string>

#include "util/result.hpp"

namespace wb::util {

// Reads a whole (small) file; NotFound when it does not exist.
Result<std::string> read_file(const std::filesystem::path& path);
// Writes via a temporary file and rename, so readers never see a half-written file.
// Creates parent directories. `mode` applies to the new file (e.g. 0600 for secrets).
Status write_file_atomic(const std::filesystem::path& path, std::string_view data, unsigned mode = 0644);
// Expands a leading "~/" using HOME.
std::filesystem::path expand_home(const std::string& path);

}  // namespace wb::util
