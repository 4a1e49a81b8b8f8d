// wb config set|get|history|diff|rollback: an app's config as numbered, immutable versions.
//
// `wb config set -o json` prints {app, workspace, version, base, change, cause, uses, deleted}.
// `wb config get -o json` prints {app, workspace, version, uses, env, secrets, files}; secret
// values are "<secret>" unless --show-secrets.
#include <fmt/format.h>

#include <filesystem>
#include <ostream>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "commands/gitops_flags.hpp"
#include "output.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "workbench/versions/config.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

constexpr const char* kHidden = "<secret>";

std::string ago(Context& ctx, const std::string& rfc3339) {
  auto t = util::parse_rfc3339(rfc3339);
  if (!t) return "";
  return util::format_age(std::chrono::duration_cast<std::chrono::seconds>(ctx.now() - *t)) + " ago";
}

// "7", "v7" -> 7.
Result<int> version_arg(const std::string& text) {
  std::string t = text;
  if (!t.empty() && (t[0] == 'v' || t[0] == 'V')) t.erase(0, 1);
  auto n = util::parse_int<int>(t, "", 1);
  if (!n) return Error(ErrorCode::Usage, fmt::format("'{}' is not a config version (e.g. 3 or v3)", text));
  return *n;
}

size_t line_count(const std::string& text) {
  if (text.empty()) return 0;
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + (text.back() == '\n' ? 0 : 1);
}

// ---------------------------------------------------------------- set and rollback

struct SetOptions {
  std::string app;
  std::vector<std::string> entries;
  std::vector<std::string> files;
  std::vector<std::string> env_files;
  std::vector<std::string> unset;
  bool secret = false;
  std::string message;
  WaitFlags wait;
  GitopsFlags gitops;
};

// Writes the version, points the app at it, prunes old versions, waits and reports.
Status write_and_roll(Context& ctx, const std::string& app, const wbw::ConfigChange& change, const WaitFlags& wait) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  WB_ASSIGN_OR_RETURN(auto before, wbw::read_app(*client, ns, app));
  const std::string cause = change.message.empty() ? wbw::describe_config_change(change) : change.message;
  const auto who = change_info(ctx, *client, cause);
  WB_ASSIGN_OR_RETURN(auto written, wbw::write_config_version(*client, ns, app, change, who.who,
                                                              wbw::server_has_immutable_config(*client)));
  const int used_before = wbw::referenced_config_version(util::json_at(before, "/spec/template", json::object()), app);
  if (used_before > 0 && written.base > used_before && !change.replace_with)
    ctx.warn(fmt::format("{} ran config v{}; this change builds on the newest version, v{}", app, used_before,
                         written.base));
  WB_ASSIGN_OR_RETURN(auto pointing, wbw::point_app_to_config(*client, ns, app, written.version, who));
  const int v = written.version.number;
  const int replicas = util::json_at(pointing.deployment, "/spec/replicas", 0);
  if (pointing.changed && replicas > 0 && !wait.no_wait) WB_TRY(wait_for_app(ctx, *client, ns, app, wait));
  // After the rollout: the revisions the cluster keeps for rollback are settled by then.
  std::vector<int> deleted;
  if (auto pruned = wbw::prune_config_versions(*client, ns, app, settings->get_int("retention.configs")))
    deleted = *pruned;
  else
    ctx.warn("old config versions were not cleaned up: " + explain_error(ctx, pruned.error()).message);
  const auto format = ctx.global.format();
  if (format == OutputFormat::Name) {
    ctx.out() << "configmap/" << wbw::config_map_name(app, v) << '\n';
    return {};
  }
  if (ctx.global.machine_output()) {
    print_result(ctx,
                 {{"app", app},
                  {"workspace", ns},
                  {"version", v},
                  {"base", written.base == 0 ? json(nullptr) : json(written.base)},
                  {"change", written.version.change},
                  {"cause", written.version.cause},
                  {"uses", pointing.uses},
                  {"deleted", deleted}},
                 [] { return Table{}; });
    return {};
  }
  std::string line = fmt::format("Config v{} of {}: {}", v, app, written.version.change);
  if (!pointing.changed)
    line += fmt::format(" (the app already uses v{}, which includes it)", pointing.uses);
  else if (replicas == 0)
    line += fmt::format(" (the app is stopped; it uses v{} when started)", v);
  else if (wait.no_wait)
    line += fmt::format("; `wb app status {}` shows it rolling out", app);
  ctx.out() << line << '\n';
  if (pointing.changed && replicas > 0 && !wait.no_wait) {
    auto st = report_app(ctx, *client, ns, app, app + " is {state}");
    if (!st) return st;
  }
  return {};
}

