// Shared by the `wb app` verbs: --dry-run printing, who changes an app, waiting with progress.
#include "commands/app_common.hpp"

#include <fmt/format.h>

#include <optional>
#include <ostream>

#include "output.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

std::string object_name(const json& obj) {
  std::string kind = util::to_lower(obj.value("kind", ""));
  std::string api = obj.value("apiVersion", "");
  auto slash = api.find('/');
  std::string group = slash == std::string::npos ? "" : "." + api.substr(0, slash);
  return fmt::format("{}{}/{}", kind, group, wbw::fields::str(obj, "/metadata/name"));
}

}  // namespace

void print_objects(Context& ctx, const std::vector<json>& objects) {
  switch (ctx.global.format()) {
    case OutputFormat::Json:
      print_json(ctx, json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", objects}});
      return;
    case OutputFormat::Name:
      for (const auto& obj : objects) ctx.out() << object_name(obj) << '\n';
      return;
    default:
      for (size_t i = 0; i < objects.size(); ++i) ctx.out() << (i ? "---\n" : "") << to_yaml(objects[i]);
      return;
  }
}

std::string server_username(k::Client& client) {
  auto type = client.prefer({k::types::SelfSubjectReview, k::types::SelfSubjectReviewV1beta1});
  if (!type) return "";
  json review = {{"apiVersion", type->api_version()}, {"kind", "SelfSubjectReview"}};
  auto answer = client.create(*type, "", review);
  if (!answer) return "";
  return wbw::fields::str(*answer, "/status/userInfo/username");
}

wbw::ChangeInfo change_info(Context& ctx, k::Client& client, const std::string& cause) {
  wbw::ChangeInfo info;
  info.cause = cause;
  std::string user = server_username(client);
  if (user.empty()) user = client.config().user_name;
  info.who = user;
  if (ctx.in_gitlab_ci() && ctx.env) {
    if (auto login = ctx.env("GITLAB_USER_LOGIN"); login && !login->empty())
      info.who = user.empty() ? *login : fmt::format("{} via {}", *login, user);
    if (auto url = ctx.env("CI_PIPELINE_URL")) info.pipeline = *url;
  }
  return info;
}

void add_wait_flags(CLI::App& verb, WaitFlags& flags) {
  verb.add_flag("--no-wait", flags.no_wait, "Do not wait for the app to settle");
  verb.add_option("--timeout", flags.timeout,
                  "Give up waiting after this long, exit 6 (default " + util::format_age(wbw::kRolloutTimeout) + ")")
      ->type_name("DURATION")
      ->check(duration_error);
}

Result<wbw::AppState> wait_for_app(Context& ctx, k::Client& client, const std::string& ns, const std::string& app,
                                   const WaitFlags& flags) {
  wbw::WaitOptions o;
  if (!flags.timeout.empty()) o.timeout = util::parse_duration(flags.timeout, "--timeout").value_or(o.timeout);
  o.fail_after = std::min(o.timeout, o.fail_after);
  // In GitLab CI: each change on a line of its own inside a collapsible section, no redraws.
  const bool ci_lines = ctx.in_gitlab_ci() && !ctx.global.quiet && !ctx.global.machine_output();
  const bool progress = ctx.show_progress() && !ci_lines;
  bool shown = false;
  std::string last_line;
  o.on_change = [&](const wbw::AppState& s) {
    if (!progress && !ci_lines) return;
    std::string line = fmt::format("{}: {}", app, s.summary());
    if (!s.reason.empty()) line += " (" + s.reason + ")";
    if (ci_lines) {
      if (line != last_line) ctx.err() << line << '\n' << std::flush;
      last_line = line;
      return;
    }
    ctx.err() << "\r\033[K" << line << std::flush;
    shown = true;
  };
  std::optional<LogSection> section;
  if (ci_lines)
    section.emplace(ctx, "wb_wait_" + util::replace_all(app, "-", "_"), fmt::format("Waiting for {} in {}", app, ns));
  auto state = wbw::wait_for_app(client, ns, app, o);
  section.reset();
  if (shown) ctx.err() << "\r\033[K" << std::flush;
  if (state) return state;
  Error e = std::move(state).error();
  if (const auto* crashing = e.detail<wbw::Crashing>(); crashing && !crashing->log_tail.empty()) {
    // The error is one line; the log tail follows it, indented (print_error adds the hint).
    e.hint += "\n  last lines of its log before it stopped:";
    for (const auto& l : crashing->log_tail) e.hint += "\n    " + l;
  }
  return e;
}

json status_document(const std::string& ns, const wbw::AppDetails& d, const wbw::Settings* settings) {
  const std::string app = wbw::fields::str(d.deployment, "/metadata/name");
  const json tmpl = util::json_at(d.deployment, "/spec/template", json::object());
  const auto& s = d.state;
  json replicas = json::array();
  for (const auto& r : s.replicas)
    replicas.push_back({{"name", wbw::replica_name(r.name, app)},
                        {"ready", r.ready},
                        {"newest", r.current},
                        {"restarts", r.restarts},
                        {"problem", r.reason}});
  json events = json::array();
  for (const auto& e : d.events)
    events.push_back({{"time", e.time}, {"type", e.type}, {"message", e.message}, {"count", e.count}});
  std::string config = wbw::config_version(tmpl, app);
  std::string version = wbw::version_words(d.deployment, settings);
  return {{"name", app},
          {"workspace", ns},
          {"status", s.summary()},
          {"phase", wbw::phase_name(s.phase)},
          {"ready", s.ready},
          {"desired", s.desired},
          {"reason", s.reason},
          {"hint", s.hint},
          {"revision", number_or_null(s.revision)},
          {"version", version.empty() ? json(nullptr) : json(version)},
          {"image", wbw::app_image(d.deployment)},
          {"config", config.empty() ? json(nullptr) : json(config)},
          {"tracing", wbw::tracing_on(tmpl, app)},
          {"url", wbw::app_url(d)},
          {"routes", d.routes},
          {"address", d.address},
          {"replicas", replicas},
          {"events", events}};
}

Status report_app(Context& ctx, k::Client& client, const std::string& ns, const std::string& app,
                  const std::string& line) {
  const auto format = ctx.global.format();
  const bool doc = format == OutputFormat::Json || format == OutputFormat::Yaml;
  auto details = wbw::describe_app(client, ns, app, doc ? 8 : 0);
  if (!details) return std::move(details).error();
  if (doc) {
    auto settings = ctx.settings();
    print_result(ctx, status_document(ns, *details, settings ? *settings : nullptr), [] { return Table{}; });
    return {};
  }
  if (format == OutputFormat::Name) {
    ctx.out() << "app/" << app << '\n';
    return {};
  }
  const auto& s = details->state;
  std::string words;
  switch (s.phase) {
    case wbw::Phase::Stopped:
      words = "stopped";
      break;
    case wbw::Phase::Running:
      words = fmt::format("running {}/{} at {}", s.ready, s.desired, wbw::app_url(*details));
      break;
    default:
      words = util::to_lower(s.summary()) + (s.reason.empty() ? "" : " (" + s.reason + ")");
      break;
  }
  ctx.out() << util::replace_all(line, "{state}", words) << '\n';
  return {};
}

}  // namespace wb::cli::commands
