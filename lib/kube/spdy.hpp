// SPDY/3.1 framing, as much as a pods/exec client needs (the SPDY/3.1 protocol draft: frames,
// SYN_STREAM, data frames with FLAG_FIN, PING). kube-apiserver hands a SPDY exec connection to
// the kubelet as it is, where it translates a WebSocket one frame by frame: for bulk copies SPDY
// costs the cluster about half the CPU (measured on 1.32).
//
// Header blocks are zlib streams (one per direction and connection, shared by every block). The
// ones written here are stored (uncompressed) deflate blocks without the protocol's preset
// dictionary, each followed by the empty stored block of a zlib sync flush, which every inflater
// reads; the server's header blocks are not read at all (the exec protocol needs nothing from
// them), so no inflater is kept either.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace wb::kube::spdy {

inline constexpr uint16_t kVersion = 3;
inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint32_t kMaxLength = (1u << 24) - 1;  // a frame's length field is 24 bits

enum class Type : uint16_t {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
};

struct Frame {
  bool control = false;
  uint16_t type = 0;       // control frames
  uint32_t stream_id = 0;  // data frames, and control frames that name a stream
  uint8_t flags = 0;
  std::string payload;  // after the 8-byte frame header
};

// The 8-byte header of a data frame on `stream` carrying `length` bytes.
void append_data_header(std::string& out, uint32_t stream, uint8_t flags, uint32_t length);

// Encodes header blocks as one zlib stream of stored blocks (see the file comment).
class HeaderEncoder {
 public:
  // Name/value pairs (names lower case, as the protocol wants) as the next compressed block.
  std::string encode(const std::vector<std::pair<std::string, std::string>>& headers);

 private:
  bool started_ = false;
};

// A SYN_STREAM frame opening client stream `stream` (odd) with an encoded header block.
std::string syn_stream(uint32_t stream, uint8_t flags, std::string_view header_block);
// The frame sent back for a PING (the same id).
std::string ping(std::string_view payload);

// Splits received bytes into frames.
class FrameReader {
 public:
  void feed(std::string_view data) { buffer_.append(data); }
  // The next whole frame; nullopt until one has arrived. Error: not SPDY/3 (a control frame of
  // another version).
  util::Result<std::optional<Frame>> next();

 private:
  std::string buffer_;
  size_t offset_ = 0;
};

}  // namespace wb::kube::spdy
