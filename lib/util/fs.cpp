#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/fd.hpp"

namespace wb::util {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) return Error(ErrorCode::NotFound, "file " + path.string() + " does not exist");
    return Error(ErrorCode::Failure, "cannot read " + path.string() + ": " + std::strerror(err));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view data, unsigned mode) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::string tmp = path.string() + ".tmp-XXXXXX";
  Fd fd(mkstemp(tmp.data()));
  if (!fd) return Error(ErrorCode::Failure, "cannot write " + path.string() + ": " + std::strerror(errno));
  fchmod(fd.get(), mode);
  int err = write_all(fd.get(), data);
  if (!err && ::fsync(fd.get()) != 0) err = errno;
  if (!err) err = fd.close();
  if (err) {
    fd.reset();
    ::unlink(tmp.c_str());
    return Error(ErrorCode::Failure, "cannot write " + path.string() + ": " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error(ErrorCode::Failure, "cannot write " + path.string() + ": " + std::strerror(err));
  }
  return {};
}

std::filesystem::path expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home ? home : "") / path.substr(path.size() > 1 ? 2 : 1);
  }
  return path;
}

}  // namespace wb::util
