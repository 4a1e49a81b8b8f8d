// What every command gets: injected IO, environment, global flags, and what reaches outside the
// process (a Kubernetes client, registry clients, git, the clock), each replaceable, as gh's
// Factory is. Tests build a Context with string streams and fakes; main() builds the real one.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "http/http.hpp"
#include "kube/client.hpp"
#include "oci/oci.hpp"
#include "util/result.hpp"
#include "util/time.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/delivery/gitops.hpp"
#include "workbench/delivery/push_jar.hpp"

namespace wb::cli {

using util::Result;
using util::Status;

enum class OutputFormat { Table, Wide, Json, Yaml, Name };

// Flags every command accepts.
struct GlobalOptions {
  std::string profile;
  std::string kubeconfig;
  std::string context;
  std::string workspace;
  std::string output = "table";
  int verbose = 0;
  bool quiet = false;
  bool no_color = false;
  bool yes = false;
  std::string request_timeout;  // "30s"; "" = none

  OutputFormat format() const;
  bool machine_output() const {
    return format() == OutputFormat::Json || format() == OutputFormat::Yaml || format() == OutputFormat::Name;
  }
};

struct IO {
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool stdin_tty = false;
  bool stdout_tty = false;
  bool stderr_tty = false;
};

class Context;

// Builds the client for a registry target from the settings (credentials, registry.ca,
// registry.insecure) and the HTTP options.
using RegistryFactory =
    std::function<std::unique_ptr<oci::Registry>(Context& ctx, const workbench::Settings& settings,
                                                 const workbench::PushTarget& target, const http::ClientOptions& http)>;

class Context {
 public:
  IO io;
  GlobalOptions global;
  std::function<std::optional<std::string>(const std::string&)> env;
  // The clock every command reads (ages, timestamps); tests fix it.
  std::function<util::TimePoint()> now = [] { return util::Clock::now(); };
  // The monotonic clock for rates, redraws and deadlines; tests replace it.
  std::function<std::chrono::steady_clock::time_point()> ticks = [] { return std::chrono::steady_clock::now(); };
  std::filesystem::path cwd;
  // Builds a Kubernetes client from the settings; tests replace it.
  std::function<Result<std::shared_ptr<kube::Client>>(Context&)> kube_factory;
  // Runs exec credential plugins; tests replace it.
  kube::ExecPluginRunner process_runner;
  // Connects an API client to a loaded kubeconfig (the default kube_factory and doctor use it);
  // tests replace it. kube::make_client when empty.
  std::function<std::shared_ptr<kube::Client>(kube::RestConfig, const http::ClientOptions&)> connect_kube;
  // Builds registry clients (gc, doctor, push jar); tests replace it with a fake registry.
  RegistryFactory registry_factory;
  // Runs git (GitOps commits, a jar's provenance); tests replace it. The real git when empty.
  workbench::gitops::GitRunner git;

  std::ostream& out() { return *io.out; }
  std::ostream& err() { return *io.err; }
  // Colors on stdout/stderr: a TTY, no --no-color, no NO_COLOR, TERM not dumb.
  bool color_out() const;
  bool color_err() const;
  // Progress and status lines: stderr is a TTY, not --quiet, not a machine format.
  bool show_progress() const;
  // Running in GitLab CI (GITLAB_CI=true).
  bool in_gitlab_ci() const;
  // Can we ask the user a question? (stdin and stderr are TTYs)
  bool can_prompt() const { return io.stdin_tty && io.stderr_tty; }

  // Resolved settings (profile, wb.yaml, env, flags), computed once.
  Result<const workbench::Settings*> settings();
  // The Kubernetes client, built once.
  Result<kube::Client*> kube();
  // The kubeconfig (or in-cluster config) that --kubeconfig, the settings' kube.context (--context
  // when the settings do not resolve) and the environment name.
  Result<kube::RestConfig> kube_config();
  // An API client for `config` through connect_kube.
  std::shared_ptr<kube::Client> connect(kube::RestConfig config, const http::ClientOptions& http);
  // A registry client for `target` through registry_factory (default_registry_factory if empty).
  std::unique_ptr<oci::Registry> registry(const workbench::Settings& settings, const workbench::PushTarget& target,
                                          const http::ClientOptions& http);
  // A registry client for a repository in the profile's registry, with http_options().
  std::unique_ptr<oci::Registry> registry(const workbench::Settings& settings, const oci::Reference& repository);
  // The git runner: `git` when set, else the real git.
  workbench::gitops::GitRunner git_runner() const;
  // The workspace to act in: -w, WB_WORKSPACE, wb.yaml, `workspace use`, profile, kube context namespace.
  Result<std::string> workspace();
  // http::ClientOptions carrying -v tracing and --request-timeout.
  http::ClientOptions http_options();
  // A line on stderr (status/progress), shown only when show_progress().
  void status(const std::string& line);
  // A warning on stderr (always, unless --quiet).
  void warn(const std::string& line);

 private:
  std::optional<workbench::Settings> settings_;
  std::shared_ptr<kube::Client> kube_;
};

// The real factory: kubeconfig / in-cluster -> kube::make_client.
Result<std::shared_ptr<kube::Client>> default_kube_factory(Context& ctx);
// The real registry factory: workbench::registry_options -> oci::make_registry_client.
std::unique_ptr<oci::Registry> default_registry_factory(Context& ctx, const workbench::Settings& settings,
                                                        const workbench::PushTarget& target,
                                                        const http::ClientOptions& http);

}  // namespace wb::cli
