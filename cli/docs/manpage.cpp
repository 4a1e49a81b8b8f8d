#include "docs/manpage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "util/strings.hpp"

#ifndef WB_VERSION
#define WB_VERSION "unknown"
#endif

namespace wb::cli::docs {

using util::Error;
using util::ErrorCode;
namespace fs = std::filesystem;

namespace {

const char* const kRequiredSections[] = {"NAME",        "SYNOPSIS", "DESCRIPTION", "EXIT STATUS",
                                         "ENVIRONMENT", "FILES",    "EXAMPLES",    "SEE ALSO"};

// `--no-trace` -> `\-\-no\-trace` (names, where every dash is a real minus).
std::string roff_name(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string sentence(const std::string& s) {
  if (s.empty()) return s;
  auto ends = [](char c) { return c == '.' || c == '!' || c == '?'; };
  char last = s.back();
  // "(asks, or --yes)" still needs its full stop; "(see below.)" does not.
  if (last == ')') return s.size() > 1 && ends(s[s.size() - 2]) ? s : s + ".";
  return (ends(last) || last == ':') ? s : s + ".";
}

struct Source {
  std::vector<std::string> nouns;                 // @page
  std::map<std::string, std::string> verb_prose;  // @verb PATH ... @end
  std::map<std::string, std::string> option_prose;  // @option PATH NAME ... @end, key "PATH NAME"
  std::vector<std::pair<int, std::string>> lines; // the rest, with line numbers
};

Error source_error(const std::string& page, int line, const std::string& what) {
  return Error(ErrorCode::Usage, fmt::format("man/src/{}.1.in:{}: {}", page, line, what),
               "see man/README.md for the format");
}

util::Result<Source> parse_source(const std::string& page, const std::string& text) {
  Source src;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  std::string verb;    // the block being read: "PATH" (@verb) or "PATH NAME" (@option)
  bool is_option = false;
  std::string prose;
  bool saw_page = false;
  while (std::getline(in, line)) {
    ++n;
    if (!verb.empty()) {
      if (line == "@end") {
        (is_option ? src.option_prose : src.verb_prose)[verb] = prose;
        verb.clear();
        prose.clear();
      } else {
        prose += line + "\n";
      }
      continue;
    }
    if (line.rfind("@page", 0) == 0) {
      for (const auto& w : util::split(line.substr(5), ' '))
        if (!w.empty()) src.nouns.push_back(w);
      saw_page = true;
      continue;
    }
    if (line.rfind("@option ", 0) == 0) {
      verb = util::trim(line.substr(8));
      if (verb.rfind("wb ", 0) == 0) verb = verb.substr(2);  // wb's own options: key " --name"
      is_option = true;
      if (verb.find(' ') == std::string::npos)
        return source_error(page, n, "@option needs a command and an option, e.g. `@option logs --follow`");
      if (src.option_prose.count(verb)) return source_error(page, n, "a second @option " + verb);
      continue;
    }
    if (line.rfind("@verb ", 0) == 0) {
      verb = util::trim(line.substr(6));
      is_option = false;
      if (verb.empty()) return source_error(page, n, "@verb needs a command, e.g. `@verb app create`");
      if (src.verb_prose.count(verb)) return source_error(page, n, "a second @verb " + verb);
      continue;
    }
    src.lines.push_back({n, line});
  }
  if (!verb.empty()) return source_error(page, n, "@verb " + verb + " has no @end");
  if (!saw_page) return source_error(page, 1, "no @page line naming the commands the page covers");
  return src;
}

const CommandDoc* find_command(const CommandDoc& root, const std::string& path) {
  const CommandDoc* at = &root;
  for (const auto& word : util::split(path, ' ')) {
    if (word.empty()) continue;
    const CommandDoc* next = nullptr;
    for (const auto& sub : at->subcommands)
      if (sub.name() == word) next = &sub;
    if (!next) return nullptr;
    at = next;
  }
  return at;
}

// `[--port N]`, `--to N`, `[--env NAME=VALUE]...`, `[--trace|--no-trace]` as roff lines.
std::string synopsis_option(const OptionDoc& o) {
  std::vector<std::string> longs;
  for (const auto& n : o.names)
    if (n.rfind("--", 0) == 0) longs.push_back(roff_name(n));
  if (longs.empty()) longs.push_back(roff_name(o.names.front()));
  const std::string open = o.required ? "" : "[ ";
  const std::string close = o.required ? "" : " ]";
  const std::string more = o.multi ? "..." : "";
  if (!o.takes_value) {
    if (o.required) return ".B " + util::join(longs, " | ") + "\n";
    return ".RB " + open + util::join(longs, " | ") + close + more + "\n";
  }
  std::string first = longs.front();
  if (o.required) return ".BI " + first + " \" " + roff_name(o.placeholder()) + "\"" + (more.empty() ? "" : "\n.RB ...") + "\n";
  return ".RB [ " + first + "\n.IR " + roff_name(o.placeholder()) + " ]" + more + "\n";
}

std::string synopsis_positional(const OptionDoc& p) {
  const std::string name = roff_name(p.placeholder());
  if (p.required) return p.multi ? ".IR " + name + " ...\n" : ".I " + name + "\n";
  return ".RI [ " + name + " ]" + (p.multi ? "..." : "") + "\n";
}

// " \fINAME\fR [\fITOPIC\fR]..." for a tag line.
std::string positionals_inline(const CommandDoc& cmd) {
  std::string out;
  for (const auto& p : cmd.positionals) {
    std::string name = "\\fI" + roff_name(p.placeholder()) + "\\fR";
    out += " " + (p.required ? name : "[" + name + "]") + (p.multi ? "..." : "");
  }
  return out;
}

std::string command_words(const CommandDoc& cmd) {
  std::vector<std::string> words = {"wb"};
  for (const auto& w : cmd.path) words.push_back(roff_name(w));
  return util::join(words, " ");
}

std::string synopsis_of(const CommandDoc& cmd) {
  std::string out = ".B " + command_words(cmd) + "\n";
  for (const auto& p : cmd.positionals) out += synopsis_positional(p);
  for (const auto& o : cmd.options) out += synopsis_option(o);
  return out;
}

// The tag of an option in a list: `\fB\-m\fR, \fB\-\-message\fR \fITEXT\fR`.
std::string option_tag(const OptionDoc& o) {
  if (o.positional) return "\\fI" + roff_name(o.placeholder()) + "\\fR" + (o.multi ? " ..." : "");
  std::vector<std::string> names;
  for (const auto& n : o.names) names.push_back("\\fB" + roff_name(n) + "\\fR");
  std::string tag = util::join(names, ", ");
  if (o.takes_value) tag += " \\fI" + roff_name(o.placeholder()) + "\\fR";
  return tag;
}

std::string option_text(const OptionDoc& o) {
  std::string text = sentence(o.description);
  std::vector<std::string> notes;
  if (o.required && !o.positional) notes.push_back("required");
  if (o.multi && !o.positional && o.description.find("repeatable") == std::string::npos) notes.push_back("repeatable");
  if (!o.default_value.empty() && o.description.find("default") == std::string::npos)
    notes.push_back("default: " + o.default_value);
  if (!o.choices.empty() && o.description.find(o.choices.front()) == std::string::npos)
    notes.push_back("one of: " + util::join(o.choices, ", "));
  if (!notes.empty()) text += " (" + util::join(notes, "; ") + ")";
  return roff_text(text);
}

// The list of a command's arguments and options; written prose (@option) replaces the one-line
// description of an option.
std::string option_list(const CommandDoc& cmd, const std::map<std::string, std::string>& prose = {}) {
  std::string out;
  auto text = [&](const OptionDoc& o) {
    for (const auto& n : o.names) {
      auto it = prose.find(cmd.path_string() + " " + n);
      if (it != prose.end()) return it->second;
    }
    return option_text(o) + "\n";
  };
  for (const auto& p : cmd.positionals) out += ".TP\n" + option_tag(p) + "\n" + text(p);
  for (const auto& o : cmd.options) out += ".TP\n" + option_tag(o) + "\n" + text(o);
  return out;
}

bool has_option(const CommandDoc& cmd, const std::string& name) {
  for (const auto* list : {&cmd.options, &cmd.positionals})
    for (const auto& o : *list)
      for (const auto& n : o.names)
        if (n == name) return true;
  return false;
}

std::string verb_prose(const Source& src, const CommandDoc& cmd) {
  auto it = src.verb_prose.find(cmd.path_string());
  return it == src.verb_prose.end() ? "" : it->second;
}

class PageRenderer {
 public:
  PageRenderer(const CommandDoc& root, const std::vector<commands::ExitCodeDoc>& exits, std::string page,
               const Source& src, const std::map<std::string, std::string>& owner_of_noun, std::string source_dir)
      : root_(root), exits_(exits), page_(std::move(page)), src_(src), owner_(owner_of_noun),
        source_dir_(std::move(source_dir)) {}

  util::Result<std::string> render() {
    std::vector<const CommandDoc*> nouns;
    for (const auto& name : src_.nouns) {
      const CommandDoc* noun = find_command(root_, name);
      if (!noun || noun->path.size() != 1)
        return Error(ErrorCode::Usage, fmt::format("man/src/{}.1.in: @page names '{}', which is not a command of wb", page_, name),
                     "name top-level commands only, as `wb --help` lists them");
      nouns.push_back(noun);
    }
    for (const auto& [path, _] : src_.verb_prose)
      if (!find_command(root_, path))
        return Error(ErrorCode::Usage, fmt::format("man/src/{}.1.in: @verb {}: no such command", page_, path),
                     "fix or remove the block");
    for (const auto& [key, _] : src_.option_prose) {
      auto space = key.rfind(' ');
      const CommandDoc* cmd = find_command(root_, key.substr(0, space));
      if (!cmd || !has_option(*cmd, key.substr(space + 1)))
        return Error(ErrorCode::Usage, fmt::format("man/src/{}.1.in: @option {}: no such option", page_, key),
                     "fix or remove the block");
    }
    std::string out = fmt::format(".\\\" Generated from man/src/{}.1.in by scripts/gen-docs.sh; do not edit.\n", page_);
    bool header = true;  // the source's own leading comments are about the source
    for (const auto& [n, line] : src_.lines) {
      if (header && line.rfind(".\\\"", 0) == 0) continue;
      header = false;
      if (line.empty() || line[0] != '@') {
        out += line + "\n";
        continue;
      }
      auto words = util::split(line, ' ');
      const std::string& d = words[0];
      if (d == "@TH") {
        std::string date = words.size() > 1 ? words[1] : "";
        out += fmt::format(".TH {} 1 \"{}\" \"wb {}\" \"User Commands\"\n", upper(roff_name(page_)), date, WB_VERSION);
      } else if (d == "@SYNOPSIS") {
        bool first = true;
        for (const auto* noun : nouns)
          for (const auto* verb : leaves(*noun)) {
            if (!first) out += ".br\n";
            out += synopsis_of(*verb);
            first = false;
          }
      } else if (d == "@COMMANDS") {
        std::vector<const CommandDoc*> verbs;
        for (const auto* noun : nouns)
          for (const auto* verb : leaves(*noun)) verbs.push_back(verb);
        if (verbs.size() == 1) {
          out += verb_prose(src_, *verbs[0]);
          out += option_list(*verbs[0], src_.option_prose);
        } else {
          for (const auto* verb : verbs) {
            out += ".SS \"" + command_words(*verb) + "\"\n" + roff_text(sentence(verb->description)) + "\n";
            out += verb_prose(src_, *verb);
            if (!verb->positionals.empty() || !verb->options.empty()) out += ".PP\n" + option_list(*verb, src_.option_prose);
          }
        }
      } else if (d == "@NOUNS") {
        out += nouns_list();
      } else if (d == "@GLOBAL_OPTIONS") {
        out += option_list(root_, src_.option_prose);
      } else if (d == "@EXIT_STATUS") {
        for (const auto& e : exits_)
          out += fmt::format(".TP\n.B {}\n{}\n", e.code, roff_text(std::string(e.name) + ": " + e.meaning));
      } else if (d == "@include") {
        if (words.size() != 2) return source_error(page_, n, "@include takes one file name");
        std::ifstream f(fs::path(source_dir_) / words[1], std::ios::binary);
        if (!f) return source_error(page_, n, "cannot read " + words[1]);
        std::stringstream ss;
        ss << f.rdbuf();
        out += ss.str();
      } else {
        return source_error(page_, n, "unknown directive " + d);
      }
    }
    for (const char* section : kRequiredSections)
      if (out.find(std::string(".SH ") + section + "\n") == std::string::npos &&
          out.find(std::string(".SH \"") + section + "\"\n") == std::string::npos)
        return Error(ErrorCode::Usage, fmt::format("man/src/{}.1.in: no {} section", page_, section),
                     "every page has NAME, SYNOPSIS, DESCRIPTION, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO");
    return out;
  }

 private:
  // wb(1)'s list of every command: one line and a pointer for nouns with a page of their own,
  // the verbs themselves for those documented here.
  std::string nouns_list() {
    std::string out;
    for (const auto& noun : root_.subcommands) {
      auto owner = owner_.find(noun.name());
      const bool here = owner != owner_.end() && owner->second == page_;
      if (!here) {
        std::string tag = "\\fB" + command_words(noun) + "\\fR";
        std::vector<std::string> verbs;
        for (const auto& v : noun.subcommands) verbs.push_back("\\fB" + roff_name(v.name()) + "\\fR");
        if (!verbs.empty()) tag += " " + util::join(verbs, "|");
        out += ".TP\n" + tag + positionals_inline(noun) + "\n";
        out += roff_text(sentence(noun.description)) + "\n";
        if (owner != owner_.end()) out += "See\n.BR " + roff_name(owner->second) + " (1).\n";
        continue;
      }
      for (const auto* verb : leaves(noun)) {
        out += ".TP\n\\fB" + command_words(*verb) + "\\fR" + positionals_inline(*verb) + "\n";
        out += roff_text(sentence(verb->description)) + "\n" + verb_prose(src_, *verb);
        if (!verb->options.empty()) out += ".RS\n" + option_list(*verb, src_.option_prose) + ".RE\n";
      }
    }
    return out;
  }

  const CommandDoc& root_;
  const std::vector<commands::ExitCodeDoc>& exits_;
  std::string page_;
  const Source& src_;
  const std::map<std::string, std::string>& owner_;
  std::string source_dir_;
};

void append_utf8_escape(std::string& out, const std::string& s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  unsigned cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
  for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len - 1;
  out += fmt::format("\\[u{:04X}]", cp);
}

}  // namespace

std::string roff_text(const std::string& text) {
  std::string out;
  bool code = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    char prev = i == 0 ? ' ' : text[i - 1];
    if (c == '\\') {
      out += "\\e";
    } else if (c == '`') {
      out += code ? "\\fR" : "\\fB";
      code = !code;
    } else if (c == '-' && (code || prev == ' ' || prev == '(' || prev == '-' || prev == '/' || prev == '[' ||
                            prev == ',' || prev == '|')) {
      out += "\\-";
    } else if (c == '\n') {
      out += '\n';
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      append_utf8_escape(out, text, i);
    } else {
      if ((c == '.' || c == '\'') && (out.empty() || out.back() == '\n')) out += "\\&";
      out += c;
    }
  }
  if (code) out += "\\fR";
  return out;
}

util::Result<std::string> render_man_page(const CommandDoc& root, const std::vector<commands::ExitCodeDoc>& exits,
                                          const std::string& page, const std::string& source,
                                          const std::string& source_dir) {
  WB_ASSIGN_OR_RETURN(auto src, parse_source(page, source));
  std::map<std::string, std::string> owner;
  for (const auto& n : src.nouns) owner[n] = page;
  return PageRenderer(root, exits, page, src, owner, source_dir).render();
}

util::Result<std::vector<std::string>> render_man_pages(const CommandDoc& root,
                                                        const std::vector<commands::ExitCodeDoc>& exits,
                                                        const std::string& source_dir, const std::string& out_dir) {
  std::error_code ec;
  std::vector<fs::path> inputs;
  for (const auto& entry : fs::directory_iterator(source_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && name.substr(name.size() - 5) == ".1.in") inputs.push_back(entry.path());
  }
  if (ec) return Error(ErrorCode::NotFound, fmt::format("cannot read {}: {}", source_dir, ec.message()));
  std::sort(inputs.begin(), inputs.end());

  std::map<std::string, Source> sources;
  std::map<std::string, std::string> owner;
  for (const auto& path : inputs) {
    std::string page = path.filename().string();
    page = page.substr(0, page.size() - 5);
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    WB_ASSIGN_OR_RETURN(auto src, parse_source(page, ss.str()));
    for (const auto& noun : src.nouns) {
      if (owner.count(noun))
        return Error(ErrorCode::Usage,
                     fmt::format("`wb {}` is claimed by two man pages: {} and {}", noun, owner[noun], page),
                     "keep it in the @page line of one of them");
      owner[noun] = page;
    }
    sources.emplace(page, std::move(src));
  }
  for (const auto& noun : root.subcommands)
    if (!owner.count(noun.name()))
      return Error(ErrorCode::Usage, fmt::format("`wb {}` has no man page", noun.name()),
                   fmt::format("add man/src/wb-{}.1.in (or name it in the @page line of another page; see "
                               "man/README.md) and run scripts/gen-docs.sh",
                               noun.name()));

  fs::create_directories(out_dir, ec);
  std::vector<std::string> written;
  for (const auto& [page, src] : sources) {
    WB_ASSIGN_OR_RETURN(auto text, PageRenderer(root, exits, page, src, owner, source_dir).render());
    fs::path out = fs::path(out_dir) / (page + ".1");
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) return Error(ErrorCode::Failure, fmt::format("cannot write {}", out.string()));
    written.push_back(out.string());
  }
  return written;
}

}  // namespace wb::cli::docs
