// An in-memory oci::Registry for tests (image, workbench and cli). It checks what it receives like
// a real registry would: blob digests and sizes, manifests that reference only blobs/manifests it
// has, digest refs. It records deletes, pings and push checks, and can refuse deletes or fail
// the checks as a registry may.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "oci/oci.hpp"

namespace wb::test {

class FakeRegistry : public oci::Registry {
 public:
  using json = nlohmann::json;
  using Error = util::Error;
  using ErrorCode = util::ErrorCode;
  template <class T>
  using Result = util::Result<T>;

  struct Repo {
    std::map<std::string, std::string> blobs;                              // digest -> bytes
    std::map<std::string, std::pair<std::string, std::string>> manifests;  // digest -> bytes, type
    std::map<std::string, std::string> tags;                               // tag -> digest
  };

  std::map<std::string, Repo> repos;  // by repository
  bool allow_mount = true;
  // Called before a manifest is stored; an error fails the PUT.
  std::function<util::Status(const oci::Reference&)> before_put_manifest;
  bool deletes_refused = false;                 // deletes answer 405, as with REGISTRY_STORAGE_DELETE_ENABLED off
  std::optional<util::Error> ping_error;        // what ping answers
  std::optional<util::Error> check_push_error;  // what check_push answers
  // Counters and records.
  int blob_puts = 0;
  std::vector<std::string> blobs_read;  // digests get_blob was asked for
  int mounts = 0;
  int manifest_puts = 0;
  std::vector<std::string> deleted;  // "registry/repository@digest"
  std::vector<std::string> pinged, push_checked;

  Result<Manifest> get_manifest(const oci::Reference& ref) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& repo = repos[ref.repository];
    std::string digest = ref.digest;
    if (digest.empty()) {
      auto t = repo.tags.find(ref.tag);
      if (t == repo.tags.end()) return Error(ErrorCode::NotFound, "manifest " + ref.str() + " not found");
      digest = t->second;
    }
    auto m = repo.manifests.find(digest);
    if (m == repo.manifests.end()) return Error(ErrorCode::NotFound, "manifest " + ref.str() + " not found");
    return Manifest{m->second.first, m->second.second, digest};
  }

  Result<bool> has_blob(const oci::Reference& repo, const std::string& digest) override {
    std::lock_guard<std::mutex> lock(mu_);
    return repos[repo.repository].blobs.count(digest) > 0;
  }

