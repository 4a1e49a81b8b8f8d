// Numbered versions kept on the cluster (an app's config versions, its routes versions). A version
// is a few objects whose names carry its number ("orders-config-v3"); creating them claims the
// number, since two writers cannot both create one name. A writer reads the newest version, makes
// its change on top, and creates number newest + 1; when another writer created that number first,
// it reads again and makes its change on top of theirs.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "kube/client.hpp"
#include "util/result.hpp"

namespace wb::workbench {

using json = nlohmann::json;

// How many times a writer tries before it gives up (each lost try is a version someone else wrote).
inline constexpr int kVersionAttempts = 10;

// A version's objects, in the order they are created. The last one is what readers list versions
// by, so once it is visible the others are too.
using VersionObjects = std::vector<std::pair<kube::ResourceType, json>>;

// What creating a version's objects came to: made (the server's copies, in order), or `taken` when
// another writer had created that number first.
struct CreatedVersion {
  bool taken = false;
  std::vector<json> objects;
};

// Creates a version's objects in workspace `ns`. When one cannot be made, those made before it are
// removed again; a conflict is `taken`, any other failure an error (a 403 in app terms).
util::Result<CreatedVersion> create_version(kube::Client& client, const std::string& ns, const VersionObjects& objects);

// The writer's loop: `attempt` reads the newest version, makes the next one from it and creates it
// (create_version); it returns true when the version is written, false when its number was taken.
// It runs until it writes, fails, or has lost `attempts` times; then Conflict: "<what> kept changing
// while wb was writing a new version (N tries)". Returns the number of tries it took.
util::Result<int> claim_next_version(const std::function<util::Result<bool>()>& attempt, int attempts,
                                     const std::string& what);

}  // namespace wb::workbench
