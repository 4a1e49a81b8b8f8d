// One image layer built from a layering plan: a reproducible tar (sorted entries, explicit parent
// directories, fixed mtime and owners, normalised modes), gzip-compressed or not, produced on
// demand (pull-style, for a streaming upload) while its digests are computed in the same pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.hpp"
#include "jar/plan.hpp"
#include "util/result.hpp"

namespace wb::image {

using util::Result;
using util::Status;

// 1980-01-01T00:00:01Z: the file time Jib uses (some tools treat 0 as "unset").
inline constexpr int64_t kDefaultEpoch = 315532801;

struct LayerOptions {
  int64_t mtime = kDefaultEpoch;  // every entry's mtime (SOURCE_DATE_EPOCH when the caller has it)
  int uid = 0;                    // owner of every entry; user/group names stay empty
  int gid = 0;
  int gzip_level = 1;             // 0..9; jar contents are mostly compressed already
};

struct LayerDigests {
  std::string diff_id;   // "sha256:..." of the uncompressed tar
  std::string digest;    // "sha256:..." of the bytes produced (the gzip, or the tar itself)
  int64_t size = 0;      // bytes produced
  int64_t tar_size = 0;  // bytes of the uncompressed tar
};

// Streams one layer. Not thread-safe; independent streams may run on different threads.
class LayerStream {
 public:
  enum class Output {
    Gzip,  // the compressed layer (what is uploaded)
    Tar,   // the plain tar
  };
  // Opens the jar (and any files) of `layer`; `jar` is the plan's jar.
  static Result<std::unique_ptr<LayerStream>> open(const std::filesystem::path& jar, const jar::Layer& layer,
                                                   const LayerOptions& options, Output output = Output::Gzip);
  ~LayerStream();
  LayerStream(const LayerStream&) = delete;
  LayerStream& operator=(const LayerStream&) = delete;

  // Copies the next produced bytes into buf; 0 once everything was produced.
  Result<size_t> read(char* buf, size_t size);
  // Produces everything without handing it out (only the digests are wanted).
  Status drain();
  bool finished() const { return finished_; }
  // Valid once finished().
  const LayerDigests& digests() const { return digests_; }

 private:
  struct Impl;
  explicit LayerStream(std::unique_ptr<Impl> impl);
  Status step();
  std::unique_ptr<Impl> impl_;
  bool finished_ = false;
  LayerDigests digests_;
};

// How application layers are compressed (the profile's push.compression): gzip or none for every
// layer, or auto: each layer gzipped unless its bytes are compressed already (dependency jars).
enum class Compression { Auto, Gzip, None };
// "auto", "gzip", "none"; nullopt for anything else.
std::optional<Compression> parse_compression(std::string_view text);
const char* compression_name(Compression c);

// What is decided about a layer before it is produced, from the jar's directory and a sample.
struct LayerChoice {
  LayerStream::Output output = LayerStream::Output::Gzip;
  // Names the layer's content and how it is built without reading its bytes: paths, sizes, modes,
  // the jar's CRC-32 of each entry, a file's size and time, the options and output. Equal keys
  // make equal layers likely (worth hashing the layer to skip it), never certain.
  std::string key;
};
// Auto gzips a layer unless deflating a sample of it (the first 32 KiB of each of its 8 biggest
// files) saves less than a tenth: the same jar always gets the same choice.
Result<LayerChoice> choose_layer_output(const std::filesystem::path& jar, const jar::Layer& layer,
                                        const LayerOptions& options, Compression compression);

// An http::BodyReader over a stream (which must outlive the reader).
http::BodyReader body_reader(LayerStream& stream);

// The diff_id (and tar size) of a layer without compressing it: the cheap pass.
Result<LayerDigests> compute_diff_id(const std::filesystem::path& jar, const jar::Layer& layer,
                                     const LayerOptions& options);
// diff_id, digest and size of the compressed layer, by producing and discarding it.
Result<LayerDigests> compute_layer_digests(const std::filesystem::path& jar, const jar::Layer& layer,
                                           const LayerOptions& options);

}  // namespace wb::image
