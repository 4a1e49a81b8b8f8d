// wb jvm threads APP: a thread dump of each ready replica (or the one named), each under a header
// line naming the replica. Works on a JRE-only image: the JVM is sent SIGQUIT and its dump read
// back from the container's log. wb jvm heap APP FILE and wb jvm jfr APP FILE: a heap dump or a
// flight recording of one replica, downloaded; through jcmd or wb's own attach client.
//
// `-o json` of heap and jfr prints {"replica", "to", "bytes", "size_in_container", "via" ("jcmd"|"attach")}.
#include "workbench/app/jvm.hpp"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <ostream>

#include "commands/commands.hpp"
#include "commands/copy_progress.hpp"
#include "output.hpp"
#include "util/numbers.hpp"

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

struct FileFlags {
  std::string app, file, replica, container, duration = "30s";
  bool all = false, live = false;
};

// The result line (or -o json) of a heap dump or recording written to a local file.
Status report_file(Context& ctx, const wbw::JvmFileResult& r, const std::string& what) {
  if (ctx.global.machine_output()) {
    json doc = {{"replica", r.replica}, {"to", r.written.string()}, {"bytes", r.bytes}, {"via", r.via}};
    doc["size_in_container"] = r.size_in_container ? json(*r.size_in_container) : json(nullptr);
    print_result(ctx, doc, [] { return Table{}; }, {r.written.string()});
    return {};
  }
  ctx.status(fmt::format("Wrote {} of replica {} to {} ({})", what, r.replica, r.written.string(),
                         human_bytes(static_cast<double>(r.bytes))));
  return {};
}

// Runs `take` (heap_dump or flight_recording) with the options the flags give, a progress line,
// and `started` saying on stderr what runs.
template <typename Options, typename Take>
Status take_file(const FileFlags& f, Context& ctx, Options o, Take take, const std::string& started,
                 const std::string& what) {
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  o.app = f.app;
  o.replica = f.replica;
  o.container = f.container;
  o.local = f.file;
  ProgressLine progress(ctx);
  o.on_progress = [&](const wbw::CopyProgress& p) { progress.update(p); };
  o.on_started = [&](const std::string& replica) { ctx.status(fmt::format(fmt::runtime(started), replica)); };
  WB_ASSIGN_OR_RETURN(auto r, take(*client, ns, o));
  // After a recording that Ctrl-C ended early: still a success, it arrived.
  return report_file(ctx, r, what);
}

Status run_heap(const FileFlags& f, Context& ctx) {
  wbw::HeapDumpOptions o;
  o.live = !f.all;
  return take_file(f, ctx, std::move(o), wbw::heap_dump, "Dumping the heap of replica {} ...", "the heap dump");
}

Status run_jfr(const FileFlags& f, Context& ctx) {
  wbw::RecordingOptions o;
  WB_ASSIGN_OR_RETURN(o.duration, util::parse_duration(f.duration, "--duration"));
  if (o.duration.count() <= 0) return util::Error(util::ErrorCode::Usage, "--duration must be longer than 0 s");
  return take_file(f, ctx, std::move(o), wbw::flight_recording,
                   "Recording replica {} for " + f.duration + " (Ctrl-C ends it early) ...", "the flight recording");
}

void add_file_verb(CLI::App& jvm, Context& ctx, Action& action, bool heap) {
  auto f = std::make_shared<FileFlags>();
  auto* v = heap ? add_verb(jvm, "heap", "Write a heap dump (HPROF) of a replica of an app to a local file")
                 : add_verb(jvm, "jfr", "Record a Java Flight Recording of a replica of an app into a local file");
  const char* how =
      "Works on a JRE-only image: through the image's jcmd where it has one, else through wb's own attach client, "
      "run by the container's java (Java 16+). The file is made in the container's /tmp, downloaded as cp-files does "
      "(resumed when the connection breaks; FILE appears only whole) and removed there afterwards.";
  if (heap)
    v->footer(std::string("The dump is refused before it starts when /tmp in the container has less free space than "
                          "the heap uses. ") +
              how + " See `man wb-jvm`.");
  else
    v->footer(std::string("The recording runs for --duration; Ctrl-C ends it early and still fetches it. ") + how +
              " See `man wb-jvm`.");
  v->add_option("app", f->app, "The app")->required();
  v->add_option("file", f->file, heap ? "Local file for the dump (.hprof)" : "Local file for the recording (.jfr)")
      ->required();
  v->add_option("--replica", f->replica, "Which replica (default: the first ready one)")->type_name("NAME");
  v->add_option("-c,--container", f->container, "Container (default: the app's)")->type_name("NAME");
  if (heap) {
    auto* live = v->add_flag("--live", f->live, "Only objects still reachable (the default; runs a full GC first)");
    v->add_flag("--all", f->all, "Every object, unreachable ones too (no GC first)")->excludes(live);
  } else {
    v->add_option("--duration", f->duration, "How long to record (default 30s)")
        ->type_name("DURATION")
        ->check(duration_error);
  }
  v->callback(
      [f, &ctx, &action, heap] { action = [f, &ctx, heap] { return heap ? run_heap(*f, ctx) : run_jfr(*f, ctx); }; });
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
  add_file_verb(*jvm, ctx, action, true);
  add_file_verb(*jvm, ctx, action, false);
}

}  // namespace wb::cli::commands
