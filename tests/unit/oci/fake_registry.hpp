// An in-memory OCI registry behind a fake http::Transport: enough of the distribution API (and
// of docker token auth) to test the client's requests, auth flows and upload offsets without a
// network. It records every request and can inject failures.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/http.hpp"
#include "oci/oci.hpp"
#include "util/encoding.hpp"
#include "util/strings.hpp"

namespace wb::oci::test {

class FakeRegistry {
 public:
  enum class Auth { None, Basic, Bearer };
  Auth auth = Auth::None;
  std::string user = "robot$ci", password = "s3cret";
  std::string host = "registry.example.com";
  std::string realm = "https://auth.example.com/token";
  bool relative_urls = false;
  bool deletes_enabled = true;
  size_t tag_page_limit = 0;  // most tags per page of /tags/list (0 = the client's n, unlimited)
  bool anonymous_pull = false;  // token service gives pull tokens without credentials
  // Failure injection: called for each request before it is handled; return a response or error
  // to answer instead (nullopt = handle normally).
  std::function<std::optional<util::Result<http::Response>>(const http::Request&, int index)> inject;
  // PATCHes fail with a cut connection after storing this many bytes of the body (once each).
  std::vector<size_t> cut_patch_after;
  bool forget_uploads_on_cut = false;  // after a cut, the session is gone (like distribution)

  struct Seen {
    std::string method, url, authorization, content_type, content_range;
    size_t body_size = 0;
  };
  std::vector<Seen> seen;
  std::map<std::string, std::string> blobs;  // digest -> bytes
  std::map<std::string, std::pair<std::string, std::string>> manifests;  // repo@ref -> bytes, type
  std::map<std::string, std::string> uploads;                           // uuid -> bytes
  std::map<std::string, std::vector<std::string>> token_scopes;         // token -> scopes
  int tokens_issued = 0;

  std::unique_ptr<http::Transport> transport();

  util::Result<http::Response> handle(const http::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    Seen s{req.method, req.url, req.headers.get("authorization").value_or(""),
           req.headers.get("content-type").value_or(""), req.headers.get("content-range").value_or(""),
           req.body_reader ? 0 : req.body.size()};
    seen.push_back(s);
    if (inject) {
      if (auto r = inject(req, static_cast<int>(seen.size()) - 1)) return *r;
    }
    if (req.url.rfind(realm, 0) == 0) return token(req);
    const std::string origin = "https://" + host;
    if (req.url.rfind(origin, 0) != 0) return util::Error(util::ErrorCode::Unavailable, "cannot connect to " + req.url);
    std::string path = req.url.substr(origin.size());
    std::string query;
    if (size_t q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.erase(q);
    }
    return route(req, path, parse_query(query));
  }

