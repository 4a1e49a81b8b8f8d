// The bash completion script, and the case functions it shares with zsh.
#include <fmt/format.h>

#include <sstream>

#include "docs/completion_internal.hpp"
#include "util/strings.hpp"

namespace wb::cli::docs::detail {

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
  main.replace(main.find("@PERAPP@"), 8,
               util::join(std::vector<std::string>(std::begin(kPerApp), std::end(kPerApp)), "|"));
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

}  // namespace wb::cli::docs::detail
