// Retention: the keep/delete decision over a snapshot, reading the snapshot, applying the plan.
#include "workbench/delivery/gc.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "oci/registry_client.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/versions/config.hpp"
#include "workbench/versions/routes.hpp"

namespace wb::workbench {

using fields::at;
using fields::meta_string;
using fields::str;
using util::Error;
using util::ErrorCode;
namespace k = wb::kube;

namespace {

long to_long(const std::string& s) { return util::parse_int<long>(s, "").value_or(0); }

long revision_number(const json& obj) { return to_long(meta_string(obj, "annotations", annotations::kRevision)); }

bool owned_by(const json& obj, const std::string& uid) {
  for (const auto& ref :
       at(obj, "/metadata/ownerReferences").is_array() ? at(obj, "/metadata/ownerReferences") : json::array())
    if (ref.value("uid", "") == uid) return true;
  return false;
}

int replicas_of(const json& rs) {
  return std::max(fields::integer(rs, "/spec/replicas", 0), fields::integer(rs, "/status/replicas", 0));
}

// Every image a pod template (or pod spec holder) names: containers and init containers.
std::vector<std::string> template_images(const json& pod_template) {
  std::vector<std::string> out;
  for (const char* p : {"/spec/containers", "/spec/initContainers"}) {
    const json& list = at(pod_template, p);
    if (!list.is_array()) continue;
    for (const auto& c : list)
      if (c.is_object() && c.contains("image") && c["image"].is_string()) out.push_back(c["image"].get<std::string>());
  }
  return out;
}

// Natural order: digit runs compare as numbers ("v9" < "v10").
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      std::string na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei, j = ej;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i, ++j;
  }
  return a.size() - i < b.size() - j;
}

std::string greatest_tag(const std::vector<std::string>& tags) {
  std::string best;
  for (const auto& t : tags)
    if (best.empty() || natural_less(best, t)) best = t;
  return best;
}

// Resolves an image string to a digest of `repository`: "repo@sha256:..", "repo:tag" (through the
// tag list), an imageID ("docker-pullable://repo@sha256:.."). "" when it is another repository's
// or unknown.
class ImageResolver {
 public:
  ImageResolver(const std::string& repository, const std::vector<RepositoryImage>& images) : repository_(repository) {
    for (const auto& img : images)
      for (const auto& t : img.tags) by_tag_[t] = img.digest;
  }
  std::string digest_of(std::string image) const {
    if (repository_.empty() || image.empty()) return "";
    for (const char* prefix : {"docker-pullable://", "docker://"})
      if (image.rfind(prefix, 0) == 0) image.erase(0, std::string(prefix).size());
    auto ref = oci::parse_reference(image);
    if (!ref || ref->name() != repository_) return "";
    if (!ref->digest.empty()) return ref->digest;
    auto it = by_tag_.find(ref->tag);
    return it == by_tag_.end() ? "" : it->second;
  }

 private:
  std::string repository_;
  std::map<std::string, std::string> by_tag_;
};

struct RevisionInfo {
  const json* rs = nullptr;
  std::string name;
  long number = 0;
  bool current = false;
};

std::string retention_words(int n, const char* key) { return fmt::format("retention.{} = {}", key, n); }

// Keep or delete numbered versions (config, routes), newest first: the `keep` newest and every one
// something still uses stay (each with its reasons); the rest go, saying why.
void plan_versions(GcPlan& plan, GcKind kind, const char* what,
                   const std::map<int, std::vector<std::pair<k::ResourceType, std::string>>>& objects, int keep,
                   const std::map<int, std::vector<std::string>>& users, const char* unused) {
  int rank = 0;
  for (auto it = objects.rbegin(); it != objects.rend(); ++it, ++rank) {
    GcItem item;
    item.kind = kind;
    item.number = it->first;
    item.name = fmt::format("v{}", it->first);
    item.objects = it->second;
    if (rank < keep)
      item.reasons.push_back(
          fmt::format("one of the {} newest {} versions ({})", keep, what, retention_words(keep, "configs")));
    if (auto u = users.find(it->first); u != users.end())
      for (const auto& why : u->second) item.reasons.push_back(why);
    item.keep = !item.reasons.empty();
    if (!item.keep)
      item.reasons.push_back(fmt::format("older than the {} newest {} versions ({}) and {}", keep, what,
                                         retention_words(keep, "configs"), unused));
    plan.items.push_back(std::move(item));
  }
}

