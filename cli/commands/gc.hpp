// Retention from other commands: `wb push jar` runs it after a successful deploy when the
// profile says retention.auto.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "context.hpp"
#include "kube/client.hpp"

namespace wb::cli::commands {

// Cleans up app `app` in `ns` by the profile's retention, keeping `pushed_digest` whatever its
// age. Never fails: problems become warnings on stderr (a registry that refuses deletes is one
// warning). Returns a summary for -o json: {"deleted": {kind: n}, "notDeleted": n, "warnings": [...]}.
nlohmann::json retention_after_push(Context& ctx, kube::Client& client, const std::string& ns, const std::string& app,
                                    const std::string& pushed_digest);

}  // namespace wb::cli::commands
