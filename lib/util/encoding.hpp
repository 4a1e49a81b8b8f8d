// Base64, SHA-256 (OpenSSL EVP) and big-endian integers in byte strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wb::util {

std::string base64_encode(std::string_view data);
// Decodes standard base64 (padding optional, whitespace ignored); nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);
// Decodes base64url (RFC 4648 §5, no padding), as used in JWTs.
std::optional<std::string> base64url_decode(std::string_view text);

// Appends the low `bytes` bytes of `value`, most significant first (network order).
inline void put_be(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// Reads `bytes` bytes at `pos` of `buf` as a big-endian number; the caller checks the length.
inline uint64_t get_be(std::string_view buf, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(buf[pos + i]);
  return v;
}

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Incremental SHA-256 for streams.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  void update(const void* data, size_t size);
  // Finishes and returns lower-case hex; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void* ctx_;
};

}  // namespace wb::util
