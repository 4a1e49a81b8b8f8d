#include "workbench/core/versioned.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "kube/status.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/core/refusal.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;

util::Result<CreatedVersion> create_version(kube::Client& client, const std::string& ns,
                                            const VersionObjects& objects) {
  CreatedVersion out;
  for (const auto& [type, object] : objects) {
    auto made = client.create(type, ns, object);
    if (made) {
      out.objects.push_back(std::move(*made));
      continue;
    }
    for (size_t i = 0; i < out.objects.size(); ++i)
      (void)client.remove(objects[i].first, ns, fields::str(out.objects[i], "/metadata/name"));
    if (kube::is_conflict(made.error())) return CreatedVersion{true, {}};
    return refused_in_workspace(std::move(made).error(), ns, true);
  }
  return out;
}

util::Result<int> claim_next_version(const std::function<util::Result<bool>()>& attempt, int attempts,
                                     const std::string& what) {
  const int tries = std::max(1, attempts);
  for (int n = 1; n <= tries; ++n) {
    WB_ASSIGN_OR_RETURN(bool written, attempt());
    if (written) return n;
  }
  return Error(ErrorCode::Conflict,
               fmt::format("{} kept changing while wb was writing a new version ({} tries)", what, tries),
               "someone else is changing it too; try again in a moment");
}

}  // namespace wb::workbench
