#include "kube/kubeconfig.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>

#include "util/encoding.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace wb::kube {

namespace fs = std::filesystem;
using util::Error;
using util::ErrorCode;

namespace {

std::string quote_list(const std::vector<std::string>& names) {
  return names.empty() ? std::string("none") : util::join(names, ", ");
}

template <class Map>
std::vector<std::string> keys_of(const Map& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

std::string mark_prefix(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// Throws a YAML exception that carries the node's position, so one catch turns it into
// "file:line:col: message".
[[noreturn]] void fail_at(const YAML::Node& node, const std::string& message) {
  throw YAML::Exception(node.Mark(), message);
}

std::string scalar(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  if (!n || n.IsNull()) return {};
  if (!n.IsScalar()) fail_at(n, std::string("'") + key + "' must be a string");
  return n.Scalar();
}

bool boolean(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  if (!n || n.IsNull()) return false;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
    fail_at(n, std::string("'") + key + "' must be true or false");
  return v;
}

std::string resolve_path(const std::string& value, const fs::path& dir) {
  if (value.empty()) return value;
  fs::path p(value);
  if (value.rfind("~/", 0) == 0) return util::expand_home(value).string();
  if (p.is_absolute()) return value;
  return (dir / p).lexically_normal().string();
}

std::string decode_data(const YAML::Node& map, const char* key, const std::string& what) {
  std::string text = scalar(map, key);
  if (text.empty()) return {};
  auto decoded = util::base64_decode(text);
  if (!decoded) fail_at(map[key], what + ": '" + key + "' is not valid base64");
  return *decoded;
}

// Each entry of a named list ("clusters", "users", "contexts") as (name, body node).
template <class F>
void each_named(const YAML::Node& root, const char* list, const char* body_key, F&& f) {
  YAML::Node seq = root[list];
  if (!seq || seq.IsNull()) return;
  if (!seq.IsSequence()) fail_at(seq, std::string("'") + list + "' must be a list");
  for (const auto& item : seq) {
    if (!item.IsMap()) fail_at(item, std::string("each entry of '") + list + "' must be a map with 'name'");
    std::string name = scalar(item, "name");
    if (name.empty()) fail_at(item, std::string("an entry of '") + list + "' has no name");
    YAML::Node body = item[body_key];
    if (body && !body.IsNull() && !body.IsMap()) fail_at(body, std::string("'") + body_key + "' must be a map");
    f(name, body ? body : YAML::Node(YAML::NodeType::Map));
  }
}

struct ParsedFile {
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, UserEntry> users;
  std::map<std::string, ContextEntry> contexts;
  std::vector<std::string> order_clusters, order_users, order_contexts;
  std::string current_context;
};

ParsedFile parse_root(const YAML::Node& root, const fs::path& dir) {
  ParsedFile out;
  if (!root || root.IsNull()) return out;
  if (!root.IsMap()) fail_at(root, "a kubeconfig must be a map (apiVersion, clusters, users, contexts)");
  out.current_context = scalar(root, "current-context");

  each_named(root, "clusters", "cluster", [&](const std::string& name, const YAML::Node& c) {
    if (out.clusters.count(name)) return;
    ClusterEntry e;
    std::string what = "cluster '" + name + "'";
    e.server = scalar(c, "server");
    e.certificate_authority = resolve_path(scalar(c, "certificate-authority"), dir);
    e.certificate_authority_data = decode_data(c, "certificate-authority-data", what);
    e.insecure_skip_tls_verify = boolean(c, "insecure-skip-tls-verify");
    e.tls_server_name = scalar(c, "tls-server-name");
    e.proxy_url = scalar(c, "proxy-url");
    out.clusters.emplace(name, std::move(e));
  });

  each_named(root, "users", "user", [&](const std::string& name, const YAML::Node& u) {
    if (out.users.count(name)) return;
    UserEntry e;
    std::string what = "user '" + name + "'";
    e.token = scalar(u, "token");
    e.token_file = resolve_path(scalar(u, "tokenFile"), dir);
    e.client_certificate = resolve_path(scalar(u, "client-certificate"), dir);
    e.client_certificate_data = decode_data(u, "client-certificate-data", what);
    e.client_key = resolve_path(scalar(u, "client-key"), dir);
    e.client_key_data = decode_data(u, "client-key-data", what);
    e.username = scalar(u, "username");
    e.password = scalar(u, "password");
    if (YAML::Node ap = u["auth-provider"]; ap && !ap.IsNull()) {
      e.has_auth_provider = true;
      if (ap.IsMap()) e.auth_provider_name = scalar(ap, "name");
    }
    if (YAML::Node ex = u["exec"]; ex && !ex.IsNull()) {
      if (!ex.IsMap()) fail_at(ex, "'exec' must be a map");
      ExecConfig x;
      x.api_version = scalar(ex, "apiVersion");
      x.command = scalar(ex, "command");
      if (x.command.find('/') != std::string::npos) x.command = resolve_path(x.command, dir);
      if (YAML::Node args = ex["args"]; args && !args.IsNull()) {
        if (!args.IsSequence()) fail_at(args, "'args' must be a list of strings");
        for (const auto& a : args) {
          if (!a.IsScalar()) fail_at(a, "'args' must be a list of strings");
          x.args.push_back(a.Scalar());
        }
      }
      if (YAML::Node env = ex["env"]; env && !env.IsNull()) {
        if (!env.IsSequence()) fail_at(env, "'env' must be a list of {name, value}");
        for (const auto& v : env) {
          if (!v.IsMap()) fail_at(v, "'env' must be a list of {name, value}");
          x.env.emplace_back(scalar(v, "name"), scalar(v, "value"));
        }
      }
      x.interactive_mode = scalar(ex, "interactiveMode");
      x.provide_cluster_info = boolean(ex, "provideClusterInfo");
      x.install_hint = scalar(ex, "installHint");
      e.exec = std::move(x);
    }
    out.users.emplace(name, std::move(e));
  });

  each_named(root, "contexts", "context", [&](const std::string& name, const YAML::Node& c) {
    if (out.contexts.count(name)) return;
    ContextEntry e;
    e.cluster = scalar(c, "cluster");
    e.user = scalar(c, "user");
    e.namespace_ = scalar(c, "namespace");
    out.contexts.emplace(name, std::move(e));
  });
  return out;
}

Result<YAML::Node> load_yaml(const std::string& file, const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, mark_prefix(file, e.mark) + ": " + e.msg);
  }
}

Result<ParsedFile> parse_file(const fs::path& path) {
  WB_ASSIGN_OR_RETURN(std::string text, util::read_file(path));
  std::string file = path.string();
  WB_ASSIGN_OR_RETURN(YAML::Node root, load_yaml(file, text));
  try {
    return parse_root(root, path.parent_path());
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::Usage, mark_prefix(file, e.mark) + ": " + e.msg);
  }
}

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