Status run_set(const SetOptions& o, Context& ctx) {
  wbw::ConfigChange change;
  change.secret = o.secret;
  change.message = o.message;
  for (const auto& kv : o.entries) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(ErrorCode::Usage, fmt::format("'{}' must look like KEY=VALUE", kv.substr(0, 40)));
    change.set.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& path : o.env_files) {
    WB_ASSIGN_OR_RETURN(auto text, util::read_file(path));
    WB_ASSIGN_OR_RETURN(auto entries, wbw::parse_env_file(text, path));
    for (auto& e : entries) change.set.push_back(std::move(e));
  }
  if (o.secret && !o.files.empty())
    return Error(ErrorCode::Usage, "--secret applies to KEY=VALUE entries, not to --file",
                 "put secret values in KEY=VALUE entries (or an --env-file) with --secret");
  if (o.secret && change.set.empty())
    return Error(ErrorCode::Usage, "--secret needs KEY=VALUE entries or an --env-file");
  for (const auto& path : o.files) {
    WB_ASSIGN_OR_RETURN(auto text, util::read_file(path));
    const std::string name = std::filesystem::path(path).filename().string();
    WB_TRY(wbw::check_config_file(name, text, path));
    change.files.emplace_back(name, text);
  }
  for (const auto& key : o.unset) change.unset.push_back(key);
  if (change.set.empty() && change.files.empty() && change.unset.empty())
    return Error(ErrorCode::Usage, "nothing to change",
                 fmt::format("pass KEY=VALUE, --file FILE, --env-file FILE or --unset KEY (see `wb config set --help`)"));
  for (const auto& [key, value] : change.set) WB_TRY(wbw::check_config_key(key));
  // Every input is checked before anything is read from or written to the cluster.
  WB_TRY(wbw::apply_config_change({}, wbw::ConfigChange{change.set, change.secret, change.files, {}, {}, {}}, o.app));
  if (o.gitops.on()) return gitops_config_set(ctx, o.gitops, o.app, change);
  return write_and_roll(ctx, o.app, change, o.wait);
}

struct RollbackOptions {
  std::string app;
  std::string to;
  std::string message;
  WaitFlags wait;
  GitopsFlags gitops;
};

Status run_rollback(const RollbackOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(int to, version_arg(o.to));
  if (o.gitops.on()) {
    wbw::ConfigChange change;
    change.message = o.message.empty() ? fmt::format("rollback to v{}", to) : o.message;
    return gitops_config_set(ctx, o.gitops, o.app, change, to);
  }
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_TRY(wbw::read_app(*client, ns, o.app));
  WB_ASSIGN_OR_RETURN(auto target, wbw::read_config_version(*client, ns, o.app, to));
  wbw::ConfigChange change;
  change.replace_with = target.content;
  change.message = o.message.empty() ? fmt::format("rollback to v{}", to) : o.message;
  return write_and_roll(ctx, o.app, change, o.wait);
}

// ---------------------------------------------------------------- get

struct GetOptions {
  std::string app;
  std::string version;
  std::string file;
  bool show_secrets = false;
};

Status run_get(const GetOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto d, wbw::read_app(*client, ns, o.app));
  const int uses = wbw::referenced_config_version(util::json_at(d, "/spec/template", json::object()), o.app);
  wbw::ConfigVersion v;
  if (!o.version.empty()) {
    WB_ASSIGN_OR_RETURN(int n, version_arg(o.version));
    WB_ASSIGN_OR_RETURN(v, wbw::read_config_version(*client, ns, o.app, n));
  } else if (uses > 0) {
    WB_ASSIGN_OR_RETURN(v, wbw::read_config_version(*client, ns, o.app, uses));
  } else {
    WB_ASSIGN_OR_RETURN(auto all, wbw::read_config_versions(*client, ns, o.app));
    if (all.empty()) {
      if (ctx.global.machine_output()) {
        print_result(ctx, {{"app", o.app}, {"workspace", ns}, {"version", nullptr}, {"uses", false},
                           {"env", json::object()}, {"secrets", json::object()}, {"files", json::object()}},
                     [] { return Table{}; });
        return {};
      }
      ctx.err() << fmt::format("App '{}' has no config yet; `wb config set {} KEY=VALUE` adds some.\n", o.app, o.app);
      return {};
    }
    v = all.back();
  }
  if (!o.file.empty()) {
    auto it = v.content.files.find(o.file);
    if (it == v.content.files.end())
      return Error(ErrorCode::NotFound, fmt::format("config v{} of app '{}' has no file '{}'", v.number, o.app, o.file));
    ctx.out() << it->second;
    return {};
  }
  json env = json::object(), secrets = json::object(), files = json::object();
  for (const auto& [key, value] : v.content.env) env[key] = value;
  for (const auto& [key, value] : v.content.secrets) secrets[key] = o.show_secrets ? value : kHidden;
  for (const auto& [name, text] : v.content.files) files[name] = text;
  json doc = {{"app", o.app}, {"workspace", ns}, {"version", v.number}, {"uses", v.number == uses},
              {"env", env},   {"secrets", secrets}, {"files", files}};
  Table t{{"name", "kind", "value"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& [key, value] : v.content.env) t.rows.push_back({key, "env", value}), names.push_back(key);
  for (const auto& [key, value] : v.content.secrets)
    t.rows.push_back({key, "secret", o.show_secrets ? value : kHidden}), names.push_back(key);
  for (const auto& [name, text] : v.content.files) {
    t.rows.push_back({name, "file",
                      fmt::format("{}/{} ({} lines, {} bytes)", wbw::kConfigMountPath, name, line_count(text),
                                  text.size())});
    names.push_back(name);
  }
  if (!ctx.global.machine_output() && ctx.show_progress())
    ctx.err() << fmt::format("Config v{} of {}{}\n", v.number, o.app,
                             v.number == uses ? " (in use)" : uses ? fmt::format(" (the app uses v{})", uses) : "");
  print_result(ctx, doc, [&] { return t; }, names);
  return {};
}

