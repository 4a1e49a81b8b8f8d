// An app's life after `wb app create`: listing, describing, starting, stopping, restarting,
// changing, deleting, its history of versions and rolling back. The pure parts (rows, events in
// words, history, rollback templates, a spec read back from a Deployment) are free functions on
// JSON; the parts that talk to the cluster take a kube::Client. Nothing here prints.
//
// Words: a developer sees "app", "replica" and "version", never the Kubernetes kinds behind them.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "util/time.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/core/refusal.hpp"
#include "workbench/core/status.hpp"

namespace wb::workbench {

using json = nlohmann::json;

// Annotations wb reads and writes on an app's Deployment.
namespace annotations {
inline constexpr const char* kReplicas = "wb.dev/replicas";     // replicas when started (set by create/set/scale)
inline constexpr const char* kChangedBy = "wb.dev/changed-by";  // who made the change that made a version
inline constexpr const char* kPipeline = "wb.dev/pipeline";     // the CI pipeline that made it, if any
inline constexpr const char* kChangeCause = "kubernetes.io/change-cause";
inline constexpr const char* kJar = "wb.dev/jar";  // jar file name (set by `wb push jar`)
inline constexpr const char* kRestartedAt = "kubectl.kubernetes.io/restartedAt";  // on the pod template
inline constexpr const char* kRevision = "deployment.kubernetes.io/revision";
}  // namespace annotations

// Who changes an app and why; written on the Deployment by verbs that make a new version (the
// deployment controller copies the Deployment's annotations onto the version it makes).
struct ChangeInfo {
  std::string who;       // "alice", or "jdoe via system:serviceaccount:ci:deployer" in GitLab CI
  std::string cause;     // "set --memory 2Gi", "rollback to revision 3"
  std::string pipeline;  // CI_PIPELINE_URL ("" outside CI)
};
// Writes the change annotations into a Deployment (empty fields are left out / removed).
void record_change(json& deployment, const ChangeInfo& change);

// ---------------------------------------------------------------- reading an app

// The container that runs the app (named after the app, else the only one); null if none.
const json* app_container(const json& pod_template, const std::string& app);
// The image of the app's container ("" if none).
std::string app_image(const json& deployment);
// False while the app still has the image create gave it (kNoImageYet, or a profile base image).
bool has_pushed_version(const json& deployment, const Settings& settings);
// "sha256:0123456789ab" for a digest reference, "1.4.2" for a tag, "" for none.
std::string short_image(const std::string& image);
// The version in words: "orders-1.4.jar (sha256:0123456789ab)", or the short image alone; ""
// while it runs the image create gave it (kNoImageYet, or with `settings` a profile base image).
std::string version_words(const json& deployment_or_rs, const Settings* settings = nullptr);
// The config version the pod template refers to ("v3" from a `<app>-config-v3` ConfigMap/Secret
// in volumes, envFrom or env valueFrom); "" if none.
std::string config_version(const json& pod_template, const std::string& app);
// Whether the SkyWalking agent is on (a -javaagent: in JAVA_TOOL_OPTIONS).
bool tracing_on(const json& pod_template, const std::string& app);
// Replicas `wb app start` gives the app: the flag, else the remembered wb.dev/replicas, else
// spec.replicas when it runs, else the profile's defaults.replicas (at least 1).
int replicas_to_start(const json& deployment, std::optional<int> flag, const Settings& settings);
// A replica's name as shown: the app name and the replica's own suffix ("orders-x2x9z").
std::string replica_name(const std::string& pod_name, const std::string& app);

// One row of `wb app list`.
struct AppRow {
  std::string name;
  std::string status;   // AppState::summary()
  std::string version;  // version_words or "-"
  std::string config;   // "v3" or "-"
  bool tracing = false;
  std::string age;     // "5m"
  std::string reason;  // why it is failing, in words
};
// Builds the rows from a namespace's wb Deployments and their ReplicaSets and Pods (lists' items).
std::vector<AppRow> app_rows(const json& deployments, const json& replica_sets, const json& pods, util::TimePoint now,
                             const Settings* settings = nullptr);

// ---------------------------------------------------------------- events

struct EventLine {
  std::string time;     // RFC 3339 of the last occurrence
  std::string type;     // Normal | Warning
  std::string message;  // in words
  int count = 1;
};
// Translates one core/v1 Event about the app (or its versions and replicas) into words; nullopt
// for events a developer need not see (Scheduled, Pulling, Created, SuccessfulCreate, ...).
std::optional<EventLine> translate_event(const json& event, const std::string& app, const json& replica_sets);
// The app's events (filtered from a namespace's events by the Deployment, its ReplicaSets and
// their pods), in words, oldest first, at most `last`.
std::vector<EventLine> app_events(const json& events, const std::string& app, const json& replica_sets,
                                  size_t last = 8);

// ---------------------------------------------------------------- history and rollback

struct Revision {
  long number = 0;
  std::string when;     // creationTimestamp of the version
  std::string who;      // wb.dev/changed-by ("" if unknown)
  std::string image;    // full image reference
  std::string version;  // version_words
  std::string config;   // config_version ("" if none)
  std::string cause;    // kubernetes.io/change-cause
  bool current = false;
  json pod_template;  // with the pod-template-hash label removed
};
// The app's versions (ReplicaSets owned by the Deployment), oldest first.
std::vector<Revision> history(const json& deployment, const json& replica_sets,
                              const Settings* settings = nullptr);
// The template to roll back to: revision `to`, else the one before the current. NotFound naming
// the known revisions when there is no such revision; Usage when `to` is the current one or
// there is no earlier one.
Result<Revision> rollback_target(const std::vector<Revision>& revisions, std::optional<long> to,
                                 const std::string& app);

// ---------------------------------------------------------------- changing an app

// Reads an app's spec back from its Deployment (port, cpu, memory, env the developer set, health
// path, tracing, Spring Boot probes, description, alias, image) and what `build_objects` needs to
// rebuild it the same way (creator, version, replicas, non-root image).
struct SpecAndBuild {
  AppSpec spec;
  BuildContext build;
};
SpecAndBuild spec_from_deployment(const json& deployment, const Settings& settings);

// Changes `wb app set` makes; unset fields keep the app's current value.
struct AppChanges {
  std::optional<std::string> cpu, memory, health_path;
  std::optional<int> port, replicas;
  std::optional<bool> trace;
  std::vector<std::pair<std::string, std::string>> env;  // set or replace
  std::vector<std::string> unset_env;
};
// Applies the changes to a spec read with spec_from_deployment (validating each value).
Status apply_changes(SpecAndBuild& current, const AppChanges& changes);

// Carries over into a Deployment rebuilt by build_objects what others put on the current one and
// the builder does not make: wb.dev/* annotations, pod template annotations (restartedAt, the
// jar), envFrom and valueFrom variables, and volumes (with their mounts) the builder does not
// name, e.g. config versions. Without this, applying the rebuilt object would drop them.
void keep_other_parts(json& rebuilt, const json& current);


// ---------------------------------------------------------------- on the cluster

// The app's Deployment; NotFound "app 'x' not found in workspace 'y'" (also for a Deployment wb
// did not create) with a hint.
Result<json> read_app(kube::Client& client, const std::string& ns, const std::string& app);

// Read-modify-write of the app's Deployment: `mutate` changes a fresh copy (returning an error
// stops), then a conditional PUT; on 409 it reads again and retries (up to `attempts`), then
// Conflict. With dry_run nothing is sent: the object that would be sent is returned.
Result<json> update_app(kube::Client& client, const std::string& ns, const std::string& app,
                        const std::function<Status(json& deployment)>& mutate, bool dry_run, int attempts = 5);

// Everything about one app, read from the cluster.
struct AppDetails {
  json deployment;
  json replica_sets;  // items
  json pods;          // items
  AppState state;
  std::vector<EventLine> events;
  std::vector<std::string> routes;  // "https://orders.apps.example.com" from the app's Ingresses
  std::string address;              // "http://orders.shop-dev.svc:8080"
};
Result<AppDetails> describe_app(kube::Client& client, const std::string& ns, const std::string& app, size_t events = 8);
// Where the app answers: its first route, else the in-cluster address.
std::string app_url(const AppDetails& details);

// wait_for_rollout, and when the app fails because a replica keeps crashing (not out of memory),
// the last lines of its crashed container's log in the error's Crashing facts (crash_log_tail).
util::Result<AppState> wait_for_app(kube::Client& client, const std::string& ns, const std::string& app,
                                    const WaitOptions& options, size_t log_lines = 10);

// The last lines of the previous (crashed) container of the app's most-restarted current replica;
// empty when there is none or the server will not say. The kubelet's error text that a read gets
// between two runs of the container (kubelet_log_error) is waited out, up to 10 s.
std::vector<std::string> crash_log_tail(kube::Client& client, const std::string& ns, const std::string& app,
                                        size_t lines = 10);

// An object `wb app delete` removes.
struct OwnedObject {
  kube::ResourceType type;
  std::string name;
};
// What wb made for the app: its Deployment (if wb made it) and every Service, ConfigMap, Secret
// and Ingress labelled app.kubernetes.io/name=<app>,app.kubernetes.io/managed-by=wb.
Result<std::vector<OwnedObject>> objects_of_app(kube::Client& client, const std::string& ns, const std::string& app);
// Deletes them (the Deployment's versions and replicas go with it, in the background); objects
// already gone are fine.
Status delete_objects(kube::Client& client, const std::string& ns, const std::vector<OwnedObject>& objects);

}  // namespace wb::workbench
