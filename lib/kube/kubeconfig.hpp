// Kubeconfig loading (KUBECONFIG merge rules), context selection, credentials (token, tokenFile,
// client certs, basic, exec plugins) and in-cluster service-account configuration.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http.hpp"
#include "util/process.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace wb::kube {

using util::Result;
using util::Status;

struct ExecConfig {
  std::string api_version;                               // client.authentication.k8s.io/v1 or v1beta1
  std::string command;                                   // resolved relative to the kubeconfig's dir if it has a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string interactive_mode;                          // Never | IfAvailable | Always ("" = IfAvailable)
  bool provide_cluster_info = false;
  std::string install_hint;
};

struct ClusterEntry {
  std::string server;
  std::string certificate_authority;       // file (absolute after loading)
  std::string certificate_authority_data;  // decoded PEM
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
};

struct UserEntry {
  std::string token;
  std::string token_file;                  // absolute after loading; re-read on use
  std::string client_certificate;          // file (absolute)
  std::string client_certificate_data;     // decoded PEM
  std::string client_key;                  // file (absolute)
  std::string client_key_data;             // decoded PEM
  std::string username, password;
  std::optional<ExecConfig> exec;
  bool has_auth_provider = false;          // legacy auth-provider (unsupported: clear error)
  std::string auth_provider_name;          // its name ("oidc", "gcp", ...), for the error
};

struct ContextEntry {
  std::string cluster;
  std::string user;
  std::string namespace_;
};

// A merged view of one or more kubeconfig files.
struct Kubeconfig {
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, UserEntry> users;
  std::map<std::string, ContextEntry> contexts;
  std::string current_context;
  std::vector<std::filesystem::path> files;        // the files that were read, in order
  std::filesystem::path first_file;                // where `current-context` changes are written
};

// Where to look: an explicit path (--kubeconfig) wins over KUBECONFIG (':'-separated list,
// merged: first file to set a map entry or current-context wins), then ~/.kube/config.
struct LoadOptions {
  std::string explicit_path;
  std::optional<std::string> kubeconfig_env;       // value of KUBECONFIG, if set
  std::string home;                                // value of HOME
};

// Loads and merges. Missing files named in KUBECONFIG are skipped (as kubectl does); a missing
// --kubeconfig file is NotFound; malformed YAML is Usage with "file:line:col: what".
Result<Kubeconfig> load_kubeconfig(const LoadOptions& options);

// Credentials to put on a request.
struct Credentials {
  std::string bearer_token;
  std::string basic_user, basic_password;
  // Set by exec plugins that return client certificates (PEM).
  std::string client_cert_data, client_key_data;
};

// Produces credentials for each request; refreshes tokens that rotate or expire.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  virtual Result<Credentials> get() = 0;
  // The server answered 401 with these credentials: drop any cache so the next get() refreshes.
  virtual void invalidate() = 0;
  // True when get() may return something different after invalidate() (token files, exec
  // plugins): a 401 is then worth one retry.
  virtual bool refreshable() const { return false; }
};

// Static bearer token / basic auth.
std::shared_ptr<CredentialSource> static_token_source(std::string token);
std::shared_ptr<CredentialSource> basic_auth_source(std::string user, std::string password);
// Re-reads `path` (trimmed) on every get(): projected service-account tokens rotate.
std::shared_ptr<CredentialSource> token_file_source(std::filesystem::path path);

// Runs an exec plugin: given the command, args, env additions and the ExecCredential JSON for
// KUBERNETES_EXEC_INFO, returns the plugin's stdout. Injected so tests can fake it.
using ExecPluginRunner =
    std::function<Result<std::string>(const ExecConfig& exec, const std::string& exec_info_json)>;
// The real one runs the plugin through `processes` (the system's when null): our environment plus
// the kubeconfig's and KUBERNETES_EXEC_INFO; with a terminal (and interactiveMode not Never) it
// gets our stdin and its stderr is shown as it comes, and it has 10 minutes, else 2.
ExecPluginRunner default_exec_plugin_runner(bool stdin_is_tty,
                                            std::shared_ptr<util::ProcessRunner> processes = nullptr);

// An exec credential plugin (client.authentication.k8s.io v1 / v1beta1) behind a cache that
// holds the credential until its expirationTimestamp (by `now`) or until invalidate().
struct ExecSourceOptions {
  ExecConfig exec;
  std::string user_name;                      // kubeconfig user, for messages
  std::optional<nlohmann::json> cluster_info; // spec.cluster when provideClusterInfo
  bool stdin_is_tty = false;
  ExecPluginRunner runner;                    // default_exec_plugin_runner(stdin_is_tty) if empty
  std::function<util::TimePoint()> now;       // system clock if empty
};
std::shared_ptr<CredentialSource> exec_credential_source(ExecSourceOptions options);

// Everything needed to talk to one API server.
struct RestConfig {
  std::string server;                 // https://host:port (no trailing slash)
  http::TlsOptions tls;
  std::string proxy;
  std::shared_ptr<CredentialSource> credentials;  // may be null (anonymous)
  std::string namespace_;             // the context's namespace ("" if none)
  std::string context_name;           // "" when in-cluster
  std::string user_name;              // kubeconfig user entry name
  bool in_cluster = false;
};

struct ResolveOptions {
  std::string context;                // --context; "" = current-context
  ExecPluginRunner runner;            // for exec plugins; default_exec_plugin_runner if empty
  std::function<util::TimePoint()> now;  // for exec credential expiry; system clock if empty
  std::optional<bool> stdin_is_tty;   // for exec interactiveMode; isatty(0) if unset
};

// Builds a RestConfig from a kubeconfig context. Errors name the missing piece in words
// ("context 'prod' not found in kubeconfig (known: dev, staging)").
Result<RestConfig> resolve_context(const Kubeconfig& config, const ResolveOptions& options);

// In-cluster: KUBERNETES_SERVICE_HOST/PORT, the service-account token (re-read on every use, it
// rotates), CA and namespace under `sa_dir` (default /var/run/secrets/kubernetes.io/serviceaccount).
struct InClusterOptions {
  std::string service_host, service_port;
  std::filesystem::path sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
Result<RestConfig> in_cluster_config(const InClusterOptions& options);

// The high-level entry: explicit kubeconfig / KUBECONFIG / ~/.kube/config; if none of them
// exists and KUBERNETES_SERVICE_HOST is set, in-cluster config. `env` looks up variables.
struct ConnectOptions {
  std::string kubeconfig_flag;
  std::string context_flag;
  std::function<std::optional<std::string>(const std::string&)> env;
  ExecPluginRunner runner;
  std::filesystem::path sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::function<util::TimePoint()> now;  // for exec credential expiry; system clock if empty
  std::optional<bool> stdin_is_tty;      // isatty(0) if unset
};
Result<RestConfig> load_rest_config(const ConnectOptions& options);

}  // namespace wb::kube
