// The wb binary: builds the real Context (process IO, environment, cwd) and runs the CLI.
// The only place that catches everything and exits.
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>

#include "context.hpp"
#include "run.hpp"
#include "util/interrupt.hpp"

int main(int argc, char** argv) {
  wb::util::install_interrupt_handler();
  wb::cli::Context ctx;
  ctx.io = {&std::cin, &std::cout, &std::cerr, isatty(0) == 1, isatty(1) == 1, isatty(2) == 1};
  ctx.env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  std::error_code ec;
  ctx.cwd = std::filesystem::current_path(ec);
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = 1;
  try {
    code = wb::cli::run_cli(args, ctx);
  } catch (const std::exception& e) {
    std::cerr << "error: internal error: " << e.what() << "; please report this as a bug\n";
    code = 1;
  }
  std::cout.flush();
  return wb::util::interrupted() && code != 0 ? 130 : code;
}
