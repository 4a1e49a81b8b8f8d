#include "image/push.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <set>
#include <thread>

#include "util/byte_pipe.hpp"
#include "util/fs.hpp"
#include "util/interrupt.hpp"
#include "util/json.hpp"
#include "util/stop.hpp"

namespace wb::image {

using util::Error;
using util::ErrorCode;

const char* fate_name(LayerFate fate) {
  switch (fate) {
    case LayerFate::Uploaded:
      return "uploaded";
    case LayerFate::Skipped:
      return "skipped";
    case LayerFate::Mounted:
      return "mounted";
    case LayerFate::Copied:
      return "copied";
  }
  return "?";
}

// ---- LayerCache ----

namespace {

constexpr size_t kCacheMaxEntries = 2000;

template <class Entry>
void load_cache_file(const std::filesystem::path& file, std::map<std::string, Entry>& into) {
  auto text = util::read_file(file);
  if (!text.ok()) return;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || util::json_value(j, "version", 0) != 1 || !j.contains("layers") ||
      !j["layers"].is_object()) {
    return;  // a cache: unreadable means empty
  }
  for (auto it = j["layers"].begin(); it != j["layers"].end(); ++it) {
    const json& v = it.value();
    if (!v.is_object() || !v.contains("digest") || !v["digest"].is_string() || !v.contains("size") ||
        !v["size"].is_number_integer()) {
      continue;
    }
    std::string digest = v["digest"].get<std::string>();
    std::string diff_id = util::json_value(v, "diffId", "");
    if (!oci::is_valid_digest(digest) || !oci::is_valid_digest(diff_id)) continue;  // older wb's entries
    Entry e;
    e.diff_id = diff_id;
    e.digest = digest;
    e.size = v["size"].get<int64_t>();
    e.time = util::json_value(v, "time", int64_t{0});
    into.emplace(it.key(), e);
  }
}

}  // namespace

LayerCache::LayerCache(std::filesystem::path file) : file_(std::move(file)) {
  if (!file_.empty()) load_cache_file(file_, entries_);
}

std::optional<LayerCache::Hit> LayerCache::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return Hit{it->second.diff_id, it->second.digest, it->second.size};
}

void LayerCache::put(const std::string& key, const Hit& layer) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key] = Entry{layer.diff_id, layer.digest, layer.size, static_cast<int64_t>(std::time(nullptr))};
  dirty_ = true;
}

Status LayerCache::save() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_.empty() || !dirty_) return {};
  std::map<std::string, Entry> merged;
  load_cache_file(file_, merged);
  for (const auto& [k, v] : entries_) merged[k] = v;
  if (merged.size() > kCacheMaxEntries) {
    std::vector<std::pair<int64_t, std::string>> by_time;
    for (const auto& [k, v] : merged) by_time.emplace_back(v.time, k);
    std::sort(by_time.begin(), by_time.end());
    for (size_t i = 0; i + kCacheMaxEntries < by_time.size(); ++i) merged.erase(by_time[i].second);
  }
  json layers = json::object();
  for (const auto& [k, v] : merged)
    layers[k] = {{"diffId", v.diff_id}, {"digest", v.digest}, {"size", v.size}, {"time", v.time}};
  WB_TRY(util::write_file_atomic(file_, json({{"version", 1}, {"layers", layers}}).dump(1) + "\n"));
  dirty_ = false;
  return {};
}

namespace {

// Serialises observer calls from the worker threads.
class Progress {
 public:
  explicit Progress(PushObserver* o) : o_(o) {}
  template <class F>
  void call(F&& f) {
    if (!o_) return;
    std::lock_guard<std::mutex> lock(mu_);
    f(*o_);
  }