// The app's versions (ReplicaSets owned by the Deployment) and which of them stay.
struct Revisions {
  std::vector<RevisionInfo> ours;    // made by wb, newest first
  std::vector<const json*> staying;  // templates of versions that stay (kept or not ours)
  long current = 0;
};

// Keep or delete each version wb made: the current one, those with replicas and the
// `policy.revisions` newest to roll back to stay. Versions not made by wb are never touched, but stay.
Revisions plan_revisions(GcPlan& plan, const GcSnapshot& s, const RetentionPolicy& policy) {
  Revisions out;
  const std::string uid = str(s.deployment, "/metadata/uid");
  std::vector<RevisionInfo>& revisions = out.ours;
  std::vector<const json*> foreign;  // owned but not made by wb: never touched, but they stay
  if (s.replica_sets.is_array()) {
    for (const auto& rs : s.replica_sets) {
      if (uid.empty() || !owned_by(rs, uid)) continue;
      const long n = revision_number(rs);
      if (n <= 0) continue;
      if (!made_by_wb(rs)) {
        foreign.push_back(&rs);
        continue;
      }
      revisions.push_back({&rs, str(rs, "/metadata/name"), n, false});
    }
  }
  std::sort(revisions.begin(), revisions.end(), [](const auto& a, const auto& b) { return a.number > b.number; });
  long current = revision_number(s.deployment);
  if (!revisions.empty() &&
      std::none_of(revisions.begin(), revisions.end(), [&](const auto& r) { return r.number == current; }))
    current = revisions.front().number;
  out.current = current;
  int old_kept = 0;
  std::vector<const json*>& staying = out.staying;
  for (const json* f : foreign) staying.push_back(f);
  for (auto& r : revisions) {
    GcItem item;
    item.kind = GcKind::Revision;
    item.name = r.name;
    item.number = r.number;
    item.objects.push_back({k::types::ReplicaSet, r.name});
    r.current = r.number == current;
    if (r.current) item.reasons.push_back("current version");
    if (replicas_of(*r.rs) > 0 && !r.current) item.reasons.push_back("still has replicas");
    if (!r.current) {
      if (old_kept < policy.revisions) {
        ++old_kept;
        item.reasons.push_back(fmt::format("one of the {} newest versions to roll back to ({})", policy.revisions,
                                           retention_words(policy.revisions, "revisions")));
      }
    }
    item.keep = !item.reasons.empty();
    if (!item.keep)
      item.reasons.push_back(fmt::format("older than the {} newest versions to roll back to ({})", policy.revisions,
                                         retention_words(policy.revisions, "revisions")));
    if (item.keep) staying.push_back(r.rs);
    plan.items.push_back(std::move(item));
  }
  return out;
}

using VersionObjects = std::map<int, std::vector<std::pair<k::ResourceType, std::string>>>;

