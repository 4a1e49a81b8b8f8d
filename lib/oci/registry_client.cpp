// The OCI distribution client's registry operations: manifests, blobs (but uploads), tags and
// access checks; and the pure helpers of registry_client.hpp.
#include "oci/registry_client.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "oci/registry_internal.hpp"
#include "util/encoding.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::oci::detail {

namespace {

std::string strip_media_params(const std::string& content_type) {
  return util::trim(content_type.substr(0, content_type.find(';')));
}

}  // namespace

std::string repo_scope(const Reference& ref, const std::string& actions) {
  return "repository:" + ref.repository + ":" + actions;
}

bool transient_status(int status) { return status == 429 || status >= 500; }

bool is_too_large(const Error& e) {
  const auto* f = e.detail<http::TransportFailure>();
  return f && f->kind == http::TransportFailure::Kind::TooLarge;
}

Result<Registry::Manifest> Client::get_manifest(const Reference& ref) {
  http::Request req;
  req.url = "/v2/" + ref.repository + "/manifests/" + ref.tag_or_digest();
  req.headers.add("Accept", kManifestAccept);
  req.max_body = kMaxManifestBytes;
  auto got = call(ref, std::move(req), {repo_scope(ref, "pull")});
  if (!got && is_too_large(got.error()))
    return Error(ErrorCode::Failure,
                 "registry " + ref.registry + " sent a manifest for " + ref.str() + " larger than " +
                     http::size_words(kMaxManifestBytes),
                 "the distribution spec's limit: wb reads no bigger manifest (is this an image?)");
  WB_ASSIGN_OR_RETURN(http::Response r, std::move(got));
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

Result<Descriptor> Client::head_manifest(const Reference& ref) {
  http::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + ref.repository + "/manifests/" + ref.tag_or_digest();
  req.headers.add("Accept", kManifestAccept);
  WB_ASSIGN_OR_RETURN(http::Response r, call(ref, std::move(req), {repo_scope(ref, "pull")}));
  if (r.status != 200) return error_for(r, ref, "pull", "manifest " + ref.str());
  auto digest = r.headers.get("docker-content-digest");
  auto length = r.headers.get("content-length");
  auto type = r.headers.get("content-type");
  // A registry that does not say it all in the headers: fetch the manifest whole.
  auto whole = [&]() -> Result<Descriptor> {
    WB_ASSIGN_OR_RETURN(Manifest m, get_manifest(ref));
    return descriptor_of(m);
  };
  if (!digest || !is_valid_digest(*digest) || !length || !type) return whole();
  Descriptor d;
  d.digest = *digest;
  d.media_type = strip_media_params(*type);
  auto size = util::parse_int<int64_t>(*length, "", 0);
  if (!size) return whole();
  d.size = *size;
  return d;
}

Result<bool> Client::has_blob(const Reference& repo, const std::string& digest) {
  WB_TRY(check_digest(digest));
  http::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + repo.repository + "/blobs/" + digest;
  WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull")}));
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  return error_for(r, repo, "pull", "blob " + digest + " in " + repo.name());
}

Status Client::get_blob(const Reference& repo, const std::string& digest, const http::BodySink& sink) {
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

Result<bool> Client::mount_blob(const Reference& repo, const std::string& digest, const std::string& from_repo) {
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

Result<std::string> Client::put_manifest(const Reference& ref, const std::string& bytes,
                                         const std::string& media_type) {
  const std::string digest = digest_of(bytes);
  if (!ref.digest.empty() && ref.digest != digest)
    return Error(ErrorCode::Usage, "the manifest's digest is " + digest + ", not " + ref.digest);
  http::Request req;
  req.method = "PUT";
  req.url = "/v2/" + ref.repository + "/manifests/" + (ref.tag.empty() ? digest : ref.tag);
  req.headers.add("Content-Type", media_type);
  req.body = bytes;
  WB_ASSIGN_OR_RETURN(http::Response r, call(ref, std::move(req), {repo_scope(ref, "pull,push")}));
  if (r.status != 201 && r.status != 200 && r.status != 202) return error_for(r, ref, "push", "manifest " + ref.str());
  return digest;
}

Status Client::delete_manifest(const Reference& ref) {
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

Result<std::vector<std::string>> Client::list_tags(const Reference& repo) {
  std::vector<std::string> tags;
  std::string url = "/v2/" + repo.repository + "/tags/list?n=" + std::to_string(std::max(1, options_.tag_page_size));
  std::set<std::string> seen_urls;
  while (!url.empty()) {
    if (!seen_urls.insert(url).second)
      return Error(ErrorCode::Failure, "registry " + repo.registry + " sent the same page of tags of " + repo.name() +
                                           " twice (a Link loop)");
    if (seen_urls.size() > kMaxTagPages)
      return Error(ErrorCode::Failure, "registry " + repo.registry + " sent more than " + std::to_string(kMaxTagPages) +
                                           " pages of tags of " + repo.name() + ": not read further");
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

Status Client::ping(const std::string& registry) {
  WB_TRY(host(registry));
  return {};
}

Status Client::check_push(const Reference& repo) {
  WB_ASSIGN_OR_RETURN(std::string url, start_upload(repo));
  http::Request req;
  req.method = "DELETE";
  req.url = url;
  WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull,push")}));
  // 204 per the distribution spec; 404 means the session is already gone (nothing left either).
  if (r.status == 204 || r.status == 200 || r.status == 202 || r.status == 404) return {};
  return error_for(r, repo, "push", "cancelling an upload to " + repo.name());
}

Status Client::check_digest(const std::string& digest) {
  if (!is_valid_digest(digest))
    return Error(ErrorCode::Usage, "'" + digest + "' is not a digest (sha256:<64 hex digits>)");
  return {};
}

std::string Client::base_url(const Reference& ref) {
  auto h = host(ref.registry);
  return h ? (*h)->base : "https://" + registry_api_host(ref.registry);
}

}  // namespace wb::oci::detail

namespace wb::oci {

namespace {

std::string host_without_port(const std::string& registry) {
  if (!registry.empty() && registry.front() == '[') {
    size_t close = registry.find(']');
    return registry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  return registry.substr(0, registry.find(':'));
}

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
    std::string code = util::json_value(e, "code", "");
    std::string message = util::json_value(e, "message", "");
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
  return std::make_unique<detail::Client>(std::move(options));
}

}  // namespace wb::oci