  static std::map<std::string, std::string> parse_query(const std::string& q) {
    std::map<std::string, std::string> out;
    for (const std::string& kv : util::split(q, '&')) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      out[kv.substr(0, eq)] = decode(kv.substr(eq + 1));
    }
    return out;
  }
  static std::vector<std::string> query_all(const std::string& url, const std::string& name) {
    std::vector<std::string> out;
    size_t q = url.find('?');
    if (q == std::string::npos) return out;
    for (const std::string& kv : util::split(url.substr(q + 1), '&'))
      if (kv.rfind(name + "=", 0) == 0) out.push_back(decode(kv.substr(name.size() + 1)));
    return out;
  }
  static std::string decode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i] == '+' ? ' ' : s[i];
      }
    }
    return out;
  }

 private:
  static http::Response answer(int status, std::string body = "", http::Headers headers = {}) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static http::Response error(int status, const std::string& code, const std::string& message) {
    return answer(status, R"({"errors":[{"code":")" + code + R"(","message":")" + message + R"(","detail":null}]})",
                  {{"Content-Type", "application/json"}});
  }

  util::Result<http::Response> token(const http::Request& req) {
    const auto scopes = query_all(req.url, "scope");
    const std::string authz = req.headers.get("authorization").value_or("");
    const bool good = authz == "Basic " + util::base64_encode(user + ":" + password);
    if (!authz.empty() && !good) return error(401, "UNAUTHORIZED", "bad credentials");
    if (!good && !anonymous_pull) return error(401, "UNAUTHORIZED", "authentication required");
    std::vector<std::string> granted;
    for (const std::string& s : scopes) {
      if (good) granted.push_back(s);
      else granted.push_back(s.substr(0, s.rfind(':')) + ":pull");  // anonymous: pull only
    }
    const std::string t = "tok-" + std::to_string(++tokens_issued);
    token_scopes[t] = granted;
    return answer(200, R"({"token":")" + t + R"(","expires_in":300})");
  }

  // Checks auth for an action on a repository; returns a 401 answer when missing.
  std::optional<http::Response> check_auth(const http::Request& req, const std::string& repo,
                                           const std::string& action) {
    const std::string authz = req.headers.get("authorization").value_or("");
    if (auth == Auth::None) return std::nullopt;
    if (auth == Auth::Basic) {
      if (authz == "Basic " + util::base64_encode(user + ":" + password)) return std::nullopt;
      return answer(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                    {{"WWW-Authenticate", "Basic realm=\"basic-realm\""}});
    }
    if (authz.rfind("Bearer ", 0) == 0) {
      auto it = token_scopes.find(authz.substr(7));
      if (it != token_scopes.end()) {
        for (const std::string& s : it->second) {
          size_t colon = s.rfind(':');
          if (s.substr(0, colon) != "repository:" + repo) continue;
          for (const std::string& a : util::split(s.substr(colon + 1), ','))
            if (a == action) return std::nullopt;
        }
      }
    }
    std::string scope = "repository:" + repo + ":" + (action == "pull" ? "pull" : "pull,push");
    return answer(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                  {{"Www-Authenticate", "Bearer realm=\"" + realm + "\",service=\"" + host + "\",scope=\"" + scope +
                                            "\",error=\"insufficient_scope\""}});
  }

  std::string upload_location(const std::string& repo, const std::string& uuid) {
    std::string path = "/v2/" + repo + "/blobs/uploads/" + uuid + "?_state=st-" + uuid + "-" +
                       std::to_string(uploads[uuid].size());
    return relative_urls ? path : "https://" + host + path;
  }

  util::Result<http::Response> route(const http::Request& req, const std::string& path,
                                     const std::map<std::string, std::string>& q) {
    if (path == "/v2/") {
      if (auth == Auth::Basic) return answer(401, "", {{"WWW-Authenticate", "Basic realm=\"basic-realm\""}});
      if (auth == Auth::Bearer)
        return answer(401, "", {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"" + host + "\""}});
      return answer(200, "{}");
    }
    // /v2/<repo>/(manifests|blobs)/<ref> or /v2/<repo>/blobs/uploads/[uuid] or /v2/<repo>/tags/list
    const std::string rest = path.substr(4);
    const std::string tags_suffix = "/tags/list";
    if (rest.size() > tags_suffix.size() && rest.compare(rest.size() - tags_suffix.size(), tags_suffix.size(), tags_suffix) == 0)
      return tags_route(req, rest.substr(0, rest.size() - tags_suffix.size()), q);
    size_t up = rest.find("/blobs/uploads/");
    if (up != std::string::npos) return uploads_route(req, rest.substr(0, up), rest.substr(up + 15), q);
    size_t m = rest.rfind("/manifests/");
    if (m != std::string::npos) return manifest_route(req, rest.substr(0, m), rest.substr(m + 11));
    size_t b = rest.rfind("/blobs/");
    if (b != std::string::npos) {
      const std::string repo = rest.substr(0, b), digest = rest.substr(b + 7);
      if (auto a = check_auth(req, repo, "pull")) return *a;
      auto it = blobs.find(digest);
      if (it == blobs.end()) return error(404, "BLOB_UNKNOWN", "blob unknown to registry");
      http::Response r = answer(200, req.method == "HEAD" ? "" : it->second,
                                {{"Content-Length", std::to_string(it->second.size())}});
      if (req.on_headers) req.on_headers(200, r.headers);
      if (req.on_body && !r.body.empty()) {
        req.on_body(r.body);
        r.body.clear();
      }
      return r;
    }
    return error(404, "NAME_UNKNOWN", "no route");
  }

  // Like distribution: tags in lexical order, `n` per page, `last` to continue after, and a
  // host-relative Link header `</v2/<repo>/tags/list?last=X&n=N>; rel="next"` when more follow.
  util::Result<http::Response> tags_route(const http::Request& req, const std::string& repo,
                                          const std::map<std::string, std::string>& q) {
    if (auto a = check_auth(req, repo, "pull")) return *a;
    std::vector<std::string> tags;
    for (const auto& [key, value] : manifests) {
      if (key.rfind(repo + "@", 0) != 0) continue;
      std::string ref = key.substr(repo.size() + 1);
      if (ref.rfind("sha256:", 0) != 0) tags.push_back(ref);
    }
    if (tags.empty()) return error(404, "NAME_UNKNOWN", "repository name not known to registry");
    size_t n = q.count("n") ? std::stoul(q.at("n")) : tags.size();
    if (tag_page_limit) n = std::min(n, tag_page_limit);
    const std::string last = q.count("last") ? q.at("last") : "";
    std::vector<std::string> page;
    bool more = false;
    for (const std::string& t : tags) {
      if (!last.empty() && t <= last) continue;
      if (page.size() == n) {
        more = true;
        break;
      }
      page.push_back(t);
    }
    std::string body = R"({"name":")" + repo + R"(","tags":[)";
    for (size_t i = 0; i < page.size(); ++i) body += (i ? ",\"" : "\"") + page[i] + "\"";
    body += "]}";
    http::Headers h{{"Content-Type", "application/json"}};
    if (more)
      h.add("Link", "</v2/" + repo + "/tags/list?last=" + page.back() + "&n=" + std::to_string(n) + R"(>; rel="next")");
    return answer(200, body, h);
  }

  util::Result<http::Response> manifest_route(const http::Request& req, const std::string& repo,
                                              const std::string& ref) {
    const bool write = req.method == "PUT" || req.method == "DELETE";
    if (auto a = check_auth(req, repo, write ? "push" : "pull")) return *a;
    if (req.method == "PUT") {
      std::string digest = digest_of(req.body);
      manifests[repo + "@" + ref] = {req.body, req.headers.get("content-type").value_or("")};
      manifests[repo + "@" + digest] = {req.body, req.headers.get("content-type").value_or("")};
      return answer(201, "", {{"Docker-Content-Digest", digest}});
    }
    if (req.method == "DELETE") {
      if (!deletes_enabled) return error(405, "UNSUPPORTED", "The operation is unsupported.");
      if (!manifests.erase(repo + "@" + ref)) return error(404, "MANIFEST_UNKNOWN", "manifest unknown");
      // Like distribution: every tag on that digest goes with it.
      for (auto it = manifests.begin(); it != manifests.end();) {
        if (it->first.rfind(repo + "@", 0) == 0 && digest_of(it->second.first) == ref)
          it = manifests.erase(it);
        else
          ++it;
      }
      return answer(202);
    }
    auto it = manifests.find(repo + "@" + ref);
    const std::string accept = req.headers.get("accept").value_or("");
    if (it == manifests.end() || accept.find(it->second.second) == std::string::npos)
      return error(404, "MANIFEST_UNKNOWN", "manifest unknown");
    return answer(200, req.method == "HEAD" ? "" : it->second.first,
                  {{"Content-Type", it->second.second},
                   {"Docker-Content-Digest", digest_of(it->second.first)},
                   {"Content-Length", std::to_string(it->second.first.size())}});
  }

  util::Result<http::Response> uploads_route(const http::Request& req, const std::string& repo,
                                             const std::string& uuid, const std::map<std::string, std::string>& q) {
    if (auto a = check_auth(req, repo, "push")) return *a;
    if (uuid.empty()) {
      if (req.method != "POST") return error(405, "UNSUPPORTED", "bad method");
      if (q.count("mount")) {
        const std::string from = q.at("from");
        bool allowed = !check_auth(req, from, "pull").has_value();
        if (allowed && blobs.count(q.at("mount")) && mounts_from_ok(from))
          return answer(201, "", {{"Location", "/v2/" + repo + "/blobs/" + q.at("mount")}});
      }
      const std::string id = "u" + std::to_string(++next_upload_);
      uploads[id] = "";
      return answer(202, "", {{"Location", upload_location(repo, id)}, {"Range", "0-0"}});
    }
    auto it = uploads.find(uuid);
    if (it == uploads.end()) return error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
    std::string& data = it->second;
    if (req.method == "GET") {
      return answer(204, "", {{"Location", upload_location(repo, uuid)},
                              {"Range", "0-" + std::to_string(data.empty() ? 0 : data.size() - 1)}});
    }
    if (req.method == "DELETE") {
      uploads.erase(it);
      return answer(204);
    }
    if (req.method == "PATCH") {
      if (!cut_patch_after.empty()) {
        size_t keep = std::min(cut_patch_after.front(), req.body.size());
        cut_patch_after.erase(cut_patch_after.begin());
        data += req.body.substr(0, keep);
        if (forget_uploads_on_cut) uploads.erase(it);
        return util::Error(util::ErrorCode::Unavailable, "the connection to https://" + host + " broke off");
      }
      data += req.body;  // like distribution: Content-Range is not checked
      return answer(202, "", {{"Location", upload_location(repo, uuid)},
                              {"Range", "0-" + std::to_string(data.size() - 1)}});
    }
    if (req.method == "PUT") {
      data += req.body;
      const std::string want = q.count("digest") ? q.at("digest") : "";
      if (digest_of(data) != want) return error(400, "DIGEST_INVALID", "provided digest did not match uploaded content");
      blobs[want] = data;
      uploads.erase(uuid);
      return answer(201, "", {{"Location", "/v2/" + repo + "/blobs/" + want}, {"Docker-Content-Digest", want}});
    }
    return error(405, "UNSUPPORTED", "bad method");
  }

  bool mounts_from_ok(const std::string& from) const { return from != "no/mount"; }

  std::mutex mu_;
  int next_upload_ = 0;
};

