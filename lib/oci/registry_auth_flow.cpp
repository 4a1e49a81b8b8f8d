// How the registry client reaches a registry: the host (https, or plain HTTP for insecure and
// loopback registries), credentials, the Basic or Bearer-token challenge and its tokens, and the
// errors a registry's answers become.
#include <algorithm>
#include <set>

#include "oci/registry_internal.hpp"
#include "util/encoding.hpp"
#include "util/strings.hpp"

namespace wb::oci::detail {

namespace {

// "repository:shop/orders:pull,push" -> ("repository:shop/orders", {pull, push}).
std::pair<std::string, std::set<std::string>> split_scope(const std::string& scope) {
  size_t colon = scope.rfind(':');
  if (colon == std::string::npos) return {scope, {}};
  std::set<std::string> actions;
  for (const std::string& a : util::split(scope.substr(colon + 1), ','))
    if (!a.empty()) actions.insert(a);
  return {scope.substr(0, colon), actions};
}

bool covers(const std::vector<std::string>& have, const std::vector<std::string>& need) {
  for (const std::string& n : need) {
    auto [res, acts] = split_scope(n);
    bool found = false;
    for (const std::string& h : have) {
      auto [hres, hacts] = split_scope(h);
      if (hres == res && std::includes(hacts.begin(), hacts.end(), acts.begin(), acts.end())) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

Result<Host*> Client::host(const std::string& registry) {
  Host* h;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = hosts_[registry];
    if (!slot) slot = std::make_unique<Host>();
    h = slot.get();
  }
  std::lock_guard<std::mutex> lock(h->mu);
  if (h->ready) return h;
  const std::string api = registry_api_host(registry);
  const bool insecure = std::any_of(options_.insecure_registries.begin(), options_.insecure_registries.end(),
                                    [&](const std::string& r) { return r == "*" || r == registry || r == api; });
  http::ClientOptions opts = options_.http;
  if (insecure) opts.tls.insecure = true;
  if (!h->transport) h->transport = options_.transport_factory(opts);

  http::Request ping;
  ping.url = "https://" + api + "/v2/";
  auto r = h->transport->send(ping);
  if (!r && (insecure || is_loopback_registry(registry)) && r.error().code == ErrorCode::Unavailable) {
    http::Request plain;
    plain.url = "http://" + api + "/v2/";
    auto r2 = h->transport->send(plain);
    if (r2) r = std::move(r2);
  }
  if (!r) {
    Error e = r.error().with_context("cannot reach registry " + registry);
    return e;
  }
  if (transient_status(r->status))
    return Error(
        ErrorCode::Unavailable,
        "registry " + registry + " answered " + std::to_string(r->status) + " to /v2/" + summary_suffix(r->body), "",
        r->status);
  const std::string& url = r->effective_url.empty() ? ping.url : r->effective_url;
  h->base = url.substr(0, url.find("/v2/"));
  if (h->base.empty() || h->base.find("://") == std::string::npos) h->base = "https://" + api;
  if (r->status == 401) h->challenge = pick_challenge(r->headers);
  h->ready = true;
  return h;
}

std::optional<AuthChallenge> Client::pick_challenge(const http::Headers& headers) {
  std::optional<AuthChallenge> basic;
  for (const std::string& v : headers.get_all("www-authenticate")) {
    for (AuthChallenge& c : parse_www_authenticate(v)) {
      if (c.scheme == "bearer") return c;
      if (c.scheme == "basic" && !basic) basic = c;
    }
  }
  return basic;
}

Result<Credentials> Client::credentials(const Reference& ref) {
  if (!options_.credentials) return Credentials{};
  const std::string key = ref.registry + "/" + ref.repository;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = creds_.find(key); it != creds_.end()) return it->second;
  }
  WB_ASSIGN_OR_RETURN(Credentials c, options_.credentials(ref.registry, ref.repository));
  std::lock_guard<std::mutex> lock(mu_);
  creds_[key] = c;
  return c;
}

// Adds the Authorization header the host wants (none, Basic, or a Bearer token for `scopes`).
Status Client::authorize(Host& h, const Reference& ref, const std::vector<std::string>& scopes, bool fresh,
                         http::Headers& headers) {
  std::lock_guard<std::mutex> lock(h.mu);
  if (!h.challenge) return {};
  WB_ASSIGN_OR_RETURN(Credentials creds, credentials(ref));
  if (h.challenge->scheme == "basic") {
    if (!creds.anonymous())
      headers.set("Authorization", "Basic " + util::base64_encode(creds.username + ":" + creds.password));
    return {};
  }
  const auto now = Clock::now();
  if (!fresh) {
    for (const CachedToken& t : h.tokens) {
      if (t.expires > now && covers(t.scopes, scopes)) {
        headers.set("Authorization", "Bearer " + t.token);
        return {};
      }
    }
  }
  WB_ASSIGN_OR_RETURN(CachedToken token, fetch_token(h, ref, creds, scopes));
  headers.set("Authorization", "Bearer " + token.token);
  h.tokens.erase(std::remove_if(h.tokens.begin(), h.tokens.end(),
                                [&](const CachedToken& t) { return t.expires <= now || t.scopes == scopes; }),
                 h.tokens.end());
  h.tokens.push_back(std::move(token));
  return {};
}

// The token flow (docker token auth / OAuth2 refresh token). Called with h.mu held.
Result<CachedToken> Client::fetch_token(Host& h, const Reference& ref, const Credentials& creds,
                                        const std::vector<std::string>& scopes) {
  const auto& params = h.challenge->params;
  auto realm_it = params.find("realm");
  if (realm_it == params.end() || realm_it->second.empty())
    return Error(ErrorCode::Auth, "registry " + ref.registry + " asks for a token but names no token service");
  const std::string realm = realm_it->second;
  const std::string service = params.count("service") ? params.at("service") : "";
  http::Request req;
  req.url = realm;
  if (!creds.identity_token.empty()) {
    req.method = "POST";
    req.idempotent = true;
    req.headers.add("Content-Type", "application/x-www-form-urlencoded");
    std::string form = "grant_type=refresh_token&client_id=wb&refresh_token=" + util::url_encode(creds.identity_token);
    if (!service.empty()) form += "&service=" + util::url_encode(service);
    if (!scopes.empty()) form += "&scope=" + util::url_encode(util::join(scopes, " "));
    req.body = form;
  } else {
    if (!service.empty()) req.url = append_query(req.url, "service", service);
    for (const std::string& s : scopes) req.url = append_query(req.url, "scope", s);
    if (!creds.anonymous())
      req.headers.add("Authorization", "Basic " + util::base64_encode(creds.username + ":" + creds.password));
  }
  req.max_body = kMaxTokenBytes;
  auto r = h.transport->send(req);
  if (!r && is_too_large(r.error()))
    return Error(ErrorCode::Failure, "token service " + realm + " sent a token answer larger than " +
                                         http::size_words(kMaxTokenBytes) + " for " + ref.registry);
  if (!r) return r.error().with_context("cannot get a token for " + ref.registry + " from " + realm);
  const std::string action = scopes.empty() ? "pull" : join_actions(scopes.front());
  if (r->status == 401 || r->status == 403) return auth_error(*r, ref, action, creds);
  if (r->status != 200)
    return Error(transient_status(r->status) ? ErrorCode::Unavailable : ErrorCode::Failure,
                 "token service " + realm + " answered " + std::to_string(r->status) + summary_suffix(r->body), "",
                 r->status);
  json j = json::parse(r->body, nullptr, false);
  CachedToken t;
  t.scopes = scopes;
  if (j.is_object()) {
    if (j.contains("token") && j["token"].is_string()) t.token = j["token"].get<std::string>();
    if (t.token.empty() && j.contains("access_token") && j["access_token"].is_string())
      t.token = j["access_token"].get<std::string>();
  }
  if (t.token.empty()) return Error(ErrorCode::Auth, "token service " + realm + " answered without a token");
  auto lifetime = std::chrono::seconds(kDefaultTokenLifetime);
  if (j.contains("expires_in") && j["expires_in"].is_number_integer() && j["expires_in"].get<int64_t>() > 0)
    lifetime = std::chrono::seconds(j["expires_in"].get<int64_t>());
  // Renew a little early so a token does not expire in flight.
  t.expires = Clock::now() + lifetime - std::min<std::chrono::seconds>(lifetime / 10, std::chrono::seconds(30));
  return t;
}

std::string Client::join_actions(const std::string& scope) {
  auto [res, acts] = split_scope(scope);
  return acts.count("push") ? "push" : acts.count("delete") ? "delete" : "pull";
}

// Sends a request to the registry of `ref`, with auth; answers 401 once by learning the
// challenge and (re)authorizing. `req.url` may be a path ("/v2/...").
Result<http::Response> Client::call(const Reference& ref, http::Request req, std::vector<std::string> scopes) {
  WB_ASSIGN_OR_RETURN(Host * h, host(ref.registry));
  if (!req.url.empty() && req.url.front() == '/') req.url = h->base + req.url;
  for (int attempt = 0;; ++attempt) {
    WB_TRY(authorize(*h, ref, scopes, attempt > 0, req.headers));
    auto r = h->transport->send(req);
    if (!r || r->status != 401 || attempt > 0) return r;
    std::optional<AuthChallenge> challenge = pick_challenge(r->headers);
    if (!challenge) return r;
    {
      std::lock_guard<std::mutex> lock(h->mu);
      const bool was_basic = h->challenge && h->challenge->scheme == "basic";
      h->challenge = challenge;
      if (challenge->scheme == "basic" && was_basic) return r;  // the credentials were refused
      if (challenge->scheme == "bearer") {
        if (auto it = challenge->params.find("scope"); it != challenge->params.end())
          for (const std::string& s : util::split(it->second, ' '))
            if (!s.empty() && std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);
      }
    }
    if (req.body_reader && !(req.rewind && req.rewind())) return r;
  }
}

std::string Client::summary_suffix(const std::string& body) {
  std::string s = summarize_registry_errors(body);
  return s.empty() ? "" : ": " + s;
}

Error Client::auth_error(const http::Response& r, const Reference& ref, const std::string& action,
                         const Credentials& creds) {
  const std::string hint = "log in with `podman login " + ref.registry + "` or `docker login " + ref.registry +
                           "`, or set WB_REGISTRY_USER/WB_REGISTRY_PASSWORD";
  std::string msg;
  if (r.status == 403 && !creds.anonymous())
    msg = "registry " + ref.registry + " denied " + action + " access to " + ref.repository +
          (creds.username.empty() ? "" : " for user '" + creds.username + "'");
  else if (creds.anonymous())
    msg = "registry " + ref.registry + " requires you to log in to " + action + " " + ref.repository;
  else
    msg = "registry " + ref.registry + " refused your credentials for " + ref.repository + " (" + action + ")";
  if (!creds.source.empty() && !creds.anonymous()) msg += " [credentials from " + creds.source + "]";
  return Error(ErrorCode::Auth, msg + summary_suffix(r.body), hint, r.status);
}

Error Client::error_for(const http::Response& r, const Reference& ref, const std::string& action,
                        const std::string& what) {
  const std::string summary = summary_suffix(r.body);
  if (r.status == 401 || r.status == 403) {
    auto creds = credentials(ref);
    return auth_error(r, ref, action, creds ? *creds : Credentials{});
  }
  if (r.status == 404) {
    std::string msg = what + " not found in registry " + ref.registry;
    return Error(ErrorCode::NotFound, msg + summary, "", 404);
  }
  if (r.status == 429)
    return Error(ErrorCode::Unavailable,
                 "registry " + ref.registry + " answered 429 (too many requests) for " + what + summary,
                 "the registry limits how often it may be asked: wait a while, then run the command again", 429);
  if (transient_status(r.status))
    return Error(ErrorCode::Unavailable,
                 "registry " + ref.registry + " answered " + std::to_string(r.status) + " for " + what + summary,
                 r.status == 503 ? "the registry is unavailable for now: try again later" : "", r.status);
  return Error(ErrorCode::Failure,
               "registry " + ref.registry + " answered " + std::to_string(r.status) + " for " + what + summary, "",
               r.status);
}

}  // namespace wb::oci::detail
