// Repeatable runs: gpt2, run 20 times on the same prompt with each backend that
// computes and can run here, at its largest thread count here (the machine's
// CPUs; one for a backend whose thread count changes nothing), prints the same
// tokens every time; the bit-exact backends print the reference's tokens.
// scripts/device/repeat.sh does 100 runs on the 124M model on the device machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "backends/registry.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace gpt2 {
namespace {

using test::kGpt2;
constexpr int kRuns = 20;

TEST(RepeatableRuns, EveryBackendPrintsTheSameTokens20Times) {
  open_model("synthetic:tiny");  // generated once, before the runs
  const int cpus = int(std::max(1u, std::thread::hardware_concurrency()));
  std::string reference_out;
  int backends = 0;
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kNone || !backend_available(e, Precision::kFloat32)) continue;
    const int threads = e.threaded ? cpus : 1;
    const std::string command = kGpt2 + " --model synthetic:tiny --backend " + std::string(e.name) +
                                " --threads " + std::to_string(threads) +
                                " --mode kv-cache -n 20 31373 612 338 635 281";
    std::string first;
    for (int run = 0; run < kRuns; ++run) {
      const test::CommandResult r = test::run_command(command);
      ASSERT_EQ(r.status, 0) << command << "\n" << r.err;
      if (run == 0) {
        first = r.out;
        ASSERT_EQ(std::count(first.begin(), first.end(), '\n'), 15) << command << "\n" << first;
      } else {
        ASSERT_EQ(r.out, first) << command << ": run " << run + 1 << " differs from run 1";
      }
    }
    if (e.name == "reference") reference_out = first;
    if (e.numerics == Numerics::kBitExact) {
      ASSERT_FALSE(reference_out.empty());  // the reference comes first in the registry
      EXPECT_EQ(first, reference_out) << e.name << " is bit-exact but its tokens differ";
    }
    ++backends;
  }
  EXPECT_GE(backends, 3);  // reference, pthreads, openmp at least
}

}  // namespace
}  // namespace gpt2
