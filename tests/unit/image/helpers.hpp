// Helpers for the image tests: base images in the fake registry, gunzip, reading tars back.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "image/fake_registry.hpp"
#include "image/layer.hpp"
#include "jar/fixture_jars.hpp"
#include "jar/jar.hpp"
#include "jar/plan.hpp"
#include "util/strings.hpp"

namespace wb::test {

using json = nlohmann::json;

inline std::string gunzip(const std::string& gz) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  char buf[65536];
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    r = inflate(&z, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END) {
      inflateEnd(&z);
      throw std::runtime_error("not valid gzip");
    }
    out.append(buf, sizeof buf - z.avail_out);
  }
  bool trailing = z.avail_in != 0;
  inflateEnd(&z);
  if (trailing) throw std::runtime_error("bytes after the gzip stream");
  return out;
}

// The tar of a layer blob: gunzipped when its media type says gzip, else as it is.
inline std::string layer_tar(const std::string& blob, const std::string& media_type) {
  return media_type.size() >= 4 && media_type.compare(media_type.size() - 4, 4, "gzip") == 0 ? gunzip(blob) : blob;
}

struct TarItem {
  std::string name;
  unsigned type = 0;  // AE_IFREG, AE_IFDIR
  unsigned perm = 0;
  int64_t uid = -1, gid = -1;
  std::string uname, gname;
  int64_t mtime = 0;
  std::string content;
};

inline std::vector<TarItem> read_tar(const std::string& tar) {
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  if (archive_read_open_memory(a, tar.data(), tar.size()) != ARCHIVE_OK) throw std::runtime_error("not a tar");
  std::vector<TarItem> items;
  archive_entry* e;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    TarItem t;
    t.name = archive_entry_pathname(e);
    t.type = archive_entry_filetype(e);
    t.perm = archive_entry_perm(e);
    t.uid = archive_entry_uid(e);
    t.gid = archive_entry_gid(e);
    t.uname = archive_entry_uname(e) ? archive_entry_uname(e) : "";
    t.gname = archive_entry_gname(e) ? archive_entry_gname(e) : "";
    t.mtime = archive_entry_mtime(e);
    char buf[8192];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) t.content.append(buf, static_cast<size_t>(n));
    items.push_back(std::move(t));
  }
  bool ok = r == ARCHIVE_EOF;
  archive_read_free(a);
  if (!ok) throw std::runtime_error("broken tar");
  return items;
}

inline jar::LayerPlan plan_for(const std::string& jar_name) {
  auto info = jar::inspect_jar(fixture_jar(jar_name));
  if (!info.ok()) throw std::runtime_error(info.error().message);
  auto plan = jar::plan_layers(*info);
  if (!plan.ok()) throw std::runtime_error(plan.error().message);
  return *plan;
}

inline const jar::Layer& layer_named(const jar::LayerPlan& plan, const std::string& name) {
  for (const auto& l : plan.layers) {
    if (l.name == name) return l;
  }
  throw std::runtime_error("no layer " + name);
}

// Reads a whole LayerStream.
inline std::string read_stream(image::LayerStream& s, size_t chunk = 3000) {
  std::string out;
  std::vector<char> buf(chunk);
  for (;;) {
    auto n = s.read(buf.data(), buf.size());
    if (!n.ok()) throw std::runtime_error(n.error().message);
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

// Puts a base image into `reg` under repo:tag: one manifest (one platform, index=false) or an
// index over the platforms (plus an attestation entry that must be ignored).
inline void add_base(FakeRegistry& reg, const std::string& repo, const std::string& tag, bool docker,
                     const std::vector<std::string>& platforms, bool index) {
  const char* manifest_type = docker ? oci::media::kDockerManifest : oci::media::kOciManifest;
  const char* config_type = docker ? oci::media::kDockerConfig : oci::media::kOciConfig;
  const char* layer_type = docker ? oci::media::kDockerLayerGzip : oci::media::kOciLayerGzip;
  json entries = json::array();
  for (const std::string& p : platforms) {
    auto parts = util::split(p, '/');
    std::vector<std::string> layers = {std::string(5000, 'a') + p, std::string(2500, 'b') + p};
    json config = {{"architecture", parts[1]},
                   {"os", parts[0]},
                   {"config",
                    {{"Env", {"PATH=/usr/local/sbin:/usr/bin:/bin", "JAVA_HOME=/opt/java/openjdk", "LANG=C"}},
                     {"Cmd", {"jshell"}},
                     {"Entrypoint", {"/__cacert_entrypoint.sh"}},
                     {"Labels", {{"org.opencontainers.image.vendor", "base"}}},
                     {"WorkingDir", "/"}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + std::string(64, '1'), "sha256:" + std::string(64, '2')}}}},
                   {"history", {{{"created_by", "base 1"}}, {{"created_by", "base 2"}}}}};
    if (parts.size() == 3) config["variant"] = parts[2];
    std::string config_bytes = config.dump();
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", manifest_type},
                     {"config", {{"mediaType", config_type}, {"digest", reg.add_blob(repo, config_bytes)}, {"size", config_bytes.size()}}},
                     {"layers", json::array()}};
    for (const auto& l : layers) {
      manifest["layers"].push_back({{"mediaType", layer_type}, {"digest", reg.add_blob(repo, l)}, {"size", l.size()}});
    }
    std::string digest = reg.add_manifest(repo, index ? "" : tag, manifest);
    json platform = {{"os", parts[0]}, {"architecture", parts[1]}};
    if (parts.size() == 3) platform["variant"] = parts[2];
    entries.push_back({{"mediaType", manifest_type}, {"digest", digest}, {"size", manifest.dump().size()}, {"platform", platform}});
  }
  if (index) {
    if (!docker) {
      entries.push_back({{"mediaType", oci::media::kOciManifest},
                         {"digest", "sha256:" + std::string(64, 'e')},
                         {"size", 100},
                         {"platform", {{"os", "unknown"}, {"architecture", "unknown"}}},
                         {"annotations", {{"vnd.docker.reference.type", "attestation-manifest"}}}});
    }
    reg.add_manifest(repo, tag,
                     {{"schemaVersion", 2},
                      {"mediaType", docker ? oci::media::kDockerManifestList : oci::media::kOciIndex},
                      {"manifests", entries}});
  }
}

inline oci::Reference ref(const std::string& registry, const std::string& repo, const std::string& tag) {
  oci::Reference r;
  r.registry = registry;
  r.repository = repo;
  r.tag = tag;
  return r;
}

}  // namespace wb::test