class FakeTransport : public http::Transport {
 public:
  explicit FakeTransport(FakeRegistry& r) : r_(r) {}
  util::Result<http::Response> send(const http::Request& req) override {
    if (req.body_reader) {  // collect streamed bodies
      http::Request copy = req;
      copy.body_reader = nullptr;
      std::string buf(65536, '\0');
      while (true) {
        auto n = req.body_reader(buf.data(), buf.size());
        if (!n) return n.error();
        if (*n == 0) break;
        copy.body.append(buf.data(), *n);
      }
      return finish(r_.handle(copy), req);
    }
    return finish(r_.handle(req), req);
  }
  util::Result<std::unique_ptr<http::WebSocket>> open_websocket(const http::Request&,
                                                                const std::vector<std::string>&) override {
    return util::Error(util::ErrorCode::Failure, "no websockets here");
  }

 private:
  util::Result<http::Response> finish(util::Result<http::Response> r, const http::Request& req) {
    if (!r) return r;
    r->effective_url = req.url;
    // Streams: deliver headers and body through the callbacks (blob GETs do it themselves).
    if (req.on_body && !r->body.empty()) {
      if (req.on_headers) req.on_headers(r->status, r->headers);
      req.on_body(r->body);
      r->body.clear();
    }
    return r;
  }
  FakeRegistry& r_;
};

inline std::unique_ptr<http::Transport> FakeRegistry::transport() { return std::make_unique<FakeTransport>(*this); }

}  // namespace wb::oci::test
