// wb port-forward APP [[LOCAL:]REMOTE...] and wb app open APP: local ports that lead to an app's
// replicas, served until Ctrl-C (exit status 130 and no error line, as `wb logs -f`), and the
// app's URL printed (and, on a desktop, opened): its route's, else a forwarded port's.
#include "workbench/app/port_forward.hpp"

#include <fmt/format.h>
#include <malloc.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <thread>

#include "commands/commands.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;

namespace {

struct PortForwardFlags {
  std::string app;
  std::vector<std::string> ports;
  std::string address = "127.0.0.1";
  std::string replica;
};

// xdg-open on a desktop (a display, and xdg-open on PATH); nullopt elsewhere.
std::optional<std::string> opener(Context& ctx) {
  if (!ctx.env("DISPLAY") && !ctx.env("WAYLAND_DISPLAY")) return std::nullopt;
  for (const auto& dir : util::split(ctx.env("PATH").value_or(""), ':')) {
    std::error_code ec;
    auto path = std::filesystem::path(dir.empty() ? "." : dir) / "xdg-open";
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
  }
  return std::nullopt;
}

util::ProcessSpec open_url(const std::string& program, const std::string& url) {
  util::ProcessSpec spec;
  spec.argv = {program, url};
  spec.stdout_to = util::ProcessOutput::Null;
  spec.stderr_to = util::ProcessOutput::Null;
  return spec;
}

// Prints the forwarded ports, then serves until Ctrl-C; `then` runs once they listen.
Status serve(Context& ctx, wbw::PortForwarder& f, const std::string& app, const std::function<void()>& then) {
  for (const auto& fw : f.forwardings()) ctx.out() << fmt::format("Forwarding {} -> {}:{}\n", fw.url(), app, fw.remote);
  ctx.out().flush();
  if (then) then();
  // A thread per connection would otherwise get glibc arenas of its own (up to 8 per core), whose
  // freed memory stays resident: with few arenas memory stays flat as connections come and go.
  mallopt(M_ARENA_MAX, 2);
  auto st = f.serve([&ctx](const Error& e) {
    ctx.warn(e.message);
    ctx.err().flush();
  });
  if (!st && st.error().code == ErrorCode::Interrupted) return Error(ErrorCode::Interrupted, "");
  return st;
}

Status run_port_forward(const PortForwardFlags& f, Context& ctx) {
  wbw::PortForwardOptions o;
  o.app = f.app;
  o.address = f.address;
  o.replica = f.replica;
  for (const auto& p : f.ports) {
    WB_ASSIGN_OR_RETURN(auto spec, wbw::parse_forward_spec(p));
    o.ports.push_back(spec);
  }
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto forwarder, wbw::PortForwarder::start(*client, ns, o));
  return serve(ctx, *forwarder, f.app, nullptr);
}

Status run_app_open(const std::string& app, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto details, wbw::describe_app(*client, ns, app, 0));
  const auto program = opener(ctx);
  if (!details.routes.empty()) {
    ctx.out() << details.routes.front() << '\n';
    ctx.out().flush();
    if (program) {
      auto spec = open_url(*program, details.routes.front());
      spec.timeout = std::chrono::seconds(10);
      (void)util::system_process_runner()->run(spec);
    }
    return {};
  }
  wbw::PortForwardOptions o;
  o.app = app;
  o.free_port_if_taken = true;
  WB_ASSIGN_OR_RETURN(auto forwarder, wbw::PortForwarder::start(*client, ns, o));
  const std::string url = forwarder->forwardings().front().url();
  return serve(ctx, *forwarder, app, [&] {
    ctx.out() << url << '\n';
    ctx.out().flush();
    if (program)
      std::thread([spec = open_url(*program, url)] { (void)util::system_process_runner()->run(spec); }).detach();
  });
}

}  // namespace

void register_port_forward(CLI::App& app, Context& ctx, Action& action) {
  auto f = std::make_shared<PortForwardFlags>();
  auto* c = add_verb(app, "port-forward", "Forward local ports to an app's replicas until Ctrl-C");
  c->footer(
      "PORT is [LOCAL:]REMOTE: 8080 forwards local port 8080 to port 8080 of the app, 9000:8080 local 9000 to "
      "8080, 0:8080 a free local port (printed) to 8080. Without a PORT: the app's port on the same local port. "
      "Each connection goes to a ready replica picked when it comes, so connections after a rollout or a restart "
      "reach a new replica. Needs Kubernetes 1.31 or later (port-forward over WebSocket). See `man wb-port-forward`.");
  c->add_option("app", f->app, "The app")->required();
  c->add_option("ports", f->ports, "[LOCAL:]REMOTE ports (default: the app's port)")->type_name("PORT");
  c->add_option("--address", f->address, "Local address to listen on (default 127.0.0.1)")->type_name("ADDR");
  c->add_option("--replica", f->replica, "Always this replica (default: a ready one per connection)")
      ->type_name("NAME");
  c->callback([f, &ctx, &action] { action = [f, &ctx] { return run_port_forward(*f, ctx); }; });

  auto* noun = app.get_subcommand("app");
  auto name = std::make_shared<std::string>();
  auto* o = add_verb(*noun, "open", "Print (and on a desktop open) an app's URL: its route, else a forwarded port");
  o->footer(
      "With a route: its URL, and done. Without one: a port-forward to the app (its port when free locally, else "
      "a free one) and its URL, served until Ctrl-C. On a desktop (DISPLAY or WAYLAND_DISPLAY set) the URL is opened "
      "with xdg-open. See `man wb-app`.");
  o->add_option("app", *name, "The app")->required();
  o->callback([name, &ctx, &action] { action = [name, &ctx] { return run_app_open(*name, ctx); }; });
}

}  // namespace wb::cli::commands
