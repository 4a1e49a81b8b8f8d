// Base64 and SHA-256 (OpenSSL EVP).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wb::util {

std::string base64_encode(std::string_view data);
// Decodes standard base64 (padding optional, whitespace ignored); nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);
// Decodes base64url (RFC 4648 §5, no padding), as used in JWTs.
std::optional<std::string> base64url_decode(std::string_view text);

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
