// The fish completion script.
#include <fmt/format.h>

#include <sstream>

#include "docs/completion_internal.hpp"
#include "util/strings.hpp"

namespace wb::cli::docs::detail {

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

}  // namespace wb::cli::docs::detail
