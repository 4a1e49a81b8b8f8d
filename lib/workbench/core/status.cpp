#include "workbench/core/status.hpp"

#include <fmt/format.h>

#include "util/interrupt.hpp"
#include "util/numbers.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"
#include "workbench/core/json_fields.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::Stopped:
      return "Stopped";
    case Phase::Starting:
      return "Starting";
    case Phase::Running:
      return "Running";
    case Phase::Updating:
      return "Updating";
    case Phase::Failing:
      return "Failing";
  }
  return "Unknown";
}

std::string AppState::summary() const {
  switch (phase) {
    case Phase::Running:
    case Phase::Updating:
    case Phase::Starting:
      return fmt::format("{} {}/{}", phase_name(phase), ready, desired);
    default:
      return phase_name(phase);
  }
}

namespace {

using fields::integer;
using fields::str;
const json& field(const json& obj, const char* pointer) { return fields::at(obj, pointer); }

bool owned_by(const json& obj, const std::string& uid) {
  for (const auto& ref : field(obj, "/metadata/ownerReferences"))
    if (ref.value("uid", "") == uid) return true;
  return false;
}

// What is wrong with a pod, in words ("" when nothing is), and the next step.
struct Trouble {
  std::string why;
  std::string next;
  std::optional<Crash> crash;  // when it keeps crashing
};

Trouble pod_trouble(const std::string& app, const json& pod, int& restarts, std::string& state) {
  state = str(pod, "/status/phase");
  for (const auto& cond : field(pod, "/status/conditions")) {
    if (cond.value("type", "") == "PodScheduled" && cond.value("status", "") == "False" &&
        cond.value("reason", "") == "Unschedulable") {
      state = "Unschedulable";
      return {"waiting for cluster resources: " + cond.value("message", "no node can run it"),
              "ask your platform team, or lower --cpu/--memory or --replicas", std::nullopt};
    }
  }
  for (const auto& cs : field(pod, "/status/containerStatuses")) {
    restarts += cs.value("restartCount", 0);
    const json& waiting = field(cs, "/state/waiting");
    const json& last = field(cs, "/lastState/terminated");
    std::string reason = waiting.is_object() ? waiting.value("reason", "") : "";
    if (!reason.empty()) state = reason;
    if (reason == "CrashLoopBackOff" ||
        (reason.empty() && last.is_object() && cs.value("restartCount", 0) > 0 && !cs.value("ready", false))) {
      Crash crash{str(pod, "/metadata/name"), last.is_object() ? last.value("exitCode", 0) : 0,
                  last.is_object() ? last.value("reason", "") : "", last.is_object() ? last.value("message", "") : ""};
      if (crash.reason == "OOMKilled")
        return {"keeps being killed: out of memory",
                fmt::format("give it more memory (`wb app set {} --memory ...`)", app), crash};
      // Exit code 0: nothing failed, the program just ended (a main that returns, a batch job).
      if (last.is_object() && crash.exit_code == 0)
        return {"keeps exiting with code 0: its program ends, and an app must keep running",
                fmt::format("see `wb logs {} --previous`", app), crash};
      return {fmt::format("keeps crashing with exit code {}", crash.exit_code),
              fmt::format("see `wb logs {} --previous`", app), crash};
    }
    if (reason == "ImagePullBackOff" || reason == "ErrImagePull" || reason == "InvalidImageName") {
      std::string msg = waiting.value("message", "");
      return {"image cannot be pulled" + (msg.empty() ? std::string() : ": " + msg),
              "check the image exists and the workspace has the registry's pull secret", std::nullopt};
    }
    if (reason == "CreateContainerConfigError" || reason == "CreateContainerError") {
      return {"cannot start: " + waiting.value("message", reason), "check its config (`wb config get " + app + "`)", std::nullopt};
    }
  }
  return {};
}

}  // namespace

std::string missing_java_agent(const std::vector<std::string>& log_tail) {
  static constexpr std::string_view kMissing = "Error opening zip file or JAR manifest missing : ";
  std::string agent;
  for (const auto& line : log_tail) {
    if (auto at = line.find(kMissing); at != std::string::npos)
      agent = util::trim(line.substr(at + kMissing.size()));
    else if (!agent.empty() && line.find("agent library failed to init") != std::string::npos)
      return agent;
  }
  return "";
}

bool pod_ready(const json& pod) {
  for (const auto& cond : field(pod, "/status/conditions"))
    if (cond.value("type", "") == "Ready" && cond.value("status", "") == "True") return true;
  return false;
}