 private:
  PushObserver* o_;
  std::mutex mu_;
};

// Cancels the other layers when one fails, and everything on Ctrl-C.
struct Cancel {
  util::StopAny source{util::interrupt_token()};
  void request() { source.request_stop(); }
  std::stop_token token() const { return source.token(); }
  bool stop() const { return source.stop_requested() || util::interrupted(); }
  Error error() const {
    return util::interrupted() ? Error(ErrorCode::Interrupted, "interrupted")
                               : Error(ErrorCode::Interrupted, "stopped because another layer failed");
  }
};

// A base layer on its way from the base registry to the target: get_blob (push-style, on its
// own thread) feeds a bounded pipe that put_blob's reader (pull-style) drains.
class BlobCopy {
 public:
  BlobCopy(oci::Registry& from, const oci::Reference& repo, const std::string& digest, const Cancel& cancel)
      : cancel_(cancel), pipe_(kMaxBuffered, cancel.token()) {
    thread_ = std::thread([this, &from, repo, digest] {
      Status st = from.get_blob(repo, digest, [this](std::string_view chunk) { return pipe_.write(chunk); });
      if (st.ok())
        pipe_.close();
      else
        pipe_.fail(st.error());
    });
  }
  ~BlobCopy() {
    pipe_.close_reader();
    thread_.join();
  }
  BlobCopy(const BlobCopy&) = delete;
  BlobCopy& operator=(const BlobCopy&) = delete;

  Result<size_t> read(char* buf, size_t size) {
    auto n = pipe_.read(buf, size);
    if (cancel_.stop()) return cancel_.error();
    return n;
  }

 private:
  static constexpr size_t kMaxBuffered = 4u << 20;

  const Cancel& cancel_;
  util::BytePipe pipe_;
  std::thread thread_;
};

// Runs tasks on up to `parallel` threads; the first error cancels the rest and is returned.
// A task that throws (a bug) has its exception rethrown here after every thread has stopped.
Status run_parallel(const std::vector<std::function<Status()>>& tasks, int parallel, Cancel& cancel) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first;
  std::exception_ptr thrown;
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= tasks.size() || cancel.stop()) return;
      try {
        Status st = tasks[i]();
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (!first) first = st.error();
          cancel.request();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!thrown) thrown = std::current_exception();
        cancel.request();
      }
    }
  };
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(parallel, 1)), 1, std::max<size_t>(tasks.size(), 1));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (thrown) std::rethrow_exception(thrown);
  if (first) return *first;
  if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
  return {};
}

oci::Reference by_digest(const oci::Reference& ref, const std::string& digest) {
  oci::Reference r = ref;
  r.tag.clear();
  r.digest = digest;
  return r;
}

oci::Reference by_tag(const oci::Reference& ref, const std::string& tag) {
  oci::Reference r = ref;
  r.tag = tag;
  r.digest.clear();
  return r;
}

Status check_digest(const std::string& what, const std::string& expected, const std::string& got) {
  if (!got.empty() && got != expected) {
    return Error(ErrorCode::Failure, "the registry stored " + what + " as " + got + ", but it is " + expected);
  }
  return {};
}

// Base layers, each once (platforms share none usually, but a digest is a digest).
Result<std::vector<json>> distinct_base_layers(const Base& base, const oci::Reference& base_ref) {
  std::vector<json> layers;
  std::set<std::string> seen;
  for (const BaseImage& img : base.images) {
    for (const json& l : img.manifest["layers"]) {
      std::string d = l.is_object() ? util::json_value(l, "digest", "") : "";
      if (!oci::is_valid_digest(d)) {
        return Error(ErrorCode::Failure, "base image " + base_ref.str() + " has a layer without a valid digest");
      }
      if (seen.insert(d).second) layers.push_back(l);
    }
  }
  return layers;
}

// One push: the layers in parallel (base layers copied, app layers built and uploaded), then
// per platform a config and a manifest, then the index or manifest under each tag.
class ImagePush {
 public:
  ImagePush(oci::Registry& target, const oci::Reference& target_ref, oci::Registry& base_registry,
            const oci::Reference& base_ref, const jar::LayerPlan& plan, const PushOptions& options, Base base,
            std::vector<json> base_layers)
      : target_(target),
        target_ref_(target_ref),
        base_registry_(base_registry),
        base_ref_(base_ref),
        plan_(plan),
        io_(options.image),
        layer_options_{layer_mtime(io_), io_.uid, io_.gid, io_.gzip_level},
        parallel_(options.parallel),
        progress_(options.observer),
        cache_(options.cache_file),
        base_(std::move(base)),
        family_(base_.family),
        base_layers_(std::move(base_layers)) {
    result_.layers.resize(base_layers_.size() + plan_.layers.size());
  }

