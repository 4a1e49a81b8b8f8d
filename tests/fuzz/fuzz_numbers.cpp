// Numbers, durations and Kubernetes quantities as users and files write them (util/numbers.hpp,
// workbench/core/app.hpp): any text parses or is refused, never throws or overflows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/numbers.hpp"
#include "workbench/core/app.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace wb;
  auto i64 = util::parse_int<int64_t>(text, "fuzz");
  auto i32 = util::parse_int<int>(text, "fuzz", 0, 65535);
  // A value in a narrower range must be the same value in the wider one.
  if (i32.ok() && (!i64.ok() || *i64 != *i32)) std::abort();
  (void)util::parse_int<uint8_t>(text, "fuzz");
  (void)util::parse_decimal(text, "fuzz");
  auto d = util::parse_duration(text, "fuzz");
  if (d.ok() && d->count() < 0) std::abort();  // never negative, by contract
  if (auto q = workbench::parse_quantity(text); q && q->value > -1e15L && q->value < 1e15L)
    (void)workbench::format_millicores(static_cast<long long>(q->value * 1000));
  (void)workbench::check_cpu(text);
  (void)workbench::check_memory(text);
  return 0;
}