AppState compute_state(const std::string& app, const json& deployment, const json& replica_sets, const json& pods) {
  AppState s;
  s.desired = integer(deployment, "/spec/replicas", 1);
  const std::string uid = str(deployment, "/metadata/uid");
  const json& generation = field(deployment, "/metadata/generation");
  const json& observed = field(deployment, "/status/observedGeneration");
  if (generation.is_number_integer())
    s.observed = observed.is_number_integer() && observed.get<long>() >= generation.get<long>();

  // The newest ReplicaSet: highest revision among those the Deployment owns.
  std::string newest_hash;
  long best = -1;
  for (const auto& rs : replica_sets) {
    if (!uid.empty() && !owned_by(rs, uid)) continue;
    std::string rev = str(rs, "/metadata/annotations/deployment.kubernetes.io~1revision");
    long r = util::parse_int<long>(rev, "").value_or(0);
    if (r > best) {
      best = r;
      newest_hash = str(rs, "/metadata/labels/pod-template-hash");
      s.revision = rev;
    }
  }

  std::string trouble, hint;
  std::optional<Crash> crash;
  int trouble_restarts = 0;
  for (const auto& pod : pods) {
    if (!str(pod, "/metadata/deletionTimestamp").empty()) continue;
    std::string phase = str(pod, "/status/phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    ReplicaState r;
    r.name = str(pod, "/metadata/name");
    r.current = newest_hash.empty() || str(pod, "/metadata/labels/pod-template-hash") == newest_hash;
    r.ready = pod_ready(pod);
    Trouble t = pod_trouble(app, pod, r.restarts, r.state);
    r.reason = t.why;
    if (r.current) {
      ++s.updated;
      if (r.ready) ++s.ready;
      if (!t.why.empty() && (trouble.empty() || r.restarts > trouble_restarts)) {
        trouble = t.why;
        hint = t.next;
        crash = t.crash;
        trouble_restarts = r.restarts;
      }
    } else {
      ++s.old_replicas;
    }
    s.replicas.push_back(std::move(r));
  }

  // The Deployment's own verdict on a stalled rollout.
  for (const auto& cond : field(deployment, "/status/conditions")) {
    if (cond.value("type", "") == "Progressing" && cond.value("reason", "") == "ProgressDeadlineExceeded" &&
        trouble.empty()) {
      trouble = "the new version did not become ready in time";
      hint = fmt::format("see `wb app status {}` and `wb logs {}`", app, app);
    }
  }

  if (s.desired == 0 && s.updated == 0 && s.old_replicas == 0) {
    s.phase = Phase::Stopped;
  } else if (!trouble.empty()) {
    s.phase = Phase::Failing;
    s.reason = trouble;
    s.hint = hint;
    s.crash = crash;
  } else if (s.ready >= s.desired && s.updated == s.desired && s.old_replicas == 0) {
    s.phase = s.desired == 0 ? Phase::Stopped : Phase::Running;
  } else if (s.old_replicas > 0) {
    s.phase = Phase::Updating;
  } else {
    s.phase = s.desired == 0 ? Phase::Stopped : Phase::Starting;
  }
  return s;
}

util::Result<AppState> read_state(kube::Client& client, const std::string& ns, const std::string& app) {
  auto deployment = client.get(kube::types::Deployment, ns, app);
  if (!deployment) {
    if (deployment.error().code == ErrorCode::NotFound)
      return Error(ErrorCode::NotFound, fmt::format("app '{}' not found in workspace '{}'", app, ns),
                   fmt::format("run `wb app create {}` first", app));
    return deployment.error();
  }
  kube::ListOptions opts;
  opts.label_selector = "app.kubernetes.io/name=" + app;
  WB_ASSIGN_OR_RETURN(auto rss, client.list(kube::types::ReplicaSet, ns, opts));
  WB_ASSIGN_OR_RETURN(auto pods, client.list(kube::types::Pod, ns, opts));
  return compute_state(app, *deployment, rss.value("items", json::array()), pods.value("items", json::array()));
}

namespace {

// A wait's Timeout with the facts of a crash loop, when that is why.
Error not_ready(Error e, const std::string& app, const AppState& state) {
  if (state.crash) {
    Crashing facts;
    facts.app = app;
    facts.crash = *state.crash;
    e.with(std::move(facts));
  }
  return e;
}

}  // namespace

util::Result<AppState> wait_for_rollout(kube::Client& client, const std::string& ns, const std::string& app,
                                        const WaitOptions& o) {
  auto now = o.now ? o.now : [] { return util::Clock::now(); };
  auto sleep = o.sleep ? o.sleep : [](std::chrono::milliseconds d) { util::sleep_for(d); };
  const auto start = now();
  bool failing = false;  // (a plain flag and time: GCC 12 misreads an optional here)
  util::TimePoint failing_since{};
  std::string last_summary;
  AppState state;
  while (true) {
    if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
    WB_ASSIGN_OR_RETURN(state, read_state(client, ns, app));
    std::string summary = state.summary() + "|" + state.reason;
    if (summary != last_summary && o.on_change) o.on_change(state);
    last_summary = summary;
    const bool done = state.observed && ((state.phase == Phase::Running && state.old_replicas == 0) ||
                                         (state.phase == Phase::Stopped && state.desired == 0));
    if (done) return state;
    // The whole timeout first: when fail_after is as long (a short --timeout), the wait has run
    // out, whichever poll saw it, and says so the same way each time.
    if (now() - start >= o.timeout) {
      std::string why = state.reason.empty()
                            ? fmt::format("{} ready of {} after {}s", state.ready, state.desired,
                                          std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count())
                            : state.reason;
      return not_ready(Error(ErrorCode::Timeout, fmt::format("app '{}' did not become ready in time: {}", app, why),
                             state.hint.empty() ? fmt::format("see `wb app status {}`", app) : state.hint),
                       app, state);
    }
    if (state.phase == Phase::Failing) {
      if (!failing) failing_since = now();
      failing = true;
      if (now() - failing_since >= o.fail_after)
        return not_ready(
            Error(ErrorCode::Timeout, fmt::format("app '{}' is not becoming ready: {}", app, state.reason), state.hint),
            app, state);
    } else {
      failing = false;
    }
    sleep(o.poll);  // Ctrl-C ends it at once
  }
}

}  // namespace wb::workbench
