// The generators of completion scripts and man pages, on small command trees.
#include <algorithm>
#include <catch2/catch.hpp>

#include "docs/completion.hpp"
#include "docs/manpage.hpp"
#include "docs/model.hpp"

using namespace wb::cli::docs;

namespace {

// wb-like: a global option, a noun with two verbs, a positional, choices and a FILE option.
struct Tree {
  CLI::App app{"test", "wb"};
  std::string profile, output = "table", name, file, mode;
  std::vector<std::string> env;
  bool dry = false;
  Tree() {
    app.fallthrough();
    app.add_option("--profile", profile, "Profile")->type_name("NAME");
    app.add_option("-o,--output", output, "Format")->type_name("FORMAT")->check(CLI::IsMember({"table", "json"}));
    auto* noun = app.add_subcommand("app", "Apps");
    noun->fallthrough();
    auto* create = noun->add_subcommand("create", "Create an app");
    create->fallthrough();
    create->add_option("name", name, "App name")->required();
    create->add_option("--file", file, "A file")->type_name("FILE");
    create->add_option("--env", env, "NAME=VALUE (repeatable)")->type_name("NAME=VALUE");
    create->add_flag("--dry-run", dry, "Print only");
    auto* start = noun->add_subcommand("start", "Start it")->alias("go");
    start->fallthrough();
    start->add_option("name", name, "App name")->required();
    start->add_option("--mode", mode, "Mode")->required()->check(CLI::IsMember({"fast", "slow"}));
    app.add_subcommand("__hidden", "")->group("");
  }
};

}  // namespace

TEST_CASE("describe reads the CLI11 tree: options, values, choices, inheritance, hidden commands") {
  Tree t;
  auto root = describe(t.app);
  REQUIRE(root.subcommands.size() == 1);  // __hidden is left out
  const auto& noun = root.subcommands[0];
  REQUIRE(noun.subcommands.size() == 2);
  const auto& create = noun.subcommands[0];
  CHECK(create.path_string() == "app create");
  REQUIRE(create.positionals.size() == 1);
  CHECK(create.positionals[0].placeholder() == "NAME");
  REQUIRE(create.options.size() == 3);
  CHECK(create.options[0].value_name == "FILE");
  CHECK(create.options[1].multi);
  CHECK_FALSE(create.options[2].takes_value);
  CHECK(create.inherited.size() == 2);  // --profile and -o through fallthrough
  const auto& out = root.options[1];
  CHECK(out.names == std::vector<std::string>{"-o", "--output"});
  CHECK(out.value_name == "FORMAT");
  CHECK(out.choices == std::vector<std::string>{"table", "json"});
  CHECK(noun.subcommands[1].aliases == std::vector<std::string>{"go"});
}

TEST_CASE("value kinds: the explicit table first, then choices, then files") {
  Tree t;
  auto root = describe(t.app);
  const auto& create = root.subcommands[0].subcommands[0];
  const auto& start = root.subcommands[0].subcommands[1];
  CHECK(value_kind(create, create.positionals[0]) == "none");  // a new app's name
  CHECK(value_kind(start, start.positionals[0]) == "@apps");
  CHECK(value_kind(create, create.options[0]) == "files");
  CHECK(value_kind(start, start.options[0]) == "=fast,slow");
  CHECK(value_kind(root, root.options[0]) == "@profiles");
  CHECK(value_kind(create, create.options[1]) == "none");
}

TEST_CASE("value kinds: local paths by their placeholder, revisions and routes versions per app") {
  CLI::App app{"test", "wb"};
  std::string jar, dir, file, path, to;
  auto* push = app.add_subcommand("push", "Push");
  push->add_option("jar", jar, "The jar")->type_name("JAR");
  push->add_option("--gitops", dir, "A checkout")->type_name("DIR");
  push->add_option("--dotenv-out", file, "Write here")->type_name("FILE");
  push->add_option("--path", path, "A URL path")->type_name("PATH");
  auto* noun = app.add_subcommand("app", "Apps");
  noun->add_subcommand("rollback", "Back")->add_option("--to", to, "Revision")->type_name("REV");
  auto* routes = app.add_subcommand("route", "Routes");
  routes->add_subcommand("rollback", "Back")->add_option("--to", to, "Version")->type_name("N");
  auto root = describe(app);
  const auto& p = root.subcommands[0];
  CHECK(value_kind(p, p.positionals[0]) == "jars");
  CHECK(value_kind(p, p.options[0]) == "dirs");
  CHECK(value_kind(p, p.options[1]) == "files");
  CHECK(value_kind(p, p.options[2]) == "none");  // URL paths are not files
  const auto& app_rollback = root.subcommands[1].subcommands[0];
  CHECK(value_kind(app_rollback, app_rollback.options[0]) == "@revisions");
  const auto& route_rollback = root.subcommands[2].subcommands[0];
  CHECK(value_kind(route_rollback, route_rollback.options[0]) == "@routes");
  auto bash = completion_script("bash", root);
  CHECK(bash.find("\"push/--gitops\") _wb_k='dirs'") != std::string::npos);
  CHECK(bash.find("\"push\") _wb_s=\"\" _wb_f=\"-h --help\" _wb_v=\"--gitops --dotenv-out --path\" _wb_p=\"jars\"") !=
        std::string::npos);
  // The kinds about one app ask `wb __complete KIND APP` in every shell.
  CHECK(bash.find("@configs|@revisions|@routes)") != std::string::npos);
  CHECK(completion_script("zsh", root).find("@configs|@revisions|@routes)") != std::string::npos);
  CHECK(completion_script("fish", root).find("case '@configs' '@revisions' '@routes'") != std::string::npos);
}

