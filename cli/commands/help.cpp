// wb help [COMMAND...|exit-codes]: the help of any command, and the topics no command has.
#include <fmt/format.h>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/strings.hpp"

namespace wb::cli::commands {

const std::vector<ExitCodeDoc>& exit_code_docs() {
  static const std::vector<ExitCodeDoc> docs = {
      {0, "ok", "the command did what it was asked"},
      {1, "failure", "something else went wrong (the message says what)"},
      {2, "usage", "bad flags, arguments or input files; nothing was changed"},
      {3, "not found", "the app, workspace, profile or file named does not exist"},
      {4, "forbidden", "not logged in, credentials expired, or not allowed to do this there"},
      {5, "conflict", "it exists already, or someone changed it at the same time; try again"},
      {6, "timeout", "it did not become ready (or answer) in time"},
      {7, "unavailable", "the cluster or registry could not be reached or is failing"},
      {130, "interrupted", "stopped by Ctrl-C"},
  };
  return docs;
}

void register_help(CLI::App& app, Context& ctx, Action& action) {
  auto* cmd = add_verb(app, "help", "Help on a command or topic (topics: exit-codes)");
  auto topic_ptr = std::make_shared<std::vector<std::string>>();
  cmd->add_option("topic", *topic_ptr, "A command (e.g. `app create`) or a topic: exit-codes")->expected(0, -1);
  cmd->callback([&app, &ctx, &action, topic_ptr] {
    action = [&app, &ctx, topic_ptr]() -> Status {
      const auto& topic = *topic_ptr;
      if (topic.size() == 1 && topic[0] == "exit-codes") {
        json list = json::array();
        Table t{{"code", "name", "meaning"}, {}, {}};
        for (const auto& d : exit_code_docs()) {
          list.push_back({{"code", d.code}, {"name", d.name}, {"meaning", d.meaning}});
          t.rows.push_back({std::to_string(d.code), d.name, d.meaning});
        }
        if (ctx.global.machine_output()) {
          print_result(ctx, list, [&] { return t; });
        } else {
          ctx.out() << "wb exits with one of these statuses:\n\n";
          for (const auto& d : exit_code_docs())
            ctx.out() << fmt::format("  {:>3}  {:<12} {}\n", d.code, d.name, d.meaning);
        }
        return {};
      }
      CLI::App* target = &app;
      for (const auto& word : topic) {
        CLI::App* next = nullptr;
        try {
          next = target->get_subcommand(word);
        } catch (const CLI::OptionNotFound&) {
        }
        if (!next)
          return util::Error(util::ErrorCode::Usage, fmt::format("no help topic '{}'", util::join(topic, " ")),
                             "try `wb help`, `wb help exit-codes` or `wb COMMAND --help`");
        target = next;
      }
      ctx.out() << help_text(target);
      return {};
    };
  });
}

std::string help_text(CLI::App* command) {
  // CLI11 names only the command itself ("Usage: create ..."); the usage line names it whole.
  std::vector<std::string> parents;
  for (CLI::App* a = command->get_parent(); a; a = a->get_parent()) parents.insert(parents.begin(), a->get_name());
  return command->help(util::join(parents, " "));
}

}  // namespace wb::cli::commands
