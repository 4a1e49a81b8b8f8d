#include "docs/completion.hpp"

#include <fmt/format.h>

#include <map>
#include <sstream>

#include "docs/completion_internal.hpp"
#include "util/strings.hpp"

namespace wb::cli::docs {

namespace {

// Which argument completes to what, first match wins. `command` is a command path ("app create"),
// "NOUN *" for every verb of a noun, or "*" for any command; `arg` is an option name or a
// positional's name. Anything not listed: choices if it has them, local paths by its placeholder
// (kPathKinds: FILE, DIR, JAR), else nothing (free text).
struct ValueRule {
  const char* command;
  const char* arg;
  const char* kind;
};
const ValueRule kValueRules[] = {
    {"*", "--profile", "@profiles"},
    {"*", "--workspace", "@workspaces"},
    {"*", "--context", "@contexts"},
    {"app create", "name", "none"},
    {"app *", "name", "@apps"},
    {"profile init", "name", "none"},
    {"profile *", "name", "@profiles"},
    {"workspace use", "name", "@workspaces"},
    {"workspace delete", "name", "@workspaces"},
    {"config get", "--version", "@configs"},
    {"config rollback", "--to", "@configs"},
    {"config diff", "versions", "@configs"},
    {"app rollback", "--to", "@revisions"},
    {"route rollback", "--to", "@routes"},
    {"cp-files", "from", "apppath"},
    {"cp-files", "to", "apppath"},
    {"files ls", "where", "apppath"},
    {"help", "topic", "help"},
    {"*", "app", "@apps"},
    {"*", "--app", "@apps"},
};

// Local paths, by the option's placeholder (its type_name): the shell completes them natively.
// "PATH" is not among them: wb uses it for URL paths (--path, --health).
struct PathKind {
  const char* value_name;
  const char* kind;
};
const PathKind kPathKinds[] = {
    {"FILE", "files"},  // any file (directories to get there)
    {"DIR", "dirs"},    // directories only
    {"JAR", "jars"},    // *.jar files (and directories to get there)
};

// Global options whose values `wb __complete` needs to look in the right place.
const char* const kForwarded[] = {"--profile", "--kubeconfig", "--context", "--workspace"};

}  // namespace

namespace detail {

bool command_matches(const std::string& pattern, const std::string& path) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == " *")
    return path.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  return pattern == path;
}

// Every command in the tree, wb itself first.
void walk(const CommandDoc& doc, std::vector<const CommandDoc*>& out) {
  out.push_back(&doc);
  for (const auto& sub : doc.subcommands) walk(sub, out);
}

std::vector<const CommandDoc*> all_commands(const CommandDoc& root) {
  std::vector<const CommandDoc*> out;
  walk(root, out);
  return out;
}

std::vector<const OptionDoc*> accepted_options(const CommandDoc& cmd) {
  std::vector<const OptionDoc*> out;
  for (const auto& o : cmd.options) out.push_back(&o);
  for (const auto& o : cmd.inherited) out.push_back(&o);
  return out;
}

std::vector<std::string> flag_names(const CommandDoc& cmd) {
  std::vector<std::string> out = {"-h", "--help"};
  if (cmd.path.empty()) out.push_back("--help-all");
  for (const auto* o : accepted_options(cmd))
    if (!o->takes_value)
      for (const auto& n : o->names) out.push_back(n);
  return out;
}

std::vector<std::string> value_option_names(const CommandDoc& cmd) {
  std::vector<std::string> out;
  for (const auto* o : accepted_options(cmd))
    if (o->takes_value)
      for (const auto& n : o->names) out.push_back(n);
  return out;
}

std::string positional_kinds(const CommandDoc& cmd) {
  std::vector<std::string> kinds;
  for (const auto& p : cmd.positionals) kinds.push_back(value_kind(cmd, p) + (p.multi ? "+" : ""));
  return util::join(kinds, " ");
}

bool is_forwarded(const OptionDoc& o) {
  for (const char* f : kForwarded)
    if (o.main_name() == f) return true;
  return false;
}

// Names of the forwarded options as declared on wb itself ("-w", "--workspace", ...).
std::vector<std::string> forwarded_names(const CommandDoc& root) {
  std::vector<std::string> out;
  for (const auto& o : root.options)
    if (is_forwarded(o))
      for (const auto& n : o.names) out.push_back(n);
  return out;
}