fs::path default_path(const std::string& home) { return fs::path(home) / ".kube" / "config"; }

}  // namespace

Result<Kubeconfig> load_kubeconfig(const LoadOptions& options) {
  std::vector<fs::path> candidates;
  bool skip_missing = true;
  if (!options.explicit_path.empty()) {
    fs::path p = options.explicit_path.rfind("~/", 0) == 0 ? util::expand_home(options.explicit_path)
                                                           : fs::path(options.explicit_path);
    if (!file_exists(p))
      return Error(ErrorCode::NotFound, "kubeconfig file " + p.string() + " does not exist",
                   "check the --kubeconfig path");
    candidates.push_back(p);
    skip_missing = false;
  } else if (options.kubeconfig_env && !util::trim(*options.kubeconfig_env).empty()) {
    for (const auto& part : util::split(*options.kubeconfig_env, ':')) {
      std::string t = util::trim(part);
      if (t.empty()) continue;
      fs::path p(t);
      if (std::find(candidates.begin(), candidates.end(), p) == candidates.end()) candidates.push_back(p);
    }
  } else if (!options.home.empty()) {
    candidates.push_back(default_path(options.home));
  }

  Kubeconfig out;
  fs::path current_context_file;
  for (const auto& p : candidates) {
    if (skip_missing && !file_exists(p)) continue;
    WB_ASSIGN_OR_RETURN(ParsedFile parsed, parse_file(p));
    out.files.push_back(p);
    for (auto& [k, v] : parsed.clusters) out.clusters.emplace(k, std::move(v));
    for (auto& [k, v] : parsed.users) out.users.emplace(k, std::move(v));
    for (auto& [k, v] : parsed.contexts) out.contexts.emplace(k, std::move(v));
    if (out.current_context.empty() && !parsed.current_context.empty()) {
      out.current_context = parsed.current_context;
      current_context_file = p;
    }
  }
  // Where kubectl writes current-context: the file that sets it, else the first existing file,
  // else the first candidate.
  if (!current_context_file.empty())
    out.first_file = current_context_file;
  else if (!out.files.empty())
    out.first_file = out.files.front();
  else if (!candidates.empty())
    out.first_file = candidates.front();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resolving a context

namespace {

bool stdin_tty_default() { return ::isatty(0) == 1; }

Status require_file(const std::string& path, const std::string& what) {
  if (path.empty() || file_exists(path)) return {};
  return Error(ErrorCode::NotFound, what + " file " + path + " does not exist");
}

// The context to use: the one asked for, else the current one.
Result<std::pair<std::string, const ContextEntry*>> find_context(const Kubeconfig& config,
                                                                 const ResolveOptions& options) {
  std::string name = options.context.empty() ? config.current_context : options.context;
  std::vector<std::string> known = keys_of(config.contexts);
  if (name.empty()) {
    if (known.empty())
      return Error(ErrorCode::Usage, "the kubeconfig defines no contexts",
                   "ask your cluster administrator for a kubeconfig, or set KUBECONFIG");
    return Error(ErrorCode::Usage,
                 "no current context in kubeconfig; pass --context (known: " + quote_list(known) + ")");
  }
  auto ctx_it = config.contexts.find(name);
  if (ctx_it == config.contexts.end()) {
    std::string close = util::closest_match(name, known);
    return Error(ErrorCode::NotFound,
                 "context '" + name + "' not found in kubeconfig (known: " + quote_list(known) + ")",
                 close.empty() ? std::string() : "did you mean '" + close + "'?");
  }
  return std::make_pair(name, &ctx_it->second);
}

Result<const ClusterEntry*> find_cluster(const Kubeconfig& config, const std::string& context_name,
                                         const ContextEntry& ctx) {
  if (ctx.cluster.empty())
    return Error(ErrorCode::Usage, "context '" + context_name + "' in kubeconfig names no cluster");
  auto cl_it = config.clusters.find(ctx.cluster);
  if (cl_it == config.clusters.end())
    return Error(ErrorCode::NotFound, "cluster '" + ctx.cluster + "' (used by context '" + context_name +
                                          "') not found in kubeconfig (known: " + quote_list(keys_of(config.clusters)) +
                                          ")");
  if (cl_it->second.server.empty())
    return Error(ErrorCode::Usage, "cluster '" + ctx.cluster + "' in kubeconfig has no server URL");
  return &cl_it->second;
}

// Where the server is and how to trust it.
Result<RestConfig> cluster_config(const std::string& context_name, const ContextEntry& ctx,
                                  const ClusterEntry& cluster) {
  RestConfig rc;
  rc.server = cluster.server;
  while (!rc.server.empty() && rc.server.back() == '/') rc.server.pop_back();
  rc.namespace_ = ctx.namespace_;
  rc.context_name = context_name;
  rc.user_name = ctx.user;
  rc.proxy = cluster.proxy_url;
  rc.tls.insecure = cluster.insecure_skip_tls_verify;
  rc.tls.server_name = cluster.tls_server_name;
  if (!cluster.insecure_skip_tls_verify) {
    WB_TRY(require_file(cluster.certificate_authority, "certificate-authority (cluster '" + ctx.cluster + "')"));
    rc.tls.ca_file = cluster.certificate_authority;
    rc.tls.ca_data = cluster.certificate_authority_data;
  }
  return rc;
}

// The user's client certificate and key: data wins over a file, as in client-go; one without
// the other is a usage error.
Status add_client_certificate(const UserEntry& user, const std::string& uwhat, http::TlsOptions& tls) {
  if (!user.client_certificate_data.empty())
    tls.client_cert_data = user.client_certificate_data;
  else if (!user.client_certificate.empty()) {
    WB_TRY(require_file(user.client_certificate, "client-certificate (" + uwhat + ")"));
    tls.client_cert_file = user.client_certificate;
  }
  if (!user.client_key_data.empty())
    tls.client_key_data = user.client_key_data;
  else if (!user.client_key.empty()) {
    WB_TRY(require_file(user.client_key, "client-key (" + uwhat + ")"));
    tls.client_key_file = user.client_key;
  }
  bool has_cert = !tls.client_cert_data.empty() || !tls.client_cert_file.empty();
  bool has_key = !tls.client_key_data.empty() || !tls.client_key_file.empty();
  if (has_cert != has_key)
    return Error(ErrorCode::Usage, uwhat + " in kubeconfig has a client " + (has_cert ? "certificate" : "key") +
                                       " but no client " + (has_cert ? "key" : "certificate"));
  return {};
}

// An exec plugin's command, apiVersion and interactiveMode as client-go accepts them.
Status check_exec_plugin(const ExecConfig& x, const std::string& uwhat) {
  if (x.command.empty()) return Error(ErrorCode::Usage, "exec plugin of " + uwhat + " in kubeconfig has no command");
  if (x.api_version != "client.authentication.k8s.io/v1" && x.api_version != "client.authentication.k8s.io/v1beta1")
    return Error(ErrorCode::Usage, "exec plugin of " + uwhat + " uses apiVersion '" + x.api_version +
                                       "'; supported: client.authentication.k8s.io/v1 and v1beta1");
  if (x.api_version == "client.authentication.k8s.io/v1" && x.interactive_mode.empty())
    return Error(ErrorCode::Usage, "exec plugin of " + uwhat +
                                       " uses client.authentication.k8s.io/v1 and must set interactiveMode "
                                       "(Never, IfAvailable or Always)");
  if (!x.interactive_mode.empty() && x.interactive_mode != "Never" && x.interactive_mode != "IfAvailable" &&
      x.interactive_mode != "Always")
    return Error(ErrorCode::Usage, "exec plugin of " + uwhat + " has invalid interactiveMode '" + x.interactive_mode +
                                       "' (Never, IfAvailable or Always)");
  return {};
}

// The cluster as an exec plugin with provideClusterInfo sees it (KUBERNETES_EXEC_INFO).
nlohmann::json exec_cluster_info(const std::string& server, const ClusterEntry& cluster) {
  nlohmann::json c = {{"server", server}};
  if (!cluster.tls_server_name.empty()) c["tls-server-name"] = cluster.tls_server_name;
  if (cluster.insecure_skip_tls_verify) c["insecure-skip-tls-verify"] = true;
  std::string ca = cluster.certificate_authority_data;
  if (ca.empty() && !cluster.certificate_authority.empty()) {
    auto r = util::read_file(cluster.certificate_authority);
    if (r) ca = *r;
  }
  if (!ca.empty()) c["certificate-authority-data"] = util::base64_encode(ca);
  if (!cluster.proxy_url.empty()) c["proxy-url"] = cluster.proxy_url;
  return c;
}

// The user's credentials, in client-go's order: token, tokenFile, exec plugin, basic auth; an
// auth-provider is refused. Null for a user with none of them (a client certificate alone).
Result<std::shared_ptr<CredentialSource>> user_credentials(const UserEntry& user, const std::string& user_name,
                                                           const std::string& server, const ClusterEntry& cluster,
                                                           const ResolveOptions& options) {
  const std::string uwhat = "user '" + user_name + "'";
  if (!user.token.empty()) return static_token_source(user.token);
  if (!user.token_file.empty()) {
    WB_TRY(require_file(user.token_file, "tokenFile (" + uwhat + ")"));
    return token_file_source(user.token_file);
  }
  if (user.exec) {
    WB_TRY(check_exec_plugin(*user.exec, uwhat));
    ExecSourceOptions so;
    so.exec = *user.exec;
    so.user_name = user_name;
    so.stdin_is_tty = options.stdin_is_tty ? *options.stdin_is_tty : stdin_tty_default();
    so.runner = options.runner;
    so.now = options.now;
    if (user.exec->provide_cluster_info) so.cluster_info = exec_cluster_info(server, cluster);
    return exec_credential_source(std::move(so));
  }
  if (!user.username.empty() || !user.password.empty()) return basic_auth_source(user.username, user.password);
  if (user.has_auth_provider)
    return Error(ErrorCode::Auth,
                 "auth-provider " +
                     (user.auth_provider_name.empty() ? std::string("(unnamed)") : user.auth_provider_name) + " of " +
                     uwhat + " is not supported; use an exec credential plugin",
                 "e.g. kubelogin (oidc-login) or your cloud's CLI with `get-token`");
  return std::shared_ptr<CredentialSource>();
}

}  // namespace

Result<RestConfig> resolve_context(const Kubeconfig& config, const ResolveOptions& options) {
  WB_ASSIGN_OR_RETURN(auto context, find_context(config, options));
  const auto& [name, ctx] = context;
  WB_ASSIGN_OR_RETURN(const ClusterEntry* cluster, find_cluster(config, name, *ctx));
  WB_ASSIGN_OR_RETURN(RestConfig rc, cluster_config(name, *ctx, *cluster));
  if (ctx->user.empty()) return rc;  // anonymous
  auto u_it = config.users.find(ctx->user);
  if (u_it == config.users.end())
    return Error(ErrorCode::NotFound, "user '" + ctx->user + "' (used by context '" + name +
                                          "') not found in kubeconfig (known: " + quote_list(keys_of(config.users)) +
                                          ")");
  const UserEntry& user = u_it->second;
  WB_TRY(add_client_certificate(user, "user '" + ctx->user + "'", rc.tls));
  WB_ASSIGN_OR_RETURN(rc.credentials, user_credentials(user, ctx->user, rc.server, *cluster, options));
  return rc;
}

// ---------------------------------------------------------------------------------------------
// In-cluster

Result<RestConfig> in_cluster_config(const InClusterOptions& options) {
  if (options.service_host.empty() || options.service_port.empty())
    return Error(ErrorCode::Usage,
                 "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  std::string host = options.service_host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  fs::path token = options.sa_dir / "token";
  if (!file_exists(token))
    return Error(ErrorCode::NotFound, "in-cluster service-account token " + token.string() + " does not exist",
                 "mount a service-account token, or use a kubeconfig");
  RestConfig rc;
  rc.server = "https://" + host + ":" + options.service_port;
  rc.in_cluster = true;
  fs::path ca = options.sa_dir / "ca.crt";
  if (file_exists(ca)) rc.tls.ca_file = ca.string();
  rc.credentials = token_file_source(token);
  auto ns = util::read_file(options.sa_dir / "namespace");
  rc.namespace_ = ns ? util::trim(*ns) : std::string();
  if (rc.namespace_.empty()) rc.namespace_ = "default";
  return rc;
}

Result<RestConfig> load_rest_config(const ConnectOptions& options) {
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (options.env) return options.env(name);
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
  LoadOptions lo;
  lo.explicit_path = options.kubeconfig_flag;
  lo.kubeconfig_env = env("KUBECONFIG");
  lo.home = env("HOME").value_or("");
  WB_ASSIGN_OR_RETURN(Kubeconfig config, load_kubeconfig(lo));

  if (config.contexts.empty() && lo.explicit_path.empty()) {
    auto host = env("KUBERNETES_SERVICE_HOST");
    if (host && !host->empty()) {
      InClusterOptions ic;
      ic.service_host = *host;
      ic.service_port = env("KUBERNETES_SERVICE_PORT").value_or("443");
      if (ic.service_port.empty()) ic.service_port = "443";
      ic.sa_dir = options.sa_dir;
      return in_cluster_config(ic);
    }
    if (config.files.empty()) {
      std::string looked;
      if (lo.kubeconfig_env && !util::trim(*lo.kubeconfig_env).empty())
        looked = "KUBECONFIG=" + *lo.kubeconfig_env;
      else
        looked = "~/.kube/config";
      return Error(ErrorCode::NotFound,
                   "no kubeconfig found (looked at " + looked + "); set KUBECONFIG or pass --kubeconfig",
                   "ask your cluster administrator (or KubeSphere's user menu: Kubeconfig) for a kubeconfig file");
    }
  }
  ResolveOptions ro;
  ro.context = options.context_flag;
  ro.runner = options.runner;
  ro.now = options.now;
  ro.stdin_is_tty = options.stdin_is_tty;
  return resolve_context(config, ro);
}

}  // namespace wb::kube