// Keep or delete config versions (ConfigMaps and Secrets) and routes versions (ConfigMaps): the
// newest stay, and so does every config version the app or a staying version uses and the routes
// version the Ingress shows.
void plan_config_and_routes(GcPlan& plan, const GcSnapshot& s, const RetentionPolicy& policy,
                            const std::vector<const json*>& staying) {
  VersionObjects config_objects;
  VersionObjects routes_objects;
  auto mine = [&](const json& obj) { return made_by_wb(obj) && meta_string(obj, "labels", labels::kName) == s.app; };
  if (s.config_maps.is_array()) {
    for (const auto& cm : s.config_maps) {
      if (!mine(cm)) continue;
      const std::string name = str(cm, "/metadata/name");
      if (!meta_string(cm, "labels", kConfigVersionLabel).empty()) {
        if (int n = config_version_number(cm, s.app); n > 0) config_objects[n].push_back({k::types::ConfigMap, name});
      } else if (!meta_string(cm, "labels", kRoutesVersionLabel).empty()) {
        if (int n = static_cast<int>(to_long(meta_string(cm, "labels", kRoutesVersionLabel))); n > 0)
          routes_objects[n].push_back({k::types::ConfigMap, name});
      }
    }
  }
  if (s.secrets.is_array()) {
    for (const auto& sec : s.secrets) {
      if (!mine(sec) || meta_string(sec, "labels", kConfigVersionLabel).empty()) continue;
      if (int n = config_version_number(sec, s.app); n > 0)
        config_objects[n].push_back({k::types::Secret, str(sec, "/metadata/name")});
    }
  }
  std::map<int, std::vector<std::string>> config_users;  // version -> who uses it
  if (int v = referenced_config_version(at(s.deployment, "/spec/template"), s.app); v > 0)
    config_users[v].push_back("the app's current settings use it");
  for (const json* rs : staying) {
    if (int v = referenced_config_version(at(*rs, "/spec/template"), s.app); v > 0)
      config_users[v].push_back(fmt::format("revision {} uses it", revision_number(*rs)));
  }
  plan_versions(plan, GcKind::Config, "config", config_objects, policy.configs, config_users,
                "no kept version uses it");

  const int live_routes =
      s.ingress.is_object() ? static_cast<int>(to_long(meta_string(s.ingress, "annotations", kRoutesVersionAnnotation)))
                            : 0;
  std::map<int, std::vector<std::string>> routes_users;
  if (live_routes > 0) routes_users[live_routes].push_back("the app's Ingress shows it");
  plan_versions(plan, GcKind::Routes, "routes", routes_objects, policy.configs, routes_users, "not live");
}

// Who uses each image of the repository, and the newest version that ran it.
struct ImageUse {
  std::map<std::string, long> last_ran;                   // digest -> newest revision that ran it
  std::map<std::string, std::vector<std::string>> users;  // digest -> reasons it is in use
};

// The images staying versions, the Deployment, live pods and the push just made use.
ImageUse image_use(const GcSnapshot& s, const Revisions& revs, const ImageResolver& resolve) {
  ImageUse use;
  auto& last_ran = use.last_ran;
  auto& users = use.users;
  const long current = revs.current;
  auto add_user = [&](const std::string& digest, const std::string& why) {
    if (digest.empty()) return;
    auto& u = users[digest];
    if (std::find(u.begin(), u.end(), why) == u.end()) u.push_back(why);
  };
  for (const auto& r : revs.ours)
    for (const auto& img : template_images(at(*r.rs, "/spec/template")))
      if (auto d = resolve.digest_of(img); !d.empty()) last_ran[d] = std::max(last_ran[d], r.number);
  for (const json* rs : revs.staying) {
    const long n = revision_number(*rs);
    for (const auto& img : template_images(at(*rs, "/spec/template")))
      add_user(resolve.digest_of(img), n == current ? fmt::format("revision {} (current) runs it", n)
                                                    : fmt::format("revision {} (to roll back to) runs it", n));
  }
  for (const auto& img : template_images(at(s.deployment, "/spec/template"))) {
    auto d = resolve.digest_of(img);
    add_user(d, "the app's Deployment names it");
    if (!d.empty() && !last_ran.count(d)) last_ran[d] = current + 1;  // not rolled out yet: the newest
  }
  if (s.pods.is_array()) {
    for (const auto& pod : s.pods) {
      const std::string phase = str(pod, "/status/phase");
      if (phase == "Succeeded" || phase == "Failed") continue;
      const std::string why = fmt::format("pod {} uses it", str(pod, "/metadata/name"));
      for (const auto& img : template_images(pod)) add_user(resolve.digest_of(img), why);
      for (const char* p : {"/status/containerStatuses", "/status/initContainerStatuses"}) {
        const json& st = at(pod, p);
        if (!st.is_array()) continue;
        for (const auto& c : st) {
          if (!c.is_object()) continue;
          add_user(resolve.digest_of(c.value("imageID", "")), why);
          add_user(resolve.digest_of(c.value("image", "")), why);
        }
      }
    }
  }
  for (const auto& d : s.just_pushed) add_user(d, "just pushed");
  return use;
}

