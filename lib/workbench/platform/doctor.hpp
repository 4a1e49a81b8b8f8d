// `wb doctor`: a checklist of everything wb needs — kubeconfig, API server, identity, rights in the
// workspace, registry, push access, base images, clock — each with what to do when it fails.
// Checks that depend on a failed one are skipped. Nothing is changed anywhere: the push check
// opens an upload session and cancels it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.hpp"
#include "oci/oci.hpp"
#include "util/result.hpp"
#include "util/time.hpp"
#include "workbench/core/profile.hpp"

namespace wb::workbench {

enum class CheckState { Ok, Warn, Fail, Skip };
// "ok", "warn", "fail", "skip" (the JSON spelling).
const char* check_state_name(CheckState s);

struct CheckResult {
  std::string id;     // stable: profile, kubeconfig, server, identity, workspace, registry, push, base-image, clock
  std::string title;  // "server reachable"
  CheckState state = CheckState::Ok;
  std::string detail;                               // what was found, or what is wrong; for Skip: why it was not run
  std::string hint;                                 // what to do (Fail/Warn only)
  util::ErrorCode code = util::ErrorCode::Failure;  // meaningful for Fail
};

struct DoctorReport {
  std::vector<CheckResult> checks;
  // The first failed check, or null when nothing failed (warnings do not fail).
  const CheckResult* first_failure() const;
};

struct DoctorInputs {
  // The resolved settings, or why they could not be resolved (a broken profile).
  Result<const Settings*> settings = static_cast<const Settings*>(nullptr);
  // Loads the kubeconfig (or in-cluster config); `kube_source` says where from, for the line.
  std::function<Result<kube::RestConfig>()> load_kube;
  std::function<std::string(const kube::RestConfig&)> kube_source;
  // Builds the API client from the loaded config.
  std::function<std::shared_ptr<kube::Client>(kube::RestConfig)> make_kube;
  // The workspace to check ("" = the kubeconfig context's namespace, if any).
  std::string workspace;
  // The repository the push check uses: <registry.host>/<registry.project>/<app>.
  std::string app = "wb-doctor";
  // Builds the registry client (credentials and TLS as `wb push jar` uses them).
  std::function<std::unique_ptr<oci::Registry>()> make_registry;
  std::function<util::TimePoint()> now = [] { return util::Clock::now(); };
  std::chrono::seconds skew_warn{30};   // beyond this: Warn
  std::chrono::seconds skew_fail{300};  // beyond this: Fail (tokens and certificates stop working)
};

DoctorReport run_doctor(const DoctorInputs& inputs);

// The clock check from the API server's Date header (nullopt: the server sent none).
CheckResult clock_check(std::optional<util::TimePoint> server_time, util::TimePoint local,
                        std::chrono::seconds warn_after, std::chrono::seconds fail_after);

}  // namespace wb::workbench
