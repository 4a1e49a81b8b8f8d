// wb logs APP: every replica's log at once, each line prefixed with the replica's short name
// (colored on a terminal). -f follows replicas that appear later (rollouts, restarts, scaling)
// until Ctrl-C.
//
// `-o json` prints one object a line (stable; fields are only ever added):
//   {"time": "2024-05-01T10:00:00.123456789Z", "replica": "orders-x2x9z", "container": "orders",
//    "message": "..."}; --events adds {"time", "replica" ("" for the app), "event": true,
//    "type": "Normal"|"Warning", "message"}.
#include "workbench/app/logs.hpp"

#include <fmt/format.h>

#include <ostream>
#include <regex>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/numbers.hpp"
#include "util/time.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;

namespace {

struct LogsFlags {
  std::string app;
  bool follow = false;
  std::string since;
  std::string since_time;
  int64_t tail = -1;
  bool previous = false;
  bool timestamps = false;
  std::string grep;
  std::string replica;
  std::string container;
  bool events = false;
};

// A stable color per replica name, so one replica keeps its color across lines.
const char* replica_color(const std::string& replica) {
  static const char* palette[] = {"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"};
  size_t h = 0;
  for (char c : replica) h = h * 31 + static_cast<unsigned char>(c);
  return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

// The flags as the library's options (the line and flush callbacks are set by the caller).
Result<wbw::LogsOptions> logs_options(const LogsFlags& f, Context& ctx) {
  wbw::LogsOptions o;
  o.app = f.app;
  o.follow = f.follow;
  o.previous = f.previous;
  o.replica = f.replica;
  o.container = f.container;
  o.events = f.events;
  o.timestamps = f.timestamps || ctx.global.format() == OutputFormat::Json;
  if (!f.since.empty() && !f.since_time.empty())
    return Error(ErrorCode::Usage, "--since and --since-time cannot be used together");
  if (!f.since.empty()) {
    auto d = util::parse_duration(f.since, "--since");
    if (!d || d->count() <= 0)
      return Error(ErrorCode::Usage, fmt::format("--since '{}' is not a duration such as 10m or 2h", f.since));
    o.since_seconds = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(*d).count());
  }
  if (!f.since_time.empty()) {
    if (!util::parse_rfc3339(f.since_time))
      return Error(ErrorCode::Usage,
                   fmt::format("--since-time '{}' is not a time such as 2024-05-01T10:00:00Z", f.since_time));
    o.since_time = f.since_time;
  }
  if (f.tail >= 0) o.tail = f.tail;
  if (!f.grep.empty()) {
    try {
      o.grep = std::regex(f.grep, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Error(ErrorCode::Usage, fmt::format("--grep '{}' is not a regular expression: {}", f.grep, e.what()));
    }
  }
  return o;
}

// One log line or event as printed, with its newline, into buf (reused from line to line).
void render_line(std::string& buf, const wbw::LogLine& l, const LogsFlags& f, bool json_lines, bool color) {
  buf.clear();
  if (json_lines) {
    json j;
    j["time"] = l.time;
    j["replica"] = l.replica;
    if (l.event) {
      j["event"] = true;
      j["type"] = l.warning ? "Warning" : "Normal";
    } else {
      j["container"] = l.container;
    }
    j["message"] = l.message;
    buf = j.dump(-1, ' ', false, json::error_handler_t::replace);
  } else if (l.event) {
    std::string who = l.replica.empty() ? f.app : l.replica;
    std::string text = "* " + l.message;
    if (f.timestamps && !l.time.empty()) text = l.time + " " + text;
    buf = paint(color, "dim", who) + " " + paint(color, l.warning ? "yellow" : "bold", text);
  } else {
    if (color) {
      buf.append("\033[").append(replica_color(l.replica)).append("m").append(l.replica).append("\033[0m ");
    } else {
      buf.append(l.replica).append(1, ' ');
    }
    if (f.timestamps && !l.time.empty()) buf.append(l.time).append(1, ' ');
    buf.append(l.message);
  }
  buf += '\n';
}

Status run_logs(const LogsFlags& f, Context& ctx) {
  const auto format = ctx.global.format();
  if (format != OutputFormat::Table && format != OutputFormat::Json)
    return Error(ErrorCode::Usage, "wb logs prints lines or JSON lines: use -o json or no -o");
  WB_ASSIGN_OR_RETURN(wbw::LogsOptions o, logs_options(f, ctx));
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());

  const bool json_lines = format == OutputFormat::Json;
  const bool color = ctx.color_out();
  const bool quiet = ctx.global.quiet;
  auto& out = ctx.out();
  std::string buf;
  auto on_line = [&](const wbw::LogLine& l) {
    render_line(buf, l, f, json_lines, color);
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  };
  o.on_flush = [&] { out.flush(); };
  auto on_notice = [&](const std::string& text) {
    if (quiet) return;
    ctx.err() << paint(ctx.color_err(), "dim", "wb: " + text) << '\n';
  };
  Status st = wbw::stream_app_logs(*client, ns, o, on_line, on_notice);
  out.flush();
  // Ctrl-C is how a follow ends: exit status 130 and no error line, as with `tail -f`.
  if (!st && o.follow && st.error().code == ErrorCode::Interrupted) return Error(ErrorCode::Interrupted, "");
  return st;
}

}  // namespace

void register_logs(CLI::App& app, Context& ctx, Action& action) {
  auto f = std::make_shared<LogsFlags>();
  auto* l = add_verb(app, "logs", "Show an app's logs: every replica at once, each line prefixed with its replica");
  l->add_option("app", f->app, "App name")->required();
  l->add_flag("-f,--follow", f->follow,
              "Keep streaming, also from replicas that start later (rollouts, restarts, scaling), until Ctrl-C");
  l->add_option("--since", f->since, "Only lines newer than this (e.g. 10m, 2h)")->type_name("DURATION");
  l->add_option("--since-time", f->since_time, "Only lines after this time (RFC 3339)")->type_name("TIME");
  l->add_option("--tail", f->tail, "The last N lines of each replica (default: all)")->type_name("N");
  l->add_flag("-p,--previous", f->previous, "The log of the previous (crashed) run of each replica");
  l->add_flag("--timestamps", f->timestamps, "Show each line's time");
  l->add_option("--grep", f->grep, "Only lines matching this regular expression")->type_name("RE");
  l->add_option("--replica", f->replica, "Only this replica (as `wb app status` names it)")->type_name("NAME");
  l->add_option("-c,--container", f->container, "Container (default: the app's)")->type_name("NAME");
  l->add_flag("--events", f->events, "Interleave the app's events in words (replica started, killed: out of memory)");
  l->callback([f, &ctx, &action] { action = [f, &ctx] { return run_logs(*f, ctx); }; });
}

}  // namespace wb::cli::commands
