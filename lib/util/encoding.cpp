#include "util/encoding.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace wb::util {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Standard base64 with its padding restored, from either alphabet, or nullopt when `text` holds
// a character outside it, data after padding, or a length no encoder writes.
std::optional<std::string> canonical(std::string_view text, bool url, size_t* padding) {
  std::string s;
  s.reserve(text.size() + 2);
  size_t pad = 0;
  for (char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;
    if (url ? (c == '+' || c == '/') : (c == '-' || c == '_')) return std::nullopt;
    if (url && c == '-') c = '+';
    if (url && c == '_') c = '/';
    s += c;
  }
  if (pad > 2 || s.size() % 4 == 1) return std::nullopt;
  *padding = (4 - s.size() % 4) % 4;
  s.append(*padding, '=');
  return s;
}

std::optional<std::string> decode(std::string_view text, bool url) {
  size_t padding = 0;
  auto s = canonical(text, url, &padding);
  if (!s) return std::nullopt;
  std::string out(s->size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s->data()), static_cast<int>(s->size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}
}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) { return decode(text, false); }
std::optional<std::string> base64url_decode(std::string_view text) { return decode(text, true); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP sha256 init failed");
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::update(std::string_view data) { update(data.data(), data.size()); }
void Sha256::update(const void* data, size_t size) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size); }
std::string Sha256::hex_digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md.data(), &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

}  // namespace wb::util
