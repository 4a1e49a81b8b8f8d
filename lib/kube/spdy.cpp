// SPDY/3.1 framing: see spdy.hpp.
#include "kube/spdy.hpp"

#include <algorithm>

#include "util/encoding.hpp"

namespace wb::kube::spdy {

namespace {

void put32(std::string& out, uint32_t v) { util::put_be(out, v, 4); }

// The common 8-byte header: the first word (control bit + version + type, or the stream id),
// then flags and the 24-bit length.
void append_header(std::string& out, uint32_t first, uint8_t flags, uint32_t length) {
  put32(out, first);
  put32(out, (uint32_t{flags} << 24) | (length & kMaxLength));
}

uint32_t control_word(Type type) { return 0x80000000u | (uint32_t{kVersion} << 16) | static_cast<uint16_t>(type); }

// Control frame types whose payload starts with a stream id.
bool names_stream(uint16_t type) {
  switch (static_cast<Type>(type)) {
    case Type::SynStream:
    case Type::SynReply:
    case Type::RstStream:
    case Type::Headers:
    case Type::WindowUpdate:
      return true;
    default:
      return false;
  }
}

}  // namespace

void append_data_header(std::string& out, uint32_t stream, uint8_t flags, uint32_t length) {
  append_header(out, stream & 0x7fffffffu, flags, length);
}

std::string HeaderEncoder::encode(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string block;
  put32(block, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    put32(block, static_cast<uint32_t>(name.size()));
    block += name;
    put32(block, static_cast<uint32_t>(value.size()));
    block += value;
  }
  std::string out;
  if (!started_) {
    out += "\x78\x01";  // zlib header: deflate, 32 KiB window, no preset dictionary, fastest
    started_ = true;
  }
  // Stored blocks of at most 65535 bytes, none final (the stream goes on with the next block):
  // the 3 header bits (BFINAL 0, BTYPE 00) padded to a byte, then LEN and its complement.
  size_t at = 0;
  do {
    const size_t n = std::min<size_t>(65535, block.size() - at);
    out += '\0';
    out += static_cast<char>(n & 0xff);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xff);
    out += static_cast<char>((~n >> 8) & 0xff);
    out.append(block, at, n);
    at += n;
  } while (at < block.size());
  // An empty stored block, as zlib's Z_SYNC_FLUSH ends one: an inflater (Go's among them) hands
  // out a stored block's bytes only once it has read the next block's header, and the next block
  // would only come with the next frame.
  out.append("\0\0\0\xff\xff", 5);
  return out;
}

std::string syn_stream(uint32_t stream, uint8_t flags, std::string_view header_block) {
  std::string out;
  append_header(out, control_word(Type::SynStream), flags, static_cast<uint32_t>(10 + header_block.size()));
  put32(out, stream & 0x7fffffffu);
  put32(out, 0);  // associated-to stream
  out += '\0';    // priority (3 bits) and unused bits
  out += '\0';    // slot
  out.append(header_block);
  return out;
}

std::string ping(std::string_view payload) {
  std::string out;
  append_header(out, control_word(Type::Ping), 0, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

util::Result<std::optional<Frame>> FrameReader::next() {
  if (buffer_.size() - offset_ < 8) return std::optional<Frame>();
  const auto first = static_cast<uint32_t>(util::get_be(buffer_, offset_, 4));
  const auto second = static_cast<uint32_t>(util::get_be(buffer_, offset_ + 4, 4));
  const uint32_t length = second & kMaxLength;
  if (buffer_.size() - offset_ < 8 + size_t{length}) return std::optional<Frame>();
  Frame f;
  f.control = (first & 0x80000000u) != 0;
  f.flags = static_cast<uint8_t>(second >> 24);
  if (f.control) {
    const uint16_t version = static_cast<uint16_t>((first >> 16) & 0x7fff);
    if (version != kVersion)
      return util::Error(util::ErrorCode::Failure,
                         "the server sent a SPDY frame of version " + std::to_string(version) + ", not 3");
    f.type = static_cast<uint16_t>(first & 0xffff);
    if (names_stream(f.type) && length >= 4)
      f.stream_id = static_cast<uint32_t>(util::get_be(buffer_, offset_ + 8, 4)) & 0x7fffffffu;
  } else {
    f.stream_id = first & 0x7fffffffu;
  }
  f.payload.assign(buffer_, offset_ + 8, length);
  offset_ += 8 + size_t{length};
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (1u << 20) && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return std::optional<Frame>(std::move(f));
}

}  // namespace wb::kube::spdy