// Keep or delete each image, newest (by the version that last ran it, then by tag) first: the
// `policy.images` newest and every one in use stay.
void plan_images(GcPlan& plan, const GcSnapshot& s, const RetentionPolicy& policy, ImageUse use) {
  auto& last_ran = use.last_ran;
  auto& users = use.users;
  std::vector<const RepositoryImage*> order;
  for (const auto& img : s.images) order.push_back(&img);
  std::sort(order.begin(), order.end(), [&](const RepositoryImage* a, const RepositoryImage* b) {
    auto ra = last_ran.find(a->digest), rb = last_ran.find(b->digest);
    const bool ha = ra != last_ran.end(), hb = rb != last_ran.end();
    if (ha != hb) return ha;
    if (ha && ra->second != rb->second) return ra->second > rb->second;
    const std::string ta = greatest_tag(a->tags), tb = greatest_tag(b->tags);
    if (ta != tb) return natural_less(tb, ta);
    return a->digest < b->digest;
  });
  int rank = 0;
  for (const RepositoryImage* img : order) {
    GcItem item;
    item.kind = GcKind::Image;
    item.name = img->digest;
    item.tags = img->tags;
    std::sort(item.tags.begin(), item.tags.end(), natural_less);
    if (rank++ < policy.images)
      item.reasons.push_back(
          fmt::format("one of the {} newest images ({})", policy.images, retention_words(policy.images, "images")));
    for (const auto& u : users[img->digest]) item.reasons.push_back(u);
    item.keep = !item.reasons.empty();
    if (!item.keep) {
      auto ran = last_ran.find(img->digest);
      item.reasons.push_back(fmt::format(
          "older than the {} newest images ({}); {}", policy.images, retention_words(policy.images, "images"),
          ran == last_ran.end() ? std::string("no version of the app ran it")
                                : fmt::format("last ran in revision {}, which is not kept", ran->second)));
    }
    plan.items.push_back(std::move(item));
  }
}

}  // namespace

RetentionPolicy retention_policy(const Settings& settings) {
  RetentionPolicy p;
  p.images = std::max(1, settings.get_int("retention.images"));
  p.configs = std::max(1, settings.get_int("retention.configs"));
  p.revisions = std::max(0, settings.get_int("retention.revisions"));
  p.automatic = settings.get_bool("retention.auto");
  return p;
}

std::string gc_kind_name(GcKind kind) {
  switch (kind) {
    case GcKind::Revision:
      return "revision";
    case GcKind::Config:
      return "config";
    case GcKind::Routes:
      return "routes";
    case GcKind::Image:
      return "image";
  }
  return "?";
}

size_t GcPlan::deletes() const {
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [](const GcItem& i) { return !i.keep; }));
}

GcPlan plan_gc(const GcSnapshot& s, const RetentionPolicy& policy) {
  GcPlan plan;
  plan.app = s.app;
  plan.workspace = s.workspace;
  plan.repository = s.repository;
  const Revisions revisions = plan_revisions(plan, s, policy);
  plan_config_and_routes(plan, s, policy, revisions.staying);
  if (s.repository.empty()) {
    plan.notes.push_back("no registry configured (registry.host): images are not cleaned up");
    return plan;
  }
  if (!s.images_listed) return plan;
  const ImageResolver resolve(s.repository, s.images);
  plan_images(plan, s, policy, image_use(s, revisions, resolve));
  return plan;
}

// ---------------------------------------------------------------- the cluster and the registry

Result<std::optional<oci::Reference>> app_repository(const Settings& settings, const std::string& app) {
  auto host = settings.get("registry.host");
  if (!host || host->empty()) return std::optional<oci::Reference>();
  std::string project = settings.text("registry.project");
  while (!project.empty() && project.back() == '/') project.pop_back();
  const std::string repo = *host + "/" + (project.empty() ? "" : project + "/") + app;
  auto ref = oci::parse_reference(repo);
  if (!ref)
    return Error(ErrorCode::Usage,
                 fmt::format("registry.host and registry.project make '{}', not an image repository", repo),
                 "check them with `wb profile show --resolved`");
  ref->tag.clear();
  return std::optional<oci::Reference>(*ref);
}

namespace {

json items_of(const Result<json>& list) { return list ? list->value("items", json::array()) : json::array(); }

}  // namespace

