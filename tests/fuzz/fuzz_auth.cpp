// Registry credential files: docker's config.json (auths, credHelpers, credsStore) and podman's
// auth.json, and what a docker-credential-* helper prints, read through a fake process runner
// (nothing is run). Input: first byte picks the file (bit 0: auth.json, else config.json) and the
// helper's exit status (bit 1); then the file, optionally followed by "\n--helper--\n" and the
// helper's output.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "oci/auth.hpp"

namespace {

namespace fs = std::filesystem;

struct FakeHelper : wb::util::ProcessRunner {
  std::string out;
  int exit_code = 0;
  wb::util::ProcessResult run(const wb::util::ProcessSpec&) override {
    wb::util::ProcessResult r;
    r.exit_code = exit_code;
    r.out = out;
    return r;
  }
};

// docker-credential-<name> files on the scratch PATH, so helpers are found (never run).
void make_helpers(const fs::path& bin) {
  fs::create_directories(bin);
  for (const char* name : {"pass", "secretservice", "desktop", "ecr-login", "gcloud", "osxkeychain"}) {
    auto p = bin / (std::string("docker-credential-") + name);
    std::ofstream(p) << "#!/bin/false\n";
    ::chmod(p.c_str(), 0755);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb;
  if (size < 1) return 0;
  static const fs::path root = fuzz::scratch_dir();
  static const bool made = (make_helpers(root / "bin"), fs::create_directories(root / "docker"),
                            fs::create_directories(root / "containers"), true);
  (void)made;
  const bool podman = data[0] & 1;
  std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto sep = all.find("\n--helper--\n");
  std::string file(all.substr(0, sep));
  auto helper = std::make_shared<FakeHelper>();
  helper->exit_code = (data[0] & 2) ? 1 : 0;
  if (sep != std::string_view::npos) helper->out = std::string(all.substr(sep + 12));

  fs::remove(root / "docker/config.json");
  fs::remove(root / "containers/auth.json");
  std::ofstream(podman ? root / "containers/auth.json" : root / "docker/config.json", std::ios::binary) << file;

  oci::CredentialSources sources;
  sources.processes = helper;
  sources.getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return root.string();
    if (name == "PATH") return (root / "bin").string();
    if (name == "DOCKER_CONFIG") return (root / "docker").string();
    if (name == "XDG_RUNTIME_DIR") return root.string();
    return std::nullopt;
  };
  for (const char* registry : {"docker.io", "127.0.0.1:5000", "harbor.example.com", "ghcr.io"})
    (void)oci::find_credentials(registry, "shop/orders", sources);

  // The keys as the file spells them, normalised as lookups do.
  auto j = nlohmann::json::parse(file, nullptr, false);
  if (j.is_object())
    for (const char* section : {"auths", "credHelpers"})
      if (auto it = j.find(section); it != j.end() && it->is_object())
        for (const auto& [key, _] : it->items()) {
          (void)oci::normalize_auth_key(key);
          (void)oci::docker_config_key(key);
          (void)oci::find_credentials(oci::normalize_auth_key(key), "", sources);
        }
  return 0;
}
