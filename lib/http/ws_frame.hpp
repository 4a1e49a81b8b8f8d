// WebSocket framing (RFC 6455 §5): encoding, an incremental decoder and message reassembly.
// Pure code without I/O, so every edge case is testable without sockets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace wb::http::ws {

enum class Opcode : uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// True for close, ping and pong.
bool is_control(Opcode op);

using MaskKey = std::array<uint8_t, 4>;

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::Binary;
  std::string payload;  // unmasked
};

// Encodes one frame. With `mask` the payload is masked (client to server; RFC 6455 §5.3);
// without it the frame is sent in the clear (server to client).
std::string encode_frame(Opcode opcode, std::string_view payload, bool fin, const std::optional<MaskKey>& mask);
// The same into `out` (cleared first), so a sender can reuse one buffer for every frame.
void encode_frame_into(std::string& out, Opcode opcode, std::string_view payload, bool fin,
                       const std::optional<MaskKey>& mask);

// XORs `data` in place with the key, starting at key position `offset` (mod 4).
void apply_mask(char* data, size_t size, const MaskKey& key, size_t offset = 0);

// The Sec-WebSocket-Accept value the server must answer for `key` (RFC 6455 §4.2.2).
std::string accept_key(std::string_view key);

// True for a close code a peer may send on the wire (1000-1003, 1007-1014, 3000-4999).
bool valid_close_code(uint16_t code);

struct CloseInfo {
  uint16_t code = 1005;  // 1005 = "no status received" when the payload is empty
  std::string reason;
};
// Builds a close payload: the code in network order followed by the reason (truncated to fit 125).
std::string close_payload(uint16_t code, std::string_view reason);
// Parses a received close payload; a 1-byte payload or an invalid code is a protocol error.
util::Result<CloseInfo> parse_close_payload(std::string_view payload);

// Decodes frames from a byte stream fed in arbitrary chunks.
class FrameDecoder {
 public:
  // `expect_masked` is true on the server side; a client rejects masked frames and vice versa.
  explicit FrameDecoder(bool expect_masked = false, uint64_t max_payload = 64u << 20)
      : expect_masked_(expect_masked), max_payload_(max_payload) {}
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame; nullopt when more bytes are needed; an Error (ErrorCode::Failure,
  // "websocket protocol error: ...") on reserved bits, unknown opcodes, bad control frames,
  // wrong masking or oversize payloads. After an error the decoder must not be used again.
  util::Result<std::optional<Frame>> next();
  // Bytes received but not yet decoded.
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  bool expect_masked_;
  uint64_t max_payload_;
  std::string buffer_;
  size_t pos_ = 0;
};

// Decodes frames and reassembles fragmented data messages. Control frames (which may arrive
// between fragments) are returned as they come; data messages once complete, as one frame
// with fin set and opcode Text or Binary.
class MessageReader {
 public:
  explicit MessageReader(bool expect_masked = false, uint64_t max_message = 64u << 20)
      : decoder_(expect_masked, max_message), max_message_(max_message) {}
  void feed(std::string_view bytes) { decoder_.feed(bytes); }
  // Next control frame or complete message; nullopt when more bytes are needed. Errors on a
  // continuation without a start, a new message inside a fragmented one, or an oversize message.
  util::Result<std::optional<Frame>> next();

 private:
  FrameDecoder decoder_;
  uint64_t max_message_;
  std::optional<Frame> partial_;
};

}  // namespace wb::http::ws
