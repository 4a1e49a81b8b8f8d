// An app's state in plain words, computed from its Deployment, ReplicaSets and Pods; and waiting
// for a rollout to finish with the reason in words when it does not.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.hpp"
#include "util/result.hpp"

namespace wb::workbench {

using json = nlohmann::json;

enum class Phase { Stopped, Starting, Running, Updating, Failing };
const char* phase_name(Phase p);

struct ReplicaState {
  std::string name;        // pod name
  bool ready = false;
  bool current = false;    // runs the newest version
  std::string state;       // "Running", "Pending", "CrashLoopBackOff", ...
  int restarts = 0;
  std::string reason;      // in words, when not fine
};

// A replica of the newest version that keeps crashing: the facts behind "keeps crashing with exit
// code 1" (or "keeps being killed: out of memory").
struct Crash {
  std::string replica;  // the pod's name
  int exit_code = 0;    // of its last run
  std::string reason;   // its last run's termination reason ("Error", "OOMKilled")
  // Its last run's termination message: with wb's terminationMessagePolicy FallbackToLogsOnError,
  // the end of its log when it failed (the kubelet keeps up to 80 lines / 2 KiB).
  std::string message;
};

struct AppState {
  Phase phase = Phase::Stopped;
  int desired = 0;
  int ready = 0;            // ready replicas of the newest version
  int updated = 0;          // replicas of the newest version
  int old_replicas = 0;     // replicas of older versions still running
  std::string reason;       // why it is Failing / Starting (empty when fine)
  std::string hint;         // the next step ("see `wb logs orders --previous`")
  std::string revision;     // deployment.kubernetes.io/revision of the newest ReplicaSet
  bool observed = true;     // the cluster has seen the latest change (status.observedGeneration >= generation)
  std::optional<Crash> crash;  // when the trouble (reason) is a replica that keeps crashing
  std::vector<ReplicaState> replicas;

  // "Running 3/3", "Updating 2/3", "Failing", ...
  std::string summary() const;
};

// The pod's Ready condition is True (a terminating pod may still say so).
bool pod_ready(const json& pod);

// Computes the state. `app` is the app name (for hints); `replica_sets` and `pods` are those
// labelled for the app (others are ignored by owner/hash matching).
AppState compute_state(const std::string& app, const json& deployment, const json& replica_sets, const json& pods);

// Reads the objects and computes the state.
util::Result<AppState> read_state(kube::Client& client, const std::string& ns, const std::string& app);

// How long a rollout is waited for unless the user says otherwise (--timeout).
inline constexpr std::chrono::minutes kRolloutTimeout{5};

struct WaitOptions {
  std::chrono::milliseconds timeout{kRolloutTimeout};
  std::chrono::milliseconds poll{500};
  // Called whenever the state changes (progress line).
  std::function<void(const AppState&)> on_change;
  // Failing for this long (e.g. crash-looping) ends the wait early with the reason.
  std::chrono::milliseconds fail_after{std::chrono::seconds(30)};
  std::function<util::TimePoint()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Waits until the cluster has seen the latest change and the app is Running with every replica
// on the newest version (or Stopped when it was scaled to 0). Timeout → ErrorCode::Timeout with the reason in words; a failure that
// persists for fail_after → ErrorCode::Timeout too, sooner, with the same words.
// The facts of wait_for_rollout's Timeout when the app fails because a replica keeps crashing;
// `log_tail` is filled by those who fetch it (app's wait_for_app: the crashed container's last lines).
struct Crashing : util::ErrorDetail {
  std::string app;
  Crash crash;
  std::vector<std::string> log_tail;
};

util::Result<AppState> wait_for_rollout(kube::Client& client, const std::string& ns, const std::string& app,
                                        const WaitOptions& options);

// The Java agent a JVM could not load, read off a crashed container's last log lines: the path in
// "Error opening zip file or JAR manifest missing : PATH" when "agent library failed to init"
// follows (what every JVM prints for a -javaagent: whose jar is not there). "" for other crashes.
std::string missing_java_agent(const std::vector<std::string>& log_tail);

}  // namespace wb::workbench