  Result<PushResult> run(const std::vector<std::string>& tags) {
    WB_TRY(push_layers());
    WB_ASSIGN_OR_RETURN(std::vector<PlatformManifest> manifests, push_configs());
    WB_TRY(put_manifests(manifests, tags));
    return std::move(result_);
  }

 private:
  // A platform's manifest, built but not put yet.
  struct PlatformManifest {
    std::string bytes;
    oci::Descriptor descriptor;
  };

  Status push_layers() {
    std::vector<std::function<Status()>> tasks;
    for (size_t i = 0; i < base_layers_.size(); ++i) tasks.push_back([this, i] { return push_base_layer(i); });
    for (size_t i = 0; i < plan_.layers.size(); ++i) tasks.push_back([this, i] { return push_app_layer(i); });
    progress_.call([&](PushObserver& o) { o.on_step("pushing layers"); });
    Status layers_status = run_parallel(tasks, parallel_, cancel_);
    (void)cache_.save();  // best effort: what was learned stays true even if the push failed
    return layers_status;
  }

  Status finished(LayerReport& rep, LayerFate fate) {
    rep.fate = fate;
    progress_.call([&](PushObserver& o) { o.on_layer_finished(rep); });
    return {};
  }

  // Skipped when the target has it, mounted from the base's repository on the same registry,
  // else streamed from the base registry to the target.
  Status push_base_layer(size_t i) {
    const json& l = base_layers_[i];
    LayerReport& rep = result_.layers[i];
    rep.name = "base";
    rep.from_base = true;
    rep.digest = l["digest"].get<std::string>();
    rep.size = util::json_value(l, "size", int64_t{0});
    const std::string media_type = util::json_value(l, "mediaType", std::string(layer_media_type(family_)));
    rep.media_type = media_type;
    progress_.call([&](PushObserver& o) { o.on_layer_started(rep.name, rep.digest, rep.size); });
    if (l.contains("urls")) return finished(rep, LayerFate::Skipped);  // foreign layer: never pushed
    WB_ASSIGN_OR_RETURN(bool has, target_.has_blob(target_ref_, rep.digest));
    if (has) return finished(rep, LayerFate::Skipped);
    if (base_ref_.registry == target_ref_.registry && base_ref_.repository != target_ref_.repository) {
      WB_ASSIGN_OR_RETURN(bool mounted, target_.mount_blob(target_ref_, rep.digest, base_ref_.repository));
      if (mounted) return finished(rep, LayerFate::Mounted);
    }
    WB_TRY(copy_base_layer(rep, media_type));
    return finished(rep, LayerFate::Copied);
  }

  Status copy_base_layer(LayerReport& rep, const std::string& media_type) {
    std::shared_ptr<BlobCopy> copy;
    auto done = std::make_shared<std::atomic<int64_t>>(0);
    oci::Registry::BlobOpener open = [&]() -> Result<http::BodyReader> {
      copy.reset();  // a retry starts the download again
      copy = std::make_shared<BlobCopy>(base_registry_, base_ref_, rep.digest, cancel_);
      *done = 0;
      return http::BodyReader([c = copy, done, this, &rep](char* buf, size_t size) -> Result<size_t> {
        WB_ASSIGN_OR_RETURN(size_t n, c->read(buf, size));
        *done += static_cast<int64_t>(n);
        progress_.call([&](PushObserver& o) { o.on_layer_bytes(rep.name, *done, rep.size); });
        return n;
      });
    };
    auto put = target_.put_blob(target_ref_, open, rep.size, rep.digest, media_type);
    copy.reset();
    if (!put.ok()) return std::move(put).error().with_context("copying base layer " + rep.digest);
    return check_digest("base layer " + rep.digest, rep.digest, put->digest);
  }

