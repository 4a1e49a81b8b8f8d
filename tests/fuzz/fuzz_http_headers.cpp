// What an HTTP server says in headers and wb reads itself: header lists (case-insensitive
// lookups), Retry-After and HTTP dates, WWW-Authenticate challenges, Link pagination, upload
// Locations, registry error bodies, and the redaction of traces. Input: "Name: value" lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "http/http.hpp"
#include "oci/registry_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb;
  const std::string text(reinterpret_cast<const char*>(data), size);
  http::Headers headers;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    headers.add(name, value);
    (void)http::redact_header(name, value);
    (void)http::parse_http_date(value);
    if (auto after = http::parse_retry_after(value); after && after->count() < 0) std::abort();
    for (const auto& c : oci::parse_www_authenticate(value)) {
      // Schemes and parameter names come out lower-case.
      for (char ch : c.scheme)
        if (ch >= 'A' && ch <= 'Z') std::abort();
    }
    (void)oci::next_page_link("https://registry.example/v2/shop/orders/tags/list?n=100", value);
    (void)oci::resolve_location("https://registry.example/v2/shop/orders/blobs/uploads/", value);
    (void)oci::append_query(value, "digest", "sha256:00");
  }
  for (const auto& [name, value] : headers.items()) {
    auto got = headers.get(name);
    if (!got) std::abort();
    (void)headers.get_all(name);
  }
  if (!headers.items().empty()) {
    auto name = headers.items().front().first;
    headers.set(name, "x");
    if (headers.get_all(name).size() != 1) std::abort();
  }
  (void)http::redact_text(text);
  (void)oci::summarize_registry_errors(text);
  return 0;
}