  util::Status get_blob(const oci::Reference& repo, const std::string& digest, const http::BodySink& sink) override {
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blobs_read.push_back(digest);
      auto& blobs = repos[repo.repository].blobs;
      auto b = blobs.find(digest);
      if (b == blobs.end()) return Error(ErrorCode::NotFound, "blob " + digest + " not found", "", 404);
      bytes = b->second;
    }
    for (size_t off = 0; off < bytes.size(); off += 1000) {
      if (!sink(std::string_view(bytes).substr(off, 1000))) return Error(ErrorCode::Interrupted, "stopped");
    }
    return {};
  }

  Result<bool> mount_blob(const oci::Reference& repo, const std::string& digest,
                          const std::string& from_repo) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!allow_mount) return false;
    auto& from = repos[from_repo].blobs;
    auto b = from.find(digest);
    if (b == from.end()) return false;
    repos[repo.repository].blobs[digest] = b->second;
    ++mounts;
    return true;
  }

  Result<oci::Descriptor> put_blob(const oci::Reference& repo, const http::BodyReader& reader, int64_t size,
                                   const std::string& known_digest, const std::string& media_type) override {
    std::string bytes;
    char buf[7000];  // an odd size: readers must cope with any
    for (;;) {
      auto n = reader(buf, sizeof buf);
      if (!n.ok()) return n.error();
      if (*n == 0) break;
      bytes.append(buf, *n);
    }
    std::string digest = oci::digest_of(bytes);
    if (!known_digest.empty() && known_digest != digest) {
      return Error(ErrorCode::Failure, "DIGEST_INVALID: got " + digest + ", declared " + known_digest, "", 400);
    }
    if (size >= 0 && static_cast<int64_t>(bytes.size()) != size) {
      return Error(ErrorCode::Failure, "SIZE_INVALID", "", 400);
    }
    std::lock_guard<std::mutex> lock(mu_);
    repos[repo.repository].blobs[digest] = bytes;
    ++blob_puts;
    oci::Descriptor d;
    d.media_type = media_type;
    d.digest = digest;
    d.size = static_cast<int64_t>(bytes.size());
    return d;
  }

  // Opens the source once (a retry is the client's business, not the store's).
  Result<oci::Descriptor> put_blob(const oci::Reference& repo, const BlobOpener& open, int64_t size,
                                   const std::string& known_digest, const std::string& media_type) override {
    auto reader = open();
    if (!reader.ok()) return reader.error();
    return put_blob(repo, *reader, size, known_digest, media_type);
  }

  Result<oci::Descriptor> head_manifest(const oci::Reference& ref) override {
    auto m = get_manifest(ref);
    if (!m.ok()) return m.error();
    return oci::descriptor_of(*m);
  }

  util::Status delete_manifest(const oci::Reference& ref) override {
    if (deletes_refused)
      return Error(ErrorCode::Failure, "registry " + ref.registry + " does not allow deleting images", "", 405);
    std::lock_guard<std::mutex> lock(mu_);
    auto& repo = repos[ref.repository];
    repo.manifests.erase(ref.digest);
    for (auto it = repo.tags.begin(); it != repo.tags.end();)
      it = it->second == ref.digest ? repo.tags.erase(it) : std::next(it);
    deleted.push_back(ref.with_digest(ref.digest));
    return {};
  }

  Result<std::vector<std::string>> list_tags(const oci::Reference& ref) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> tags;
    for (const auto& [tag, digest] : repos[ref.repository].tags) tags.push_back(tag);
    return tags;
  }

  util::Status ping(const std::string& registry) override {
    std::lock_guard<std::mutex> lock(mu_);
    pinged.push_back(registry);
    if (ping_error) return *ping_error;
    return {};
  }

  util::Status check_push(const oci::Reference& repo) override {
    std::lock_guard<std::mutex> lock(mu_);
    push_checked.push_back(repo.name());
    if (check_push_error) return *check_push_error;
    return {};
  }

  Result<std::string> put_manifest(const oci::Reference& ref, const std::string& bytes,
                                   const std::string& media_type) override {
    if (before_put_manifest) {
      auto st = before_put_manifest(ref);
      if (!st.ok()) return st.error();
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& repo = repos[ref.repository];
    json j = json::parse(bytes, nullptr, false);
    if (j.is_discarded()) return Error(ErrorCode::Failure, "MANIFEST_INVALID", "", 400);
    if (j.value("mediaType", "") != media_type) return Error(ErrorCode::Failure, "media type mismatch", "", 400);
    if (j.contains("manifests")) {
      for (const auto& m : j["manifests"]) {
        if (!repo.manifests.count(m["digest"].get<std::string>())) {
          return Error(ErrorCode::Failure, "MANIFEST_UNKNOWN " + m["digest"].get<std::string>(), "", 400);
        }
      }
    } else {
      std::vector<json> refs = {j["config"]};
      for (const auto& l : j["layers"]) refs.push_back(l);
      for (const auto& d : refs) {
        auto b = repo.blobs.find(d["digest"].get<std::string>());
        if (b == repo.blobs.end()) return Error(ErrorCode::Failure, "BLOB_UNKNOWN " + d["digest"].dump(), "", 400);
        if (static_cast<int64_t>(b->second.size()) != d["size"].get<int64_t>()) {
          return Error(ErrorCode::Failure, "size of " + d["digest"].dump() + " is wrong", "", 400);
        }
      }
    }
    std::string digest = oci::digest_of(bytes);
    if (!ref.digest.empty() && ref.digest != digest) return Error(ErrorCode::Failure, "DIGEST_INVALID", "", 400);
    repo.manifests[digest] = {bytes, media_type};
    if (!ref.tag.empty()) repo.tags[ref.tag] = digest;
    ++manifest_puts;
    return digest;
  }

  // Test helpers (call them before the code under test runs).
  std::string add_blob(const std::string& repo, const std::string& bytes) {
    std::string d = oci::digest_of(bytes);
    repos[repo].blobs[d] = bytes;
    return d;
  }
  std::string add_manifest(const std::string& repo, const std::string& tag, const json& j) {
    std::string bytes = j.dump();
    std::string d = oci::digest_of(bytes);
    repos[repo].manifests[d] = {bytes, j.value("mediaType", "")};
    if (!tag.empty()) repos[repo].tags[tag] = d;
    return d;
  }
  json manifest_json(const std::string& repo, const std::string& digest) {
    return json::parse(repos[repo].manifests.at(digest).first);
  }
  json blob_json(const std::string& repo, const std::string& digest) {
    return json::parse(repos[repo].blobs.at(digest));
  }

 private:
  std::mutex mu_;
};

}  // namespace wb::test
