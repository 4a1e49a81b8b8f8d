// WebSocket frames from a server (or, masked, from a client): the incremental decoder and the
// message reader fed in chunks of every size, close payloads; each decoded frame encodes back to
// bytes that decode to the same frame. First byte: bit 0 masked side, bits 1-7 the chunk size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/ws_frame.hpp"

namespace {

using namespace wb::http::ws;

void check_round_trip(const Frame& f, bool masked) {
  std::optional<MaskKey> key;
  if (masked) key = MaskKey{0x12, 0x34, 0x56, 0x78};
  FrameDecoder again(masked);
  again.feed(encode_frame(f.opcode, f.payload, f.fin, key));
  auto back = again.next();
  if (!back.ok() || !*back) std::abort();
  const Frame& g = **back;
  if (g.fin != f.fin || g.opcode != f.opcode || g.payload != f.payload || again.buffered() != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool masked = data[0] & 1;
  const size_t chunk = (data[0] >> 1) + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  FrameDecoder decoder(masked, 4096);
  bool failed = false;
  for (size_t at = 0; at < bytes.size() && !failed; at += chunk) {
    decoder.feed(bytes.substr(at, chunk));
    while (true) {
      auto f = decoder.next();
      if (!f.ok()) {
        failed = true;
        break;
      }
      if (!*f) break;
      check_round_trip(**f, masked);
      if ((*f)->opcode == Opcode::Close) (void)parse_close_payload((*f)->payload);
    }
  }

  MessageReader reader(masked, 8192);
  reader.feed(bytes);
  for (int i = 0; i < 1024; ++i) {
    auto m = reader.next();
    if (!m.ok() || !*m) break;
    if (!(*m)->fin) std::abort();  // messages come whole
  }
  (void)accept_key(bytes);
  return 0;
}