  // Skipped when an earlier build made a layer of the same key, the tar still hashes to its
  // diff_id and the target has its digest; else built, hashed and uploaded in one pass.
  Status push_app_layer(size_t i) {
    const jar::Layer& layer = plan_.layers[i];
    LayerReport& rep = result_.layers[base_layers_.size() + i];
    rep.name = layer.name;
    progress_.call([&](PushObserver& o) { o.on_layer_started(rep.name, "", -1); });
    WB_ASSIGN_OR_RETURN(LayerChoice choice, choose_layer_output(plan_.jar, layer, layer_options_, io_.compression));
    const bool gzip = choice.output == LayerStream::Output::Gzip;
    rep.media_type = layer_media_type(family_, gzip);
    if (auto known = cache_.find(choice.key)) {
      WB_ASSIGN_OR_RETURN(LayerDigests tar, compute_diff_id(plan_.jar, layer, layer_options_));
      if (cancel_.stop()) return cancel_.error();
      if (tar.diff_id == known->diff_id) {
        WB_ASSIGN_OR_RETURN(bool has, target_.has_blob(target_ref_, known->digest));
        if (has) {
          rep.diff_id = known->diff_id;
          rep.digest = known->digest;
          rep.size = known->size;
          return finished(rep, LayerFate::Skipped);
        }
      }
    }
    WB_TRY(upload_app_layer(layer, rep, choice));
    return finished(rep, LayerFate::Uploaded);
  }

  // Builds the layer while uploading it; its digests are known at the end.
  Status upload_app_layer(const jar::Layer& layer, LayerReport& rep, const LayerChoice& choice) {
    std::shared_ptr<LayerStream> stream;
    auto done = std::make_shared<std::atomic<int64_t>>(0);
    oci::Registry::BlobOpener open = [&]() -> Result<http::BodyReader> {
      WB_ASSIGN_OR_RETURN(auto s, LayerStream::open(plan_.jar, layer, layer_options_, choice.output));
      stream = std::shared_ptr<LayerStream>(std::move(s));
      *done = 0;
      return http::BodyReader([s = stream, done, this, &rep](char* buf, size_t size) -> Result<size_t> {
        if (cancel_.stop()) return cancel_.error();
        WB_ASSIGN_OR_RETURN(size_t n, s->read(buf, size));
        *done += static_cast<int64_t>(n);
        progress_.call([&](PushObserver& o) { o.on_layer_bytes(rep.name, *done, -1); });
        return n;
      });
    };
    auto put = target_.put_blob(target_ref_, open, -1, "", rep.media_type);
    if (!put.ok()) return std::move(put).error().with_context("uploading layer " + layer.name);
    if (!stream || !stream->finished()) {
      return Error(ErrorCode::Failure, "the upload of layer " + layer.name + " ended before the layer did");
    }
    const LayerDigests& d = stream->digests();
    WB_TRY(check_digest("layer " + layer.name, d.digest, put->digest));
    rep.diff_id = d.diff_id;
    rep.digest = d.digest;
    rep.size = d.size;
    cache_.put(choice.key, LayerCache::Hit{d.diff_id, d.digest, d.size});
    return {};
  }

  // Configs and manifests per platform; the manifests go up only after every blob is there.
  Result<std::vector<PlatformManifest>> push_configs() {
    std::vector<AppLayer> app_layers;
    for (size_t i = 0; i < plan_.layers.size(); ++i) {
      const LayerReport& r = result_.layers[base_layers_.size() + i];
      app_layers.push_back(AppLayer{r.name, r.diff_id, r.digest, r.size, r.media_type == layer_media_type(family_)});
    }
    progress_.call([&](PushObserver& o) { o.on_step("pushing manifests"); });
    std::vector<PlatformManifest> manifests;
    for (const BaseImage& img : base_.images) {
      WB_ASSIGN_OR_RETURN(oci::Descriptor config_desc, push_config(img, app_layers));
      PlatformManifest m;
      m.bytes = to_bytes(build_manifest(family_, config_desc, img.manifest, app_layers));
      m.descriptor = manifest_descriptor(img, m.bytes);
      result_.platforms.push_back(PlatformReport{img.platform.str(), m.descriptor.digest, config_desc.digest});
      manifests.push_back(std::move(m));
    }
    return manifests;
  }

  Result<oci::Descriptor> push_config(const BaseImage& img, const std::vector<AppLayer>& app_layers) {
    std::string config_bytes = to_bytes(build_config(img.config, plan_, app_layers, io_));
    oci::Descriptor config_desc;
    config_desc.media_type = config_media_type(family_);
    config_desc.digest = oci::digest_of(config_bytes);
    config_desc.size = static_cast<int64_t>(config_bytes.size());
    WB_ASSIGN_OR_RETURN(bool has_config, target_.has_blob(target_ref_, config_desc.digest));
    if (!has_config) {
      auto put = oci::put_blob_data(target_, target_ref_, config_bytes, config_desc.media_type);
      if (!put.ok()) return std::move(put).error().with_context("uploading the image config");
      WB_TRY(check_digest("the image config", config_desc.digest, put->digest));
    }
    return config_desc;
  }

