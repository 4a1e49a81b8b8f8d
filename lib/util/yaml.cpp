#include "util/yaml.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>
#include <sstream>

#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::util {

using json = nlohmann::json;

namespace {

bool is_plain_int(const std::string& s) {
  static const std::regex re("^[-+]?(0|[1-9][0-9]*)$");
  return std::regex_match(s, re);
}

bool is_plain_float(const std::string& s) {
  static const std::regex re("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
  return std::regex_match(s, re);
}

// Words YAML 1.1 reads as booleans, null or special floats.
bool is_special_word(const std::string& s) {
  static const std::set<std::string> words = {"true", "false", "yes", "no",   "on",    "off",   "y",
                                              "n",    "null",  "~",   ".inf", "-.inf", "+.inf", ".nan"};
  return words.count(to_lower(s)) > 0;
}

// A string that a plain scalar would turn into another type (or that starts like a number).
bool needs_quotes(const std::string& s) {
  if (s.empty() || is_special_word(s)) return true;
  // "---" and "..." start and end documents: a plain scalar beginning with them at the start of a
  // line would be read as a marker.
  if (s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0) return true;
  // Numbers in any YAML 1.1 spelling (1_000, 0x1f, 0o17, 1e3, .5, 1:30 sexagesimal) and dates.
  static const std::regex number(
      "^[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|"
      "^[-+]?0[xXoObB][0-9a-fA-F_]+$|"
      "^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$|"
      "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$");
  return std::regex_match(s, number);
}

// A literal block (|) keeps the text exactly only when it ends in one newline and no line starts
// with a space (which would need an indentation indicator) or holds control characters.
bool literal_safe(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  bool line_start = true;
  for (char c : s) {
    if (line_start && (c == ' ' || c == '\t')) return false;
    if (c != '\n' && static_cast<unsigned char>(c) < 0x20) return false;
    line_start = c == '\n';
  }
  return true;
}

// Control characters (a carriage return, a tab at the end, ...) survive only in a double-quoted
// scalar, where they are escaped; plain, a reader drops or folds them.
bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  return false;
}

// The line breaks YAML 1.1 knows beyond \n and \r: NEL (U+0085), LS (U+2028), PS (U+2029). Written
// raw, a reader takes them for a break; they must be escaped.
bool has_unicode_break(const std::string& s) {
  return s.find("\xC2\x85") != std::string::npos || s.find("\xE2\x80\xA8") != std::string::npos ||
         s.find("\xE2\x80\xA9") != std::string::npos;
}

void emit_string(YAML::Emitter& out, const std::string& s, bool key) {
  const bool multi_line = s.find('\n') != std::string::npos;
  if (has_unicode_break(s)) {
    out.SetOutputCharset(YAML::EscapeNonAscii);
    out << YAML::DoubleQuoted << s;
    out.SetOutputCharset(YAML::EmitNonAscii);
    return;
  }
  if (has_control(s)) {
    out << YAML::DoubleQuoted << s;
    return;
  }
  if (!key && multi_line && literal_safe(s))
    out << YAML::Literal << s;
  else if (multi_line || needs_quotes(s))
    out << YAML::DoubleQuoted << s;
  else
    out << s;
}

// Keys longer than this (in bytes) are written as explicit keys: 1024 characters over the 4 an
// escaped byte (\x04) takes, with room for the quotes.
constexpr std::size_t kLongestImplicitKey = 250;

void emit(YAML::Emitter& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        // A YAML reader takes an implicit key ("key: value") of at most 1024 characters; a
        // longer one (escaped, a byte may take 4) is written as an explicit key ("? key").
        if (it.key().size() > kLongestImplicitKey) out << YAML::LongKey;
        out << YAML::Key;
        emit_string(out, it.key(), true);
        out << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& e : v) emit(out, e);
      out << YAML::EndSeq;
      break;
    case json::value_t::string:
      emit_string(out, v.get_ref<const std::string&>(), false);
      break;
    case json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      break;
    case json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << v.dump();
      break;
  }
}

json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted (or a literal block): a string
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  static const std::set<std::string> yes = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  static const std::set<std::string> no = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
  if (yes.count(s)) return true;
  if (no.count(s)) return false;
  const std::string_view unsigned_text = s[0] == '+' ? std::string_view(s).substr(1) : std::string_view(s);
  if (is_plain_int(s)) {
    auto n = parse_int<int64_t>(unsigned_text, "");
    return n ? json(*n) : json(s);
  }
  if (is_plain_float(s)) {
    auto d = parse_decimal(unsigned_text, "");
    return d ? json(*d) : json(s);
  }
  return s;
}

json node_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) a.push_back(node_to_json(e));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.Scalar()] = node_to_json(kv.second);
      return o;
    }
    default:
      return nullptr;
  }
}

// Sees where each document starts, and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// More documents than any file wb reads has.
constexpr size_t kMaxDocuments = 10000;

// yaml-cpp 0.7 (Debian's) can start the same document again and again without reading on (text
// such as ","; its issue 1040), and YAML::LoadAll would then allocate until memory runs out. A
// first pass that builds nothing stops where a document starts where the one before it did.
Status check_progress(const std::string& text, const std::string& file_name, const std::string& hint) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts seen;
  while (parser.HandleNextDocument(seen)) {
    const size_t n = seen.starts.size();
    if (n >= 2 && seen.starts[n - 1].pos == seen.starts[n - 2].pos) {
      const YAML::Mark& at = seen.starts.back();
      return Error(
          ErrorCode::Usage,
          fmt::format("{}:{}:{}: not YAML (nothing here starts a value)", file_name, at.line + 1, at.column + 1), hint);
    }
    if (n > kMaxDocuments)
      return Error(ErrorCode::Usage, fmt::format("{}: more than {} YAML documents", file_name, kMaxDocuments), hint);
  }
  return {};
}

}  // namespace

std::string to_yaml(const json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, value);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

std::string yaml_scalar(const std::string& text) {
  YAML::Emitter out;
  emit_string(out, text, true);
  return out.c_str();
}

std::string yaml_quoted(const std::string& text) {
  YAML::Emitter e;
  e << YAML::DoubleQuoted << text;
  return e.c_str();
}

Result<std::vector<json>> parse_yaml(const std::string& text, const std::string& file_name, const std::string& hint) {
  std::vector<json> out;
  try {
    WB_TRY(check_progress(text, file_name, hint));
    for (const auto& doc : YAML::LoadAll(text)) {
      if (!doc || doc.IsNull()) continue;
      out.push_back(node_to_json(doc));
    }
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, fmt::format("{}:{}:{}: {}", file_name, e.mark.line + 1, e.mark.column + 1, e.msg),
                 hint);
  }
  return out;
}

}  // namespace wb::util
