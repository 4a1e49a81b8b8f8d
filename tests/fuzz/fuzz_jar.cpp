// A jar from anywhere (the user's build, a download): the zip central-directory reader that
// inflates entries (jar::EntryReader) and jar inspection (manifest, entries, class versions,
// layers.idx) with the layering plan made from what it found.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "jar/jar.hpp"
#include "jar/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wb;
  const auto path = fuzz::write_input("app.jar", data, size);

  jar::InspectOptions inspect;
  inspect.require_main_class = false;
  if (auto info = jar::inspect_jar(path, inspect); info.ok()) {
    jar::PlanOptions plan;
    plan.class_path_siblings = false;  // the plan would look beside the jar on disk
    plan.split_threshold = 1024;       // exercise the split of dependencies layers
    (void)jar::plan_layers(*info, plan);
  }

  auto reader = jar::EntryReader::open(path);
  if (!reader.ok()) return 0;
  auto info = jar::inspect_jar(path, inspect);
  if (!info.ok()) return 0;
  char buf[4096];
  int entries = 0;
  for (const auto& e : info->entries) {
    if (++entries > 64) break;
    if (!(*reader)->seek(e.path).ok()) continue;
    // Read at most 1 MiB of each: a real entry is read in full by the layer writer, but a
    // declared size is not what bounds a fuzz run.
    for (size_t total = 0; total < (1u << 20);) {
      auto n = (*reader)->read(buf, sizeof buf);
      if (!n.ok() || *n == 0) break;
      if (*n > sizeof buf) std::abort();
      total += *n;
    }
  }
  (void)(*reader)->read_all("META-INF/MANIFEST.MF");
  (void)(*reader)->seek("no/such/entry");
  return 0;
}