  oci::Descriptor manifest_descriptor(const BaseImage& img, const std::string& bytes) const {
    oci::Descriptor md;
    md.media_type = manifest_media_type(family_);
    md.digest = oci::digest_of(bytes);
    md.size = static_cast<int64_t>(bytes.size());
    md.platform = img.index_platform ? *img.index_platform : json(nullptr);
    if (!img.index_platform) {
      json p = {{"os", img.platform.os}, {"architecture", img.platform.architecture}};
      if (!img.platform.variant.empty()) p["variant"] = img.platform.variant;
      md.platform = p;
    }
    return md;
  }

  // An index base: every platform's manifest by digest, then the index on top; else the one
  // manifest. The top goes up under each tag (by digest when there is none).
  Status put_manifests(const std::vector<PlatformManifest>& manifests, const std::vector<std::string>& tags_in) {
    std::vector<std::string> tags = tags_in;
    if (tags.empty() && !target_ref_.tag.empty()) tags.push_back(target_ref_.tag);
    std::string top_bytes;
    std::string top_type;
    if (base_.is_index) {
      std::vector<oci::Descriptor> descriptors;
      for (const PlatformManifest& m : manifests) {
        WB_ASSIGN_OR_RETURN(std::string got, target_.put_manifest(by_digest(target_ref_, m.descriptor.digest), m.bytes,
                                                                  manifest_media_type(family_)));
        WB_TRY(check_digest("a manifest", m.descriptor.digest, got));
        descriptors.push_back(m.descriptor);
      }
      top_bytes = to_bytes(build_index(family_, descriptors));
      top_type = index_media_type(family_);
    } else {
      top_bytes = manifests.front().bytes;
      top_type = manifest_media_type(family_);
    }
    const std::string top_digest = oci::digest_of(top_bytes);
    if (tags.empty()) {
      WB_ASSIGN_OR_RETURN(std::string got,
                          target_.put_manifest(by_digest(target_ref_, top_digest), top_bytes, top_type));
      WB_TRY(check_digest("the image", top_digest, got));
    }
    for (const std::string& tag : tags) {
      WB_ASSIGN_OR_RETURN(std::string got, target_.put_manifest(by_tag(target_ref_, tag), top_bytes, top_type));
      WB_TRY(check_digest("the image", top_digest, got));
    }
    result_.digest = top_digest;
    result_.media_type = top_type;
    result_.reference = target_ref_.with_digest(top_digest);
    result_.tags = tags;
    return {};
  }

  oci::Registry& target_;
  const oci::Reference& target_ref_;
  oci::Registry& base_registry_;
  const oci::Reference& base_ref_;
  const jar::LayerPlan& plan_;
  const ImageOptions& io_;
  const LayerOptions layer_options_;
  const int parallel_;
  Progress progress_;
  Cancel cancel_;
  LayerCache cache_;
  const Base base_;
  const MediaFamily family_;
  const std::vector<json> base_layers_;
  PushResult result_;
};

}  // namespace

Result<PushResult> push_image(oci::Registry& target, const oci::Reference& target_ref,
                              const std::vector<std::string>& tags, oci::Registry& base_registry,
                              const oci::Reference& base_ref, const jar::LayerPlan& plan, const PushOptions& options) {
  const int gzip_level = options.image.gzip_level;
  if (gzip_level < 0 || gzip_level > 9) {
    return Error(ErrorCode::Usage, "gzip level " + std::to_string(gzip_level) + " is not between 0 and 9");
  }
  if (options.observer) options.observer->on_step("resolving base image " + base_ref.str());
  WB_ASSIGN_OR_RETURN(Base base, resolve_base(base_registry, base_ref, options.image.platforms));
  WB_ASSIGN_OR_RETURN(std::vector<json> base_layers, distinct_base_layers(base, base_ref));
  ImagePush push(target, target_ref, base_registry, base_ref, plan, options, std::move(base), std::move(base_layers));
  return push.run(tags);
}

}  // namespace wb::image
