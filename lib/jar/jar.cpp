#include "jar/jar.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>
#include <unordered_set>

#include "util/archive.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::jar {

using util::Error;
using util::ErrorCode;

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

Result<Attributes> parse_manifest(std::string_view text) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM
  // Split into lines on CRLF, LF or CR.
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      lines.push_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) lines.push_back(text.substr(start));

  Attributes attrs;
  std::string name;
  std::string value;
  auto flush = [&] {
    if (!name.empty()) attrs.emplace(name, value);  // the first of duplicate names wins
    name.clear();
    value.clear();
  };
  int line_no = 0;
  for (std::string_view line : lines) {
    ++line_no;
    if (line.empty()) break;  // end of the main section
    if (line[0] == ' ') {
      if (name.empty()) {
        return Error(ErrorCode::Usage,
                     "invalid META-INF/MANIFEST.MF: line " + std::to_string(line_no) + " continues nothing");
      }
      value.append(line.substr(1));
      continue;
    }
    flush();
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos || colon == 0) {
      // "Name:" with an empty value is allowed.
      if (line.size() > 1 && line.back() == ':' && line.find(':') == line.size() - 1) {
        name = std::string(line.substr(0, line.size() - 1));
        continue;
      }
      return Error(ErrorCode::Usage,
                   "invalid META-INF/MANIFEST.MF: line " + std::to_string(line_no) + " is not \"Name: value\"");
    }
    name = std::string(line.substr(0, colon));
    value = std::string(line.substr(colon + 2));
  }
  flush();
  return attrs;
}

int java_version_for_major(int major) {
  if (major < 45) return 0;
  if (major <= 48) return 1;  // 1.0 .. 1.4
  return major - 44;          // 49 -> 5, 52 -> 8, 55 -> 11, 61 -> 17, 65 -> 21
}

bool JarInfo::is_spring_boot() const {
  if (start_class.empty() && spring_boot_version.empty()) return false;
  return std::any_of(entries.begin(), entries.end(), [&](const Entry& e) {
    return e.path.rfind(boot_classes, 0) == 0 || e.path.rfind(boot_lib, 0) == 0;
  });
}

const Entry* JarInfo::find(std::string_view entry_path) const {
  for (const Entry& e : entries) {
    if (e.path == entry_path) return &e;
  }
  return nullptr;
}

namespace {

std::string display(const std::filesystem::path& p) { return p.string(); }

// Checks that the file exists and can be read, in the user's words.
util::Status check_readable(const std::filesystem::path& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return Error(ErrorCode::NotFound, display(path) + " not found", "check the path to the jar");
  }
  if (std::filesystem::is_directory(st)) {
    return Error(ErrorCode::Usage, display(path) + " is a directory, not a jar");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::NotFound, "cannot read " + display(path) + ": " + std::strerror(errno));
  }
  return {};
}

Result<util::ArchiveReader> open_zip(const std::filesystem::path& path) {
  util::ArchiveReader a = util::new_archive_reader();
  archive_read_support_format_zip_seekable(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    int err = archive_errno(a.get());
    if (err == ENOENT || err == EACCES) {
      return Error(ErrorCode::NotFound, "cannot read " + display(path) + ": " + std::strerror(err));
    }
    return Error(ErrorCode::Usage, display(path) + " is not a jar (not a zip archive)");
  }
  return a;
}

bool is_safe_entry_path(std::string_view p) {
  if (p.empty() || p[0] == '/' || p.find('\\') != std::string_view::npos) return false;
  for (const std::string& seg : util::split(p, '/')) {
    if (seg == "..") return false;
  }
  return true;
}

// Counts toward the required Java version: class files outside multi-release folders, except
// module-info (libraries often compile that one alone for a newer release).
bool counts_for_java_version(std::string_view p) {
  if (p.size() < 6 || p.substr(p.size() - 6) != ".class") return false;
  if (p.rfind("META-INF/versions/", 0) == 0) return false;
  std::string_view base = p.substr(p.rfind('/') == std::string_view::npos ? 0 : p.rfind('/') + 1);
  return base != "module-info.class";
}

std::string attr(const Attributes& attrs, const char* name) {
  auto it = attrs.find(name);
  return it == attrs.end() ? std::string() : util::trim(it->second);
}

// The text of the entry being read (META-INF/MANIFEST.MF), at most 1 MiB.
Result<std::string> read_manifest_entry(archive* a, const std::filesystem::path& path) {
  std::string text;
  char buf[8192];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0)
      return Error(ErrorCode::Usage,
                   "cannot read META-INF/MANIFEST.MF in " + display(path) + ": " + util::archive_error(a));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (1u << 20))
      return Error(ErrorCode::Usage, "META-INF/MANIFEST.MF in " + display(path) + " is too large");
  }
  return text;
}

