// wb doctor: is everything wb needs in place? One line per check, a tick or a cross, and what to
// do about each cross. Exit 0 when nothing failed (warnings do not fail), else the exit status of
// the first failed check's kind (7 server/registry unreachable, 4 not allowed, 3 not found...).
//
// `wb doctor -o json` prints one object (stable; fields are only ever added):
//   ok (bool), exitCode (int), checks [{id, title, state (ok|warn|fail|skip), detail, hint,
//   error (the failure's kind, e.g. "unavailable"; null unless state is fail)}].
// Check ids: profile, kubeconfig, server, identity, workspace, registry, push, base-image, clock.
#include "workbench/platform/doctor.hpp"

#include <fmt/format.h>

#include <ostream>

#include "commands/commands.hpp"
#include "output.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"
#include "workbench/core/app.hpp"
#include "workbench/delivery/push_jar.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace k = wb::kube;

namespace {

struct DoctorOptions {
  std::string app;
};

// UTF-8 marks when the locale is UTF-8 (LC_ALL, else LC_CTYPE, else LANG), ASCII words otherwise.
bool utf8_locale(Context& ctx) {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    auto v = ctx.env ? ctx.env(name) : std::nullopt;
    if (!v || v->empty()) continue;
    std::string l = util::to_lower(*v);
    return l.find("utf-8") != std::string::npos || l.find("utf8") != std::string::npos;
  }
  return false;
}

std::string mark(wbw::CheckState s, bool utf8) {
  switch (s) {
    case wbw::CheckState::Ok:
      return utf8 ? "✓" : "[ok]  ";
    case wbw::CheckState::Warn:
      return utf8 ? "!" : "[warn]";
    case wbw::CheckState::Fail:
      return utf8 ? "✗" : "[FAIL]";
    case wbw::CheckState::Skip:
      return utf8 ? "-" : "[skip]";
  }
  return "?";
}

const char* mark_color(wbw::CheckState s) {
  switch (s) {
    case wbw::CheckState::Ok:
      return "green";
    case wbw::CheckState::Warn:
      return "yellow";
    case wbw::CheckState::Fail:
      return "red";
    case wbw::CheckState::Skip:
      return "dim";
  }
  return "dim";
}

// Where the kubeconfig came from, in words.
std::string kube_source(Context& ctx, const k::RestConfig& c) {
  if (c.in_cluster)
    return fmt::format("the pod's service account (in-cluster, namespace {}), API server {}", c.namespace_, c.server);
  std::string file = ctx.global.kubeconfig;
  if (file.empty() && ctx.env) file = ctx.env("KUBECONFIG").value_or("");
  if (file.empty()) file = "~/.kube/config";
  std::string s = fmt::format("{}, context {}", file, c.context_name.empty() ? "(none)" : c.context_name);
  if (!c.namespace_.empty()) s += fmt::format(" (namespace {})", c.namespace_);
  return s;
}

// -o json|yaml|name: the checks as data, and the exit status they lead to.
void print_report_document(Context& ctx, const wbw::DoctorReport& report, int exit_code) {
  const wbw::CheckResult* failure = report.first_failure();
  json checks = json::array();
  for (const auto& c : report.checks)
    checks.push_back(
        {{"id", c.id},
         {"title", c.title},
         {"state", wbw::check_state_name(c.state)},
         {"detail", c.detail},
         {"hint", c.hint},
         {"error", c.state == wbw::CheckState::Fail ? json(util::error_code_name(c.code)) : json(nullptr)}});
  json doc = {{"ok", failure == nullptr}, {"exitCode", exit_code}, {"checks", checks}};
  std::vector<std::string> names;
  for (const auto& c : report.checks)
    if (c.state == wbw::CheckState::Fail) names.push_back(c.id);
  print_result(
      ctx, doc, [] { return Table{}; }, names);
}

