// Retention (`wb gc`): what an app keeps — what it runs, what it can roll back to, the newest N
// of each kind — and what goes: old versions (ReplicaSets), config and routes versions nothing
// kept uses, and images in the app's repository beyond retention.images.
//
// Two halves. `plan_gc` is a pure function from a snapshot (the app's Deployment, ReplicaSets,
// the workspace's pods, the app's config/routes objects, the repository's images) to a plan in
// which every item is kept or deleted with its reasons. `read_gc_snapshot` and `apply_gc_plan`
// talk to the cluster and the registry: the whole plan is made before anything is deleted, and
// deletes go in an order that never leaves a kept version pointing at something missing
// (versions first, then the configs and routes they no longer use, the registry last).
//
// "Newest" for images: images are reproducible, so a manifest holds no push time and the
// registry API keeps none. An image's age is the highest Deployment revision that ran it (the
// deployment.kubernetes.io/revision of its ReplicaSets, which only grows; rollbacks renumber the
// version they bring back, so "ran most recently" is what counts). Images no version ran (pushed
// with --no-deploy, or whose versions are gone) count as older than every image a version ran,
// and among themselves are ranked by tag (the greatest tag in version order, "v10" after "v9").
// The digest just pushed (retention after `wb push jar`) is always kept.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "oci/oci.hpp"
#include "util/interrupt.hpp"
#include "util/result.hpp"
#include "workbench/core/profile.hpp"

namespace wb::workbench {

using json = nlohmann::json;

// The profile's retention.* settings.
struct RetentionPolicy {
  int images = default_int("retention.images");    // image versions kept per app (at least 1)
  int configs = default_int("retention.configs");  // config versions kept per app, and routes versions (at least 1)
  // old versions kept for rollback besides the current one (like revisionHistoryLimit)
  int revisions = default_int("retention.revisions");
  bool automatic = default_bool("retention.auto");  // clean up after every successful push
};
RetentionPolicy retention_policy(const Settings& settings);

// One manifest in the app's repository.
struct RepositoryImage {
  std::string digest;
  std::vector<std::string> tags;  // empty for an untagged manifest a version refers to by digest
};

// Everything the decision needs, read before anything is deleted.
struct GcSnapshot {
  std::string app;
  std::string workspace;
  std::string repository;             // "registry/project/app"; "" when no registry is configured
  json deployment;                    // the app's Deployment (made by wb)
  json replica_sets = json::array();  // items labelled app.kubernetes.io/name=<app>
  json pods = json::array();          // every pod of the workspace
  json config_maps = json::array();   // the app's config and routes versions (managed-by wb)
  json secrets = json::array();       // the app's config Secrets (managed-by wb)
  json ingress;                       // the app's Ingress, null if none
  bool images_listed = false;         // false: the registry was not read; no image is decided
  std::vector<RepositoryImage> images;
  std::set<std::string> just_pushed;  // digests pushed by the command that runs retention
};

enum class GcKind { Revision, Config, Routes, Image };
// "revision", "config", "routes", "image".
std::string gc_kind_name(GcKind kind);

// One thing the plan decides about.
struct GcItem {
  GcKind kind = GcKind::Image;
  std::string name;                                                 // ReplicaSet name, "v3", or the image digest
  long number = 0;                                                  // the revision or version number (0 for images)
  std::vector<std::string> tags;                                    // images
  std::vector<std::pair<kube::ResourceType, std::string>> objects;  // what deleting it removes (cluster kinds)
  bool keep = true;
  std::vector<std::string> reasons;  // why it is kept, or why it goes
};

struct GcPlan {
  std::string app;
  std::string workspace;
  std::string repository;
  std::vector<GcItem> items;       // grouped by kind (revisions, configs, routes, images), newest first
  std::vector<std::string> notes;  // e.g. "no registry configured: images are not cleaned up"
  size_t deletes() const;
};

// The decision. Never deletes: the current version, a version with replicas, a version among the
// newest `revisions` old ones; a config version a kept version (or the Deployment) uses or among
// the newest `configs`; the routes version the Ingress shows or among the newest `configs`; an
// image a kept version, the Deployment or any pod of the workspace uses (by digest, tag or
// imageID), the just-pushed one, or among the newest `images`. Objects not labelled
// app.kubernetes.io/managed-by=wb are left out of the plan altogether.
GcPlan plan_gc(const GcSnapshot& snapshot, const RetentionPolicy& policy);

// ---------------------------------------------------------------- the cluster and the registry

// The app's image repository from the profile (registry.host[/registry.project]/app), nullopt
// when no registry.host is configured. Usage error when they do not make a repository name.
Result<std::optional<oci::Reference>> app_repository(const Settings& settings, const std::string& app);

// Reads what the plan needs: everything in full, or an error (what cannot be seen cannot be known
// to be unused, so nothing is deleted then). `registry` may be null (no registry configured:
// images are not decided). Tags are listed and resolved to digests; digests versions name whose
// tags have moved on are included when the repository still has them.
Result<GcSnapshot> read_gc_snapshot(kube::Client& client, oci::Registry* registry, const std::string& ns,
                                    const std::string& app, const std::optional<oci::Reference>& repository);

// What applying did.
struct GcOutcome {
  std::vector<const GcItem*> deleted;
  std::vector<const GcItem*> not_deleted;  // left after a failure, or refused by the registry
  bool registry_refused = false;           // deletes are disabled on the registry (reported once)
  std::string registry_message;            // the registry's refusal, in words
  std::optional<util::Error> failure;      // what stopped it midway
};
// Deletes what the plan says, in order: old versions, config versions, routes versions, images.
// Stops at the first failure (the outcome says what was and was not deleted); a registry that
// refuses deletes stops only the image deletes and is not a failure. Things already gone count
// as deleted.
GcOutcome apply_gc_plan(kube::Client& client, oci::Registry* registry, const GcPlan& plan);

// ---------------------------------------------------------------- retention after a push

// Waits until the deployment controller has seen the app's latest change (the Deployment's
// observedGeneration caught up with its generation), at most `limit`. A failed read or a stop
// request ends the wait early. True when it caught up.
bool wait_until_observed(kube::Client& client, const std::string& ns, const std::string& app,
                         std::chrono::milliseconds limit, std::stop_token stop = util::interrupt_token());

// What retention after a push did; it never fails the push.
struct PushRetention {
  std::map<std::string, int> deleted;  // by gc_kind_name
  size_t not_deleted = 0;
  std::optional<util::Error> skipped;  // nothing was read or deleted, because of this
  std::string registry_refused;        // the registry's refusal of deletes, in words ("" if none)
  std::optional<util::Error> failure;  // what stopped it midway
  size_t deleted_total() const;
};
// Retention for `app` right after `pushed_digest` was deployed: waits (up to 30 s) for the new
// version to exist, so the previous one is not taken for the current one, then plans with the
// just-pushed digest kept and applies the plan. `registry` may be null (no registry configured).
PushRetention retain_after_push(kube::Client& client, oci::Registry* registry, const RetentionPolicy& policy,
                                const std::string& ns, const std::string& app,
                                const std::optional<oci::Reference>& repository, const std::string& pushed_digest,
                                std::stop_token stop = util::interrupt_token());

}  // namespace wb::workbench
