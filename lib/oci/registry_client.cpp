// The OCI distribution client (see registry_client.hpp).
#include "oci/registry_client.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "util/encoding.hpp"
#include "util/interrupt.hpp"
#include "util/numbers.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"

namespace wb::oci {

using util::Error;
using util::ErrorCode;

namespace {

constexpr const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char* kOctetStream = "application/octet-stream";
constexpr auto kDefaultTokenLifetime = std::chrono::seconds(60);

using Clock = std::chrono::steady_clock;

std::string host_without_port(const std::string& registry) {
  if (!registry.empty() && registry.front() == '[') {
    size_t close = registry.find(']');
    return registry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  return registry.substr(0, registry.find(':'));
}

std::string strip_media_params(const std::string& content_type) {
  return util::trim(content_type.substr(0, content_type.find(';')));
}

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

std::string repo_scope(const Reference& ref, const std::string& actions) {
  return "repository:" + ref.repository + ":" + actions;
}

bool transient_status(int status) { return status == 429 || status >= 500; }

bool transient(const Result<http::Response>& r) {
  if (!r) return r.error().code == ErrorCode::Unavailable || r.error().code == ErrorCode::Timeout;
  return transient_status(r->status);
}

// The registry lost or refused the upload session (e.g. distribution after a connection was
// cut mid-body: the stored size no longer matches the session state), or stored bytes that do
// not hash to the digest: the upload must start over.
bool session_lost(const Result<http::Response>& r) {
  if (!r || (r->status != 404 && r->status != 400 && r->status != 416)) return false;
  if (r->status == 416) return true;
  const std::string& b = r->body;
  return b.find("BLOB_UPLOAD_UNKNOWN") != std::string::npos || b.find("BLOB_UPLOAD_INVALID") != std::string::npos ||
         b.find("DIGEST_INVALID") != std::string::npos;
}

// Parses "0-<end>" (Range / Docker-Upload-Range headers): the number of bytes stored.
std::optional<int64_t> stored_bytes(const http::Headers& headers) {
  auto range = headers.get("range");
  if (!range) return std::nullopt;
  std::string v = util::trim(*range);
  if (v.rfind("bytes=", 0) == 0) v.erase(0, 6);
  size_t dash = v.find('-');
  if (dash == std::string::npos) return std::nullopt;
  auto start = util::parse_int<int64_t>(std::string_view(v).substr(0, dash), "");
  auto end = util::parse_int<int64_t>(std::string_view(v).substr(dash + 1), "", 0, INT64_MAX - 1);
  if (!start || !end || *start != 0) return std::nullopt;
  // "0-0" is ambiguous (nothing or one byte); assume nothing: a wrong guess costs a restart
  // (the final digest check fails), the other way round a corrupt blob.
  return *end == 0 ? 0 : *end + 1;
}

// Waits before a retry; Ctrl-C ends the wait at once.
Status pause(std::chrono::milliseconds delay) {
  if (!util::sleep_for(delay)) return Error(ErrorCode::Interrupted, "interrupted");
  return {};
}

// A blob's bytes, read once front to back per open, hashed as they pass.
class BlobStream {
 public:
  explicit BlobStream(const Registry::BlobOpener& open) : open_(open) {}

  // (Re)opens the source and skips to `offset` (hashing the skipped bytes).
  Status open_at(int64_t offset) {
    WB_ASSIGN_OR_RETURN(reader_, open_());
    hasher_ = std::make_unique<util::Sha256>();
    pos_ = 0;
    eof_ = false;
    digest_.clear();
    while (pos_ < offset) {
      WB_ASSIGN_OR_RETURN(std::string skipped, read(static_cast<size_t>(std::min<int64_t>(offset - pos_, 1 << 20))));
      if (skipped.empty())
        return Error(ErrorCode::Failure, "the blob source ended before byte " + std::to_string(offset));
    }
    return {};
  }

  // Up to `max` bytes; fewer only at the end.
  Result<std::string> read(size_t max) {
    std::string out;
    if (eof_) return out;
    out.resize(max);
    size_t got = 0;
    while (got < max) {
      WB_ASSIGN_OR_RETURN(size_t n, reader_(out.data() + got, max - got));
      if (n == 0) {
        eof_ = true;
        break;
      }
      got += std::min(n, max - got);
    }
    out.resize(got);
    hasher_->update(out);
    pos_ += static_cast<int64_t>(got);
    return out;
  }

  bool eof() const { return eof_; }
  int64_t pos() const { return pos_; }
  // "sha256:<hex>" of everything read (valid once eof()).
  const std::string& digest() {
    if (digest_.empty()) digest_ = "sha256:" + hasher_->hex_digest();
    return digest_;
  }

 private:
  const Registry::BlobOpener& open_;
  http::BodyReader reader_;
  std::unique_ptr<util::Sha256> hasher_;
  int64_t pos_ = 0;
  bool eof_ = false;
  std::string digest_;
};

struct CachedToken {
  std::vector<std::string> scopes;
  std::string token;
  Clock::time_point expires;
};

// What we know about one registry host.
struct Host {
  std::mutex mu;  // guards the fields below except `transport` once `ready`
  bool ready = false;
  std::string base;  // "https://host:port"
  std::unique_ptr<http::Transport> transport;
  std::optional<AuthChallenge> challenge;
  std::vector<CachedToken> tokens;
};

class Client final : public Registry {
 public:
  explicit Client(RegistryOptions options) : options_(std::move(options)) {
    if (!options_.transport_factory)
      options_.transport_factory = [](const http::ClientOptions& o) { return http::make_transport(o); };
    options_.chunk_size = std::max<int64_t>(options_.chunk_size, 1);
    options_.monolithic_max = std::max<int64_t>(options_.monolithic_max, 0);
    options_.upload_attempts = std::max(options_.upload_attempts, 1);
  }

  Result<Manifest> get_manifest(const Reference& ref) override {
    http::Request req;
    req.url = "/v2/" + ref.repository + "/manifests/" + ref.tag_or_digest();
    req.headers.add("Accept", kManifestAccept);
    WB_ASSIGN_OR_RETURN(http::Response r, call(ref, std::move(req), {repo_scope(ref, "pull")}));
    if (r.status != 200) return error_for(r, ref, "pull", "manifest " + ref.str());
    Manifest m;
    m.bytes = std::move(r.body);
    m.digest = digest_of(m.bytes);
    if (!ref.digest.empty() && m.digest != ref.digest)
      return Error(ErrorCode::Failure,
                   "registry " + ref.registry + " sent a manifest for " + ref.str() + " whose digest is " + m.digest);
    if (auto ct = r.headers.get("content-type")) m.media_type = strip_media_params(*ct);
    if (m.media_type.empty() || m.media_type == "application/json" || m.media_type == "text/plain") {
      json j = json::parse(m.bytes, nullptr, false);
      if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
        m.media_type = j["mediaType"].get<std::string>();
    }
    return m;
  }

  Result<Descriptor> head_manifest(const Reference& ref) override {
    http::Request req;
    req.method = "HEAD";
    req.url = "/v2/" + ref.repository + "/manifests/" + ref.tag_or_digest();
    req.headers.add("Accept", kManifestAccept);
    WB_ASSIGN_OR_RETURN(http::Response r, call(ref, std::move(req), {repo_scope(ref, "pull")}));
    if (r.status != 200) return error_for(r, ref, "pull", "manifest " + ref.str());
    auto digest = r.headers.get("docker-content-digest");
    auto length = r.headers.get("content-length");
    auto type = r.headers.get("content-type");
    if (!digest || !is_valid_digest(*digest) || !length || !type) return Registry::head_manifest(ref);
    Descriptor d;
    d.digest = *digest;
    d.media_type = strip_media_params(*type);
    auto size = util::parse_int<int64_t>(*length, "", 0);
    if (!size) return Registry::head_manifest(ref);
    d.size = *size;
    return d;
  }

  Result<bool> has_blob(const Reference& repo, const std::string& digest) override {
    WB_TRY(check_digest(digest));
    http::Request req;
    req.method = "HEAD";
    req.url = "/v2/" + repo.repository + "/blobs/" + digest;
    WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull")}));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return error_for(r, repo, "pull", "blob " + digest + " in " + repo.name());
  }

  Status get_blob(const Reference& repo, const std::string& digest, const http::BodySink& sink) override {
    WB_TRY(check_digest(digest));
    int status = 0;
    std::string error_body;
    std::unique_ptr<util::Sha256> hasher;
    bool sink_stopped = false;
    http::Request req;
    req.url = "/v2/" + repo.repository + "/blobs/" + digest;
    req.follow_redirects = true;
    req.on_headers = [&](int s, const http::Headers&) {
      status = s;
      error_body.clear();
      hasher = std::make_unique<util::Sha256>();
    };
    req.on_body = [&](std::string_view chunk) {
      if (status != 200) {
        if (error_body.size() < 65536) error_body.append(chunk);
        return true;
      }
      hasher->update(chunk);
      if (!sink(chunk)) {
        sink_stopped = true;
        return false;
      }
      return true;
    };
    auto r = call(repo, std::move(req), {repo_scope(repo, "pull")});
    if (!r) {
      if (sink_stopped) return Error(ErrorCode::Interrupted, "stopped reading blob " + digest);
      return r.error().with_context("downloading blob " + digest + " from " + repo.name());
    }
    if (r->status != 200) {
      r->body = error_body;
      return error_for(*r, repo, "pull", "blob " + digest + " in " + repo.name());
    }
    if (!hasher) hasher = std::make_unique<util::Sha256>();
    const std::string got = "sha256:" + hasher->hex_digest();
    if (got != digest)
      return Error(ErrorCode::Failure, "blob " + digest + " from " + repo.name() + " arrived with digest " + got +
                                           " (corrupted in transit?)");
    return {};
  }

  Result<bool> mount_blob(const Reference& repo, const std::string& digest, const std::string& from_repo) override {
    WB_TRY(check_digest(digest));
    http::Request req;
    req.method = "POST";
    req.url = "/v2/" + repo.repository + "/blobs/uploads/?mount=" + util::url_encode(digest) +
              "&from=" + util::url_encode(from_repo);
    req.idempotent = true;
    std::vector<std::string> scopes{repo_scope(repo, "pull,push"), "repository:" + from_repo + ":pull"};
    WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), scopes));
    if (r.status == 201) return true;
    if (r.status == 202) {  // an ordinary upload session instead: cancel it
      if (auto loc = r.headers.get("location")) {
        http::Request del;
        del.method = "DELETE";
        del.url = resolve_location(r.effective_url.empty() ? base_url(repo) : r.effective_url, *loc);
        (void)call(repo, std::move(del), {repo_scope(repo, "pull,push")});
      }
      return false;
    }
    return error_for(r, repo, "push", "blob " + digest + " (mounting from " + from_repo + ")");
  }