// The class file version of the entry being read, when it is a class file.
std::optional<int> class_major(archive* a) {
  unsigned char head[8];
  size_t got = 0;
  while (got < sizeof head) {
    la_ssize_t n = archive_read_data(a, head + got, sizeof head - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == sizeof head && head[0] == 0xCA && head[1] == 0xFE && head[2] == 0xBA && head[3] == 0xBE)
    return (head[6] << 8) | head[7];
  return std::nullopt;
}

// One pass over the zip: the regular entries (the first of duplicates, as java takes it), the
// manifest's text, and the highest class file version. Unsafe paths are refused.
Status read_entries(archive* a, const std::filesystem::path& path, JarInfo& info,
                    std::optional<std::string>& manifest_text) {
  bool any_entry = false;
  std::unordered_set<std::string> seen;
  archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      if (!any_entry) return Error(ErrorCode::Usage, display(path) + " is not a jar (not a zip archive)");
      return Error(ErrorCode::Usage, "cannot read " + display(path) + ": " + util::archive_error(a));
    }
    any_entry = true;
    const char* name_c = archive_entry_pathname_utf8(e);
    if (!name_c) name_c = archive_entry_pathname(e);
    std::string name = name_c ? name_c : "";
    if (!is_safe_entry_path(name)) {
      return Error(ErrorCode::Usage, display(path) + " has an entry with an unsafe path: '" + name + "'",
                   "a jar must not hold absolute paths or '..'; rebuild it");
    }
    if (archive_entry_filetype(e) != AE_IFREG || name.back() == '/') continue;
    if (!seen.insert(name).second) continue;  // duplicate entry: the first one wins (as in java)
    Entry entry;
    entry.path = name;
    entry.size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    entry.mode = archive_entry_perm(e);
    entry.mtime = archive_entry_mtime(e);
    info.entries.push_back(entry);

    if (!manifest_text && util::iequals(name, "META-INF/MANIFEST.MF")) {
      WB_ASSIGN_OR_RETURN(manifest_text, read_manifest_entry(a, path));
    } else if (counts_for_java_version(name)) {
      if (auto major = class_major(a)) info.class_major = std::max(info.class_major, *major);
    }
  }
  if (!any_entry) return Error(ErrorCode::Usage, display(path) + " is not a jar (an empty zip archive)");
  return {};
}

// What the manifest says: Main-Class (required unless told otherwise), Start-Class, Spring Boot's
// attributes and folders, the implementation's title and version, and Class-Path.
Status read_manifest_attributes(const std::filesystem::path& path, const InspectOptions& options, JarInfo& info) {
  const std::string hint = "build it as an executable jar (e.g. spring-boot-maven-plugin repackage)";
  info.main_class = attr(info.manifest, "Main-Class");
  if (info.main_class.empty() && options.require_main_class) {
    return Error(ErrorCode::Usage, display(path) + " has no Main-Class in META-INF/MANIFEST.MF; " + hint, hint);
  }
  info.start_class = attr(info.manifest, "Start-Class");
  info.spring_boot_version = attr(info.manifest, "Spring-Boot-Version");
  if (auto v = attr(info.manifest, "Spring-Boot-Classes"); !v.empty()) info.boot_classes = v;
  if (auto v = attr(info.manifest, "Spring-Boot-Lib"); !v.empty()) info.boot_lib = v;
  if (auto v = attr(info.manifest, "Spring-Boot-Layers-Index"); !v.empty()) info.layers_index_path = v;
  for (std::string* dir : {&info.boot_classes, &info.boot_lib}) {
    if (dir->back() != '/') dir->push_back('/');
  }
  info.implementation_title = attr(info.manifest, "Implementation-Title");
  info.implementation_version = attr(info.manifest, "Implementation-Version");
  for (const std::string& cp : util::split(attr(info.manifest, "Class-Path"), ' ')) {
    if (!cp.empty()) info.class_path.push_back(cp);
  }
  return {};
}

// The Java version the classes need; Spring Boot 3 needs Java 17, Spring Boot 2 Java 8,
// whatever the application's classes say.
int java_version_needed(const JarInfo& info) {
  int version = java_version_for_major(info.class_major);
  if (info.is_spring_boot() && !info.spring_boot_version.empty()) {
    const std::string& v = info.spring_boot_version;
    int boot_major = util::parse_int<int>(std::string_view(v).substr(0, v.find('.')), "").value_or(0);
    version = std::max(version, boot_major >= 3 ? 17 : 8);
  }
  return version;
}

}  // namespace

Result<JarInfo> inspect_jar(const std::filesystem::path& path, const InspectOptions& options) {
  WB_TRY(check_readable(path));
  WB_ASSIGN_OR_RETURN(util::ArchiveReader a, open_zip(path));
  JarInfo info;
  info.path = path;
  std::optional<std::string> manifest_text;
  WB_TRY(read_entries(a.get(), path, info, manifest_text));
  if (manifest_text) {
    auto parsed = parse_manifest(*manifest_text);
    if (!parsed.ok()) return parsed.error().with_context(display(path));
    info.manifest = std::move(parsed).value();
  }
  WB_TRY(read_manifest_attributes(path, options, info));
  info.java_version = java_version_needed(info);
  if (info.is_spring_boot() && info.find(info.layers_index_path) != nullptr) {
    WB_ASSIGN_OR_RETURN(auto reader, EntryReader::open(path));
    WB_ASSIGN_OR_RETURN(info.layers_index, reader->read_all(info.layers_index_path));
  }
  return info;
}

}  // namespace wb::jar