TEST_CASE("container paths: cp-files' and files ls' APP:PATH arguments ask wb __complete paths") {
  CLI::App app{"test", "wb"};
  std::string from, to, where;
  auto* cp = app.add_subcommand("cp-files", "Copy");
  cp->add_option("from", from, "Source");
  cp->add_option("to", to, "Destination");
  app.add_subcommand("files", "Files")->add_subcommand("ls", "List")->add_option("where", where, "APP:/path");
  auto root = describe(app);
  const auto& c = root.subcommands[0];
  const auto& ls = root.subcommands[1].subcommands[0];
  CHECK(value_kind(c, c.positionals[0]) == "apppath");
  CHECK(value_kind(c, c.positionals[1]) == "apppath");
  CHECK(value_kind(ls, ls.positionals[0]) == "apppath");
  CHECK(std::count(dynamic_kinds().begin(), dynamic_kinds().end(), "paths") == 1);
  CHECK(completion_script("bash", root).find("__complete paths \"$cur\"") != std::string::npos);
  CHECK(completion_script("zsh", root).find("_wb_dynamic paths \"$word\"") != std::string::npos);
  CHECK(completion_script("fish", root).find("__wb_dynamic paths \"$word\"") != std::string::npos);
}

TEST_CASE("completion scripts carry the tree for each shell") {
  Tree t;
  auto root = describe(t.app);
  auto bash = completion_script("bash", root);
  CHECK(bash.find("\"app create\") _wb_s=\"\" _wb_f=\"-h --help --dry-run\" _wb_v=\"--file --env --profile -o --output\" _wb_p=\"none\"") != std::string::npos);
  CHECK(bash.find("\"app/go\") _wb_n=start") != std::string::npos);
  CHECK(bash.find("\"app start/--mode\") _wb_k='=fast,slow'") != std::string::npos);
  CHECK(bash.find("__hidden") == std::string::npos);
  CHECK(bash.find("complete -F _wb wb") != std::string::npos);
  auto zsh = completion_script("zsh", root);
  CHECK(zsh.rfind("#compdef wb\n", 0) == 0);
  CHECK(zsh.find("'create:Create an app'") != std::string::npos);
  auto fish = completion_script("fish", root);
  CHECK(fish.find("'create'\\t'Create an app'") != std::string::npos);
  CHECK(fish.find("complete -c wb -f -a '(__wb_complete)'") != std::string::npos);
  CHECK(completion_script("tcsh", root).empty());
}

TEST_CASE("roff_text escapes what roff would misread") {
  CHECK(roff_text("use --port or -p") == "use \\-\\-port or \\-p");
  CHECK(roff_text("lower-case") == "lower-case");
  CHECK(roff_text("see `wb app history`") == "see \\fBwb app history\\fR");
  CHECK(roff_text("C:\\dir") == "C:\\edir");
  CHECK(roff_text(".hidden") == "\\&.hidden");
  CHECK(roff_text("\xE2\x86\x92 next") == "\\[u2192] next");
}

TEST_CASE("a page renders from prose and definitions, and mistakes in the prose are errors") {
  Tree t;
  auto root = describe(t.app);
  std::vector<wb::cli::commands::ExitCodeDoc> exits = {{0, "ok", "fine"}, {3, "not found", "gone"}};
  std::string sections = ".SH DESCRIPTION\nd\n.SH EXIT STATUS\n@EXIT_STATUS\n.SH ENVIRONMENT\ne\n.SH FILES\nf\n"
                         ".SH EXAMPLES\nx\n.SH SEE ALSO\ns\n";
  std::string src = "@page app\n@TH 2026-01-02\n.SH NAME\nwb\\-app \\- apps\n.SH SYNOPSIS\n@SYNOPSIS\n" + sections +
                    ".SH COMMANDS\n@COMMANDS\n@verb app start\nMore words.\n@end\n@option app start --mode\nHow.\n@end\n";
  auto page = render_man_page(root, exits, "wb-app", src, ".");
  REQUIRE(page);
  CHECK(page->find(".TH WB\\-APP 1 \"2026-01-02\" \"wb ") != std::string::npos);
  CHECK(page->find(".B wb app create\n.I NAME\n.RB [ \\-\\-file\n.IR FILE ]\n.RB [ \\-\\-env\n.IR NAME=VALUE ]...\n"
                   ".RB [ \\-\\-dry\\-run ]\n") != std::string::npos);
  CHECK(page->find(".BI \\-\\-mode \" MODE\"") == std::string::npos);  // required: no brackets
  CHECK(page->find(".B wb app start\n.I NAME\n.BI \\-\\-mode \" TEXT\"\n") != std::string::npos);
  CHECK(page->find(".SS \"wb app start\"\nStart it.\nMore words.\n") != std::string::npos);
  CHECK(page->find(".TP\n\\fB\\-\\-mode\\fR \\fITEXT\\fR\nHow.\n") != std::string::npos);
  CHECK(page->find(".TP\n.B 3\nnot found: gone\n") != std::string::npos);

  auto bad = render_man_page(root, exits, "wb-app", src + "@verb app nope\nx\n@end\n", ".");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("@verb app nope: no such command") != std::string::npos);
  auto unknown = render_man_page(root, exits, "wb-app", src + "@FROB\n", ".");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("unknown directive @FROB") != std::string::npos);
  auto no_page = render_man_page(root, exits, "wb-app", "@TH x\n" + sections, ".");
  REQUIRE_FALSE(no_page);
  CHECK(no_page.error().message.find("no @page line") != std::string::npos);
}
