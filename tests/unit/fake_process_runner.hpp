// A ProcessRunner for unit tests: records what it was asked to run and answers as told.
#pragma once

#include <functional>
#include <vector>

#include "util/process.hpp"

namespace wb::test {

struct FakeProcessRunner : util::ProcessRunner {
  std::vector<util::ProcessSpec> runs;
  // The answer to each run; by default it exited with status 0 and printed nothing.
  std::function<util::ProcessResult(const util::ProcessSpec&)> answer = [](const util::ProcessSpec&) {
    util::ProcessResult r;
    r.exit_code = 0;
    return r;
  };

  util::ProcessResult run(const util::ProcessSpec& spec) override {
    runs.push_back(spec);
    return answer(spec);
  }
};

}  // namespace wb::test
