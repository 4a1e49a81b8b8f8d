#include <catch2/catch.hpp>

#include "http/ws_frame.hpp"

using namespace wb::http::ws;

namespace {

const MaskKey kKey{0x12, 0x34, 0x56, 0x78};

// Decodes every frame in `bytes` (as a server would when `masked`), feeding one byte at a time.
std::vector<Frame> decode_bytewise(const std::string& bytes, bool masked) {
  FrameDecoder d(masked);
  std::vector<Frame> out;
  for (char c : bytes) {
    d.feed(std::string_view(&c, 1));
    while (true) {
      auto r = d.next();
      REQUIRE(r.ok());
      if (!*r) break;
      out.push_back(std::move(**r));
    }
  }
  CHECK(d.buffered() == 0);
  return out;
}

std::string error_of(const std::string& bytes, bool masked = false) {
  MessageReader reader(masked);
  reader.feed(bytes);
  while (true) {
    auto r = reader.next();
    if (!r) return r.error().message;
    if (!*r) return "";
  }
}

}  // namespace

TEST_CASE("frame lengths use 7, 16 and 64-bit encodings at the boundaries", "[ws]") {
  struct Case {
    size_t size;
    size_t header;
  };
  for (Case c : {Case{0, 2}, Case{125, 2}, Case{126, 4}, Case{65535, 4}, Case{65536, 10}, Case{70000, 10}}) {
    std::string payload(c.size, 'x');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
    std::string unmasked = encode_frame(Opcode::Binary, payload, true, std::nullopt);
    CHECK(unmasked.size() == c.header + c.size);
    std::string masked = encode_frame(Opcode::Binary, payload, true, kKey);
    CHECK(masked.size() == c.header + 4 + c.size);
    CHECK((static_cast<uint8_t>(masked[1]) & 0x80) != 0);

    FrameDecoder client(false);
    client.feed(unmasked);
    auto f = client.next();
    REQUIRE(f.ok());
    REQUIRE(f->has_value());
    CHECK((*f)->payload == payload);
    CHECK((*f)->fin);
    CHECK((*f)->opcode == Opcode::Binary);

    FrameDecoder server(true);
    server.feed(masked);
    auto g = server.next();
    REQUIRE(g.ok());
    REQUIRE(g->has_value());
    CHECK((*g)->payload == payload);  // masking round trip
  }
}

TEST_CASE("masking changes the bytes on the wire", "[ws]") {
  std::string frame = encode_frame(Opcode::Text, "hello", true, kKey);
  CHECK(frame.substr(6) != "hello");
  CHECK(frame.substr(2, 4) == std::string("\x12\x34\x56\x78", 4));
}

TEST_CASE("decoder accepts frames fed one byte at a time", "[ws]") {
  std::string stream = encode_frame(Opcode::Text, "abc", true, std::nullopt) +
                       encode_frame(Opcode::Binary, std::string(300, 'b'), true, std::nullopt) +
                       encode_frame(Opcode::Ping, "p", true, std::nullopt) +
                       encode_frame(Opcode::Binary, std::string(70000, 'c'), true, std::nullopt);
  auto frames = decode_bytewise(stream, false);
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].payload == "abc");
  CHECK(frames[0].opcode == Opcode::Text);
  CHECK(frames[1].payload.size() == 300);
  CHECK(frames[2].opcode == Opcode::Ping);
  CHECK(frames[3].payload.size() == 70000);
}

TEST_CASE("fragmented message with an interleaved ping is reassembled", "[ws]") {
  std::string stream = encode_frame(Opcode::Text, "Hel", false, std::nullopt) +
                       encode_frame(Opcode::Ping, "ping!", true, std::nullopt) +
                       encode_frame(Opcode::Continuation, "lo ", false, std::nullopt) +
                       encode_frame(Opcode::Continuation, "world", true, std::nullopt);
  MessageReader reader;
  std::vector<Frame> out;
  for (char c : stream) {
    reader.feed(std::string_view(&c, 1));
    while (true) {
      auto r = reader.next();
      REQUIRE(r.ok());
      if (!*r) break;
      out.push_back(std::move(**r));
    }
  }
  REQUIRE(out.size() == 2);
  CHECK(out[0].opcode == Opcode::Ping);
  CHECK(out[0].payload == "ping!");
  CHECK(out[1].opcode == Opcode::Text);
  CHECK(out[1].fin);
  CHECK(out[1].payload == "Hello world");
}

