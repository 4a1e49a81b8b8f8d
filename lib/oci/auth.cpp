// Registry credentials from explicit settings, podman/docker auth files and credential helpers.
#include "oci/auth.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/encoding.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace wb::oci {

namespace {

using json = nlohmann::json;
using util::Error;
using util::ErrorCode;

constexpr auto kHelperTimeout = std::chrono::seconds(60);

std::string canonical_host(std::string host) {
  host = util::to_lower(host);
  if (host == "index.docker.io" || host == "registry-1.docker.io") return "docker.io";
  return host;
}

std::optional<std::string> env(const CredentialSources& s, const std::string& name) {
  if (!s.getenv) return std::nullopt;
  auto v = s.getenv(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

// Credentials from one `auths` entry: base64 "auth" (user:password, split at the first ':'),
// or "username"/"password" fields, or "identitytoken".
Result<Credentials> from_auth_entry(const json& entry, const std::string& file, const std::string& key) {
  Credentials c;
  c.source = file;
  if (!entry.is_object()) return c;
  if (auto a = entry.find("auth"); a != entry.end() && a->is_string() && !a->get<std::string>().empty()) {
    auto decoded = util::base64_decode(a->get<std::string>());
    if (!decoded)
      return Error(ErrorCode::Usage, "the \"auth\" value for '" + key + "' in " + file + " is not valid base64");
    size_t colon = decoded->find(':');
    if (colon == std::string::npos)
      return Error(ErrorCode::Usage, "the \"auth\" value for '" + key + "' in " + file +
                                         " does not decode to user:password");
    c.username = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
  } else {
    if (auto u = entry.find("username"); u != entry.end() && u->is_string()) c.username = u->get<std::string>();
    if (auto p = entry.find("password"); p != entry.end() && p->is_string()) c.password = p->get<std::string>();
  }
  if (auto t = entry.find("identitytoken"); t != entry.end() && t->is_string())
    c.identity_token = t->get<std::string>();
  return c;
}

// Host part of a normalised key.
std::string key_host(const std::string& normalized) { return normalized.substr(0, normalized.find('/')); }

// The `auths` key that best matches registry/repository: the host itself, or the longest
// "host/ns[/repo]" prefix of host/repository.
const json* best_auth_entry(const json& auths, const std::string& registry, const std::string& repository,
                            std::string* matched_key) {
  if (!auths.is_object()) return nullptr;
  const std::string host = canonical_host(registry);
  const std::string full = repository.empty() ? host : host + "/" + repository;
  const json* best = nullptr;
  size_t best_len = 0;
  for (auto it = auths.begin(); it != auths.end(); ++it) {
    std::string norm = normalize_auth_key(it.key());
    if (norm.empty()) continue;
    std::string kh = key_host(norm);
    std::string candidate = canonical_host(kh) + norm.substr(kh.size());
    bool match = candidate == host ||
                 (candidate.size() <= full.size() && full.compare(0, candidate.size(), candidate) == 0 &&
                  (full.size() == candidate.size() || full[candidate.size()] == '/'));
    if (match && (best == nullptr || candidate.size() > best_len)) {
      best = &it.value();
      best_len = candidate.size();
      *matched_key = it.key();
    }
  }
  return best;
}

// The credHelpers entry for the host, if any.
std::string helper_for(const json& config, const std::string& registry) {
  auto helpers = config.find("credHelpers");
  if (helpers == config.end() || !helpers->is_object()) return "";
  const std::string host = canonical_host(registry);
  for (auto it = helpers->begin(); it != helpers->end(); ++it)
    if (canonical_host(key_host(normalize_auth_key(it.key()))) == host && it.value().is_string())
      return it.value().get<std::string>();
  return "";
}

// Looks in one auth file. nullopt: the file has nothing for this registry.
Result<std::optional<Credentials>> from_file(const std::filesystem::path& path, const std::string& registry,
                                             const std::string& repository, const CredentialSources& sources) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Credentials>();
  WB_ASSIGN_OR_RETURN(std::string text, util::read_file(path));
  json config = json::parse(text, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    return Error(ErrorCode::Usage, path.string() + " is not valid JSON", "fix or remove the file");
  const std::string helper_path = env(sources, "PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  if (std::string helper = helper_for(config, registry); !helper.empty()) {
    WB_ASSIGN_OR_RETURN(Credentials c, run_credential_helper(helper, docker_config_key(registry), helper_path, sources.processes));
    return std::optional<Credentials>(c);
  }
  std::string key;
  if (auto auths = config.find("auths"); auths != config.end()) {
    if (const json* entry = best_auth_entry(*auths, registry, repository, &key)) {
      WB_ASSIGN_OR_RETURN(Credentials c, from_auth_entry(*entry, path.string(), key));
      if (!c.anonymous()) return std::optional<Credentials>(c);
    }
  }
  if (auto store = config.find("credsStore"); store != config.end() && store->is_string() &&
                                              !store->get<std::string>().empty()) {
    WB_ASSIGN_OR_RETURN(Credentials c,
                        run_credential_helper(store->get<std::string>(), docker_config_key(registry), helper_path,
                                              sources.processes));
    if (!c.anonymous()) return std::optional<Credentials>(c);
  }
  return std::optional<Credentials>();
}

bool valid_helper_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

std::string find_on_path(const std::string& program, const std::string& path) {
  for (const std::string& dir : util::split(path, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

std::string normalize_auth_key(const std::string& key) {
  std::string k = util::trim(key);
  bool had_scheme = false;
  for (const char* scheme : {"https://", "http://"}) {
    if (k.rfind(scheme, 0) == 0) {
      k.erase(0, std::strlen(scheme));
      had_scheme = true;
    }
  }
  // "https://host/v1/" style keys name a host; bare "host/ns/repo" keys (podman) a repository.
  if (had_scheme) k = k.substr(0, k.find('/'));
  while (!k.empty() && k.back() == '/') k.pop_back();
  return k;
}

std::string docker_config_key(const std::string& registry) {
  if (canonical_host(registry) == "docker.io") return "https://index.docker.io/v1/";
  return registry;
}

Result<Credentials> run_credential_helper(const std::string& helper, const std::string& server_url,
                                          const std::string& path, std::shared_ptr<util::ProcessRunner> processes) {
  if (!processes) processes = util::system_process_runner();
  const std::string program = "docker-credential-" + helper;
  if (!valid_helper_name(helper))
    return Error(ErrorCode::Usage, "credential helper name '" + helper + "' is not valid");
  std::string exe = find_on_path(program, path);
  if (exe.empty())
    return Error(ErrorCode::Auth, "credential helper " + program + " is not installed (not found on PATH)",
                 "install it, or remove it from your docker/podman configuration");
  // The helper gets the server on stdin; it prints its errors on stdout or stderr.
  util::ProcessSpec spec;
  spec.argv = {exe, "get"};
  spec.stdin_from = util::ProcessInput::Data;
  spec.input = server_url + "\n";
  spec.stderr_to = util::ProcessOutput::ToStdout;
  spec.timeout = kHelperTimeout;
  const util::ProcessResult ex = processes->run(spec);
  if (!ex.started()) return Error(ErrorCode::Auth, "cannot run " + exe + ": " + std::strerror(ex.start_error));
  if (ex.timed_out) return Error(ErrorCode::Timeout, program + " did not answer within 60 seconds");
  const std::string out = util::trim(ex.out);
  if (!ex.succeeded()) {
    if (util::to_lower(out).find("credentials not found") != std::string::npos) return Credentials{};
    std::string line = out.substr(0, out.find('\n'));
    return Error(ErrorCode::Auth, program + " failed for " + server_url + (line.empty() ? "" : ": " + line));
  }
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error(ErrorCode::Auth, program + " answered something that is not JSON");
  Credentials c;
  c.source = program;
  if (auto u = j.find("Username"); u != j.end() && u->is_string()) c.username = u->get<std::string>();
  if (auto s = j.find("Secret"); s != j.end() && s->is_string()) c.password = s->get<std::string>();
  if (c.username == "<token>") {  // an identity token, by the helper protocol
    c.identity_token = c.password;
    c.username.clear();
    c.password.clear();
  }
  return c;
}

Result<Credentials> find_credentials(const std::string& registry, const std::string& repository,
                                     const CredentialSources& sources) {
  if (!sources.username.empty() &&
      (sources.explicit_registry.empty() || canonical_host(sources.explicit_registry) == canonical_host(registry))) {
    Credentials c;
    c.username = sources.username;
    c.password = sources.password;
    c.source = "WB_REGISTRY_USER";
    return c;
  }
  std::vector<std::filesystem::path> files;
  if (auto f = env(sources, "REGISTRY_AUTH_FILE")) files.emplace_back(*f);
  else if (auto x = env(sources, "XDG_RUNTIME_DIR")) files.push_back(std::filesystem::path(*x) / "containers/auth.json");
  if (auto d = env(sources, "DOCKER_CONFIG")) files.push_back(std::filesystem::path(*d) / "config.json");
  else if (auto h = env(sources, "HOME")) files.push_back(std::filesystem::path(*h) / ".docker/config.json");
  for (const auto& file : files) {
    WB_ASSIGN_OR_RETURN(std::optional<Credentials> c, from_file(file, registry, repository, sources));
    if (c) return *c;
  }
  return Credentials{};
}

}  // namespace wb::oci
