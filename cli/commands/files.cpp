// wb cp-files APP:/path LOCAL | LOCAL APP:/path, and wb files ls APP:/path: copying files out of
// and into an app's replica, and looking at a directory there.
//
// `wb cp-files -o json` prints {"replica", "method" ("tar"|"cat"|"dd"), "to", "files", "directories",
// "links", "bytes"}, and for a download "resumed"/"restarted" (broken streams continued from where
// they broke / started over). `wb files ls -o json` prints [{"name", "type" (file|directory|symlink|
// device|fifo|socket), "size", "mode" ("0644"), "modified" (RFC 3339), "target" (symlinks)}].
#include "workbench/app/files.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ostream>

#include "commands/commands.hpp"
#include "commands/copy_progress.hpp"
#include "output.hpp"
#include "util/time.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;

namespace {

struct CpFlags {
  std::string from, to;
  bool recursive = false;
  std::string replica, container;
};

Status run_cp(const CpFlags& f, Context& ctx) {
  auto src = wbw::parse_remote_path(f.from);
  auto dst = wbw::parse_remote_path(f.to);
  if (src && dst) return Error(ErrorCode::Usage, "copy between a container and this machine: one side must be local");
  if (!src && !dst)
    return Error(ErrorCode::Usage, "one side must be in a container: APP:/path",
                 "e.g. `wb cp-files orders:/app/logs ./logs` or `wb cp-files ./conf orders:/app/conf`");
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  wbw::CopyOptions o;
  o.recursive = f.recursive;
  o.replica = f.replica;
  o.container = f.container;
  ProgressLine progress(ctx);
  o.on_progress = [&](const wbw::CopyProgress& p) { progress.update(p); };
  util::Result<wbw::CopyResult> r = Error{};
  if (src) {
    o.app = src->app;
    o.remote = src->path;
    o.local = f.to;
    r = wbw::copy_from_app(*client, ns, o);
  } else {
    o.app = dst->app;
    o.remote = dst->path;
    o.local = f.from;
    r = wbw::copy_to_app(*client, ns, o);
  }
  if (!r) return std::move(r).error();
  const auto& res = *r;
  if (ctx.global.machine_output()) {
    json doc = {{"replica", res.replica},  {"method", res.method}, {"to", res.written.string()}, {"files", res.files},
                {"directories", res.dirs}, {"links", res.links},   {"bytes", res.bytes}};
    if (src) {
      doc["resumed"] = res.resumed;
      doc["restarted"] = res.restarted;
    }
    print_result(ctx, doc, [] { return Table{}; }, {res.written.string()});
    return {};
  }
  std::string what =
      res.files == 1 && res.dirs == 0 ? "1 file" : fmt::format("{} file{}", res.files, res.files == 1 ? "" : "s");
  if (res.dirs) what += fmt::format(", {} director{}", res.dirs, res.dirs == 1 ? "y" : "ies");
  if (res.links) what += fmt::format(", {} link{}", res.links, res.links == 1 ? "" : "s");
  ctx.status(fmt::format("Copied {} ({}) {} replica {}{}", what, human_bytes(static_cast<double>(res.bytes)),
                         src ? "from" : "to", res.replica,
                         src ? " to " + res.written.string() : " at " + res.written.string()));
  if (res.resumed || res.restarted) {
    std::string how;
    if (res.resumed) how = fmt::format("resumed {} time{}", res.resumed, res.resumed == 1 ? "" : "s");
    if (res.restarted)
      how += fmt::format("{}started over {} time{}", how.empty() ? "" : ", ", res.restarted,
                         res.restarted == 1 ? "" : "s");
    ctx.status(fmt::format("The connection broke on the way; the copy {}", how));
  }
  if (res.skipped)
    ctx.warn(
        fmt::format("skipped {} special file{} (devices, FIFOs, sockets)", res.skipped, res.skipped == 1 ? "" : "s"));
  return {};
}

struct LsFlags {
  std::string where;
  std::string replica, container;
};

const char* type_word(char t) {
  switch (t) {
    case 'd':
      return "directory";
    case 'l':
      return "symlink";
    case 'c':
    case 'b':
      return "device";
    case 'p':
      return "fifo";
    case 's':
      return "socket";
    default:
      return "file";
  }
}

std::string mode_string(char type, unsigned mode) {
  std::string s(10, '-');
  s[0] = type == '-' ? '-' : type;
  const char* letters = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i)
    if (mode & (1u << (8 - i))) s[1 + i] = letters[i];
  return s;
}

