#include "docs/completion.hpp"

#include <fmt/format.h>

#include <map>
#include <sstream>

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

// Dynamic kinds that are about one app: `wb __complete KIND APP`, APP the command's first
// positional argument (nothing is offered before it is given).
const char* const kPerApp[] = {"@configs", "@revisions", "@routes"};

// Global options whose values `wb __complete` needs to look in the right place.
const char* const kForwarded[] = {"--profile", "--kubeconfig", "--context", "--workspace"};

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

const char* kHeader =
    "Generated by `wb completion {shell}` from wb's command definitions; do not edit.\n"
    "# Regenerate with scripts/gen-docs.sh.";

// ------------------------------------------------------------------------------------ bash

// bash and zsh share these: the case functions mapping a command path to its subcommands and an
// option to what its value completes to, and filling the main body's placeholders.
std::string sh_sub_and_kind(const CommandDoc& root) {
  std::ostringstream s;
  s << "# _wb_sub PATH WORD: sets _wb_n to the subcommand WORD names under PATH, or \"\".\n"
       "_wb_sub() {\n  case \"$1/$2\" in\n";
  for (const auto& [pattern, name] : sub_arms(root)) s << fmt::format("    \"{}\") _wb_n={} ;;\n", pattern, name);
  s << "    *) _wb_n=\"\" ;;\n  esac\n}\n\n";
  s << "# _wb_kind PATH OPTION: sets _wb_k to what OPTION's value completes to (see `wb __complete`).\n"
       "_wb_kind() {\n  case \"$1/$2\" in\n";
  for (const auto& [kind, patterns] : kind_arms(root))
    s << fmt::format("    {}) _wb_k={} ;;\n", quote_patterns(patterns), sh_single_quote(kind));
  s << "    *) _wb_k=none ;;\n  esac\n}\n";
  return s.str();
}

std::string sh_main(const char* tmpl, const CommandDoc& root) {
  std::string main = tmpl;
  main.replace(main.find("@FWD@"), 5, util::join(forwarded_names(root), "|"));
  main.replace(main.find("@PERAPP@"), 8, util::join(std::vector<std::string>(std::begin(kPerApp), std::end(kPerApp)), "|"));
  return main;
}

const char* kBashMain = R"BASH(
# _wb_forward OPTION VALUE: remembers the global options `wb __complete` needs.
_wb_forward() {
  case "$1" in
    @FWD@)
      local v=$2
      [[ $v == "~/"* ]] && v=$HOME/${v#"~/"}
      fwd+=("$1" "$v") ;;
  esac
}

