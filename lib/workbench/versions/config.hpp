// Versioned app config: every change is a new, numbered, immutable version that the app is
// pointed at (and rolls to). Kubernetes keeps no history of ConfigMaps; wb keeps one by never
// changing a version once written.
//
// Version N of app `orders` is the ConfigMap `orders-config-vN` and, when it holds secret values,
// the Secret `orders-secret-vN`, both labelled app.kubernetes.io/name=orders,
// app.kubernetes.io/managed-by=wb, wb.dev/config-version=N and annotated with who/why.
//   - KEY=VALUE entries: the ConfigMap's `data`, injected as environment variables (envFrom).
//   - Secret entries: the Secret's `data`, injected as environment variables (envFrom).
//   - Files (application.yml, ...): the ConfigMap's `binaryData` (envFrom ignores it), mounted
//     read-only at /app/config/ — Spring Boot reads ./config/application.{yml,properties} relative
//     to its working directory /app, so they override the jar's own.
// A new version is the newest version's content plus the change, numbered newest + 1. Two writers
// at once: the one whose create of `<app>-config-vN` fails with AlreadyExists reads again and
// builds N+1 on top of the other's N, so neither change is lost.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/versioned.hpp"

namespace wb::workbench {

using json = nlohmann::json;

inline constexpr const char* kConfigVersionLabel = "wb.dev/config-version";
inline constexpr const char* kConfigChangeAnnotation = "wb.dev/change";  // what changed, in words
inline constexpr const char* kConfigSecretAnnotation = "wb.dev/secret";  // the version's Secret, if any
inline constexpr const char* kConfigMountPath = "/app/config";
inline constexpr const char* kConfigVolume = "wb-config";
// The API server's limit for one ConfigMap or Secret.
inline constexpr size_t kMaxConfigBytes = 1024 * 1024;

// What one version holds.
struct ConfigContent {
  std::map<std::string, std::string> env;      // KEY -> value: environment variables
  std::map<std::string, std::string> secrets;  // KEY -> value: environment variables from the Secret
  std::map<std::string, std::string> files;    // file name -> content, mounted at /app/config/
  bool operator==(const ConfigContent&) const = default;
};

// One stored version.
struct ConfigVersion {
  int number = 0;
  std::string when;    // creationTimestamp
  std::string who;     // wb.dev/changed-by
  std::string cause;   // kubernetes.io/change-cause (the -m message, else the change in words)
  std::string change;  // wb.dev/change: what changed, in words (names only, never values)
  ConfigContent content;
};

// One `wb config set|rollback`.
struct ConfigChange {
  std::vector<std::pair<std::string, std::string>> set;    // KEY=VALUE, in order
  bool secret = false;                                     // `set` entries go into the Secret
  std::vector<std::pair<std::string, std::string>> files;  // file name -> content
  std::vector<std::string> unset;                          // keys or file names
  std::optional<ConfigContent> replace_with;               // rollback: the whole content
  std::string message;                                     // -m
};

std::string config_map_name(const std::string& app, int version);
std::string config_secret_name(const std::string& app, int version);

// A KEY usable as an environment variable name: [A-Za-z_][A-Za-z0-9_]*. Usage error otherwise.
Status check_config_key(const std::string& key);
// A file name for /app/config/: a ConfigMap key ([-._a-zA-Z0-9]+) with an extension.
Status check_config_file_name(const std::string& name);
// `.env` lines: KEY=VALUE, `export KEY=VALUE`, '#' comments, blank lines, "double" (with \n, \t,
// \", \\ escapes) or 'single' quoted values. Usage "file:line: ..." for anything else.
Result<std::vector<std::pair<std::string, std::string>>> parse_env_file(const std::string& text,
                                                                        const std::string& file_name);
// A Java .properties file: Usage "file:line: ..." for a line with an empty key or a malformed \u escape.
Status check_properties(const std::string& text, const std::string& file_name);
// A YAML file (all documents): Usage "file:line:col: ..." when it does not parse.
Status check_yaml(const std::string& text, const std::string& file_name);
// Checks a file by its extension (.yml/.yaml, .properties, .json); other files pass.
Status check_config_file(const std::string& name, const std::string& text, const std::string& shown_path);

// The new content: `base` with the change applied (each key/name checked; unsetting what is not
// there is a Usage error naming what is).
Result<ConfigContent> apply_config_change(const ConfigContent& base, const ConfigChange& change,
                                          const std::string& app);
// The change in words, names only: "set DB_URL, MODE; secret DB_PASSWORD; file application.yml; unset X".
std::string describe_config_change(const ConfigChange& change);
// Bytes the ConfigMap and the Secret of this content take; Usage error over kMaxConfigBytes.
Status check_config_size(const ConfigContent& content);

// Who/why written on a version.
struct VersionMeta {
  std::string who;
  std::string cause;
  std::string change;
};
// The ConfigMap (and the Secret, null when there are no secrets) of version `n`.
json config_map_object(const std::string& app, const std::string& ns, int n, const ConfigContent& content,
                       const VersionMeta& meta, bool immutable);
json config_secret_object(const std::string& app, const std::string& ns, int n, const ConfigContent& content,
                          const VersionMeta& meta, bool immutable);
// Reads a version back (the Secret may be null).
ConfigVersion config_version_from(const json& config_map, const json& secret);
// The version number of a wb config object (label, else name); 0 if none.
int config_version_number(const json& object, const std::string& app);

// The number of the config version a pod template refers to; 0 if none.
int referenced_config_version(const json& pod_template, const std::string& app);
// Points a pod template at version `n`: replaces references to other versions with a volume of
// the files at /app/config and envFrom of the ConfigMap (and Secret).
void point_template_to_config(json& pod_template, const std::string& app, int n, const ConfigContent& content);

// A difference between two versions. Secret values never appear (old/new are empty for them).
struct ConfigDiffEntry {
  enum class Kind { Added, Removed, Changed } kind = Kind::Changed;
  std::string what;  // "env", "secret" or "file"
  std::string name;
  std::string old_value, new_value;  // env only
  std::vector<std::string> lines;    // files: a line diff ("+ x", "- y", "  z")
};
std::vector<ConfigDiffEntry> diff_config(const ConfigContent& from, const ConfigContent& to);
// A minimal line diff (LCS); context lines are kept only next to changes.
std::vector<std::string> line_diff(const std::string& from, const std::string& to, size_t context = 2);

// Versions to delete: all but the newest `keep` (at least 1) and those `in_use`.
std::vector<int> config_versions_to_delete(const std::vector<int>& existing, const std::set<int>& in_use, int keep);

// ---------------------------------------------------------------- on the cluster

// The app's versions, oldest first (secrets read too).
Result<std::vector<ConfigVersion>> read_config_versions(kube::Client& client, const std::string& ns,
                                                        const std::string& app);
Result<ConfigVersion> read_config_version(kube::Client& client, const std::string& ns, const std::string& app, int n);

struct ConfigWrite {
  ConfigVersion version;  // what was written
  int base = 0;           // the version it was built on (0: none)
  int attempts = 1;       // 1 + versions taken by others meanwhile
};
// Writes a new version: reads the newest, builds on it with `change`, validates (before any write)
// and creates it; another writer taking the number first -> read again and build on theirs.
Result<ConfigWrite> write_config_version(kube::Client& client, const std::string& ns, const std::string& app,
                                         const ConfigChange& change, const std::string& who, bool immutable,
                                         int attempts = kVersionAttempts);

struct ConfigPointing {
  json deployment;       // as written (or as it was when not changed)
  bool changed = false;  // false when it already used this or a newer version
  int uses = 0;          // the version the app uses afterwards
};
// Points the app's Deployment at version `v` (a rollout), recording who and why
// ("config v7: why"). Never moves an app back to an older version than it uses.
Result<ConfigPointing> point_app_to_config(kube::Client& client, const std::string& ns, const std::string& app,
                                           const ConfigVersion& v, const ChangeInfo& change);

// Deletes versions beyond the newest `keep`, except those the Deployment or any of its
// ReplicaSets (live or kept for rollback) refer to. Returns the deleted numbers.
Result<std::vector<int>> prune_config_versions(kube::Client& client, const std::string& ns, const std::string& app,
                                               int keep);

// Whether the server has immutable ConfigMaps/Secrets (Kubernetes 1.21+).
bool server_has_immutable_config(kube::Client& client);

}  // namespace wb::workbench