Result<GcSnapshot> read_gc_snapshot(k::Client& client, oci::Registry* registry, const std::string& ns,
                                    const std::string& app, const std::optional<oci::Reference>& repository) {
  GcSnapshot s;
  s.app = app;
  s.workspace = ns;
  WB_ASSIGN_OR_RETURN(s.deployment, read_app(client, ns, app));
  // Everything below must be read in full: what cannot be seen cannot be known to be unused.
  k::ListOptions by_name;
  by_name.label_selector = fmt::format("{}={}", labels::kName, app);
  auto rss = client.list(k::types::ReplicaSet, ns, by_name);
  if (!rss) return refused_in_workspace(std::move(rss).error(), ns);
  s.replica_sets = items_of(rss);
  auto pods = client.list(k::types::Pod, ns);
  if (!pods) return refused_in_workspace(std::move(pods).error(), ns);
  s.pods = items_of(pods);
  k::ListOptions ours;
  ours.label_selector = made_for_app(app);
  auto cms = client.list(k::types::ConfigMap, ns, ours);
  if (!cms) return refused_in_workspace(std::move(cms).error(), ns);
  s.config_maps = items_of(cms);
  k::ListOptions secret_opts;
  secret_opts.label_selector = made_for_app(app) + "," + kConfigVersionLabel;
  auto secrets = client.list(k::types::Secret, ns, secret_opts);
  if (!secrets) return refused_in_workspace(std::move(secrets).error(), ns);
  s.secrets = items_of(secrets);
  if (auto ingress_type = client.prefer({k::types::IngressV1, k::types::IngressV1beta1})) {
    auto ing = client.get(*ingress_type, ns, app);
    if (ing) {
      s.ingress = *ing;
    } else if (ing.error().code != ErrorCode::NotFound) {
      return refused_in_workspace(std::move(ing).error(), ns);
    }
  }

  if (!repository || !registry) return s;
  s.repository = repository->name();
  auto tags = registry->list_tags(*repository);
  if (!tags) return tags.error().with_context(fmt::format("listing the images of {}", s.repository));
  std::map<std::string, RepositoryImage> by_digest;
  for (const auto& tag : *tags) {
    oci::Reference ref = *repository;
    ref.tag = tag;
    auto head = registry->head_manifest(ref);
    if (!head) {
      if (head.error().code == ErrorCode::NotFound) continue;  // untagged meanwhile
      return head.error().with_context(fmt::format("reading {}:{}", s.repository, tag));
    }
    auto& img = by_digest[head->digest];
    img.digest = head->digest;
    img.tags.push_back(tag);
  }
  // Manifests versions name by digest whose tags have moved on are still in the repository.
  ImageResolver resolve(s.repository, {});
  std::set<std::string> referenced;
  for (const auto& rs : s.replica_sets)
    for (const auto& img : template_images(at(rs, "/spec/template"))) referenced.insert(resolve.digest_of(img));
  for (const auto& img : template_images(at(s.deployment, "/spec/template"))) referenced.insert(resolve.digest_of(img));
  for (const auto& d : referenced) {
    if (d.empty() || by_digest.count(d)) continue;
    oci::Reference ref = *repository;
    ref.digest = d;
    auto head = registry->head_manifest(ref);
    if (!head) {
      if (head.error().code == ErrorCode::NotFound) continue;
      return head.error().with_context(fmt::format("reading {}@{}", s.repository, d));
    }
    by_digest[d].digest = d;
  }
  for (auto& [d, img] : by_digest) s.images.push_back(std::move(img));
  s.images_listed = true;
  return s;
}

