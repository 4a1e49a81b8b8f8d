// Image references by the docker reference grammar (distribution/reference), descriptors and
// digests.
#include <cctype>

#include "oci/oci.hpp"
#include "util/encoding.hpp"
#include "util/strings.hpp"

namespace wb::oci {

namespace {

using util::Error;
using util::ErrorCode;

constexpr const char* kDockerHub = "docker.io";
constexpr size_t kMaxNameLength = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }

// domain-component: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool is_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s)
    if (!is_alnum(c) && c != '-') return false;
  return true;
}

// Returns "" when valid, else why not.
std::string check_domain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  if (!d.empty() && d.front() == '[') {  // [IPv6]:port
    size_t close = d.find(']');
    if (close == std::string_view::npos) return "registry '" + std::string(d) + "' has an unclosed '['";
    std::string_view inner = d.substr(1, close - 1);
    if (inner.empty()) return "registry '" + std::string(d) + "' has an empty IPv6 address";
    for (char c : inner)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return "registry '" + std::string(d) + "' is not a valid IPv6 address";
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "registry '" + std::string(d) + "' is not host[:port]";
      port = rest.substr(1);
      if (port.empty()) return "registry '" + std::string(d) + "' has an empty port";
    }
  } else {
    size_t colon = d.find(':');
    if (colon != std::string_view::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      if (port.empty()) return "registry '" + std::string(d) + "' has an empty port";
    }
    for (const std::string& part : util::split(host, '.'))
      if (!is_domain_component(part)) return "registry '" + std::string(d) + "' is not a valid host name";
  }
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return "port '" + std::string(port) + "' of registry '" + std::string(d) + "' is not a number";
  return "";
}

// path-component: [a-z0-9]+ (separator [a-z0-9]+)*, separator: [_.] | __ | -+
std::string check_path_component(std::string_view c) {
  if (c.empty()) return "the repository has an empty path component";
  for (char ch : c)
    if (ch >= 'A' && ch <= 'Z') return "repository names must be lower-case";
  if (!is_lower_alnum(c.front()) || !is_lower_alnum(c.back()))
    return "repository path component '" + std::string(c) + "' must start and end with a lower-case letter or digit";
  size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) {
      for (char ch : sep)
        if (ch != '.' && ch != '_' && ch != '-')
          return "character '" + std::string(1, ch) + "' is not allowed in a repository name";
      return "separator '" + std::string(sep) + "' in '" + std::string(c) +
             "' is not allowed (use '.', '_', '__' or dashes)";
    }
    i = j;
  }
  return "";
}

std::string check_tag(std::string_view t) {
  if (t.empty()) return "the tag after ':' is empty";
  if (t.size() > 128) return "the tag is longer than 128 characters";
  if (!is_word(t.front())) return "the tag must start with a letter, digit or '_'";
  for (char c : t)
    if (!is_word(c) && c != '.' && c != '-')
      return "character '" + std::string(1, c) + "' is not allowed in a tag";
  return "";
}

std::string check_digest(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos) return "the digest after '@' must look like sha256:<64 hex digits>";
  std::string_view algo = d.substr(0, colon);
  if (algo != "sha256") return "digest algorithm '" + std::string(algo) + "' is not supported (only sha256)";
  if (!is_valid_digest(std::string(d))) return "the digest must be sha256: followed by 64 lower-case hex digits";
  return "";
}

bool looks_like_domain(std::string_view first) {
  if (first == "localhost") return true;
  if (first.find_first_of(".:") != std::string_view::npos) return true;
  if (!first.empty() && first.front() == '[') return true;
  for (char c : first)
    if (c >= 'A' && c <= 'Z') return true;  // as docker does: upper case means a host name
  return false;
}

}  // namespace

bool is_valid_digest(const std::string& digest) {
  if (digest.size() != 7 + 64 || digest.compare(0, 7, "sha256:") != 0) return false;
  for (size_t i = 7; i < digest.size(); ++i) {
    char c = digest[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string digest_of(std::string_view data) { return "sha256:" + util::sha256_hex(data); }

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::with_digest(const std::string& d) const { return name() + "@" + d; }

std::string Reference::tag_or_digest() const { return tag.empty() ? digest : tag; }

Result<Reference> parse_reference(const std::string& input) {
  std::string text = util::trim(input);
  auto fail = [&](const std::string& why) -> Error {
    return Error(ErrorCode::Usage, "'" + input + "' is not a valid image reference: " + why,
                 "write it like registry.example.com/team/app:1.0 or app@sha256:<digest>");
  };
  if (text.rfind("docker://", 0) == 0) text.erase(0, 9);
  if (text.empty()) return fail("it is empty");
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return fail("it contains white space or control characters");

  Reference ref;
  std::string rest = text;
  if (size_t at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.erase(at);
    if (std::string why = check_digest(ref.digest); !why.empty()) return fail(why);
  }
  // A tag is a ':' after the last '/'.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.erase(colon);
    if (std::string why = check_tag(ref.tag); !why.empty()) return fail(why);
  }
  if (rest.empty()) return fail("the repository name is missing");

  std::string path = rest;
  size_t slash = rest.find('/');
  if (slash != std::string::npos && looks_like_domain(std::string_view(rest).substr(0, slash))) {
    ref.registry = rest.substr(0, slash);
    path = rest.substr(slash + 1);
    if (std::string why = check_domain(ref.registry); !why.empty()) return fail(why);
    if (path.empty()) return fail("the repository name after the registry is missing");
  } else {
    ref.registry = kDockerHub;
  }
  if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io") ref.registry = kDockerHub;
  for (const std::string& comp : util::split(path, '/'))
    if (std::string why = check_path_component(comp); !why.empty()) return fail(why);
  if (ref.registry == kDockerHub && path.find('/') == std::string::npos) path = "library/" + path;
  ref.repository = path;
  if (ref.registry.size() + 1 + ref.repository.size() > kMaxNameLength)
    return fail("the name is longer than 255 characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

json Descriptor::to_json() const {
  json j = {{"mediaType", media_type}, {"digest", digest}, {"size", size}};
  if (!annotations.empty()) j["annotations"] = annotations;
  if (platform) j["platform"] = *platform;
  return j;
}

Result<Descriptor> Descriptor::from_json(const json& j) {
  auto bad = [](const std::string& why) { return Error(ErrorCode::Failure, "invalid descriptor: " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  Descriptor d;
  auto mt = j.find("mediaType");
  if (mt != j.end() && mt->is_string()) d.media_type = mt->get<std::string>();
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return bad("no digest");
  d.digest = dg->get<std::string>();
  if (!is_valid_digest(d.digest)) return bad("digest '" + d.digest + "' is not sha256:<hex>");
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0) return bad("no valid size");
  d.size = sz->get<int64_t>();
  if (auto an = j.find("annotations"); an != j.end() && an->is_object())
    for (auto it = an->begin(); it != an->end(); ++it)
      if (it.value().is_string()) d.annotations[it.key()] = it.value().get<std::string>();
  if (auto pl = j.find("platform"); pl != j.end() && pl->is_object()) d.platform = *pl;
  return d;
}

}  // namespace wb::oci
