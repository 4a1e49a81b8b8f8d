// A plain description of the command tree, read from the CLI11 definitions: what the completion
// scripts and the man pages are generated from (so they cannot drift from the parser).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace wb::cli::docs {

// One option or positional argument of a command.
struct OptionDoc {
  std::vector<std::string> names;  // "-m", "--message" (flags may have several long names:
                                   // "--trace", "--no-trace"); a positional: its name, e.g. "app"
  bool positional = false;
  bool takes_value = false;        // false for flags
  bool multi = false;              // repeatable, or a positional taking several words
  bool required = false;
  std::string value_name;          // "N", "FILE", "NAME" (type_name without choices)
  std::vector<std::string> choices;  // from a CLI::IsMember check
  std::string description;
  std::string default_value;

  // The long name if there is one, else the first: "--message", "-o", "app".
  std::string main_name() const;
  // The upper-case placeholder a user sees: value_name if one was given, else the name.
  std::string placeholder() const;
};

// One command: wb itself, a noun or a verb.
struct CommandDoc {
  std::vector<std::string> path;   // {"app", "create"}; empty for wb itself
  std::string description;
  std::vector<std::string> aliases;
  std::vector<OptionDoc> options;      // its own options (no help flags), in definition order
  std::vector<OptionDoc> positionals;  // in order
  std::vector<OptionDoc> inherited;    // options of its parents that it accepts (fallthrough)
  std::vector<CommandDoc> subcommands; // visible ones only
  bool hidden = false;

  std::string name() const { return path.empty() ? "wb" : path.back(); }
  // "app create" ("" for wb itself).
  std::string path_string() const;
};

// Describes `app` and every visible subcommand under it. Hidden subcommands (empty group) are
// left out.
CommandDoc describe(CLI::App& app);

// The commands at the leaves (verbs) under `doc`, depth first; `doc` itself if it has none.
std::vector<const CommandDoc*> leaves(const CommandDoc& doc);

}  // namespace wb::cli::docs