// ---------------------------------------------------------------- history

Status run_history(const std::string& app, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto d, wbw::read_app(*client, ns, app));
  const int uses = wbw::referenced_config_version(util::json_at(d, "/spec/template", json::object()), app);
  WB_ASSIGN_OR_RETURN(auto versions, wbw::read_config_versions(*client, ns, app));
  if (versions.empty() && !ctx.global.machine_output()) {
    ctx.err() << fmt::format("App '{}' has no config yet; `wb config set {} KEY=VALUE` adds some.\n", app, app);
    return {};
  }
  json out = json::array();
  Table t{{"current", "version", "when", "who", "change", "cause"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& v : versions) {
    out.push_back({{"version", v.number}, {"current", v.number == uses}, {"when", v.when}, {"who", v.who},
                   {"change", v.change}, {"cause", v.cause}});
    t.rows.push_back({v.number == uses ? "*" : "", fmt::format("v{}", v.number), ago(ctx, v.when),
                      v.who.empty() ? "-" : v.who, v.change.empty() ? "-" : v.change, v.cause.empty() ? "-" : v.cause});
    names.push_back(wbw::config_map_name(app, v.number));
  }
  print_result(ctx, out, [&] { return t; }, names);
  return {};
}

// ---------------------------------------------------------------- diff

struct DiffOptions {
  std::string app;
  std::vector<std::string> versions;
};

Status run_diff(const DiffOptions& o, Context& ctx) {
  if (o.versions.size() > 2) return Error(ErrorCode::Usage, "wb config diff takes at most two versions");
  std::vector<int> wanted;
  for (const auto& v : o.versions) {
    WB_ASSIGN_OR_RETURN(int n, version_arg(v));
    wanted.push_back(n);
  }
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_TRY(wbw::read_app(*client, ns, o.app));
  WB_ASSIGN_OR_RETURN(auto versions, wbw::read_config_versions(*client, ns, o.app));
  if (versions.empty())
    return Error(ErrorCode::NotFound, fmt::format("app '{}' has no config versions", o.app),
                 fmt::format("`wb config set {} KEY=VALUE` makes the first", o.app));
  auto find = [&](int n) -> Result<const wbw::ConfigVersion*> {
    for (const auto& v : versions)
      if (v.number == n) return &v;
    return Error(ErrorCode::NotFound, fmt::format("app '{}' has no config version {}", o.app, n),
                 fmt::format("`wb config history {}` lists them", o.app));
  };
  const wbw::ConfigVersion empty;
  const wbw::ConfigVersion* from = &empty;
  const wbw::ConfigVersion* to = &versions.back();
  if (wanted.empty()) {
    if (versions.size() >= 2) from = &versions[versions.size() - 2];
  } else {
    WB_ASSIGN_OR_RETURN(from, find(wanted[0]));
    if (wanted.size() == 2) {
      WB_ASSIGN_OR_RETURN(to, find(wanted[1]));
    }
  }
  auto entries = wbw::diff_config(from->content, to->content);
  const char* kinds[] = {"added", "removed", "changed"};
  json changes = json::array();
  for (const auto& e : entries) {
    json c = {{"kind", kinds[static_cast<int>(e.kind)]}, {"what", e.what}, {"name", e.name}};
    if (e.what == "env") {
      if (e.kind != wbw::ConfigDiffEntry::Kind::Added) c["old"] = e.old_value;
      if (e.kind != wbw::ConfigDiffEntry::Kind::Removed) c["new"] = e.new_value;
    }
    if (e.what == "file") c["lines"] = e.lines;
    changes.push_back(c);
  }
  const std::string from_name = from->number ? fmt::format("v{}", from->number) : "(nothing)";
  if (ctx.global.machine_output()) {
    print_result(ctx, {{"app", o.app}, {"from", from->number ? json(from->number) : json(nullptr)},
                       {"to", to->number}, {"changes", changes}},
                 [] { return Table{}; });
    return {};
  }
  auto& out = ctx.out();
  const bool color = ctx.color_out();
  out << fmt::format("--- {}\n+++ v{}\n", from_name, to->number);
  if (entries.empty()) out << "(no differences)\n";
  for (const auto& e : entries) {
    using K = wbw::ConfigDiffEntry::Kind;
    const std::string sign = e.kind == K::Added ? "+" : e.kind == K::Removed ? "-" : "~";
    const std::string tint = e.kind == K::Added ? "green" : e.kind == K::Removed ? "red" : "yellow";
    std::string line;
    if (e.what == "secret")
      line = fmt::format("{} {} (secret){}", sign, e.name, e.kind == K::Changed ? ": changed" : "");
    else if (e.what == "file")
      line = fmt::format("{} {} (file {}/{})", sign, e.name, wbw::kConfigMountPath, e.name);
    else if (e.kind == K::Changed)
      line = fmt::format("~ {}: {} -> {}", e.name, e.old_value, e.new_value);
    else
      line = fmt::format("{} {}={}", sign, e.name, e.kind == K::Added ? e.new_value : e.old_value);
    out << paint(color, tint, line) << '\n';
    for (const auto& l : e.lines)
      out << "    " << (l[0] == '+' ? paint(color, "green", l) : l[0] == '-' ? paint(color, "red", l) : l) << '\n';
  }
  return {};
}

}  // namespace

