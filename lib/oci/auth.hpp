// Registry credentials: explicit ones, podman's auth.json, docker's config.json (auths,
// credHelpers, credsStore) and docker-credential-* helpers. Nothing here reads the process
// environment directly: the caller hands in a lookup function.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "util/process.hpp"
#include "util/result.hpp"

namespace wb::oci {

using util::Result;

struct Credentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token (docker config "identitytoken"); used with the token service
  // instead of the password.
  std::string identity_token;
  // Where they came from, for messages: "WB_REGISTRY_USER", "/root/.docker/config.json",
  // "docker-credential-pass", ... ("" when anonymous).
  std::string source;

  bool anonymous() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// Environment lookup (name -> value); nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

struct CredentialSources {
  // Explicit credentials (the profile, or WB_REGISTRY_USER/WB_REGISTRY_PASSWORD); they win when
  // `username` is set. They apply to `explicit_registry` only, or to every registry when it is "".
  std::string username;
  std::string password;
  std::string explicit_registry;
  // Reads REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, DOCKER_CONFIG, HOME and PATH (for helpers).
  EnvLookup getenv;
  // Runs credential helpers; the system's when null.
  std::shared_ptr<util::ProcessRunner> processes;
};

// The credentials for `registry` ("127.0.0.1:5000", "docker.io", "harbor.example.com"), and
// optionally the repository (podman allows per-repository entries "host/ns/repo").
// Order: explicit; $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json; then
// $DOCKER_CONFIG/config.json or ~/.docker/config.json (credHelpers[host], auths[host],
// credsStore). Anonymous (empty Credentials) when nothing matches or a helper says
// "credentials not found". Errors: unreadable/invalid config files, failing helpers.
Result<Credentials> find_credentials(const std::string& registry, const std::string& repository,
                                     const CredentialSources& sources);

// Runs `docker-credential-<helper> get` with `server_url` on stdin (helper found on `path`, a
// PATH-style list), through `processes` (the system's when null); it has 60 seconds. Anonymous
// when the helper reports "credentials not found".
Result<Credentials> run_credential_helper(const std::string& helper, const std::string& server_url,
                                          const std::string& path,
                                          std::shared_ptr<util::ProcessRunner> processes = nullptr);

// The key/server URL docker uses for a registry ("https://index.docker.io/v1/" for docker.io,
// else the host itself).
std::string docker_config_key(const std::string& registry);
// Normalises a key of `auths` ("https://host/v1/", "http://host", "host/path") to its host[/path].
std::string normalize_auth_key(const std::string& key);

}  // namespace wb::oci