GcOutcome apply_gc_plan(k::Client& client, oci::Registry* registry, const GcPlan& plan) {
  GcOutcome out;
  std::vector<const GcItem*> doomed;
  for (GcKind kind : {GcKind::Revision, GcKind::Config, GcKind::Routes, GcKind::Image})
    for (const auto& item : plan.items)
      if (item.kind == kind && !item.keep) doomed.push_back(&item);
  std::vector<std::string> rescued_images;  // images of versions that got replicas since the plan
  size_t i = 0;
  auto stop = [&](Error e) -> GcOutcome {
    out.failure = std::move(e);
    for (; i < doomed.size(); ++i) out.not_deleted.push_back(doomed[i]);
    return out;
  };
  for (; i < doomed.size(); ++i) {
    const GcItem& item = *doomed[i];
    if (item.kind == GcKind::Revision) {
      // A version that got replicas since the plan was made (a rollback to it) stays.
      auto rs = client.get(k::types::ReplicaSet, plan.workspace, item.name);
      if (!rs && rs.error().code == ErrorCode::NotFound) {
        out.deleted.push_back(&item);
        continue;
      }
      if (!rs) return stop(refused_in_workspace(std::move(rs).error(), plan.workspace, true));
      if (replicas_of(*rs) > 0 || !made_by_wb(*rs)) {
        out.not_deleted.push_back(&item);
        for (const auto& img : template_images(at(*rs, "/spec/template"))) rescued_images.push_back(img);
        continue;
      }
    }
    if (item.kind != GcKind::Image) {
      for (const auto& [type, name] : item.objects) {
        k::DeleteOptions opts;
        opts.propagation = "Background";
        auto st = client.remove(type, plan.workspace, name, opts);
        if (!st && st.error().code != ErrorCode::NotFound) {
          Error e = refused_in_workspace(std::move(st).error(), plan.workspace, true);
          e.message = fmt::format("deleting {} {} of {}: {}", gc_kind_name(item.kind), item.name, plan.app, e.message);
          return stop(std::move(e));
        }
      }
      out.deleted.push_back(&item);
      continue;
    }
    // An image a rescued version runs stays with it.
    const bool rescued = std::any_of(rescued_images.begin(), rescued_images.end(), [&](const std::string& img) {
      if (img.find("@" + item.name) != std::string::npos) return true;
      return std::any_of(item.tags.begin(), item.tags.end(),
                         [&](const std::string& t) { return img == plan.repository + ":" + t; });
    });
    if (!registry || out.registry_refused || rescued) {
      out.not_deleted.push_back(&item);
      continue;
    }
    auto ref = oci::parse_reference(plan.repository);
    if (!ref) return stop(ref.error());
    ref->tag.clear();
    ref->digest = item.name;
    auto st = registry->delete_manifest(*ref);
    if (st || st.error().code == ErrorCode::NotFound) {
      out.deleted.push_back(&item);
      continue;
    }
    if (oci::deletes_disabled(st.error())) {
      out.registry_refused = true;
      out.registry_message = st.error().message;
      out.not_deleted.push_back(&item);
      continue;
    }
    Error e = st.error();
    e.message = fmt::format("deleting image {} of {}: {}", item.name, plan.app, e.message);
    return stop(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------- retention after a push

bool wait_until_observed(k::Client& client, const std::string& ns, const std::string& app,
                         std::chrono::milliseconds limit, std::stop_token stop) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto d = client.get(k::types::Deployment, ns, app);
    if (!d) return false;
    if (util::json_at(*d, "/status/observedGeneration", int64_t{0}) >=
        util::json_at(*d, "/metadata/generation", int64_t{0}))
      return true;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds::zero()) return false;
    if (!util::sleep_for(std::min(left, std::chrono::milliseconds(100)), stop)) return false;
  }
}

size_t PushRetention::deleted_total() const {
  size_t n = 0;
  for (const auto& [kind, count] : deleted) n += static_cast<size_t>(count);
  return n;
}

PushRetention retain_after_push(k::Client& client, oci::Registry* registry, const RetentionPolicy& policy,
                                const std::string& ns, const std::string& app,
                                const std::optional<oci::Reference>& repository, const std::string& pushed_digest,
                                std::stop_token stop) {
  PushRetention out;
  wait_until_observed(client, ns, app, std::chrono::seconds(30), stop);
  auto snapshot = read_gc_snapshot(client, repository ? registry : nullptr, ns, app, repository);
  if (!snapshot) {
    out.skipped = std::move(snapshot).error();
    return out;
  }
  snapshot->just_pushed.insert(pushed_digest);
  const GcPlan plan = plan_gc(*snapshot, policy);
  GcOutcome outcome = apply_gc_plan(client, repository ? registry : nullptr, plan);
  for (const auto* item : outcome.deleted) ++out.deleted[gc_kind_name(item->kind)];
  out.not_deleted = outcome.not_deleted.size();
  if (outcome.registry_refused) out.registry_refused = outcome.registry_message;
  out.failure = std::move(outcome.failure);
  return out;
}

}  // namespace wb::workbench
