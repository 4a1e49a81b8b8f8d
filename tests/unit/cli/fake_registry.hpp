// The in-memory registry of the image tests, with what retention and doctor ask of a registry:
// tags, deletes (which a registry may refuse), /v2/ and push access.
#pragma once

#include <string>
#include <vector>

#include "image/fake_registry.hpp"

namespace wb::test {

class FullRegistry : public FakeRegistry {
 public:
  bool deletes_refused = false;                 // deletes answer 405, as with REGISTRY_STORAGE_DELETE_ENABLED off
  std::optional<util::Error> ping_error;        // what ping answers
  std::optional<util::Error> check_push_error;  // what check_push answers
  std::vector<std::string> deleted;             // "repository@digest"
  std::vector<std::string> pinged, push_checked;

  util::Result<oci::Descriptor> head_manifest(const oci::Reference& ref) override {
    WB_ASSIGN_OR_RETURN(auto m, get_manifest(ref));
    oci::Descriptor d;
    d.media_type = m.media_type;
    d.digest = m.digest;
    d.size = static_cast<int64_t>(m.bytes.size());
    return d;
  }
  util::Status delete_manifest(const oci::Reference& ref) override {
    if (deletes_refused)
      return util::Error(util::ErrorCode::Failure, "registry " + ref.registry + " does not allow deleting images", "",
                         405);
    auto& repo = repos[ref.repository];
    repo.manifests.erase(ref.digest);
    for (auto it = repo.tags.begin(); it != repo.tags.end();)
      it = it->second == ref.digest ? repo.tags.erase(it) : std::next(it);
    deleted.push_back(ref.repository + "@" + ref.digest);
    return {};
  }
  util::Result<std::vector<std::string>> list_tags(const oci::Reference& ref) override {
    std::vector<std::string> tags;
    for (const auto& [tag, digest] : repos[ref.repository].tags) tags.push_back(tag);
    return tags;
  }
  util::Status ping(const std::string& registry) override {
    pinged.push_back(registry);
    if (ping_error) return *ping_error;
    return {};
  }
  util::Status check_push(const oci::Reference& repo) override {
    push_checked.push_back(repo.name());
    if (check_push_error) return *check_push_error;
    return {};
  }
};

}  // namespace wb::test