  Result<Descriptor> put_blob(const Reference& repo, const http::BodyReader& reader, int64_t size,
                              const std::string& known_digest, const std::string& media_type) override {
    // A reader can be consumed only once: the source cannot be re-opened.
    auto used = std::make_shared<bool>(false);
    BlobOpener once = [&reader, used]() -> Result<http::BodyReader> {
      if (*used) return Error(ErrorCode::Failure, "the blob source cannot be read a second time");
      *used = true;
      return reader;
    };
    return put_blob(repo, once, size, known_digest, media_type);
  }

  Result<Descriptor> put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                              const std::string& known_digest, const std::string& media_type) override {
    if (!known_digest.empty()) WB_TRY(check_digest(known_digest));
    BlobStream src(open);
    WB_TRY(src.open_at(0));
    std::string head;
    if (size < 0 || size <= options_.monolithic_max) {
      WB_ASSIGN_OR_RETURN(head, src.read(static_cast<size_t>(options_.monolithic_max) + 1));
      if (src.eof()) {
        Descriptor d;
        WB_TRY(finish_descriptor(src, size, known_digest, media_type, d));
        WB_TRY(upload_monolithic(repo, head, d));
        return d;
      }
    }
    return upload_chunked(repo, src, std::move(head), size, known_digest, media_type);
  }

  Result<std::string> put_manifest(const Reference& ref, const std::string& bytes,
                                   const std::string& media_type) override {
    const std::string digest = digest_of(bytes);
    if (!ref.digest.empty() && ref.digest != digest)
      return Error(ErrorCode::Usage, "the manifest's digest is " + digest + ", not " + ref.digest);
    http::Request req;
    req.method = "PUT";
    req.url = "/v2/" + ref.repository + "/manifests/" + (ref.tag.empty() ? digest : ref.tag);
    req.headers.add("Content-Type", media_type);
    req.body = bytes;
    WB_ASSIGN_OR_RETURN(http::Response r, call(ref, std::move(req), {repo_scope(ref, "pull,push")}));
    if (r.status != 201 && r.status != 200 && r.status != 202)
      return error_for(r, ref, "push", "manifest " + ref.str());
    return digest;
  }

  Status delete_manifest(const Reference& ref) override {
    if (ref.digest.empty())
      return Error(ErrorCode::Usage, "deleting needs a digest: " + ref.str() + " has none",
                   "look the digest up first (registries delete manifests by digest only)");
    http::Request req;
    req.method = "DELETE";
    req.url = "/v2/" + ref.repository + "/manifests/" + ref.digest;
    WB_ASSIGN_OR_RETURN(http::Response r, call(ref, std::move(req), {repo_scope(ref, "pull,push,delete")}));
    if (r.status == 202 || r.status == 200 || r.status == 204) return {};
    const std::string summary = summarize_registry_errors(r.body);
    if (r.status == 405 || summary.find("UNSUPPORTED") != std::string::npos)
      return Error(ErrorCode::Failure, "registry " + ref.registry + " does not allow deleting images",
                   "deletes are disabled there (distribution: storage.delete.enabled: true)", 405);
    return error_for(r, ref, "delete", "manifest " + ref.with_digest(ref.digest));
  }

  Result<std::vector<std::string>> list_tags(const Reference& repo) override {
    std::vector<std::string> tags;
    std::string url = "/v2/" + repo.repository + "/tags/list?n=" + std::to_string(std::max(1, options_.tag_page_size));
    std::set<std::string> seen_urls;
    while (!url.empty()) {
      if (!seen_urls.insert(url).second)
        return Error(ErrorCode::Failure, "registry " + repo.registry + " sent the same page of tags of " + repo.name() +
                                             " twice (a Link loop)");
      http::Request req;
      req.url = url;
      WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull")}));
      if (r.status == 404) {
        // No such repository (NAME_UNKNOWN): nothing pushed there yet.
        if (tags.empty()) return tags;
        return error_for(r, repo, "pull", "tags of " + repo.name());
      }
      if (r.status != 200) return error_for(r, repo, "pull", "tags of " + repo.name());
      json j = json::parse(r.body, nullptr, false);
      if (!j.is_object())
        return Error(ErrorCode::Failure, "registry " + repo.registry + " answered the tag list of " + repo.name() +
                                             " with something that is not JSON");
      if (j.contains("tags") && j["tags"].is_array())
        for (const json& t : j["tags"])
          if (t.is_string()) tags.push_back(t.get<std::string>());
      const std::string request_url = r.effective_url.empty() ? base_url(repo) + url : r.effective_url;
      url.clear();
      for (const std::string& link : r.headers.get_all("link")) {
        url = next_page_link(request_url, link);
        if (!url.empty()) break;
      }
    }
    return tags;
  }

  Status ping(const std::string& registry) override {
    WB_TRY(host(registry));
    return {};
  }

  Status check_push(const Reference& repo) override {
    WB_ASSIGN_OR_RETURN(std::string url, start_upload(repo));
    http::Request req;
    req.method = "DELETE";
    req.url = url;
    WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull,push")}));
    // 204 per the distribution spec; 404 means the session is already gone (nothing left either).
    if (r.status == 204 || r.status == 200 || r.status == 202 || r.status == 404) return {};
    return error_for(r, repo, "push", "cancelling an upload to " + repo.name());
  }

 private:
  static Status check_digest(const std::string& digest) {
    if (!is_valid_digest(digest))
      return Error(ErrorCode::Usage, "'" + digest + "' is not a digest (sha256:<64 hex digits>)");
    return {};
  }

  std::string base_url(const Reference& ref) {
    auto h = host(ref.registry);
    return h ? (*h)->base : "https://" + registry_api_host(ref.registry);
  }

  // --- hosts, credentials and tokens ---

  Result<Host*> host(const std::string& registry) {
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

  static std::optional<AuthChallenge> pick_challenge(const http::Headers& headers) {
    std::optional<AuthChallenge> basic;
    for (const std::string& v : headers.get_all("www-authenticate")) {
      for (AuthChallenge& c : parse_www_authenticate(v)) {
        if (c.scheme == "bearer") return c;
        if (c.scheme == "basic" && !basic) basic = c;
      }
    }
    return basic;
  }

  Result<Credentials> credentials(const Reference& ref) {
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
  Status authorize(Host& h, const Reference& ref, const std::vector<std::string>& scopes, bool fresh,
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
  Result<CachedToken> fetch_token(Host& h, const Reference& ref, const Credentials& creds,
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
      std::string form =
          "grant_type=refresh_token&client_id=wb&refresh_token=" + util::url_encode(creds.identity_token);
      if (!service.empty()) form += "&service=" + util::url_encode(service);
      if (!scopes.empty()) form += "&scope=" + util::url_encode(util::join(scopes, " "));
      req.body = form;
    } else {
      if (!service.empty()) req.url = append_query(req.url, "service", service);
      for (const std::string& s : scopes) req.url = append_query(req.url, "scope", s);
      if (!creds.anonymous())
        req.headers.add("Authorization", "Basic " + util::base64_encode(creds.username + ":" + creds.password));
    }
    auto r = h.transport->send(req);
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

  static std::string join_actions(const std::string& scope) {
    auto [res, acts] = split_scope(scope);
    return acts.count("push") ? "push" : acts.count("delete") ? "delete" : "pull";
  }

  // Sends a request to the registry of `ref`, with auth; answers 401 once by learning the
  // challenge and (re)authorizing. `req.url` may be a path ("/v2/...").
  Result<http::Response> call(const Reference& ref, http::Request req, std::vector<std::string> scopes) {
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

  // --- uploads ---

  Status finish_descriptor(BlobStream& src, int64_t size, const std::string& known_digest,
                           const std::string& media_type, Descriptor& d) {
    if (size >= 0 && src.pos() != size)
      return Error(ErrorCode::Failure, "the blob has " + std::to_string(src.pos()) + " bytes, not the " +
                                           std::to_string(size) + " announced");
    d.digest = src.digest();
    if (!known_digest.empty() && known_digest != d.digest)
      return Error(ErrorCode::Failure, "the blob's content has digest " + d.digest + ", not " + known_digest);
    d.size = src.pos();
    d.media_type = media_type;
    return {};
  }

  // POST to open an upload session; returns its absolute URL.
  Result<std::string> start_upload(const Reference& repo) {
    http::Request req;
    req.method = "POST";
    req.url = "/v2/" + repo.repository + "/blobs/uploads/";
    req.idempotent = true;  // an unused session is harmless
    WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull,push")}));
    if (r.status != 202) return error_for(r, repo, "push", "upload to " + repo.name());
    auto loc = r.headers.get("location");
    if (!loc || loc->empty())
      return Error(ErrorCode::Failure, "registry " + repo.registry + " opened an upload without a Location");
    return resolve_location(r.effective_url, *loc);
  }

  Result<http::Response> send_bytes(const Reference& repo, const std::string& method, const std::string& url,
                                    std::string body, const std::string& content_range) {
    http::Request req;
    req.method = method;
    req.url = url;
    req.headers.add("Content-Type", kOctetStream);
    if (!content_range.empty()) req.headers.add("Content-Range", content_range);
    req.body = std::move(body);
    req.idempotent = false;  // retried here, with the registry's view of the upload
    return call(repo, std::move(req), {repo_scope(repo, "pull,push")});
  }

  Status retry_or_fail(int& failures, const Result<http::Response>& r, const Reference& repo, const std::string& what) {
    if (!(transient(r) || session_lost(r)) || ++failures >= options_.upload_attempts) {
      if (!r) return r.error().with_context(what);
      return error_for(*r, repo, "push", what);
    }
    return pause(options_.upload_retry_delay * failures);
  }

  void progress(const std::string& digest, int64_t done, int64_t size) {
    if (options_.on_upload_progress) options_.on_upload_progress(digest, done, size);
  }

  Status upload_monolithic(const Reference& repo, const std::string& data, const Descriptor& d) {
    const std::string what = "uploading blob " + d.digest + " to " + repo.name();
    int failures = 0;
    while (true) {
      auto url = start_upload(repo);
      if (!url) {
        if (!transient(Result<http::Response>(url.error()))) return url.error();
        WB_TRY(retry_or_fail(failures, url.error(), repo, what));
        continue;
      }
      auto r = send_bytes(repo, "PUT", append_query(*url, "digest", d.digest), data, "");
      if (r && (r->status == 201 || r->status == 204)) {
        progress(d.digest, d.size, d.size);
        return {};
      }
      WB_TRY(retry_or_fail(failures, r, repo, what));
    }
  }

  Result<Descriptor> upload_chunked(const Reference& repo, BlobStream& src, std::string pending, int64_t size,
                                    const std::string& known_digest, const std::string& media_type) {
    const std::string what =
        "uploading blob " + (known_digest.empty() ? std::string("") : known_digest + " ") + "to " + repo.name();
    const size_t chunk_size = static_cast<size_t>(options_.chunk_size);
    int failures = 0;
    WB_ASSIGN_OR_RETURN(std::string url, start_upload(repo));
    int64_t confirmed = 0;    // bytes the registry holds
    int64_t chunk_start = 0;  // offset of chunk[0] in the blob
    std::string chunk;
    size_t pending_pos = 0;

    auto next_chunk = [&]() -> Result<std::string> {
      std::string c = pending.substr(pending_pos, chunk_size);
      pending_pos += c.size();
      if (c.size() < chunk_size) {
        pending.clear();
        pending_pos = 0;
        WB_ASSIGN_OR_RETURN(std::string more, src.read(chunk_size - c.size()));
        c += more;
      }
      return c;
    };
    // Starts over: a new session, the source from its start.
    auto restart = [&](const Error& cause) -> Status {
      if (!src.open_at(0)) return cause;
      pending.clear();
      pending_pos = 0;
      chunk.clear();
      confirmed = chunk_start = 0;
      WB_ASSIGN_OR_RETURN(url, start_upload(repo));
      return {};
    };
    // Continues at `stored` (what the registry reports holding).
    auto resume_at = [&](int64_t stored, const Error& cause) -> Status {
      const int64_t chunk_end = chunk_start + static_cast<int64_t>(chunk.size());
      if (stored >= chunk_start && stored <= chunk_end) {
        confirmed = stored;
        return {};
      }
      if (stored > chunk_end) return restart(cause);  // more than we sent: do not trust it
      if (!src.open_at(stored)) return restart(cause);
      pending.clear();
      pending_pos = 0;
      chunk.clear();
      confirmed = chunk_start = stored;
      return {};
    };

    while (true) {
      if (confirmed == chunk_start + static_cast<int64_t>(chunk.size())) {
        chunk_start = confirmed;
        WB_ASSIGN_OR_RETURN(chunk, next_chunk());
      }
      if (!chunk.empty()) {
        const int64_t chunk_end = chunk_start + static_cast<int64_t>(chunk.size());
        const std::string range = std::to_string(confirmed) + "-" + std::to_string(chunk_end - 1);
        auto r = send_bytes(repo, "PATCH", url, chunk.substr(static_cast<size_t>(confirmed - chunk_start)), range);
        if (r && r->status == 202) {
          if (auto loc = r->headers.get("location"); loc && !loc->empty()) url = resolve_location(url, *loc);
          auto stored = stored_bytes(r->headers);
          if (stored && *stored != chunk_end) {
            WB_TRY(resume_at(*stored, Error(ErrorCode::Failure, "registry stored an unexpected amount")));
          } else {
            confirmed = chunk_end;
          }
          progress(known_digest, confirmed, size);
          continue;
        }
        WB_TRY(retry_or_fail(failures, r, repo, what));
        const Error cause =
            r ? Error(ErrorCode::Unavailable, "registry answered " + std::to_string(r->status)) : r.error();
        if (session_lost(r)) {
          WB_TRY(restart(cause));
          continue;
        }
        // Ask where the upload stands.
        http::Request status_req;
        status_req.url = url;
        auto st = call(repo, std::move(status_req), {repo_scope(repo, "pull,push")});
        std::optional<int64_t> stored;
        if (st && (st->status == 204 || st->status == 200)) {
          stored = stored_bytes(st->headers);
          if (auto loc = st->headers.get("location"); loc && !loc->empty()) url = resolve_location(url, *loc);
        }
        if (stored)
          WB_TRY(resume_at(*stored, cause));
        else
          WB_TRY(restart(cause));
        continue;
      }
      // Everything sent: close the session with the digest.
      Descriptor d;
      WB_TRY(finish_descriptor(src, size, known_digest, media_type, d));
      auto r = send_bytes(repo, "PUT", append_query(url, "digest", d.digest), "", "");
      if (r && (r->status == 201 || r->status == 204)) {
        progress(d.digest, d.size, d.size);
        return d;
      }
      WB_TRY(retry_or_fail(failures, r, repo, what));
      // The answer may have been lost after the registry committed the blob.
      if (auto has = has_blob(repo, d.digest); has && *has) return d;
      WB_TRY(restart(r ? Error(ErrorCode::Unavailable, "registry answered " + std::to_string(r->status)) : r.error()));
    }
  }

  // --- errors ---

  static std::string summary_suffix(const std::string& body) {
    std::string s = summarize_registry_errors(body);
    return s.empty() ? "" : ": " + s;
  }

  Error auth_error(const http::Response& r, const Reference& ref, const std::string& action, const Credentials& creds) {
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

  Error error_for(const http::Response& r, const Reference& ref, const std::string& action, const std::string& what) {
    const std::string summary = summary_suffix(r.body);
    if (r.status == 401 || r.status == 403) {
      auto creds = credentials(ref);
      return auth_error(r, ref, action, creds ? *creds : Credentials{});
    }
    if (r.status == 404) {
      std::string msg = what + " not found in registry " + ref.registry;
      return Error(ErrorCode::NotFound, msg + summary, "", 404);
    }
    if (transient_status(r.status))
      return Error(ErrorCode::Unavailable,
                   "registry " + ref.registry + " answered " + std::to_string(r.status) + " for " + what + summary, "",
                   r.status);
    return Error(ErrorCode::Failure,
                 "registry " + ref.registry + " answered " + std::to_string(r.status) + " for " + what + summary, "",
                 r.status);
  }

  RegistryOptions options_;
  std::mutex mu_;  // guards hosts_ and creds_
  std::map<std::string, std::unique_ptr<Host>> hosts_;
  std::map<std::string, Credentials> creds_;
};

}  // namespace

std::string registry_api_host(const std::string& registry) {
  if (registry == "docker.io" || registry == "index.docker.io") return "registry-1.docker.io";
  return registry;
}

bool is_loopback_registry(const std::string& registry) {
  const std::string h = util::to_lower(host_without_port(registry));
  if (h == "localhost" || h == "::1") return true;
  if (h.rfind("127.", 0) != 0) return false;
  auto parts = util::split(h, '.');
  if (parts.size() != 4) return false;
  for (const auto& p : parts)
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  return true;
}

std::vector<AuthChallenge> parse_www_authenticate(const std::string& value) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  const size_t n = value.size();
  auto skip_ws = [&] {
    while (i < n && (value[i] == ' ' || value[i] == '\t')) ++i;
  };
  auto is_token_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~/", c) != nullptr;
  };
  while (i < n) {
    skip_ws();
    while (i < n && (value[i] == ',' || value[i] == ' ')) ++i;
    size_t start = i;
    while (i < n && is_token_char(value[i])) ++i;
    if (i == start) {
      ++i;
      continue;
    }
    std::string word = value.substr(start, i - start);
    skip_ws();
    if (i < n && value[i] == '=' && !out.empty()) {
      // A parameter of the current challenge.
      ++i;
      skip_ws();
      std::string v;
      if (i < n && value[i] == '"') {
        ++i;
        while (i < n && value[i] != '"') {
          if (value[i] == '\\' && i + 1 < n) ++i;
          v += value[i++];
        }
        if (i < n) ++i;  // closing quote
      } else {
        size_t vs = i;
        while (i < n && value[i] != ',' && value[i] != ' ' && value[i] != '\t') ++i;
        v = value.substr(vs, i - vs);
      }
      out.back().params[util::to_lower(word)] = v;
      skip_ws();
      if (i < n && value[i] == ',') ++i;
    } else {
      // A new challenge: "<scheme> param=value, ..."
      AuthChallenge c;
      c.scheme = util::to_lower(word);
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::string resolve_location(const std::string& request_url, const std::string& location) {
  const std::string loc = util::trim(location);
  if (loc.find("://") != std::string::npos) return loc;
  size_t scheme_end = request_url.find("://");
  size_t path_start = scheme_end == std::string::npos ? std::string::npos : request_url.find('/', scheme_end + 3);
  const std::string origin = path_start == std::string::npos ? request_url : request_url.substr(0, path_start);
  if (loc.rfind("//", 0) == 0) return request_url.substr(0, scheme_end + 1) + loc;
  if (!loc.empty() && loc.front() == '/') return origin + loc;
  std::string path = path_start == std::string::npos ? "/" : request_url.substr(path_start);
  path = path.substr(0, path.find('?'));
  path = path.substr(0, path.rfind('/') + 1);
  return origin + path + loc;
}

std::string append_query(const std::string& url, const std::string& name, const std::string& value) {
  std::string base = url;
  std::string fragment;
  if (size_t hash = base.find('#'); hash != std::string::npos) {
    fragment = base.substr(hash);
    base.erase(hash);
  }
  const char sep = base.find('?') == std::string::npos ? '?' : (base.back() == '?' || base.back() == '&' ? '\0' : '&');
  if (sep) base += sep;
  return base + util::url_encode(name) + "=" + util::url_encode(value) + fragment;
}

std::string next_page_link(const std::string& request_url, const std::string& link) {
  // A header may hold several links: `<a>; rel="x", <b>; rel="next"`.
  size_t i = 0;
  while (i < link.size()) {
    size_t open = link.find('<', i);
    if (open == std::string::npos) break;
    size_t close = link.find('>', open);
    if (close == std::string::npos) break;
    const std::string target = link.substr(open + 1, close - open - 1);
    size_t next_link = link.find('<', close);
    std::string params =
        link.substr(close + 1, next_link == std::string::npos ? std::string::npos : next_link - close - 1);
    for (const std::string& raw : util::split(params, ';')) {
      std::string p = util::trim(raw);
      if (p.size() && p.back() == ',') p.pop_back();
      auto eq = p.find('=');
      if (eq == std::string::npos || util::to_lower(util::trim(p.substr(0, eq))) != "rel") continue;
      std::string v = util::trim(p.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      for (const std::string& rel : util::split(v, ' '))
        if (util::to_lower(rel) == "next" && !target.empty()) return resolve_location(request_url, target);
    }
    if (next_link == std::string::npos) break;
    i = next_link;
  }
  return "";
}

bool deletes_disabled(const util::Error& e) { return e.http_status == 405; }

std::string summarize_registry_errors(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return "";
  std::vector<std::string> parts;
  for (const json& e : j["errors"]) {
    if (!e.is_object()) continue;
    std::string code = e.value("code", "");
    std::string message = e.value("message", "");
    std::string part = code;
    if (!message.empty()) part += (part.empty() ? "" : ": ") + message;
    if (e.contains("detail") && !e["detail"].is_null()) {
      std::string detail = e["detail"].is_string() ? e["detail"].get<std::string>() : e["detail"].dump();
      if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
      if (!detail.empty() && detail != "null") part += " (" + detail + ")";
    }
    if (!part.empty()) parts.push_back(part);
  }
  return util::join(parts, "; ");
}

std::unique_ptr<Registry> make_registry_client(RegistryOptions options) {
  return std::make_unique<Client>(std::move(options));
}

}  // namespace wb::oci
