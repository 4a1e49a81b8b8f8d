// wb jvm threads APP: a thread dump of each ready replica (or the one named), each under a header
// line naming the replica. Works on a JRE-only image: the JVM is sent SIGQUIT and its dump read
// back from the container's log.
#include "workbench/app/jvm.hpp"

#include <memory>
#include <optional>
#include <ostream>

#include "commands/commands.hpp"

namespace wb::cli::commands {

namespace wbw = wb::workbench;

namespace {

struct ThreadsFlags {
  std::string app, replica, container;
};

Status run_threads(const ThreadsFlags& f, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  wbw::ThreadDumpOptions o;
  o.app = f.app;
  o.replica = f.replica;
  o.container = f.container;
  WB_ASSIGN_OR_RETURN(auto pods, wbw::thread_dump_pods(*client, ns, o));
  std::optional<util::Error> first_error;
  bool first = true;
  for (const auto& pod : pods) {
    auto dump = wbw::thread_dump(*client, ns, o, pod);
    if (!dump) {
      if (dump.error().code == util::ErrorCode::Interrupted) return std::move(dump).error();
      if (first_error)
        ctx.err() << "error: " << dump.error().message << "\n";
      else
        first_error = std::move(dump).error();
      continue;
    }
    ctx.out() << (first ? "" : "\n") << "==> " << dump->replica << " <==\n" << dump->text << "\n";
    ctx.out().flush();
    first = false;
  }
  if (first_error) return std::move(*first_error);
  return {};
}

}  // namespace

void register_jvm(CLI::App& app, Context& ctx, Action& action) {
  auto* jvm = app.add_subcommand("jvm", "JVM diagnostics of an app's replicas");
  jvm->fallthrough();
  auto f = std::make_shared<ThreadsFlags>();
  auto* t = add_verb(*jvm, "threads", "Print a thread dump of each ready replica of an app");
  t->footer(
      "Each dump comes under a line \"==> REPLICA <==\". Works on a JRE-only image (no jcmd): the JVM gets SIGQUIT, "
      "prints the dump to its standard output, and wb reads it back from the container's log (waiting up to 15 s). "
      "The image needs /bin/sh and kill; the JVM must write to the container's stdout. See `man wb-jvm`.");
  t->add_option("app", f->app, "The app")->required();
  t->add_option("--replica", f->replica, "Which replica (default: every ready one)")->type_name("NAME");
  t->add_option("-c,--container", f->container, "Container (default: the app's)")->type_name("NAME");
  t->callback([f, &ctx, &action] { action = [f, &ctx] { return run_threads(*f, ctx); }; });
}

}  // namespace wb::cli::commands
