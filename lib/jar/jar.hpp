// Reading a Java jar: its manifest, its Spring Boot layout, the Java version it needs, and its
// entries. Nothing here writes anything or touches the network.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace wb::jar {

using util::Result;
using util::Status;

// Orders manifest attribute names case-insensitively (the jar spec treats them so).
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Attributes = std::map<std::string, std::string, CaseInsensitiveLess>;

// Parses the main section of META-INF/MANIFEST.MF (jar spec: "Name: value" lines, continuation
// lines start with one space, CRLF/LF/CR line ends; stops at the first blank line).
// Usage error on a line that is neither an attribute nor a continuation.
Result<Attributes> parse_manifest(std::string_view text);

// The Java feature release that runs class files of this major version (52 -> 8, 61 -> 17).
int java_version_for_major(int major);

// One regular file in the jar (directories and links are not listed).
struct Entry {
  std::string path;     // as in the zip: "BOOT-INF/lib/dep-1.0.jar"
  int64_t size = 0;     // uncompressed
  uint32_t mode = 0;    // permission bits from the zip's unix attributes; 0 when it has none
  int64_t mtime = 0;    // seconds since the epoch
};

struct JarInfo {
  std::filesystem::path path;
  Attributes manifest;              // main section
  std::string main_class;           // Main-Class (for Spring Boot: the launcher)
  std::string start_class;          // Start-Class (Spring Boot's application class), "" if none
  std::string spring_boot_version;  // Spring-Boot-Version, "" if none
  std::string boot_classes = "BOOT-INF/classes/";  // Spring-Boot-Classes
  std::string boot_lib = "BOOT-INF/lib/";          // Spring-Boot-Lib
  std::string layers_index_path = "BOOT-INF/layers.idx";  // Spring-Boot-Layers-Index
  std::optional<std::string> layers_index;  // the layers.idx text, when the jar has one
  std::vector<std::string> class_path;      // Class-Path entries, in order
  std::string implementation_title;
  std::string implementation_version;
  int class_major = 0;    // highest class-file major version (0: no classes read)
  int java_version = 0;   // java_version_for_major(class_major), raised to what Spring Boot needs
  std::vector<Entry> entries;  // regular files, in zip order

  // A Spring Boot executable jar (Start-Class or Spring-Boot-Version, and its classes/lib folders).
  bool is_spring_boot() const;
  // The launcher class (Main-Class) of a Spring Boot jar; "" otherwise.
  std::string launcher() const { return is_spring_boot() ? main_class : std::string(); }
  const Entry* find(std::string_view entry_path) const;
};

struct InspectOptions {
  // Fail when the manifest has no Main-Class (an image needs something to run).
  bool require_main_class = true;
  // Nested jars under Spring-Boot-Lib are not read; their classes do not count.
};

// Reads a jar's manifest, entries and class versions.
// Errors: NotFound (missing or unreadable file), Usage ("orders.txt is not a jar (not a zip
// archive)", "orders.jar has no Main-Class in META-INF/MANIFEST.MF", unsafe entry paths).
Result<JarInfo> inspect_jar(const std::filesystem::path& path, const InspectOptions& options = {});

// Reads the bytes of entries of one jar, in any order: it indexes the zip's central directory
// once, then each seek goes straight to the entry, which is inflated on the fly (and its CRC-32
// checked). libarchive reads jars in zip order only, which would make sorted layers quadratic.
class EntryReader {
 public:
  static Result<std::unique_ptr<EntryReader>> open(const std::filesystem::path& jar);
  ~EntryReader();
  EntryReader(const EntryReader&) = delete;
  EntryReader& operator=(const EntryReader&) = delete;

  // Positions the reader at the regular file `entry_path`; NotFound when the jar has none.
  Status seek(const std::string& entry_path);
  // Reads the next bytes of the current entry (decompressed); 0 at its end.
  Result<size_t> read(char* buf, size_t size);
  // Reads a whole (small) entry.
  Result<std::string> read_all(const std::string& entry_path);
  // The CRC-32 the central directory gives `entry_path` (nothing is read); nullopt when absent.
  std::optional<uint32_t> crc_of(const std::string& entry_path) const;

 private:
  struct State;
  explicit EntryReader(std::unique_ptr<State> state);
  std::unique_ptr<State> st_;
};

}  // namespace wb::jar
