// A kubeconfig someone handed the user, and what its exec credential plugin prints: loading
// (YAML, base64 data fields, relative paths), every context resolved, and the exec plugin's
// ExecCredential read through a fake runner (nothing is run). Input: the kubeconfig, optionally
// followed by "\n--exec--\n" and the plugin's stdout.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "kube/kubeconfig.hpp"

namespace {

namespace fs = std::filesystem;

// Only files under the scratch directory may be read (a path such as /dev/zero would read
// forever; a real kubeconfig names files beside it).
bool inside_scratch(const std::string& path) {
  if (path.empty()) return true;
  auto p = fs::path(path).lexically_normal().string();
  auto root = wb::fuzz::scratch_dir().string() + "/";
  return p.rfind(root, 0) == 0;
}

bool reads_only_scratch(const wb::kube::Kubeconfig& k) {
  for (const auto& [_, c] : k.clusters)
    if (!inside_scratch(c.certificate_authority)) return false;
  for (const auto& [_, u] : k.users)
    if (!inside_scratch(u.token_file) || !inside_scratch(u.client_certificate) || !inside_scratch(u.client_key))
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  auto sep = all.find("\n--exec--\n");
  std::string config_text(all.substr(0, sep));
  std::string exec_out = sep == std::string_view::npos ? std::string() : std::string(all.substr(sep + 10));

  const auto path = fuzz::write_input("kubeconfig", reinterpret_cast<const uint8_t*>(config_text.data()),
                                      config_text.size());
  kube::LoadOptions load;
  load.explicit_path = path.string();
  load.home = fuzz::scratch_dir().string();
  auto config = kube::load_kubeconfig(load);
  if (!config.ok() || !reads_only_scratch(*config)) return 0;

  kube::ResolveOptions resolve;
  resolve.runner = [&](const kube::ExecConfig&, const std::string&) -> util::Result<std::string> { return exec_out; };
  resolve.now = [] { return util::TimePoint{} + std::chrono::hours(24 * 365 * 56); };
  resolve.stdin_is_tty = false;
  int n = 0;
  for (const auto& [name, _] : config->contexts) {
    if (++n > 8) break;
    resolve.context = name;
    auto rc = kube::resolve_context(*config, resolve);
    if (!rc.ok() || !rc->credentials) continue;
    if (auto c = rc->credentials->get(); c.ok() && rc->credentials->refreshable()) {
      rc->credentials->invalidate();
      (void)rc->credentials->get();
    }
  }
  resolve.context.clear();
  (void)kube::resolve_context(*config, resolve);
  return 0;
}