// Case arms "PATH/OPTION" -> kind for options with a kind other than "none"; options of wb
// itself (accepted everywhere) become "*/OPTION".
std::vector<std::pair<std::string, std::vector<std::string>>> kind_arms(const CommandDoc& root) {
  std::vector<std::pair<std::string, std::vector<std::string>>> specific, global;
  auto add = [](auto& arms, const std::string& kind, const std::string& pattern) {
    for (auto& [k, patterns] : arms)
      if (k == kind) {
        patterns.push_back(pattern);
        return;
      }
    arms.push_back({kind, {pattern}});
  };
  for (const auto& o : root.options) {
    if (!o.takes_value) continue;
    auto kind = value_kind(root, o);
    if (kind == "none") continue;
    for (const auto& n : o.names) add(global, kind, "*/" + n);
  }
  for (const auto* cmd : all_commands(root))
    for (const auto& o : cmd->options) {
      if (!o.takes_value || cmd->path.empty()) continue;
      auto kind = value_kind(*cmd, o);
      if (kind == "none") continue;
      for (const auto& n : o.names) add(specific, kind, cmd->path_string() + "/" + n);
    }
  for (auto& g : global) specific.push_back(std::move(g));
  return specific;
}

// Case arms "PATH/WORD" -> subcommand name (aliases resolved).
std::vector<std::pair<std::string, std::string>> sub_arms(const CommandDoc& root) {
  std::vector<std::pair<std::string, std::string>> arms;
  for (const auto* cmd : all_commands(root))
    for (const auto& sub : cmd->subcommands) {
      arms.push_back({cmd->path_string() + "/" + sub.name(), sub.name()});
      for (const auto& a : sub.aliases) arms.push_back({cmd->path_string() + "/" + a, sub.name()});
    }
  return arms;
}

std::string quote_patterns(const std::vector<std::string>& patterns) {
  std::vector<std::string> q;
  for (const auto& p : patterns) {
    if (p.rfind("*/", 0) == 0)
      q.push_back("*\"" + p.substr(1) + "\"");
    else
      q.push_back("\"" + p + "\"");
  }
  return util::join(q, "|");
}

// One line for a description in a completion menu.
std::string short_description(const std::string& d) {
  std::string s;
  for (char c : d) s += (c == '\n' || c == '\t') ? ' ' : c;
  return s;
}

std::string sh_single_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string fish_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string zsh_describe_entry(const std::string& name, const std::string& desc) {
  std::string n;
  for (char c : name) {
    if (c == ':') n += '\\';
    n += c;
  }
  return sh_single_quote(n + ":" + short_description(desc));
}

// Descriptions of the options a command accepts, one entry per name.
std::vector<std::pair<std::string, std::string>> option_entries(const CommandDoc& cmd) {
  std::vector<std::pair<std::string, std::string>> out = {{"-h", "Print help"}, {"--help", "Print help"}};
  if (cmd.path.empty()) out.push_back({"--help-all", "Print help for every command"});
  for (const auto* o : accepted_options(cmd))
    for (const auto& n : o->names) out.push_back({n, o->description});
  return out;
}

}  // namespace detail

using namespace detail;

const std::vector<std::string>& completion_shells() {
  static const std::vector<std::string> shells = {"bash", "zsh", "fish"};
  return shells;
}

const std::vector<std::string>& dynamic_kinds() {
  static const std::vector<std::string> kinds = {"apps",    "workspaces", "profiles", "contexts",
                                                 "configs", "revisions",  "routes",   "paths"};
  return kinds;
}

std::string value_kind(const CommandDoc& cmd, const OptionDoc& opt) {
  const std::string path = cmd.path_string();
  for (const auto& rule : kValueRules) {
    if (!command_matches(rule.command, path)) continue;
    for (const auto& n : opt.names)
      if (n == rule.arg) return rule.kind;
  }
  if (!opt.choices.empty()) return "=" + util::join(opt.choices, ",");
  for (const auto& p : kPathKinds)
    if (opt.value_name == p.value_name) return p.kind;
  return "none";
}

std::string completion_script(const std::string& shell, const CommandDoc& root) {
  if (shell == "bash") return bash_script(root);
  if (shell == "zsh") return zsh_script(root);
  if (shell == "fish") return fish_script(root);
  return {};
}

}  // namespace wb::cli::docs