TEST_CASE("protocol violations are errors", "[ws]") {
  SECTION("reserved bits") {
    std::string f = encode_frame(Opcode::Text, "x", true, std::nullopt);
    f[0] = static_cast<char>(f[0] | 0x40);
    CHECK(error_of(f).find("reserved bits") != std::string::npos);
  }
  SECTION("unknown opcode") { CHECK(error_of(std::string("\x83\x00", 2)).find("opcode") != std::string::npos); }
  SECTION("control frame over 125 bytes") {
    std::string f = encode_frame(Opcode::Ping, std::string(126, 'p'), true, std::nullopt);
    CHECK(error_of(f).find("control frame") != std::string::npos);
  }
  SECTION("fragmented control frame") {
    std::string f = encode_frame(Opcode::Ping, "p", false, std::nullopt);
    CHECK(error_of(f).find("control frame") != std::string::npos);
  }
  SECTION("masked frame from the server") {
    CHECK(error_of(encode_frame(Opcode::Text, "x", true, kKey)).find("masked frame") != std::string::npos);
  }
  SECTION("unmasked frame to a server") {
    CHECK(error_of(encode_frame(Opcode::Text, "x", true, std::nullopt), true).find("unmasked") != std::string::npos);
  }
  SECTION("continuation without a start") {
    CHECK(error_of(encode_frame(Opcode::Continuation, "x", true, std::nullopt)).find("continuation") !=
          std::string::npos);
  }
  SECTION("new message inside a fragmented one") {
    std::string f =
        encode_frame(Opcode::Text, "a", false, std::nullopt) + encode_frame(Opcode::Binary, "b", true, std::nullopt);
    CHECK(error_of(f).find("inside a fragmented") != std::string::npos);
  }
  SECTION("64-bit length with the high bit set") {
    std::string f("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10);
    CHECK(error_of(f).find("high bit") != std::string::npos);
  }
  SECTION("oversize frame") {
    FrameDecoder d(false, 1000);
    d.feed(encode_frame(Opcode::Binary, std::string(1001, 'x'), true, std::nullopt).substr(0, 4));
    auto r = d.next();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("too large") != std::string::npos);
  }
}

TEST_CASE("close payloads carry a code and a reason", "[ws]") {
  auto p = close_payload(4001, "bye now");
  CHECK(p.size() == 9);
  auto info = parse_close_payload(p);
  REQUIRE(info.ok());
  CHECK(info->code == 4001);
  CHECK(info->reason == "bye now");

  auto empty = parse_close_payload("");
  REQUIRE(empty.ok());
  CHECK(empty->code == 1005);

  CHECK_FALSE(parse_close_payload("x").ok());
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000}) {
    INFO(bad);
    CHECK_FALSE(valid_close_code(bad));
    CHECK_FALSE(parse_close_payload(close_payload(bad, "")).ok());
  }
  for (uint16_t good : {1000, 1001, 1002, 1003, 1007, 1011, 3000, 4001, 4999}) {
    INFO(good);
    CHECK(valid_close_code(good));
  }
  CHECK(close_payload(1000, std::string(200, 'r')).size() == 125);
}

TEST_CASE("Sec-WebSocket-Accept follows RFC 6455", "[ws]") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("apply_mask matches the byte-wise definition at every length and offset") {
  const MaskKey key = {0x12, 0x9a, 0x07, 0xfe};
  for (size_t size : {0u, 1u, 7u, 15u, 16u, 17u, 64u, 1000u}) {
    for (size_t offset = 0; offset < 4; ++offset) {
      std::string data(size, '\0');
      for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 31 + 5);
      std::string want = data;
      for (size_t i = 0; i < size; ++i) want[i] = static_cast<char>(want[i] ^ key[(i + offset) & 3]);
      apply_mask(data.data(), data.size(), key, offset);
      CHECK(data == want);
    }
  }
}

TEST_CASE("a message of fragments longer than the limit is refused once it passes it", "[ws][limits]") {
  MessageReader reader(false, 1000);
  reader.feed(encode_frame(Opcode::Binary, std::string(600, 'x'), false, std::nullopt));
  auto first = reader.next();
  REQUIRE(first.ok());
  CHECK_FALSE(first->has_value());
  reader.feed(encode_frame(Opcode::Continuation, std::string(600, 'x'), true, std::nullopt));
  auto r = reader.next();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("message too large") != std::string::npos);
}