Status run_ls(const LsFlags& f, Context& ctx) {
  auto where = wbw::parse_remote_path(f.where);
  if (!where)
    return Error(ErrorCode::Usage, fmt::format("'{}' is not APP:/path", f.where), "e.g. `wb files ls orders:/app`");
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  WB_ASSIGN_OR_RETURN(auto entries, wbw::list_app_files(*client, ns, where->app, where->path, f.replica, f.container));
  json doc = json::array();
  Table t{{"name", "size", "mode", "modified"}, {}, {}};
  std::vector<std::string> names;
  for (const auto& e : entries) {
    std::string when = util::format_rfc3339(util::TimePoint(std::chrono::seconds(e.mtime)));
    json j = {{"name", e.name},
              {"type", type_word(e.type)},
              {"size", e.size},
              {"mode", fmt::format("{:04o}", e.mode)},
              {"modified", when}};
    if (e.type == 'l') j["target"] = e.target;
    doc.push_back(std::move(j));
    std::string shown = e.name + (e.type == 'd' ? "/" : "") + (e.type == 'l' ? " -> " + e.target : "");
    t.rows.push_back({shown, e.type == 'd' ? "-" : std::to_string(e.size), mode_string(e.type, e.mode), when});
    names.push_back(e.name);
  }
  print_result(
      ctx, doc, [&] { return t; }, names);
  return {};
}

}  // namespace

void register_files(CLI::App& app, Context& ctx, Action& action) {
  auto cp = std::make_shared<CpFlags>();
  auto* c = add_verb(app, "cp-files",
                     "Copy files out of an app's replica (APP:/path LOCAL) or into it (LOCAL APP:/path), safely");
  c->footer(
      "Files land whole: each is written as .NAME.wb-part and renamed into place when complete. A single file whose "
      "download breaks continues where it broke (tail -c +N, when the file is unchanged); a directory starts over; "
      "up to 3 breaks, then exit 7. Containers without tar: single files come with cat and go in with dd (the "
      "latter needs the v5 exec protocol, Kubernetes 1.30+). See `man wb-cp-files`.");
  c->add_option("from", cp->from, "Source: APP:/path or a local path")->required();
  c->add_option("to", cp->to, "Destination: a local path or APP:/path")->required();
  c->add_flag("-r,--recursive", cp->recursive, "Copy directories");
  c->add_option("--replica", cp->replica, "Which replica (default: a ready one)")->type_name("NAME");
  c->add_option("-c,--container", cp->container, "Container (default: the app's)")->type_name("NAME");
  c->callback([cp, &ctx, &action] { action = [cp, &ctx] { return run_cp(*cp, ctx); }; });

  auto* files = app.add_subcommand("files", "Files in an app's containers");
  files->fallthrough();
  auto ls = std::make_shared<LsFlags>();
  auto* l = add_verb(*files, "ls", "List a directory in an app's replica: name, size, mode, modified");
  l->add_option("where", ls->where, "APP:/path")->required();
  l->add_option("--replica", ls->replica, "Which replica (default: a ready one)")->type_name("NAME");
  l->add_option("-c,--container", ls->container, "Container (default: the app's)")->type_name("NAME");
  l->callback([ls, &ctx, &action] { action = [ls, &ctx] { return run_ls(*ls, ctx); }; });
}

}  // namespace wb::cli::commands
