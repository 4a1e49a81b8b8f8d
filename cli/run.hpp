// The command line: builds every command on CLI11, parses, runs, and maps errors to exit codes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "context.hpp"

namespace wb::cli {

// What a verb does once its flags are parsed.
using Action = std::function<Status()>;

// Registration of one noun: adds its subcommand(s) to `app`; a verb's callback stores what to run
// in `action` (run after parsing, so errors are handled in one place).
using Registrar = void (*)(CLI::App& app, Context& ctx, Action& action);

// The facts of an error that stands for a remote command's own exit status (wb shell): run_cli
// exits with `status` and prints nothing.
struct RemoteExit : util::ErrorDetail {
  int status = 1;
};

// Builds the whole command tree (also used to generate completions and man pages).
void build_cli(CLI::App& app, Context& ctx, Action& action);

// Parses argv and runs the command; prints errors as one line on stderr and returns the exit
// status (0 ok, see `wb help exit-codes`). Never throws for user errors.
int run_cli(const std::vector<std::string>& args, Context& ctx);

// Prints an error in the house style ("error: <message>" + the hint), colored on a TTY.
void print_error(Context& ctx, const util::Error& error);

// A CLI11 check for a DURATION flag: "" when `value` is one (util::parse_duration), else why not.
std::string duration_error(const std::string& value);

// Adds a verb with the house defaults (fallthrough of global flags, footer, required arguments).
CLI::App* add_verb(CLI::App& parent, const std::string& name, const std::string& description);

}  // namespace wb::cli
