// Small string helpers used across modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wb::util {

std::string trim(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// Splits on `sep`; keeps empty fields.
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Replaces every occurrence of `from` (non-empty) with `to`.
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// Percent-encodes for a URL query value or path segment (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);
// True if `s` is a DNS-1123 label: lower-case alphanumerics and '-', 1..63, alnum at both ends.
bool is_dns1123_label(std::string_view s);
// True if `s` is a DNS-1123 subdomain (labels joined by '.', at most 253).
bool is_dns1123_subdomain(std::string_view s);
// The closest candidate by edit distance, or "" when none is close enough ("did you mean").
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace wb::util
