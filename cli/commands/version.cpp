// wb version: what wb this is, and what it was built with.
#include <curl/curlver.h>
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/strings.hpp"

#ifndef WB_GIT_COMMIT
#define WB_GIT_COMMIT "unknown"
#endif

namespace wb::cli::commands {

void register_version(CLI::App& app, Context& ctx, Action& action) {
  auto* cmd = add_verb(app, "version", "Print wb's version");
  cmd->callback([&ctx, &action] {
    action = [&ctx]() -> Status {
      if (ctx.global.format() == OutputFormat::Table) {
        ctx.out() << "wb " << WB_VERSION << " (" << WB_GIT_COMMIT << ")\n";
        return {};
      }
      json info = {{"version", WB_VERSION},
                   {"commit", WB_GIT_COMMIT},
                   {"compiler", fmt::format("g++ {}.{}", __GNUC__, __GNUC_MINOR__)},
                   {"libcurl", LIBCURL_VERSION}};
      print_result(ctx, info,
                   [&] {
                     return Table{{"version", "commit"}, {{WB_VERSION, WB_GIT_COMMIT}}, {}};
                   },
                   {WB_VERSION});
      return {};
    };
  });
}

}  // namespace wb::cli::commands
