// GitOps: an app's definition kept as plain manifests in a config repository that Argo CD (or
// any kustomize-aware tool) applies, instead of wb changing the cluster itself.
//
// Layout of a config checkout ROOT (one folder per workspace and app, each a kustomization):
//   ROOT/kustomization.yaml                  resources: [<workspace>, ...]
//   ROOT/<workspace>/kustomization.yaml      resources: [<app>, ...]
//   ROOT/<workspace>/<app>/kustomization.yaml resources: the files below, sorted
//   ROOT/<workspace>/<app>/deployment.yaml, service.yaml, ingress.yaml, routes-vN.yaml, config-vN.yaml
// Each file holds one object, keys sorted, without cluster-owned fields, namespaced, so
// `kubectl kustomize ROOT` (or an Argo CD Application on any of these folders) renders them as
// they are. Secret values never go into the repository: a config version's Secret stays in the
// cluster and the Deployment keeps referring to it.
//
// Config versions in the repository carry argocd.argoproj.io/sync-options: Prune=false (and
// compare-options: IgnoreExtraneous): when wb drops an old version from the repository (beyond
// retention.configs), Argo CD leaves it in the cluster, where revisions kept for rollback may
// still use it; wb's own retention (which checks the ReplicaSets) removes it there.
//
// Changes (`wb push jar --gitops`, `wb config set --gitops`) edit these files and make one git
// commit through the `git` command (run with argv, never a shell), optionally pushing it.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "util/process.hpp"
#include "util/result.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/versions/config.hpp"