// One line per check (a mark, the title, what was found), what to do under a failure or a
// warning, and a last line that sums up.
void print_report_lines(Context& ctx, const wbw::DoctorReport& report) {
  const bool utf8 = utf8_locale(ctx);
  const bool color = ctx.color_out();
  size_t width = 0;
  for (const auto& c : report.checks) width = std::max(width, c.title.size());
  auto& out = ctx.out();
  int failed = 0, warned = 0;
  for (const auto& c : report.checks) {
    if (c.state == wbw::CheckState::Fail) ++failed;
    if (c.state == wbw::CheckState::Warn) ++warned;
    std::string title = c.title + std::string(width - c.title.size(), ' ');
    out << paint(color, mark_color(c.state), mark(c.state, utf8)) << ' ' << title << "  "
        << (c.state == wbw::CheckState::Skip ? paint(color, "dim", c.detail) : c.detail) << '\n';
    if (!c.hint.empty() && (c.state == wbw::CheckState::Fail || c.state == wbw::CheckState::Warn))
      out << std::string(utf8 ? 2 : 7, ' ') << (utf8 ? "→ " : "-> ") << c.hint << '\n';
  }
  if (failed == 0)
    out << (warned ? fmt::format("Ready, with {} warning{}.\n", warned, warned == 1 ? "" : "s")
                   : std::string("Ready: everything wb needs is in place.\n"));
  else
    out << fmt::format("{} check{} failed; fix the first one first (the checks after it may depend on it).\n", failed,
                       failed == 1 ? "" : "s");
}

Status run_doctor(const DoctorOptions& o, Context& ctx) {
  wbw::DoctorInputs in;
  auto settings = ctx.settings();
  if (settings)
    in.settings = *settings;
  else
    in.settings = settings.error();

  // Quick answers: a check that waits minutes helps nobody.
  http::ClientOptions http = ctx.http_options();
  if (http.request_timeout.count() == 0) http.request_timeout = std::chrono::seconds(20);
  http.max_retries = 1;

  in.load_kube = [&ctx] { return ctx.kube_config(); };
  in.kube_source = [&ctx](const k::RestConfig& c) { return kube_source(ctx, c); };
  in.make_kube = [&ctx, http](k::RestConfig c) { return ctx.connect(std::move(c), http); };
  if (settings) in.workspace = (*settings)->text("workspace");
  if (!o.app.empty()) {
    in.app = o.app;
  } else if (auto file = wbw::find_app_file(ctx.cwd)) {
    // wb.yaml's app name, when there is one: the repository `wb push jar` would push to.
    if (auto text = util::read_file(*file))
      if (auto parsed = wbw::parse_app_file(*text, file->string()); parsed && parsed->name) in.app = *parsed->name;
  }
  if (settings) {
    const wbw::Settings* s = *settings;
    in.make_registry = [s, &ctx, http]() {
      wbw::PushTarget target;
      target.kind = wbw::PushTarget::Kind::Registry;
      if (auto ref = oci::parse_reference(s->text("registry.host") + "/x")) target.ref = *ref;
      return ctx.registry(*s, target, http);
    };
  }
  in.now = ctx.now;

  const wbw::DoctorReport report = wbw::run_doctor(in);
  const wbw::CheckResult* failure = report.first_failure();
  const int exit_code = failure ? util::exit_status(failure->code) : 0;

  if (ctx.global.machine_output())
    print_report_document(ctx, report, exit_code);
  else
    print_report_lines(ctx, report);
  if (!failure) return {};
  // The lines above said it all; exit with the first failure's status without another message.
  return Error(failure->code, "");
}

}  // namespace

void register_doctor(CLI::App& app, Context& ctx, Action& action) {
  auto o = std::make_shared<DoctorOptions>();
  auto* d =
      add_verb(app, "doctor",
               "Check that everything wb needs is in place: kubeconfig, cluster, rights, registry, base image, clock");
  d->footer(
      "Each line is a check: ✓ passed, ✗ failed (with what to do on the next line), ! a warning, - skipped because a "
      "check it needs failed. Outside a UTF-8 locale the marks are [ok], [FAIL], [warn] and [skip].\n"
      "Nothing is changed: the push check opens an upload in <registry.host>/<registry.project>/<app> and cancels it.\n"
      "Exit 0 when nothing failed (warnings do not fail); else the status of the first failure: 7 unreachable, 4 not "
      "logged in or not allowed, 3 not found, 2 nothing configured, 1 other. See `man wb-doctor`.");
  d->add_option("--app", o->app,
                "App whose registry repository the push check uses (default: wb.yaml's, else wb-doctor)")
      ->type_name("NAME");
  d->callback([o, &ctx, &action] { action = [o, &ctx] { return run_doctor(*o, ctx); }; });
}

}  // namespace wb::cli::commands
