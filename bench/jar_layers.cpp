// Times what `wb push jar` does locally for one jar: inspect + plan, then per layer the cheap
// diff_id pass (tar + sha256) and the full pass (tar + gzip + two sha256). See bench/README.md.
#include "image/layer.hpp"
#include "jar/jar.hpp"
#include "jar/plan.hpp"
#include <chrono>
#include <iostream>
using namespace std::chrono;
int main(int argc, char** argv) {
  auto t0 = steady_clock::now();
  auto info = wb::jar::inspect_jar(argv[1]);
  if (!info.ok()) { std::cerr << info.error().message << "\n"; return 1; }
  auto plan = wb::jar::plan_layers(*info);
  auto t1 = steady_clock::now();
  std::cout << "inspect+plan " << duration_cast<milliseconds>(t1 - t0).count() << " ms, entries " << info->entries.size() << "\n";
  for (auto& l : plan->layers) {
    auto a = steady_clock::now();
    auto d = wb::image::compute_diff_id(plan->jar, l, {});
    auto b = steady_clock::now();
    auto g = wb::image::compute_layer_digests(plan->jar, l, {});
    auto c = steady_clock::now();
    std::cout << l.name << " items " << l.items.size() << " tar " << d->tar_size << " diff_id " << duration_cast<milliseconds>(b - a).count()
              << " ms, gzip " << duration_cast<milliseconds>(c - b).count() << " ms size " << g->size << "\n";
  }
}
