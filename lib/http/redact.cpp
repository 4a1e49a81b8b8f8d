// Redaction of secrets in trace lines (see http.hpp: redact_header, redact_text).
#include <algorithm>
#include <array>
#include <cctype>

#include "http/http.hpp"
#include "util/strings.hpp"

namespace wb::http {

namespace {

constexpr std::string_view kRedacted = "<redacted>";

bool is_key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Field and parameter names whose values are secrets.
bool is_secret_key(std::string_view key) {
  std::string k = util::to_lower(key);
  std::replace(k.begin(), k.end(), '-', '_');
  static constexpr std::array<std::string_view, 11> kExact = {
      "token",  "password", "passwd",        "secret",        "client_key_data", "auth",
      "apikey", "api_key",  "identitytoken", "registrytoken", "x_amz_signature"};
  if (std::find(kExact.begin(), kExact.end(), k) != kExact.end()) return true;
  return ends_with(k, "_token") || ends_with(k, "_password") || ends_with(k, "_secret");
}

bool ends_value(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '&' || c == ',' || c == ';' || c == '}' || c == ']' ||
         c == '"' || c == '\'' || c == '\\';
}

// Given text[k] just after a secret key (and its closing quote, if any), appends the separator
// and a redacted value to `out` and returns the index after the value; npos if no value follows.
size_t redact_value(std::string_view text, size_t k, std::string& out) {
  const size_t n = text.size();
  const size_t sep_start = k;
  while (k < n && text[k] == ' ') ++k;
  if (k >= n || (text[k] != ':' && text[k] != '=')) return std::string_view::npos;
  ++k;
  while (k < n && text[k] == ' ') ++k;
  if (text.substr(k, 2) == "\\\"") {  // inside a JSON string that holds JSON: \"token\":\"x\"
    const size_t e = text.find("\\\"", k + 2);
    out.append(text.substr(sep_start, k + 2 - sep_start)).append(kRedacted);
    if (e == std::string_view::npos) return n;
    out += "\\\"";
    return e + 2;
  }
  if (k < n && text[k] == '"') {
    size_t e = k + 1;
    while (e < n && text[e] != '"') e += (text[e] == '\\') ? 2 : 1;
    out.append(text.substr(sep_start, k + 1 - sep_start)).append(kRedacted);
    if (e < n) out += '"';
    return std::min(e + 1, n);
  }
  if (k >= n || text[k] == '{' || text[k] == '[' || ends_value(text[k])) return std::string_view::npos;
  size_t e = k;
  while (e < n && !ends_value(text[e])) ++e;
  if (text.substr(k, e - k) == "null") return std::string_view::npos;
  out.append(text.substr(sep_start, k - sep_start)).append(kRedacted);
  return e;
}

// "data": {"K": "v", ...} and "stringData": {...} (the values of Secrets, and of ConfigMaps, which
// often hold passwords in application.yml too): every string value inside the object is replaced.
// `k` is just after the key's closing quote; returns the index after the object, npos if no object follows.
size_t redact_data_object(std::string_view text, size_t k, std::string& out) {
  const size_t n = text.size();
  size_t i = k;
  while (i < n && text[i] == ' ') ++i;
  if (i >= n || text[i] != ':') return std::string_view::npos;
  ++i;
  while (i < n && text[i] == ' ') ++i;
  if (i >= n || text[i] != '{') return std::string_view::npos;
  out.append(text.substr(k, i + 1 - k));
  ++i;
  bool after_colon = false;
  while (i < n && text[i] != '}') {
    const char c = text[i];
    if (c == '"') {
      size_t e = i + 1;
      while (e < n && text[e] != '"') e += (text[e] == '\\') ? 2 : 1;
      if (after_colon)
        out.append("\"").append(kRedacted).append("\"");
      else
        out.append(text.substr(i, std::min(e + 1, n) - i));
      i = std::min(e + 1, n);
      after_colon = false;
      continue;
    }
    if (c == ':') after_colon = true;
    if (c == ',') after_colon = false;
    out += c;
    ++i;
  }
  if (i < n) out += text[i++];
  return i;
}

// "token": "x", token=x, password: x  ->  value replaced.
std::string redact_fields(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!is_key_char(text[i]) || (i > 0 && is_key_char(text[i - 1]))) {
      out += text[i++];
      continue;
    }
    size_t j = i;
    while (j < text.size() && is_key_char(text[j])) ++j;
    std::string_view key = text.substr(i, j - i);
    out.append(key);
    i = j;
    if ((key == "data" || key == "stringData") && j < text.size() && text[j] == '"' && i - key.size() > 0 &&
        text[i - key.size() - 1] == '"') {
      size_t after = redact_data_object(text, j + 1, out.append("\""));
      if (after != std::string_view::npos) {
        i = after;
        continue;
      }
      out.pop_back();
    }
    if (!is_secret_key(key)) continue;
    size_t k = j;
    if (text.substr(k, 2) == "\\\"")
      k += 2;
    else if (k < text.size() && text[k] == '"')
      k += 1;
    out.append(text.substr(j, k - j));
    size_t after = redact_value(text, k, out);
    i = (after == std::string_view::npos) ? k : after;
  }
  return out;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=' || c == '-';
}