void register_config(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "config", "An app's config: numbered versions of variables, secrets and files");

  auto set = std::make_shared<SetOptions>();
  auto* s = add_verb(*noun, "set", "Make a new config version (previous one + this change) and roll the app to it");
  s->add_option("app", set->app, "App name")->required();
  s->add_option("entries", set->entries, "KEY=VALUE entries, given to the app as environment variables");
  s->add_option("--file", set->files, "A file for /app/config/ (application.yml, ...; repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  s->add_option("--env-file", set->env_files, "KEY=VALUE lines from a .env file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  s->add_option("--unset", set->unset, "Remove an entry or a file (repeatable)")
      ->type_name("KEY")
      ->allow_extra_args(false);
  s->add_flag("--secret", set->secret, "The entries are secret: kept in a Secret, never printed");
  s->add_option("-m,--message", set->message, "Why (recorded with the version and the app's revision)")
      ->type_name("TEXT");
  add_wait_flags(*s, set->wait);
  add_gitops_flags(*s, set->gitops);
  s->callback([set, &ctx, &action] { action = [set, &ctx] { return run_set(*set, ctx); }; });

  auto get = std::make_shared<GetOptions>();
  auto* g = add_verb(*noun, "get", "Show a config version (default: the one the app uses)");
  g->add_option("app", get->app, "App name")->required();
  g->add_option("--version", get->version, "Which version (e.g. 3 or v3)")->type_name("N");
  g->add_option("--file", get->file, "Print only this file's content")->type_name("NAME");
  g->add_flag("--show-secrets", get->show_secrets, "Show secret values instead of <secret>");
  g->callback([get, &ctx, &action] { action = [get, &ctx] { return run_get(*get, ctx); }; });

  auto name = std::make_shared<std::string>();
  auto* h = add_verb(*noun, "history", "The app's config versions: when, who, what changed and why");
  h->add_option("app", *name, "App name")->required();
  h->callback([name, &ctx, &action] { action = [name, &ctx] { return run_history(*name, ctx); }; });

  auto diff = std::make_shared<DiffOptions>();
  auto* d = add_verb(*noun, "diff", "What changed between two versions (default: the newest and the one before)");
  d->add_option("app", diff->app, "App name")->required();
  d->add_option("versions", diff->versions, "V1 [V2]: from V1 (to V2, default the newest)");
  d->callback([diff, &ctx, &action] { action = [diff, &ctx] { return run_diff(*diff, ctx); }; });

  auto rb = std::make_shared<RollbackOptions>();
  auto* r = add_verb(*noun, "rollback", "Make a new version with the content of version N and roll the app to it");
  r->add_option("app", rb->app, "App name")->required();
  r->add_option("--to", rb->to, "The version to go back to (e.g. 3 or v3)")->type_name("N")->required();
  r->add_option("-m,--message", rb->message, "Why")->type_name("TEXT");
  add_wait_flags(*r, rb->wait);
  add_gitops_flags(*r, rb->gitops);
  r->callback([rb, &ctx, &action] { action = [rb, &ctx] { return run_rollback(*rb, ctx); }; });
}

}  // namespace wb::cli::commands
