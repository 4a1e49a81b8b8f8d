// `wb push jar` without the command line: deciding what to push where (target, base image, tags,
// labels) from the flags, the settings, CI variables and git; pushing it; and pointing the app's
// Deployment at the pushed digest. Nothing here prints; progress goes through image::PushObserver.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "image/push.hpp"
#include "jar/jar.hpp"
#include "jar/plan.hpp"
#include "kube/client.hpp"
#include "oci/oci.hpp"
#include "oci/registry_client.hpp"
#include "util/process.hpp"
#include "util/result.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/delivery/gitops.hpp"

namespace wb::workbench {

using json = nlohmann::json;

// Where the image goes.
struct PushTarget {
  enum class Kind { Registry, Layout, Archive };
  Kind kind = Kind::Registry;
  oci::Reference ref;          // Registry: registry/repository (its tag is not used); else a stand-in
  std::filesystem::path path;  // Layout: the directory; Archive: the tar file (absolute)
  std::string explicit_tag;    // a tag written in --to ("reg/app:1.2", "oci:DIR:1.2"), "" if none
  bool local_default = false;  // no registry configured: the OCI layout <cwd>/build/wb-image

  // As the user writes it: "127.0.0.1:5000/shop/orders", "oci:/w/build/wb-image", "tar:/w/o.tar".
  std::string str() const;
};

// Parses --to: "oci:DIR[:TAG]", "tar:FILE", or an image reference ("reg/proj/app[:TAG]"; a
// digest is refused). Relative paths are taken from `cwd`. Usage error when malformed.
Result<PushTarget> parse_target(const std::string& text, const std::filesystem::path& cwd);

// Where the base image comes from.
struct BaseSource {
  enum class Kind { Registry, Layout, Scratch };
  Kind kind = Kind::Registry;
  oci::Reference ref;          // Registry: the reference; Layout: the tag (or digest) in `path`
  std::filesystem::path path;  // Layout: the directory
  // "scratch", "oci:/dir:17", "registry/java:17".
  std::string str() const;
};

// Parses --base or a baseImages value: "scratch", "oci:DIR[:TAG]" (default tag latest) or an
// image reference. Usage error when malformed.
Result<BaseSource> parse_base(const std::string& text, const std::filesystem::path& cwd);

// The base image for classes that need Java `java_version` (0 = unknown): the profile entry with
// the smallest Java version >= it. Usage error naming what there is ("orders.jar needs Java 21
// but the profile only has base images for 11, 17"). `base_images` maps "17" -> reference.
Result<std::string> choose_base_image(const std::map<std::string, std::string>& base_images, int java_version,
                                      const std::string& jar_name);

// A DNS-1123 app name made from a jar's Implementation-Title or file stem ("Orders_Service" ->
// "orders-service"); "" when nothing usable is left.
std::string app_name_from(const std::string& text);
// A valid image tag made from a version ("1.2.0+build.5" -> "1.2.0-build.5"); "" if none.
std::string tag_from_version(const std::string& version);
// True for an image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool is_valid_tag(const std::string& tag);
// A repository URL fit for a label: userinfo (tokens, passwords) removed from URLs.
std::string strip_url_credentials(const std::string& url);

// What the user asked for (the flags).
struct PushRequest {
  std::filesystem::path jar;
  std::string app;                     // --app
  std::vector<std::string> tags;       // --tag
  std::string to;                      // --to
  std::string base;                    // --base
  std::string platform;                // --platform: "" or "all" = every platform of the base; else a comma list
  std::vector<std::string> jvm_flags;  // --jvm-flag
  std::vector<std::string> env;        // --env NAME=VALUE
  std::string compression;             // --compression: auto|gzip|none; "" = the profile's push.compression
};

// The world around the command: environment variables, the working directory and git.
struct PushEnvironment {
  EnvLookup env;
  std::filesystem::path cwd;
  // Runs `git ARGS...` in cwd: its stdout, trimmed; nullopt when git fails or is not there.
  std::function<std::optional<std::string>(const std::vector<std::string>& args)> git;
};
// `git` as PushEnvironment::git wants it: run in `cwd`, stdout trimmed, nullopt when git fails,
// is not there or says nothing.
std::function<std::optional<std::string>(const std::vector<std::string>&)> git_answers(gitops::GitRunner git,
                                                                                       std::filesystem::path cwd);

// Where the jar came from, for the image's labels and the app's change cause.
struct Provenance {
  std::string source;    // CI_PROJECT_URL, else git's remote.origin.url (credentials stripped)
  std::string revision;  // CI_COMMIT_SHA, else `git rev-parse HEAD`
  std::string version;   // CI_COMMIT_TAG, else the jar's Implementation-Version, else CI_COMMIT_REF_NAME
  std::string pipeline;  // CI_PIPELINE_URL
  std::string job;       // CI_JOB_URL
  std::string project;   // CI_PROJECT_PATH ("shop/orders")
  std::string ref;       // CI_COMMIT_REF_NAME (branch or tag)
};

// Everything decided before anything is uploaded.
struct PushPlan {
  jar::JarInfo jar;
  jar::LayerPlan layers;
  std::string jar_name;  // "orders.jar"
  std::string app;
  PushTarget target;
  std::vector<std::string> tags;  // at least one
  BaseSource base;
  image::ImageOptions image;
  Provenance provenance;
  std::vector<std::string> warnings;  // for the user: Class-Path entries missing, an empty base, ...
  std::vector<std::string> notes;     // informational: "no registry configured: writing oci:..."
};

// Reads the jar and decides target, tags, app name, base image, labels and image options.
// Precedence: flags > environment (SOURCE_DATE_EPOCH, CI_*) > wb.yaml (app name, port) > profile.
// Errors, all before anything is uploaded: NotFound (no such jar), Usage (not a jar, no
// Main-Class, a Java version no base image offers, no base image configured for a registry
// target, malformed flags).
Result<PushPlan> plan_push(const PushRequest& request, const Settings& settings, const PushEnvironment& env);

// Registry client options from the settings: registry.ca for TLS, registry.insecure for the
// target's registry (and registry.host), credentials: WB_REGISTRY_USER/WB_REGISTRY_PASSWORD when
// set (for registry.host, or every registry when none is configured), then podman's and
// docker's auth files.
oci::RegistryOptions registry_options(const Settings& settings, const PushTarget& target, const EnvLookup& env,
                                      http::ClientOptions http);

// The layer cache file: $XDG_CACHE_HOME/wb/layers.json, else ~/.cache/wb/layers.json; "" if neither.
std::filesystem::path layer_cache_file(const EnvLookup& env);

// Layers uploaded at once unless the user says otherwise (--parallel).
inline constexpr int kPushParallel = 3;

struct PushRun {
  // Makes the one client for registry targets and bases (called at most once, only when needed;
  // empty: a client with default options).
  std::function<std::unique_ptr<oci::Registry>()> make_registry;
  std::filesystem::path cache_file;
  int parallel = kPushParallel;
  image::PushObserver* observer = nullptr;
};

// Pushes the plan's image to its target: a registry; an OCI layout directory (created when
// missing); or a tar (an oci-archive, written from a temporary layout beside it). The base comes
// from a registry, a layout, or is synthesised (scratch: linux/amd64, no layers).
Result<image::PushResult> push_plan(const PushPlan& plan, const PushRun& run);

// What to hand on: "registry/repo@sha256:..." for a registry; "oci:DIR:TAG" or
// "oci-archive:FILE:TAG" (skopeo's spelling) for local targets.
std::string pushed_reference(const PushPlan& plan, const image::PushResult& result);

// The change cause: "push orders.jar 1.2.0 (commit abc12345, https://ci/pipelines/9)".
std::string push_change_cause(const PushPlan& plan);

// Sets the app's container image in a Deployment, with the jar's name (wb.dev/jar, on the
// Deployment and its pod template) and the version label (app.kubernetes.io/version, when it is
// a valid label value). False when the app already runs `image` (nothing to change).
// Failure when the Deployment has no container for the app.
Result<bool> set_app_image(json& deployment, const std::string& app, const std::string& image,
                           const std::string& jar_name, const std::string& version);

struct DeployResult {
  json deployment;       // as written (or as read, when nothing changed)
  bool changed = false;  // false: the app already ran this image
  bool stopped = false;  // 0 replicas: it keeps the new image and stays stopped
};
// Points the app's Deployment at `image` and records who/why (read-modify-write, retried on
// conflicts). NotFound when the app does not exist.
Result<DeployResult> deploy_image(kube::Client& client, const std::string& ns, const std::string& app,
                                  const std::string& image, const PushPlan& plan, const ChangeInfo& change);

}  // namespace wb::workbench
