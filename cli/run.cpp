#include "run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <ostream>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::cli {

using util::Error;
using util::ErrorCode;

CLI::App* add_verb(CLI::App& parent, const std::string& name, const std::string& description) {
  CLI::App* sub = parent.add_subcommand(name, description);
  sub->fallthrough();
  return sub;
}

void build_cli(CLI::App& app, Context& ctx, Action& action) {
  auto& g = ctx.global;
  app.fallthrough();
  app.require_subcommand(0, 1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  app.footer("Run `wb COMMAND --help` for a command's flags, `wb help exit-codes` for exit statuses, `man wb` for more.");
  app.add_option("--profile", g.profile, "Tenant profile to use (default: WB_PROFILE, then the current one)")
      ->envname("")
      ->type_name("NAME");
  app.add_option("--kubeconfig", g.kubeconfig, "Kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
      ->type_name("FILE");
  app.add_option("--context", g.context, "Kubeconfig context to use")->type_name("NAME");
  app.add_option("-w,--workspace", g.workspace, "Workspace (namespace) to act in")->type_name("NAME");
  app.add_option("-o,--output", g.output, "Output format: table, wide, json, yaml or name")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml", "name"}));
  app.add_flag("-v,--verbose", g.verbose, "More output; repeat for an HTTP trace (-vv headers, -vvv bodies; secrets redacted)");
  app.add_flag("-q,--quiet", g.quiet, "No progress or status lines");
  app.add_flag("--no-color", g.no_color, "No colors (also: NO_COLOR)");
  app.add_flag("-y,--yes", g.yes, "Answer yes to confirmations (needed when not on a terminal)");
  app.add_option("--request-timeout", g.request_timeout, "Give up on a single request after this long (e.g. 30s)")
      ->type_name("DURATION")
      ->check(duration_error);

  commands::register_version(app, ctx, action);
  commands::register_help(app, ctx, action);
  commands::register_profile(app, ctx, action);
  commands::register_workspace(app, ctx, action);
  commands::register_whoami(app, ctx, action);
  commands::register_app(app, ctx, action);
  commands::register_push(app, ctx, action);
  commands::register_config(app, ctx, action);
  commands::register_route(app, ctx, action);
  commands::register_logs(app, ctx, action);
  commands::register_files(app, ctx, action);
  commands::register_shell(app, ctx, action);
  commands::register_port_forward(app, ctx, action);
  commands::register_jvm(app, ctx, action);
  commands::register_gc(app, ctx, action);
  commands::register_export(app, ctx, action);
  commands::register_doctor(app, ctx, action);
  commands::register_platform(app, ctx, action);
  commands::register_tenant(app, ctx, action);
  commands::register_member(app, ctx, action);
  commands::register_robot(app, ctx, action);
  commands::register_completion(app, ctx, action);
}

std::string duration_error(const std::string& value) {
  auto d = util::parse_duration(value, "");
  return d ? std::string() : d.error().message;
}

void print_error(Context& ctx, const Error& error) {
  std::string line = paint(ctx.color_err(), "red", "error:") + " " + error.message;
  if (!error.hint.empty()) line += "; " + error.hint;
  ctx.err() << line << '\n';
}

namespace {

// Help in wb's words: positional arguments as placeholders ("Usage: wb app create [OPTIONS]
// [NAME]"), as the man pages write them.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
    if (!is_positional) return CLI::Formatter::make_option_name(opt, false);
    std::string name = opt->get_name(true, false);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    return name;
  }
};

// The deepest subcommand the parser entered.
CLI::App* deepest(CLI::App* app) {
  for (auto* sub : app->get_subcommands())
    if (sub->parsed()) return deepest(sub);
  return app;
}

std::string command_path(CLI::App* app) {
  std::vector<std::string> parts;
  for (CLI::App* a = app; a; a = a->get_parent()) parts.insert(parts.begin(), a->get_name());
  if (!parts.empty() && parts.front().empty()) parts.front() = "wb";
  return util::join(parts, " ");
}


// One line for a CLI11 parse error, with a did-you-mean where we can guess.
Error parse_error_to_error(CLI::App& app, const CLI::ParseError& e) {
  CLI::App* where = deepest(&app);
  std::string cmd = command_path(where);
  std::string what = e.what();
  std::string help_hint = fmt::format("run `{} --help` for usage", cmd);
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    auto colon = what.find(": ");
    std::string rest = colon == std::string::npos ? "" : what.substr(colon + 2);
    auto tokens = util::split(rest, ' ');
    std::string token = tokens.empty() ? rest : tokens.back();  // CLI11 lists them reversed
    std::vector<std::string> candidates;
    bool is_flag = !token.empty() && token[0] == '-';
    if (is_flag) {
      for (CLI::App* a = where; a; a = a->get_parent())
        for (const auto* opt : a->get_options())
          for (const auto& ln : opt->get_lnames()) candidates.push_back("--" + ln);
    } else {
      for (const auto* sub : where->get_subcommands({})) candidates.push_back(sub->get_name());
    }
    std::string msg = is_flag ? fmt::format("unknown flag '{}' for `{}`", token, cmd)
                              : (where->get_subcommands({}).empty()
                                     ? fmt::format("unexpected argument '{}' for `{}`", token, cmd)
                                     : fmt::format("unknown command '{}' for `{}`", token, cmd));
    auto near = util::closest_match(token, candidates);
    return Error(ErrorCode::Usage, msg, near.empty() ? help_hint : fmt::format("did you mean '{}'?", near));
  }
  // CLI11's own wording is already one line ("--port: Value x not in range", "NAME is required").
  return Error(ErrorCode::Usage, fmt::format("{}: {}", cmd, what), help_hint);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, Context& ctx) {
  CLI::App app{"wb ships and runs Java services on Kubernetes: create an app, push a jar, set its config, start it.",
               "wb"};
  Action action;
  try {
    app.formatter(std::make_shared<HelpFormatter>());
    build_cli(app, ctx, action);
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    ctx.out() << commands::help_text(deepest(&app));
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    ctx.out() << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    auto err = parse_error_to_error(app, e);
    print_error(ctx, err);
    return util::exit_status(err.code);
  }
  if (!action) {
    // `wb` or a noun without a verb: show what is there.
    ctx.out() << commands::help_text(deepest(&app));
    return 0;
  }
  Status st = action();
  if (!st.ok()) {
    if (const auto* remote = st.error().detail<RemoteExit>()) return remote->status;
    // An error without a message: the command already said what went wrong (e.g. wb doctor).
    if (st.error().message.empty()) return util::exit_status(st.error().code);
    const Error err = commands::explain_error(ctx, st.error());
    print_error(ctx, err);
    return util::exit_status(err.code);
  }
  return 0;
}

}  // namespace wb::cli
