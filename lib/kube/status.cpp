// metav1.Status (and non-JSON error bodies) -> Error in the user's words.
#include "kube/status.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string_view>
#include <vector>

#include "util/json.hpp"
#include "util/strings.hpp"

namespace wb::kube {

using util::Error;
using util::ErrorCode;
using json = nlohmann::json;

namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Request Entity Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

std::string status_words(int status) {
  std::string p = reason_phrase(status);
  return p.empty() ? "HTTP " + std::to_string(status) : std::to_string(status) + " " + p;
}

// One line out of an arbitrary body: tags stripped, whitespace collapsed, cut at 200 chars.
std::string summarize(std::string_view body) {
  std::string out;
  bool in_tag = false, space = false;
  bool html = !body.empty() && util::trim(body.substr(0, 64)).rfind('<', 0) == 0;
  for (char c : body) {
    if (html && c == '<') {
      in_tag = true;
      space = true;
      continue;
    }
    if (html && in_tag) {
      if (c == '>') in_tag = false;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
    if (out.size() > 200) {
      out = out.substr(0, 200) + "...";
      break;
    }
  }
  return out;
}

ErrorCode code_for(int status) {
  if (status == 404) return ErrorCode::NotFound;
  if (status == 401 || status == 403) return ErrorCode::Auth;
  if (status == 409 || status == 410) return ErrorCode::Conflict;
  if (status == 504) return ErrorCode::Timeout;
  if (status == 429 || status >= 500) return ErrorCode::Unavailable;
  if (status >= 400) return ErrorCode::Usage;
  return ErrorCode::Failure;
}

// The quoted field paths of a strict decoding error's list ("unknown field \"spec.x\", duplicate
// field \"spec.y\""), each item in the server's words.
std::vector<std::string> strict_items(std::string_view list) {
  std::vector<std::string> items;
  size_t pos = 0;
  while (true) {
    size_t f = list.find("field \"", pos);
    if (f == std::string_view::npos) break;
    size_t start = list.rfind(", ", f);
    start = start == std::string_view::npos || start < pos ? pos : start + 2;
    size_t i = f + 7;
    while (i < list.size() && list[i] != '"') i += list[i] == '\\' ? 2 : 1;
    size_t end = std::min(i + 1, list.size());
    items.emplace_back(util::trim(list.substr(start, end - start)));
    pos = end;
  }
  return items;
}

// Items joined for one line, at most a handful ("a, b, c and 4 more").
std::string first_items(const std::vector<std::string>& items) {
  constexpr size_t kShown = 5;
  std::vector<std::string> shown(items.begin(), items.begin() + std::min(items.size(), kShown));
  std::string out = util::join(shown, ", ");
  if (items.size() > kShown) out += " and " + std::to_string(items.size() - kShown) + " more";
  return out;
}

// An object wb built that the server refused for its fields: unknown or duplicate fields under
// fieldValidation=Strict (400 "X in version \"v1\" cannot be handled as a X: strict decoding
// error: unknown field \"spec.x\"", or 422 "... patch: Invalid value: ...: strict decoding error:
// ..." for a patch), server-side apply's "failed to create typed patch object (ns/name; apps/v1,
// Kind=X): .spec.x: field not declared in schema" (a 500 from a 1.32 server whatever
// fieldValidation says; possibly a 400 later) and its duplicate keys ("error strict decoding YAML:
// ... line 1: key \"x\" already set in map"). wb sends only objects it built, so each is a bug in
// wb (or a field newer than the server): an internal error naming the fields, exit status 1.
std::optional<Error> refused_fields(int code, const std::string& message) {
  if (code != 400 && code != 422 && code != 500) return std::nullopt;
  std::string what, fields;
  const std::string strict = "strict decoding error: ";
  const std::string typed = "failed to create typed patch object";
  const std::string yaml = "error strict decoding YAML: ";
  if (size_t at = message.rfind(strict); at != std::string::npos && (code == 400 || code == 422)) {
    size_t in_version = message.find(" in version \"");
    what = code == 422 || in_version == std::string::npos || in_version > at
               ? "a patch wb sent"
               : "the " + message.substr(0, in_version) + " wb sent";
    auto items = strict_items(std::string_view(message).substr(at + strict.size()));
    fields = items.empty() ? message.substr(at + strict.size()) : first_items(items);
  } else if (message.rfind(typed, 0) == 0) {
    what = "the object";
    size_t kind = message.find("Kind=");
    size_t close = message.find(')', typed.size());
    if (kind != std::string::npos && close != std::string::npos && kind < close)
      what = "the " + message.substr(kind + 5, close - kind - 5);
    std::string rest = message.substr(close != std::string::npos ? close + 1 : typed.size());
    rest = util::trim(rest.rfind(":", 0) == 0 ? rest.substr(1) : rest);
    if (rest.rfind("errors:", 0) == 0) rest = rest.substr(7);
    std::vector<std::string> items;
    for (const auto& line : util::split(rest, '\n'))
      if (!util::trim(line).empty()) items.push_back(util::trim(line));
    fields = first_items(items);
    what += " wb applied";
  } else if (size_t y = message.find(yaml); y != std::string::npos && code == 400) {
    what = "the object wb applied";
    std::string rest = message.substr(y + yaml.size());
    size_t errors = rest.find("unmarshal errors:");
    if (errors != std::string::npos) rest = rest.substr(errors + 17);
    std::vector<std::string> items;
    for (const auto& line : util::split(rest, '\n'))
      if (!util::trim(line).empty()) items.push_back(util::trim(line));
    fields = first_items(items);
  } else {
    return std::nullopt;
  }
  Error e(ErrorCode::Failure,
          "internal error: the Kubernetes API refused " + what + ": " + util::replace_all(fields, "\n", " "),
          "please report this as a bug", code);
  return e;
}

}  // namespace

Forbidden parse_forbidden(const std::string& message) {
  Forbidden f;
  static const std::regex rbac(
      R"re(User "([^"]*)" cannot ([a-z]+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)"|( at the cluster scope))?)re");
  std::smatch m;
  if (std::regex_search(message, m, rbac)) {
    f.by = Forbidden::By::Rbac;
    f.user = m[1];
    f.verb = m[2];
    f.resource = m[3];
    f.group = m[4];
    if (m[5].matched) f.ns = m[5];
    f.cluster_scope = m[6].matched;
    return f;
  }
  // `rolebindings.rbac.authorization.k8s.io "x" is forbidden: user "bob" (groups=[...]) is
  // attempting to grant RBAC permissions not currently held: ...`
  if (message.find("attempting to grant RBAC permissions not currently held") != std::string::npos) {
    f.by = Forbidden::By::Escalation;
    static const std::regex user(R"re(is forbidden: user "([^"]*)")re");
    if (std::regex_search(message, m, user)) f.user = m[1];
    return f;
  }
  // `namespaces "x" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: ...`
  static const std::regex policy(R"re(ValidatingAdmissionPolicy '([^']+)'.*? denied request: (.*)$)re");
  if (std::regex_search(message, m, policy)) {
    f.by = Forbidden::By::Admission;
    f.policy = m[1];
    f.policy_message = m[2];
  }
  return f;
}

namespace {

// An error answer as read: a metav1.Status (its message, details and code) or another body.
struct Answer {
  bool is_status = false;
  std::string message;  // the Status's message, trimmed
  json details;         // the Status's details, when an object
  int code = 0;         // the HTTP status, else the Status's code
  std::string summary;  // one line: the message, or what the body says
};

Answer read_answer(int http_status, const std::string& body) {
  Answer a;
  a.code = http_status;
  json j = json::parse(body, nullptr, false);
  a.is_status =
      !j.is_discarded() && j.is_object() && (util::json_value(j, "kind", "") == "Status" || j.contains("message"));
  if (a.is_status) {
    if (j.contains("message") && j["message"].is_string()) a.message = util::trim(j["message"].get<std::string>());
    if (j.contains("details") && j["details"].is_object()) a.details = j["details"];
    if (a.code == 0 && j.contains("code") && j["code"].is_number_integer()) a.code = j["code"].get<int>();
  }
  // Messages must be one line.
  a.summary = util::replace_all(a.is_status ? a.message : summarize(body), "\n", " ");
  return a;
}

// A 400 or 422 whose details list causes: "<what> is invalid: field: message; ...".
std::optional<std::string> invalid_words(const Answer& a) {
  const json& details = a.details;
  if ((a.code != 422 && a.code != 400) || !details.is_object() || !details.contains("causes") ||
      !details["causes"].is_array() || details["causes"].empty())
    return std::nullopt;
  std::string prefix = a.summary;
  size_t pos = prefix.find(" is invalid");
  if (pos != std::string::npos)
    prefix = prefix.substr(0, pos + 11);
  else if (details.contains("name") && details["name"].is_string()) {
    std::string kind = util::json_value(details, "kind", "object");
    prefix = kind + " \"" + details["name"].get<std::string>() + "\" is invalid";
  } else {
    prefix = "the object is invalid";
  }
  std::vector<std::string> parts;
  for (const auto& c : details["causes"]) {
    if (!c.is_object()) continue;
    std::string field = util::json_value(c, "field", "");
    std::string msg = util::json_value(c, "message", "");
    parts.push_back(field.empty() ? msg : field + ": " + msg);
  }
  return prefix + ": " + util::join(parts, "; ");
}

// 401, 403 and 404, each in words of its own (with Forbidden or Missing facts).
std::optional<Error> access_error(const Answer& a, Error e) {
  switch (a.code) {
    case 401:
      e.message = "the server rejected your credentials (401 Unauthorized): your token may have expired; log in again";
      e.hint = "check the user of your kubeconfig context, or get a fresh kubeconfig";
      return e;
    case 403:
      e.message = a.summary.empty() ? "access denied (403 Forbidden)" : a.summary;
      e.hint = "ask your cluster administrator for access";
      return std::move(e).with(parse_forbidden(a.summary));
    case 404:
      if (!a.is_status || a.summary.empty() || a.summary == "404 page not found")
        e.message = "the server could not find the requested resource (404 Not Found)";
      else
        e.message = a.summary;
      if (a.details.is_object() && a.details.contains("name")) {
        Missing missing;
        missing.kind = util::json_value(a.details, "kind", "");
        missing.group = util::json_value(a.details, "group", "");
        missing.name = util::json_value(a.details, "name", "");
        e.with(std::move(missing));
      }
      return e;
    default:
      return std::nullopt;
  }
}

}  // namespace

util::Error status_to_error(int http_status, const std::string& body) {
  const Answer a = read_answer(http_status, body);
  if (a.is_status)
    if (auto refused = refused_fields(a.code, a.message)) return *refused;

  Error e;
  e.http_status = a.code;
  e.code = code_for(a.code);
  if (auto access = access_error(a, e)) return *std::move(access);
  if (auto invalid = invalid_words(a)) {
    e.message = *invalid;
    return e;
  }
  const int code = a.code;
  const std::string& summary = a.summary;
  if (code == 409 || code == 410 || code == 400 || code == 422) {
    e.message = summary.empty() ? "the server answered " + status_words(code) : summary;
    if (code == 400 && summary.find("previous terminated container") != std::string::npos) e.with(NoPreviousLog{});
    return e;
  }
  std::string what;
  if (code == 429)
    what = "the Kubernetes API is throttling requests";
  else if (code == 504)
    what = "the Kubernetes API timed out";
  else if (code >= 500)
    what = "the Kubernetes API failed";
  else
    what = "the Kubernetes API answered";
  e.message = what + " (" + status_words(code) + ")" + (summary.empty() ? std::string() : ": " + summary);
  if (code == 429 || code >= 500) e.hint = "try again in a moment";
  return e;
}

bool is_conflict(const util::Error& e) { return e.http_status == 409 || e.code == util::ErrorCode::Conflict; }

}  // namespace wb::kube