# _wb_values KIND: candidates for the current word (uses cur, wb, fwd and args of _wb).
_wb_values() {
  local kind=$1 list
  case "$kind" in
    none) return ;;
    files|dirs|jars)
      # readline quotes what it inserts (spaces, quotes) and adds '/' after a directory
      compopt -o filenames 2>/dev/null
      case "$kind" in
        files) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        dirs) mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        jars) mapfile -t COMPREPLY < <(compgen -f -X '!*.jar' -- "$cur"; compgen -d -- "$cur") ;;
      esac
      return ;;
    =*) list=${kind#=} list=${list//,/ } ;;
    help)
      _wb_cmd "${args[*]}"
      list=$_wb_s
      ((${#args[@]})) || list+=" exit-codes" ;;
    apppath)
      if [[ $cur == *:* ]]; then
        _wb_paths
        return
      fi
      # APP: (then the path in the app's container), or a local path
      list=$("$wb" "${fwd[@]}" __complete apps 2>/dev/null)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      # readline's quoting of file names would turn APP: into APP\:, so only when there are files
      ((${#COMPREPLY[@]})) && compopt -o filenames 2>/dev/null
      compopt -o nospace 2>/dev/null
      mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen -W "$list" -S : -- "$cur")
      return ;;
    @PERAPP@)
      ((${#args[@]})) || return
      list=$("$wb" "${fwd[@]}" __complete "${kind#@}" "${args[0]}" 2>/dev/null) ;;
    @*) list=$("$wb" "${fwd[@]}" __complete "${kind#@}" 2>/dev/null) ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
}

# _wb_paths: APP:PATH words for cur, from a listing in the app's container. readline replaces only
# its own word, $2 of _wb (as typed, quotes and all), which starts after the last ':' when
# COMP_WORDBREAKS has one: the candidates lose what comes before it. Directories end in '/' and
# take no space after them.
_wb_paths() {
  local -a words=()
  local i keep=$cur
  mapfile -t COMPREPLY < <("$wb" "${fwd[@]}" __complete paths "$cur" 2>/dev/null)
  ((${#COMPREPLY[@]})) || return
  if ((rlset)); then
    _wb_split "$rlword"
    keep=${words[-1]}
  fi
  for i in "${!COMPREPLY[@]}"; do
    COMPREPLY[i]=${COMPREPLY[i]:${#cur}-${#keep}}
  done
  # readline quotes what it inserts (spaces) and lists only the names after the last '/'
  compopt -o filenames 2>/dev/null
  [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]] && compopt -o nospace 2>/dev/null
}

# _wb_split LINE: sets words to LINE split into words as the shell reads them (quotes and
# backslashes taken off: "a b", 'a b' and a\ b are one word a b); the last one is the word being
# completed, "" after a blank. bash's COMP_WORDS would keep the quotes and also split at '=' and
# ':' (COMP_WORDBREAKS), and bash-completion's helpers may not be installed.
_wb_split() {
  local line=$1 q="" w="" c i inw=0
  words=()
  for ((i = 0; i < ${#line}; i++)); do
    c=${line:i:1}
    if [[ $q == "'" ]]; then
      [[ $c == "'" ]] && q="" || w+=$c
    elif [[ $q == '"' ]]; then
      if [[ $c == '"' ]]; then
        q=""
      elif [[ $c == '\' && ${line:i+1:1} == [\"\$\`\\] ]]; then
        w+=${line:i+1:1}
        ((i++))
      else
        w+=$c
      fi
    else
      case "$c" in
        [[:space:]])
          ((inw)) && words+=("$w")
          w="" inw=0 ;;
        [\"\']) q=$c inw=1 ;;
        '\') w+=${line:i+1:1} inw=1; ((i++)) ;;
        *) w+=$c inw=1 ;;
      esac
    fi
  done
  words+=("$w")
}

_wb() {
  local cur path="" pending="" word wb n kind rlword=${2-} rlset=${2+1}
  local _wb_s _wb_f _wb_v _wb_p _wb_n _wb_k
  local -a words=() args=() fwd=() kinds=()
  COMPREPLY=()
  _wb_split "${COMP_LINE:0:COMP_POINT}"
  ((${#words[@]} >= 2)) || return
  cur=${words[-1]}
  wb=${words[0]}
  [[ $wb == "~/"* ]] && wb=$HOME/${wb#"~/"}
  for word in "${words[@]:1:${#words[@]}-2}"; do
    if [[ -n $pending ]]; then
      _wb_forward "$pending" "$word"
      pending=""
      continue
    fi
    case "$word" in
      --*=*)
        _wb_forward "${word%%=*}" "${word#*=}"
        continue ;;
      -?*)
        _wb_cmd "$path"
        [[ " $_wb_v " == *" $word "* ]] && pending=$word
        continue ;;
    esac
    _wb_sub "$path" "$word"
    if [[ -n $_wb_n && ${#args[@]} -eq 0 ]]; then
      path=${path:+$path }$_wb_n
      continue
    fi
    args+=("$word")
  done
  _wb_cmd "$path"
  if [[ -n $pending ]]; then
    _wb_kind "$path" "$pending"
    _wb_values "$_wb_k"
    return
  fi
  case "$cur" in
    --*=*)
      # readline completes the text after '='
      _wb_kind "$path" "${cur%%=*}"
      cur=${cur#*=}
      _wb_values "$_wb_k"
      return ;;
    -*)
      mapfile -t COMPREPLY < <(compgen -W "$_wb_f $_wb_v" -- "$cur")
      return ;;
  esac
  if [[ -n $_wb_s ]]; then
    [[ $cur == *:* ]] && return
    mapfile -t COMPREPLY < <(compgen -W "$_wb_s" -- "$cur")
    return
  fi
  # The next positional argument (the last one repeats when it takes several words).
  read -ra kinds <<<"$_wb_p"
  n=${#args[@]}
  ((${#kinds[@]})) || return
  if ((n >= ${#kinds[@]})); then
    [[ ${kinds[-1]} == *+ ]] || return
    n=$((${#kinds[@]} - 1))
  fi
  kind=${kinds[n]%+}
  # APP:PATH is only a word where a path in an app's container is wanted
  [[ $cur == *:* && $kind != apppath ]] && return
  _wb_values "$kind"
}

complete -F _wb wb
)BASH";

std::string bash_script(const CommandDoc& root) {
  std::ostringstream s;
  s << "# bash completion for wb                                   -*- shell-script -*-\n# "
    << fmt::format(fmt::runtime(kHeader), fmt::arg("shell", "bash")) << "\n"
    << "# Installed as /usr/share/bash-completion/completions/wb; or: source <(wb completion bash)\n\n";
  s << "# _wb_cmd PATH: what the command at PATH (\"\" is wb itself) takes. Sets _wb_s (subcommands),\n"
       "# _wb_f (flags), _wb_v (options that take a value), _wb_p (kinds of its positional arguments).\n"
       "_wb_cmd() {\n  case \"$1\" in\n";
  for (const auto* cmd : all_commands(root)) {
    std::vector<std::string> subs;
    for (const auto& sub : cmd->subcommands) subs.push_back(sub.name());
    s << fmt::format("    \"{}\") _wb_s=\"{}\" _wb_f=\"{}\" _wb_v=\"{}\" _wb_p=\"{}\" ;;\n", cmd->path_string(),
                     util::join(subs, " "), util::join(flag_names(*cmd), " "),
                     util::join(value_option_names(*cmd), " "), positional_kinds(*cmd));
  }
  s << "    *) _wb_s=\"\" _wb_f=\"\" _wb_v=\"\" _wb_p=\"\" ;;\n  esac\n}\n\n";
  s << sh_sub_and_kind(root) << sh_main(kBashMain, root);
  return s.str();
}

// ------------------------------------------------------------------------------------- zsh

const char* kZshMain = R"ZSH(
# _wb_forward OPTION VALUE: remembers the global options `wb __complete` needs.
_wb_forward() {
  case "$1" in
    @FWD@)
      local v=$2
      [[ $v == '~/'* ]] && v=$HOME/${v#\~/}
      fwd+=("$1" "$v") ;;
  esac
}

# _wb_dynamic KIND [APP]: asks wb for values on the cluster or on disk (quiet, fast).
_wb_dynamic() {
  "$wb" "${fwd[@]}" __complete "$@" 2>/dev/null
}

# _wb_paths: APP:PATH words for cur, from a listing in the app's container; the menu shows the
# names after the last '/' (or after APP:). Directories end in '/' and take no space after them.
_wb_paths() {
  local word=${(Q)cur} head w
  local -a list dirs files
  # an opening quote not closed yet: as if it were
  [[ $word == [\'\"]* ]] && word=${(Q)${:-$cur$cur[1]}}
  list=(${(f)"$(_wb_dynamic paths "$word")"})
  (( $#list )) || return 1
  if [[ $word == */* ]]; then head=${word%/*}/; else head=${word%%:*}:; fi
  compset -P '*/' || compset -P '*:'
  for w in $list; do
    w=${w#"$head"}
    if [[ $w == */ ]]; then dirs+=("$w"); else files+=("$w"); fi
  done
  compadd -S '' -a dirs
  compadd -a files
}

# _wb_values KIND: candidates for the current word (uses wb, fwd and args of _wb).
_wb_values() {
  local kind=$1
  local -a list
  case "$kind" in
    none) return 1 ;;
    files) _files ;;
    dirs) _files -/ ;;
    jars) _files -g '*.jar' ;;
    [=]*) list=(${(s:,:)${kind#=}}); compadd -a list ;;
    help)
      _wb_cmd "${args[*]}"
      list=($_wb_s)
      (( $#args )) || list+=('exit-codes:The exit statuses of wb')
      _describe -t commands command list ;;
    apppath)
      if [[ $cur == *:* ]]; then
        _wb_paths
        return
      fi
      # APP: (then the path in the app's container), or a local path
      list=(${(f)"$(_wb_dynamic apps)"})
      compadd -S : -a list
      _files ;;
    @PERAPP@)
      (( $#args )) || return 1
      list=(${(f)"$(_wb_dynamic "${kind#@}" "$args[1]")"})
      compadd -a list ;;
    @*)
      list=(${(f)"$(_wb_dynamic "${kind#@}")"})
      compadd -a list ;;
  esac
}

_wb() {
  local wb=${(Q)words[1]} cur=${words[CURRENT]} at="" pending="" word i n
  local -a args fwd kinds _wb_s _wb_o _wb_v _wb_p
  local _wb_n _wb_k
  [[ $wb == '~/'* ]] && wb=$HOME/${wb#\~/}
  for (( i = 2; i < CURRENT; i++ )); do
    # as typed ("a b", a\ b): without the quoting, as wb will get it
    word=${(Q)words[i]}
    if [[ -n $pending ]]; then
      _wb_forward "$pending" "$word"
      pending=""
      continue
    fi
    case "$word" in
      --*=*)
        _wb_forward "${word%%=*}" "${word#*=}"
        continue ;;
      -?*)
        _wb_cmd "$at"
        (( ${_wb_v[(Ie)$word]} )) && pending=$word
        continue ;;
    esac
    _wb_sub "$at" "$word"
    if [[ -n $_wb_n && $#args -eq 0 ]]; then
      at=${at:+$at }$_wb_n
      continue
    fi
    args+=("$word")
  done
  _wb_cmd "$at"
  if [[ -n $pending ]]; then
    _wb_kind "$at" "$pending"
    _wb_values "$_wb_k"
    return
  fi
  case "$cur" in
    --*=*)
      _wb_kind "$at" "${cur%%=*}"
      compset -P '*='
      _wb_values "$_wb_k"
      return ;;
    -*)
      _describe -t options option _wb_o
      return ;;
  esac
  if (( $#_wb_s )); then
    [[ $cur == *:* ]] && return 1
    _describe -t commands command _wb_s
    return
  fi
  # The next positional argument (the last one repeats when it takes several words).
  kinds=($_wb_p)
  n=$(( $#args + 1 ))
  (( $#kinds )) || return 1
  if (( n > $#kinds )); then
    [[ $kinds[-1] == *+ ]] || return 1
    n=$#kinds
  fi
  # APP:PATH is only a word where a path in an app's container is wanted
  [[ $cur == *:* && ${kinds[n]%+} != apppath ]] && return 1
  _wb_values "${kinds[n]%+}"
}

if [[ $funcstack[1] == _wb ]]; then
  _wb "$@"
else
  compdef _wb wb
fi
)ZSH";

std::string zsh_words(const std::string& words) {
  std::vector<std::string> q;
  for (const auto& w : util::split(words, ' '))
    if (!w.empty()) q.push_back(sh_single_quote(w));
  return util::join(q, " ");
}

std::string zsh_script(const CommandDoc& root) {
  std::ostringstream s;
  s << "#compdef wb\n# zsh completion for wb. "
    << fmt::format(fmt::runtime(kHeader), fmt::arg("shell", "zsh")) << "\n"
    << "# Installed as /usr/share/zsh/vendor-completions/_wb; or, after compinit: source <(wb completion zsh)\n\n";
  s << "# _wb_cmd PATH: what the command at PATH (\"\" is wb itself) takes. Sets _wb_s (subcommands),\n"
       "# _wb_o (options with descriptions), _wb_v (options that take a value), _wb_p (kinds of its\n"
       "# positional arguments).\n"
       "_wb_cmd() {\n  case \"$1\" in\n";
  for (const auto* cmd : all_commands(root)) {
    std::vector<std::string> subs, opts;
    for (const auto& sub : cmd->subcommands) subs.push_back(zsh_describe_entry(sub.name(), sub.description));
    for (const auto& [n, d] : option_entries(*cmd)) opts.push_back(zsh_describe_entry(n, d));
    s << fmt::format("    \"{}\")\n      _wb_s=({})\n      _wb_o=({})\n      _wb_v=({})\n      _wb_p=({}) ;;\n",
                     cmd->path_string(), util::join(subs, " "), util::join(opts, " "),
                     util::join(value_option_names(*cmd), " "), zsh_words(positional_kinds(*cmd)));
  }
  s << "    *) _wb_s=() _wb_o=() _wb_v=() _wb_p=() ;;\n  esac\n}\n\n";
  s << sh_sub_and_kind(root) << sh_main(kZshMain, root);
  return s.str();
}

// ------------------------------------------------------------------------------------ fish

const char* kFishMain = R"FISH(
# __wb_dynamic KIND [APP]: asks wb for values on the cluster or on disk (quiet, fast).
function __wb_dynamic
    $__wb_bin $__wb_fwd __complete $argv 2>/dev/null
end

# __wb_values KIND CUR: candidates, one a line ("value<TAB>description").
function __wb_values --argument-names kind cur
    switch $kind
        case files
            __fish_complete_path $cur
        case dirs
            __fish_complete_directories $cur
        case jars
            # *.jar files and directories to look in
            __fish_complete_path $cur | string match -r -- '^[^\t]*(?:\.jar|/)(?:\t.*)?$'
        case '=*'
            string split , -- (string sub -s 2 -- $kind)
        case help
            __wb_cmd "$__wb_args"
            printf '%s\n' $__wb_s
            set -q __wb_args[1]; or printf '%s\t%s\n' exit-codes 'The exit statuses of wb'
        case apppath
            if string match -q -- '*:*' $cur
                # APP:PATH in the app's container (fish adds no space after a directory's '/');
                # the token as typed, without its quotes and backslashes
                set -l word (string unescape -- $cur); or set word $cur
                __wb_dynamic paths "$word"
                return
            end
            # APP: (then the path in the app's container), or a local path
            __wb_dynamic apps | string replace -r '$' ':'
            __fish_complete_path $cur
        case @PERAPP@
            set -q __wb_args[1]; and __wb_dynamic (string sub -s 2 -- $kind) $__wb_args[1]
        case '@*'
            __wb_dynamic (string sub -s 2 -- $kind)
    end
end

function __wb_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -g __wb_bin (string replace -r '^~/' "$HOME/" -- $tokens[1])
    set -g __wb_fwd
    set -g __wb_args
    set -l path ''
    set -l pending ''
    for word in $tokens[2..-1]
        if test -n "$pending"
            contains -- $pending @FWD@; and set -a __wb_fwd $pending (string replace -r '^~/' "$HOME/" -- $word)
            set pending ''
            continue
        end
        switch $word
            case '--*=*'
                set -l kv (string split -m 1 = -- $word)
                contains -- $kv[1] @FWD@; and set -a __wb_fwd $kv[1] (string replace -r '^~/' "$HOME/" -- $kv[2])
                continue
            case '-?*'
                __wb_cmd $path
                contains -- $word $__wb_v; and set pending $word
                continue
        end
        set -l sub (__wb_sub $path $word)
        if test -n "$sub"; and not set -q __wb_args[1]
            set path (string trim -- "$path $sub")
            continue
        end
        set -a __wb_args $word
    end
    __wb_cmd $path
    if test -n "$pending"
        __wb_values (__wb_kind $path $pending) $cur
        return
    end
    switch $cur
        case '--*=*'
            set -l kv (string split -m 1 = -- $cur)
            __wb_values (__wb_kind $path $kv[1]) $kv[2] | string replace -r '^' -- "$kv[1]="
            return
        case '-*'
            printf '%s\n' $__wb_o
            return
    end
    if set -q __wb_s[1]
        string match -q -- '*:*' $cur; and return
        printf '%s\n' $__wb_s
        return
    end
    # The next positional argument (the last one repeats when it takes several words).
    set -l n (math (count $__wb_args) + 1)
    set -q __wb_p[1]; or return
    if test $n -gt (count $__wb_p)
        string match -q -- '*+' $__wb_p[-1]; or return
        set n (count $__wb_p)
    end
    set -l kind (string trim -r -c + -- $__wb_p[$n])
    # APP:PATH is only a word where a path in an app's container is wanted
    string match -q -- '*:*' $cur; and test $kind != apppath; and return
    __wb_values $kind $cur
end

complete -c wb -f -a '(__wb_complete)'
)FISH";

std::string fish_entry(const std::string& name, const std::string& desc) {
  return fish_quote(name) + "\\t" + fish_quote(short_description(desc));
}

std::string fish_list(const std::vector<std::string>& items) {
  std::vector<std::string> q;
  for (const auto& i : items) q.push_back(fish_quote(i));
  return util::join(q, " ");
}

std::string fish_script(const CommandDoc& root) {
  std::ostringstream s;
  s << "# fish completion for wb. " << fmt::format(fmt::runtime(kHeader), fmt::arg("shell", "fish")) << "\n"
    << "# Installed as /usr/share/fish/vendor_completions.d/wb.fish; or: wb completion fish | source\n\n";
  s << "# __wb_cmd PATH: what the command at PATH ('' is wb itself) takes. Sets __wb_s (subcommands),\n"
       "# __wb_o (options with descriptions), __wb_v (options that take a value), __wb_p (kinds of its\n"
       "# positional arguments).\n"
       "function __wb_cmd --argument-names path\n"
       "    set -g __wb_s\n    set -g __wb_o\n    set -g __wb_v\n    set -g __wb_p\n"
       "    switch \"$path\"\n";
  for (const auto* cmd : all_commands(root)) {
    std::vector<std::string> subs, opts, kinds;
    for (const auto& sub : cmd->subcommands) subs.push_back(fish_entry(sub.name(), sub.description));
    for (const auto& [n, d] : option_entries(*cmd)) opts.push_back(fish_entry(n, d));
    for (const auto& k : util::split(positional_kinds(*cmd), ' '))
      if (!k.empty()) kinds.push_back(k);
    s << "        case " << fish_quote(cmd->path_string()) << "\n";
    if (!subs.empty()) s << "            set -g __wb_s " << util::join(subs, " ") << "\n";
    s << "            set -g __wb_o " << util::join(opts, " ") << "\n";
    auto v = value_option_names(*cmd);
    if (!v.empty()) s << "            set -g __wb_v " << fish_list(v) << "\n";
    if (!kinds.empty()) s << "            set -g __wb_p " << fish_list(kinds) << "\n";
  }
  s << "    end\nend\n\n";
  s << "# __wb_sub PATH WORD: prints the subcommand WORD names under PATH, if it names one.\n"
       "function __wb_sub --argument-names path word\n    switch \"$path/$word\"\n";
  for (const auto& [pattern, name] : sub_arms(root))
    s << "        case " << fish_quote(pattern) << "\n            echo " << name << "\n";
  s << "    end\nend\n\n";
  s << "# __wb_kind PATH OPTION: prints what OPTION's value completes to (see `wb __complete`).\n"
       "function __wb_kind --argument-names path option\n    switch \"$path/$option\"\n";
  for (const auto& [kind, patterns] : kind_arms(root)) {
    std::vector<std::string> q;
    for (const auto& p : patterns) q.push_back(p.rfind("*/", 0) == 0 ? "'*'" + fish_quote(p.substr(1)) : fish_quote(p));
    s << "        case " << util::join(q, " ") << "\n            echo " << fish_quote(kind) << "\n";
  }
  s << "        case '*'\n            echo none\n    end\nend\n";
  std::string main = kFishMain;
  std::string fwd;
  for (const auto& n : forwarded_names(root)) fwd += (fwd.empty() ? "" : " ") + fish_quote(n);
  for (size_t pos; (pos = main.find("@FWD@")) != std::string::npos;) main.replace(pos, 5, fwd);
  main.replace(main.find("@PERAPP@"), 8, fish_list(std::vector<std::string>(std::begin(kPerApp), std::end(kPerApp))));
  s << main;
  return s.str();
}

}  // namespace

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
