// Private to lib/oci: the registry client behind make_registry_client, whose parts live in
// registry_client.cpp (manifests, blobs, tags), registry_auth_flow.cpp (hosts, auth, tokens,
// errors) and registry_upload.cpp (blob uploads).
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "oci/registry_client.hpp"

namespace wb::oci::detail {

using util::Error;
using util::ErrorCode;
using Clock = std::chrono::steady_clock;

constexpr const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char* kOctetStream = "application/octet-stream";
constexpr auto kDefaultTokenLifetime = std::chrono::seconds(60);
// The largest manifest read (the distribution spec's recommended limit) and token answer.
constexpr size_t kMaxManifestBytes = size_t{4} << 20;
constexpr size_t kMaxTokenBytes = size_t{1} << 20;
// The most pages of a tag list followed (Link after Link): 100,000 tags at the default page size.
constexpr size_t kMaxTagPages = 1000;

// True when `e` is the transport refusing to read an answer past Request::max_body.
bool is_too_large(const Error& e);

// The scope that grants `actions` ("pull", "pull,push") on ref's repository.
std::string repo_scope(const Reference& ref, const std::string& actions);
// 429 and 5xx: worth asking again.
bool transient_status(int status);

// A blob's bytes being uploaded (registry_upload.cpp).
class BlobStream;
// A chunked upload of one blob (registry_upload.cpp).
class ChunkedUpload;

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
  friend class ChunkedUpload;  // an upload's steps use the client's requests and options

 public:
  explicit Client(RegistryOptions options) : options_(std::move(options)) {
    if (!options_.transport_factory)
      options_.transport_factory = [](const http::ClientOptions& o) { return http::make_transport(o); };
    options_.chunk_size = std::max<int64_t>(options_.chunk_size, 1);
    options_.monolithic_max = std::max<int64_t>(options_.monolithic_max, 0);
    options_.upload_attempts = std::max(options_.upload_attempts, 1);
  }

  Result<Manifest> get_manifest(const Reference& ref) override;
  Result<Descriptor> head_manifest(const Reference& ref) override;
  Result<bool> has_blob(const Reference& repo, const std::string& digest) override;
  Status get_blob(const Reference& repo, const std::string& digest, const http::BodySink& sink) override;
  Result<bool> mount_blob(const Reference& repo, const std::string& digest, const std::string& from_repo) override;
  Result<std::string> put_manifest(const Reference& ref, const std::string& bytes,
                                   const std::string& media_type) override;
  Status delete_manifest(const Reference& ref) override;
  Result<std::vector<std::string>> list_tags(const Reference& repo) override;
  Status ping(const std::string& registry) override;
  Status check_push(const Reference& repo) override;
  Result<Descriptor> put_blob(const Reference& repo, const http::BodyReader& reader, int64_t size,
                              const std::string& known_digest, const std::string& media_type) override;
  Result<Descriptor> put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                              const std::string& known_digest, const std::string& media_type) override;

 private:
  static Status check_digest(const std::string& digest);
  std::string base_url(const Reference& ref);

  // --- hosts, credentials and tokens (registry_auth_flow.cpp) ---

  Result<Host*> host(const std::string& registry);
  static std::optional<AuthChallenge> pick_challenge(const http::Headers& headers);
  Result<Credentials> credentials(const Reference& ref);
  // Adds the Authorization header the host wants (none, Basic, or a Bearer token for `scopes`).
  Status authorize(Host& h, const Reference& ref, const std::vector<std::string>& scopes, bool fresh,
                   http::Headers& headers);
  // The token flow (docker token auth / OAuth2 refresh token). Called with h.mu held.
  Result<CachedToken> fetch_token(Host& h, const Reference& ref, const Credentials& creds,
                                  const std::vector<std::string>& scopes);
  static std::string join_actions(const std::string& scope);
  // Sends a request to the registry of `ref`, with auth; answers 401 once by learning the
  // challenge and (re)authorizing. `req.url` may be a path ("/v2/...").
  Result<http::Response> call(const Reference& ref, http::Request req, std::vector<std::string> scopes);

  // --- uploads (registry_upload.cpp) ---

  Status finish_descriptor(BlobStream& src, int64_t size, const std::string& known_digest,
                           const std::string& media_type, Descriptor& d);
  // POST to open an upload session; returns its absolute URL.
  Result<std::string> start_upload(const Reference& repo);
  Result<http::Response> send_bytes(const Reference& repo, const std::string& method, const std::string& url,
                                    std::string body, const std::string& content_range);
  Status retry_or_fail(int& failures, const Result<http::Response>& r, const Reference& repo, const std::string& what);
  void progress(const std::string& digest, int64_t done, int64_t size);
  Status upload_monolithic(const Reference& repo, const std::string& data, const Descriptor& d);
  Result<Descriptor> upload_chunked(const Reference& repo, BlobStream& src, std::string pending, int64_t size,
                                    const std::string& known_digest, const std::string& media_type);

  // --- errors (registry_auth_flow.cpp) ---

  static std::string summary_suffix(const std::string& body);
  Error auth_error(const http::Response& r, const Reference& ref, const std::string& action, const Credentials& creds);
  Error error_for(const http::Response& r, const Reference& ref, const std::string& action, const std::string& what);

  RegistryOptions options_;
  std::mutex mu_;  // guards hosts_ and creds_
  std::map<std::string, std::unique_ptr<Host>> hosts_;
  std::map<std::string, Credentials> creds_;
};

}  // namespace wb::oci::detail
