// The OCI distribution client: oci::Registry over http::Transport, with scheme choice, /v2/
// ping, anonymous/Basic/Bearer-token auth, manifests, blobs (HEAD, streamed GET with digest
// check, cross-repository mount, monolithic or chunked uploads that resume or restart after
// transient failures), tag listing (paginated) and manifest deletion.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/http.hpp"
#include "oci/auth.hpp"
#include "oci/oci.hpp"

namespace wb::oci {

struct RegistryOptions {
  // Timeouts, proxy, trace and retries of the HTTP layer. `http.tls` applies to every registry
  // (e.g. a custom CA); insecure registries additionally skip TLS verification.
  http::ClientOptions http;
  // Registries ("host[:port]"; "*" = every one) that may be reached without TLS verification and,
  // when https does not answer, over plain HTTP. Loopback hosts (127.0.0.0/8, ::1, localhost)
  // may always fall back to plain HTTP (but their certificates are verified when they speak TLS).
  std::vector<std::string> insecure_registries;
  // Credentials for (registry, repository); empty = anonymous everywhere. Called at most once per
  // registry and repository.
  std::function<Result<Credentials>(const std::string& registry, const std::string& repository)> credentials;
  // Makes the transport for one registry host (tests hand in fakes); empty = http::make_transport.
  std::function<std::unique_ptr<http::Transport>(const http::ClientOptions&)> transport_factory;
  // Uploads: blobs up to `monolithic_max` bytes go up in one PUT (after POST); bigger ones (and
  // those of unknown size that turn out bigger) in PATCH chunks of `chunk_size` bytes. Both are
  // held in memory while in flight.
  int64_t chunk_size = 16 << 20;
  int64_t monolithic_max = 16 << 20;
  // Bigger blobs go up in streamed PATCHes instead (chunked transfer encoding and no
  // Content-Range, as docker push sends them): each takes up to `chunk_size` bytes from the source
  // while it is sent, so nothing but the first `monolithic_max` bytes is held. After a failure the
  // upload goes on where the registry stands, reading the source again up to there.
  bool stream_uploads = false;
  // Tries per upload when requests fail transiently (connection cut, 5xx): each resumes at the
  // offset the registry confirms, or restarts the upload (re-opening the source).
  int upload_attempts = 5;
  std::chrono::milliseconds upload_retry_delay{500};
  // Tags asked for per page of a tag listing (the registry may send fewer, and a Link to more).
  int tag_page_size = 100;
  // Progress of an upload: bytes the registry has confirmed so far, of `size` (-1 unknown).
  std::function<void(const std::string& digest_or_empty, int64_t done, int64_t size)> on_upload_progress;
};

// A registry client for any number of registries (one transport and auth state per host).
// Thread-safe: blobs may be pushed from several threads at once.
std::unique_ptr<Registry> make_registry_client(RegistryOptions options);

// The host to talk to for a registry name ("docker.io" -> "registry-1.docker.io").
std::string registry_api_host(const std::string& registry);
// True for localhost, 127.0.0.0/8 and ::1 (with or without a port).
bool is_loopback_registry(const std::string& registry);

// One challenge of a WWW-Authenticate header: scheme ("bearer"/"basic", lower-case) and params
// (names lower-case, values unquoted).
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
// Parses a WWW-Authenticate value (possibly several challenges; quoted strings may hold commas
// and escaped quotes).
std::vector<AuthChallenge> parse_www_authenticate(const std::string& value);

// Resolves an upload Location against the URL of the request that returned it (absolute,
// host-relative "/v2/..." or path-relative).
std::string resolve_location(const std::string& request_url, const std::string& location);
// Appends a query parameter, keeping existing ones (e.g. `_state`).
std::string append_query(const std::string& url, const std::string& name, const std::string& value);
// The URL of the next page from a Link header (RFC 8288: `<url>; rel="next"`), resolved against
// the request URL; "" when there is none.
std::string next_page_link(const std::string& request_url, const std::string& link);
// True for the error delete_manifest returns when the registry has deletes turned off (405, or
// an UNSUPPORTED error code): a setting of the registry, not a failure of what was asked.
bool deletes_disabled(const util::Error& e);

// Summarises a registry's JSON error body ({"errors":[{"code","message","detail"}]}) in one
// line; "" when the body is not such JSON.
std::string summarize_registry_errors(const std::string& body);

}  // namespace wb::oci
