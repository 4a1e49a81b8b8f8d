// The replica cp-files and files ls talk to, the commands they run in it, and APP:PATH arguments.
#include "workbench/app/files.hpp"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "util/json.hpp"
#include "util/strings.hpp"
#include "workbench/app/files_internal.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/app/logs.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/core/status.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
namespace k = wb::kube;

namespace files_detail {

std::string first_line(const std::string& text) {
  std::string t = util::trim(text);
  auto nl = t.find('\n');
  return nl == std::string::npos ? t : t.substr(0, nl);
}

Result<Captured> run_capture(k::Client& client, const std::string& ns, const std::string& pod,
                             const std::string& container, std::vector<std::string> command,
                             std::optional<std::string_view> input, size_t max_stdout) {
  Captured c;
  k::ExecOptions eo;
  eo.container = container;
  eo.command = std::move(command);
  eo.stdin = input.has_value();
  auto session = client.exec(
      ns, pod, eo,
      [&](std::string_view d) {
        if (c.out.size() < max_stdout) c.out.append(d);
        return true;
      },
      [&](std::string_view d) {
        if (c.err.size() < kKeepStderr) c.err.append(d);
        return true;
      });
  if (!session) return std::move(session).error();
  if (input && (*session)->write_stdin(*input)) (void)(*session)->close_stdin();
  WB_ASSIGN_OR_RETURN(c.result, (*session)->wait());
  return c;
}

void remove_remote(k::Client& client, const std::string& ns, const Target& t, const std::string& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto rm = run_capture(client, ns, t.name, t.container, {"rm", "-rf", "--", path});
    if (!rm || (rm->result.failure_message.empty() && rm->result.exit_code == 0)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool pod_terminating(const json& pod) { return util::json_find(pod, "/metadata/deletionTimestamp") != nullptr; }

Result<Target> pick_pod(k::Client& client, const std::string& ns, const std::string& app, const std::string& replica,
                        const std::string& container) {
  WB_ASSIGN_OR_RETURN(auto pods, app_pods(client, ns, app));
  const json* best = nullptr;
  int best_score = -1;
  for (const auto& p : pods) {
    if (!replica_matches(p, app, replica)) continue;
    int score = 0;
    if (fields::str(p, "/status/phase") == "Running" && !pod_terminating(p)) score += 2;
    if (pod_ready(p)) score += 1;
    if (score > best_score) {
      best = &p;
      best_score = score;
    }
  }
  if (!best) {
    if (!replica.empty())
      return Error(ErrorCode::NotFound, fmt::format("app '{}' has no replica '{}'", app, replica),
                   fmt::format("`wb app status {}` lists its replicas", app));
    return Error(ErrorCode::NotFound, fmt::format("app '{}' runs no replica, so there are no files to reach", app),
                 fmt::format("`wb app start {}` starts it", app));
  }
  Target t;
  t.pod = *best;
  t.name = fields::str(*best, "/metadata/name");
  t.replica = replica_name(t.name, app);
  t.container = pick_container(*best, app, container);
  return t;
}

Result<std::optional<RemoteEntry>> stat_remote(k::Client& client, const std::string& ns, const Target& t,
                                               const std::string& path) {
  WB_ASSIGN_OR_RETURN(auto c, run_capture(client, ns, t.name, t.container, {"ls", "-ldn", "--full-time", "--", path}));
  if (!c.result.failure_message.empty()) {
    if (no_such_command(c.result)) return std::optional<RemoteEntry>();
    return Error(ErrorCode::Failure,
                 fmt::format("cannot look at '{}' in replica {}: {}", path, t.replica, c.result.failure_message));
  }
  if (c.result.exit_code != 0) {
    if (c.err.find("No such file") != std::string::npos)
      return Error(ErrorCode::NotFound, fmt::format("'{}' does not exist in replica {}", path, t.replica),
                   "`wb files ls APP:/DIR` shows what is there");
    if (c.err.find("unrecognized option") != std::string::npos || c.err.find("invalid option") != std::string::npos)
      return std::optional<RemoteEntry>();  // not GNU ls: go on without knowing
    return Error(ErrorCode::Failure,
                 fmt::format("cannot look at '{}' in replica {}: {}", path, t.replica, first_line(c.err)));
  }
  auto entries = parse_ls(c.out);
  if (entries.empty()) return std::optional<RemoteEntry>();
  return std::optional<RemoteEntry>(entries.front());
}

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::pair<std::string, std::string> split_remote(const std::string& path) {
  auto slash = path.rfind('/');
  if (path == "/") return {"/", "."};
  if (slash == std::string::npos) return {".", path};
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  return {dir, path.substr(slash + 1)};
}

std::string remote_child(const std::string& dir, const std::string& name) {
  return (dir == "/" ? "/" : dir + "/") + name;
}

Error exec_error(const std::string& what, const Target& t, const Captured& c) {
  if (!c.result.failure_message.empty())
    return Error(ErrorCode::Failure,
                 fmt::format("{} in replica {} failed: {}", what, t.replica, c.result.failure_message));
  std::string detail = first_line(c.err);
  return Error(ErrorCode::Failure, fmt::format("{} in replica {} failed (exit code {}){}", what, t.replica,
                                               c.result.exit_code, detail.empty() ? "" : ": " + detail));
}
}  // namespace files_detail

std::optional<RemotePath> parse_remote_path(const std::string& arg) {
  auto colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string app = arg.substr(0, colon);
  if (!util::is_dns1123_label(app)) return std::nullopt;
  std::string path = arg.substr(colon + 1);
  if (path.empty()) return std::nullopt;
  return RemotePath{app, path};
}

}  // namespace wb::workbench
