// Shell completion scripts for bash, zsh and fish, generated from the command definitions.
//
// The scripts carry the command tree (subcommands, options, which options take a value, choices)
// and ask `wb __complete KIND [APP]` for values that live on the cluster or on disk: app names,
// workspaces, an app's config versions, profiles, kubeconfig contexts. Which argument takes which
// kind of value is the explicit table kValueRules in completion.cpp, then the argument's choices
// or placeholder (FILE, DIR, JAR: local paths, completed by the shell itself).
#pragma once

#include <string>
#include <vector>

#include "docs/model.hpp"

namespace wb::cli::docs {

// The shells we generate for.
const std::vector<std::string>& completion_shells();

// The script for `shell` (one of completion_shells()), describing `root` (wb itself).
std::string completion_script(const std::string& shell, const CommandDoc& root);

// What a command's argument (an option or positional) completes to: "none", local paths by the
// argument's placeholder ("files" for FILE, "dirs" for DIR, "jars" for JAR), "=a,b,c" (choices),
// "@apps", "@workspaces", "@profiles", "@contexts", "@configs", "@revisions", "@routes" (the
// last three: config versions, revisions and routes versions of the app named by the first
// positional), "apppath" (APP: or a local path, then APP:PATH in the app's container: `wb
// __complete paths APP:PATH`), "help" (command words).
std::string value_kind(const CommandDoc& cmd, const OptionDoc& opt);

// The dynamic kinds `wb __complete` answers (without the '@').
const std::vector<std::string>& dynamic_kinds();

}  // namespace wb::cli::docs