namespace wb::workbench::gitops {

using json = nlohmann::json;
namespace fs = std::filesystem;

inline constexpr const char* kArgoSyncOptions = "argocd.argoproj.io/sync-options";
inline constexpr const char* kArgoCompareOptions = "argocd.argoproj.io/compare-options";
inline constexpr const char* kKustomization = "kustomization.yaml";

// ---------------------------------------------------------------- YAML

// One object as a YAML document: block style, keys in the object's order, strings quoted where a
// plain scalar would read as something else (true, 1.0, 0755, null, ...).
std::string to_yaml(const json& object);
// Every document of a YAML file as JSON (plain scalars resolved to null/bool/number, quoted ones
// stay strings); empty documents are skipped. Usage "file:line:col: ..." when it does not parse.
Result<std::vector<json>> parse_yaml(const std::string& text, const std::string& file_name);

// ---------------------------------------------------------------- objects and files

// A copy without what the cluster owns: status; metadata.resourceVersion, uid, managedFields,
// creationTimestamp, generation, selfLink, ownerReferences; the deployment.kubernetes.io/revision
// and kubectl last-applied annotations; a Service's allocated clusterIP(s) and ipFamilies; and
// the defaults a server fills into fields wb leaves out (a Deployment's progressDeadlineSeconds,
// its pods' dnsPolicy, restartPolicy, schedulerName, empty securityContext, terminationMessagePath,
// volume defaultMode 420; a Service's ipFamilyPolicy, internalTrafficPolicy, sessionAffinity) when
// they hold those defaults.
json without_cluster_fields(json object);
// Marks a config version so Argo CD never prunes it (Prune=false, IgnoreExtraneous).
void keep_from_pruning(json& object);
// The file an app object goes to: deployment.yaml, service.yaml, ingress.yaml, config-vN.yaml
// (`<app>-config-vN`), routes-vN.yaml (`<app>-routes-vN`); else <kind>-<name>.yaml.
std::string file_name_for(const json& object, const std::string& app);
// ROOT/<workspace>/<app>.
fs::path app_dir(const fs::path& root, const std::string& workspace, const std::string& app);

struct WrittenApp {
  fs::path dir;                      // ROOT/<workspace>/<app>
  std::vector<std::string> files;    // written, relative to ROOT, sorted (kustomizations included)
  std::vector<std::string> removed;  // files an earlier export listed and this one does not
};
// Writes an app's objects (cleaned, one file each) and its kustomization, adds the app and the
// workspace to the kustomizations above it (keeping what else they list). Objects are written as
// given, so a Secret must not be among them (Usage error).
Result<WrittenApp> write_app(const fs::path& root, const std::string& workspace, const std::string& app,
                             const std::vector<json>& objects);

// An app as the checkout has it.
struct CheckoutApp {
  fs::path root;
  std::string workspace, app;
  fs::path dir;
  json kustomization;                        // parsed kustomization.yaml
  std::map<std::string, json> objects;       // file name (in dir) -> object
  std::map<std::string, std::string> texts;  // file name -> text as read
  std::string deployment_file;               // the file holding the app's Deployment
};
// The content of config version `n` as the checkout holds it (its ConfigMap <app>-config-vN).
// NotFound naming the versions the checkout does hold otherwise.
Result<ConfigContent> config_version_in(const CheckoutApp& app, int n);
// The workspace folder holding the app: `workspace` when given; else the only ROOT/*/<app> with
// a kustomization. NotFound/Usage with what to do otherwise.
Result<std::string> find_workspace(const fs::path& root, const std::string& app, const std::string& workspace);
// Reads ROOT/<workspace>/<app>: its kustomization and the files it lists. NotFound when the app
// is not there (hint: `wb export`), Usage when a file does not parse or there is no Deployment.
Result<CheckoutApp> read_app(const fs::path& root, const std::string& workspace, const std::string& app);

// Files to write (text) or delete (nullopt), relative to ROOT.
struct FileChanges {
  std::map<std::string, std::optional<std::string>> files;
  bool empty() const { return files.empty(); }
};

// The app's image changed in its Deployment file, only the image scalar itself (the file's
// comments and layout stay). Nothing when it already runs `image`. Usage error when a
// kustomization `images:` entry would override it.
Result<FileChanges> image_change(const CheckoutApp& app, const std::string& image);
// The image the checkout's Deployment names ("" if none).
std::string checkout_image(const CheckoutApp& app);

// A new config version in the checkout: the newest config-vN there plus `change`, written as
// config-v(N+1).yaml (immutable, kept from pruning), the Deployment pointed at it (a Secret the
// Deployment used stays referenced), the kustomization updated, and versions beyond the newest
// `keep` removed from the repository (never the one in use).
struct ConfigCommit {
  FileChanges changes;
  int version = 0;
  int base = 0;
  std::string change;        // in words
  std::vector<int> dropped;  // versions removed from the repository
  std::vector<std::string> warnings;
};
Result<ConfigCommit> config_change(const CheckoutApp& app, const ConfigChange& change, const std::string& who,
                                   int keep);

// Writes the changes below ROOT (atomic per file; deletions of missing files are fine).
Status apply_files(const fs::path& root, const FileChanges& changes);

// ---------------------------------------------------------------- git

struct GitOutput {
  int exit_code = 0;
  std::string out, err;
};
// Runs `git -C dir ARGS...` (argv, no shell), never prompting; stdin is /dev/null.
using GitRunner = std::function<Result<GitOutput>(const fs::path& dir, const std::vector<std::string>& args)>;
// The real git, run by `processes` (the system's when null) in the C locale; a failure to start
// it says to install git.
GitRunner real_git(std::shared_ptr<util::ProcessRunner> processes = nullptr);

// The last non-empty line of git's stderr, trimmed ("fatal: " kept): for one-line errors.
std::string git_error_line(const GitOutput& out);

struct CommitOptions {
  fs::path root;        // the config checkout (or a folder inside it)
  std::string message;  // the whole commit message
  bool push = false;    // push to the branch's upstream (or origin/<branch>)
  EnvLookup env;        // GITLAB_USER_NAME/EMAIL as the committer when git has none
};
struct CommitResult {
  std::string commit;  // full hash
  std::string branch;
  std::string pushed_to;  // "origin/main" when pushed
  bool rebased = false;   // pushed after rebasing onto commits pushed meanwhile
};
// Checks that ROOT is inside a git checkout with no uncommitted changes (and, for a push, on a
// branch). Conflict naming the first dirty file otherwise.
Status check_checkout(const GitRunner& git, const CommitOptions& options);
// Writes the changes, commits them (one commit), and with push: pushes; when the push is refused
// (someone pushed meanwhile) fetches, rebases once and pushes again. On any failure the checkout
// is put back as it was (HEAD, index and files) and the error says what git said.
Result<CommitResult> commit_changes(const GitRunner& git, const CommitOptions& options, const FileChanges& changes);

// Commit messages: a subject line, a blank line, then "Key: value" lines (empty values left out).
struct MessageFacts {
  std::string workspace, app;
  std::string jar, version, image, digest;  // push jar
  int config_version = 0;                   // config set
  std::string change, reason;               // config set: what (words), why (-m)
  std::string source_commit, pipeline;      // CI_COMMIT_SHA (or git HEAD), CI_PIPELINE_URL
  std::string who;
};
std::string commit_message(const MessageFacts& facts);

// ---------------------------------------------------------------- the changes wb commits

// What `wb export` writes of an app in the cluster: its Deployment, Service, Ingress and the routes
// version it shows, and the config version the app uses (its Secret stays in the cluster).
struct ClusterApp {
  std::vector<json> objects;
  int missing_config_version = 0;  // the app uses this config version, which is gone from the cluster
  std::string kept_secret;         // the used config version's Secret: referred to, never exported
};
// NotFound when there is no such app; refusals in the workspace's words.
Result<ClusterApp> read_cluster_app(kube::Client& client, const std::string& ns, const std::string& app);

// Who changes the app, for commit messages: GITLAB_USER_LOGIN in GitLab CI, else git's user.name
// in the checkout, else $USER ("" when none of them says).
std::string change_author(const GitRunner& git, const fs::path& root, const EnvLookup& env, bool in_gitlab_ci);

// A commit about to be made: its files and whole message.
struct PlannedCommit {
  FileChanges changes;
  std::string message;
};

// What `wb push jar --gitops` pushed, for the commit message.
struct PushedImage {
  std::string image;                    // by digest: what the Deployment will name
  std::string digest, jar, version;     // the manifest digest; the jar's file name and version
  std::string source_commit, pipeline;  // the source revision and CI pipeline URL, when known
};
// The checkout's Deployment pointed at the pushed image (no changes when it already names it).
Result<PlannedCommit> image_commit(const CheckoutApp& app, const PushedImage& pushed, const std::string& who);

// `wb config set --gitops` (config_change plus its message; CI_COMMIT_SHA and CI_PIPELINE_URL from
// `env` go into the message). `rollback_to` > 0 (`wb config rollback --gitops`): the change is the
// whole content of that version as the checkout holds it.
struct ConfigPlan {
  ConfigCommit made;
  std::string message;
};
Result<ConfigPlan> config_commit(const CheckoutApp& app, ConfigChange change, int rollback_to, const std::string& who,
                                 int keep, const EnvLookup& env);

}  // namespace wb::workbench::gitops
