// Private to lib/workbench/app (files*.cpp, shell.cpp, jvm.cpp): choosing the replica a copy, listing,
// shell or thread dump talks to, and running a command in it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "workbench/app/files.hpp"

namespace wb::workbench::files_detail {

inline constexpr size_t kKeepStderr = 8 << 10;  // stderr kept of a command, for its error message

// A command's exit and what it wrote.
struct Captured {
  kube::ExecResult result;
  std::string out, err;
};

inline bool no_such_command(const kube::ExecResult& r) { return r.no_such_command; }

// The first line of `text`, trimmed.
std::string first_line(const std::string& text);

// Runs `command` in a container of `pod`, keeping its output (stdout up to `max_stdout`). With
// `input`, sends it to the command's stdin and closes stdin; the outcome comes from the command
// even when it did not read it.
util::Result<Captured> run_capture(kube::Client& client, const std::string& ns, const std::string& pod,
                                   const std::string& container, std::vector<std::string> command,
                                   std::optional<std::string_view> input = std::nullopt,
                                   size_t max_stdout = size_t{64} << 20);

// The replica a copy talks to.
struct Target {
  kube::json pod;
  std::string name, replica, container;
};

// Removes `path` (rm -rf) in the replica, best effort (the connection may be gone); once more
// after a moment if it failed: a tar still writing can fill a folder as rm empties it.
void remove_remote(kube::Client& client, const std::string& ns, const Target& t, const std::string& path);

// The pod is being deleted (it has a deletionTimestamp).
bool pod_terminating(const kube::json& pod);

// The asked-for replica of the app, else the best one (running and ready first); not found names
// the next step.
util::Result<Target> pick_pod(kube::Client& client, const std::string& ns, const std::string& app,
                              const std::string& replica, const std::string& container);

// What `ls -ldn` says about a path; nullopt when ls is not there to ask.
util::Result<std::optional<RemoteEntry>> stat_remote(kube::Client& client, const std::string& ns, const Target& t,
                                                     const std::string& path);

std::string strip_trailing_slashes(std::string p);

// "/app/logs/a.txt" -> {"/app/logs", "a.txt"}; "/" -> {"/", "."}.
std::pair<std::string, std::string> split_remote(const std::string& path);
// `name` in remote directory `dir` ("/" + name in the root).
std::string remote_child(const std::string& dir, const std::string& name);

// "WHAT in replica R failed ..." with the exec's failure, or the exit code and stderr's first line.
util::Error exec_error(const std::string& what, const Target& t, const Captured& c);

}  // namespace wb::workbench::files_detail
