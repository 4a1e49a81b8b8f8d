// The zsh completion script.
#include <fmt/format.h>

#include <sstream>

#include "docs/completion_internal.hpp"
#include "util/strings.hpp"

namespace wb::cli::docs::detail {

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
  s << "#compdef wb\n# zsh completion for wb. " << fmt::format(fmt::runtime(kHeader), fmt::arg("shell", "zsh")) << "\n"
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

}  // namespace wb::cli::docs::detail