// `realm="` after a scheme: a challenge (WWW-Authenticate), not a credential.
bool is_challenge_param(std::string_view token, const std::string& text, size_t end) {
  if (end >= text.size() || text[end] != '"' || token.size() < 2 || token.back() != '=') return false;
  token.remove_suffix(1);
  return std::all_of(token.begin(), token.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); });
}

// "Bearer xyz" and "Basic dXNlcjpwYXNz" anywhere in a line.
std::string redact_schemes(std::string text) {
  const std::string lower = util::to_lower(text);
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t best = std::string::npos, skip = 0;
    for (std::string_view scheme : {std::string_view("bearer "), std::string_view("basic ")}) {
      size_t p = lower.find(scheme, i);
      while (p != std::string::npos && p > 0 && std::isalnum(static_cast<unsigned char>(lower[p - 1])))
        p = lower.find(scheme, p + 1);
      if (p < best) best = p, skip = scheme.size();
    }
    if (best == std::string::npos) break;
    size_t v = best + skip;
    while (v < text.size() && text[v] == ' ') ++v;
    size_t e = v;
    while (e < text.size() && is_token_char(text[e])) ++e;
    const bool basic = skip == 6;
    out.append(text, i, v - i);
    const bool auth_param = is_challenge_param(std::string_view(text).substr(v, e - v), text, e);
    if (e > v && !auth_param && (!basic || e - v >= 8) && text.compare(v, kRedacted.size(), kRedacted) != 0) {
      out.append(kRedacted);
    } else {
      out.append(text, v, e - v);
    }
    i = e;
  }
  out.append(text, std::min(i, text.size()), std::string::npos);
  return out;
}

// scheme://user:password@host  ->  scheme://user:<redacted>@host
std::string redact_userinfo(std::string text) {
  size_t p = 0;
  while ((p = text.find("://", p)) != std::string::npos) {
    size_t start = p + 3;
    size_t e = start;
    while (e < text.size() && text[e] != '@' && text[e] != '/' && text[e] != '?' && text[e] != '#' &&
           !std::isspace(static_cast<unsigned char>(text[e])))
      ++e;
    if (e < text.size() && text[e] == '@') {
      size_t colon = text.find(':', start);
      if (colon < e) text.replace(colon + 1, e - colon - 1, kRedacted);
    }
    p = start;
  }
  return text;
}

}  // namespace

std::string redact_header(std::string_view name, std::string_view value) {
  static constexpr std::array<std::string_view, 7> kSecret = {
      "authorization", "proxy-authorization", "cookie", "set-cookie", "x-registry-auth", "x-auth-token", "x-api-key"};
  const std::string lower = util::to_lower(name);
  std::string line(name);
  line += ": ";
  if (std::find(kSecret.begin(), kSecret.end(), lower) != kSecret.end()) return line.append(kRedacted);
  return line + redact_text(value);
}

std::string redact_text(std::string_view text) { return redact_userinfo(redact_schemes(redact_fields(text))); }

}  // namespace wb::http
