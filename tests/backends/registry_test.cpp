// The registry: the one place that knows every backend, what it offers and
// whether this machine can run it; make_backend() is the one way one is made.
#include "backends/registry.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

// A spec as make_backend() may be handed one directly, unchecked: the
// registry's own checks are what these tests exercise.
BackendSpec raw_spec(std::string backend, Precision precision = Precision::kFloat32,
                     int threads = 1) {
  BackendSpec spec;
  spec.backend = std::move(backend);
  spec.precision = precision;
  spec.threads = threads;
  return spec;
}

TEST(RegistryTest, UnknownNamesListTheKnownOnes) {
  try {
    find_backend("tpu");
    FAIL();
  } catch (const UnknownBackend& e) {
    EXPECT_EQ(std::string(e.what()),
              "Unknown backend 'tpu' (known: " + backend_names_joined() + ").");
  }
  const auto names = backend_names();
  EXPECT_EQ(names.front(), "reference");
  for (const char* n : {"pthreads", "openmp", "null"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_THROW(make_backend(test::tiny_model(), raw_spec("pthreads", Precision::kFloat32, 0)),
               std::invalid_argument);
}

TEST(RegistryTest, PrecisionsByNameAndBackendsThatLackOne) {
  EXPECT_EQ(parse_precision("float32"), Precision::kFloat32);
  EXPECT_EQ(parse_precision("bfloat16"), Precision::kBFloat16);
  EXPECT_EQ(parse_precision("bf16"), Precision::kBFloat16);
  EXPECT_EQ(parse_precision("bf16w"), Precision::kBF16Weights);
  EXPECT_EQ(parse_precision("int8w"), Precision::kInt8Weights);
  EXPECT_EQ(parse_precision("fp16"), std::nullopt);
  EXPECT_EQ(parse_precision("int8"), std::nullopt);
  for (Precision p : all_precisions()) EXPECT_EQ(parse_precision(precision_name(p)), p);
  for (const char* name : {"reference", "pthreads", "openmp"}) {
    EXPECT_FALSE(offers_precision(find_backend(name), Precision::kBFloat16)) << name;
    EXPECT_TRUE(offers_precision(find_backend(name), Precision::kFloat32)) << name;
    try {
      make_backend(test::tiny_model(), raw_spec(name, Precision::kBFloat16));
      FAIL() << name;
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()),
                "backend " + std::string(name) + " offers float32, bf16w, int8w, not bfloat16")
          << e.what();
    }
  }
  // Those without the weight-only precisions name the ones they offer.
  for (const BackendEntry& e : backend_entries()) {
    if (offers_precision(e, Precision::kInt8Weights) ||
        !backend_available(e, Precision::kFloat32)) {
      continue;
    }
    try {
      make_backend(test::tiny_model(), raw_spec(std::string(e.name), Precision::kInt8Weights));
      FAIL() << e.name;
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), "backend " + std::string(e.name) + " offers " +
                                               offered_precisions(e) + ", not int8w");
    }
  }
}

TEST(RegistryTest, DetailsCountThreadsInTheSingularAndThePlural) {
  EXPECT_EQ(threads_text(1), "1 thread");
  EXPECT_EQ(threads_text(4), "4 threads");
  for (const BackendEntry& e : backend_entries()) {
    if (!e.threaded) continue;
    for (int threads : {1, 2}) {
      const std::string details =
          make_backend(test::tiny_model(), backend_spec(e.name, Precision::kFloat32, threads))
              ->info()
              .details;
      EXPECT_EQ(details.find("1 threads"), std::string::npos) << details;
      std::string counted(1, ' ');  // (not " " + ...: GCC 12's false -Wrestrict)
      counted += threads_text(threads);
      EXPECT_NE(details.find(counted), std::string::npos) << details;
    }
  }
}

// One source of truth: what a made backend says it is comes from its entry
// (name, numerics, batch invariance, device) and its spec (precision; threads for the threaded
// ones, 1 for the others), at every precision it offers that runs here.
TEST(RegistryTest, EveryBackendsInfoIsItsEntrys) {
  int made = 0;
  for (const BackendEntry& e : backend_entries()) {
    for (Precision p : e.precisions) {
      if (!backend_available(e, p)) continue;
      for (int threads : {1, 2}) {
        auto backend = make_backend(test::tiny_model(), raw_spec(std::string(e.name), p, threads));
        const BackendInfo& info = backend->info();
        EXPECT_EQ(info.name, e.name);
        EXPECT_EQ(info.numerics, e.numerics) << e.name;
        EXPECT_EQ(info.batch_invariance, e.batch_invariance) << e.name;
        EXPECT_EQ(info.device, e.device) << e.name;
        EXPECT_EQ(info.precision, p) << e.name;
        // blis runs on at most as many threads as there are CPUs (its details say so).
        EXPECT_EQ(info.threads, e.threaded ? threads : 1) << e.name;
        EXPECT_FALSE(info.details.empty()) << e.name;
        EXPECT_EQ(info.gpus.empty(), e.device == Device::kCpu) << e.name;
        made++;
      }
    }
  }
  EXPECT_GE(made, 8);
}

// Bit-exact backends are batch-invariant by construction, and their entries
// say so; the others declare whether they promise it. This checks the
// declarations only: what the backends do is BatchTest's (bit for bit where
// promised) and verify --batch's (a promise broken fails the row).
TEST(RegistryTest, BitExactBackendsDeclareBatchInvariance) {
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kBitExact) {
      EXPECT_EQ(e.batch_invariance, BatchInvariance::kYes) << e.name;
    }
  }
  EXPECT_STREQ(batch_invariance_name(BatchInvariance::kYes), "yes");
  EXPECT_STREQ(batch_invariance_name(BatchInvariance::kMeasured), "measured");
}

// A backend this machine cannot run (a GPU backend without a GPU, oneDNN's
// bfloat16 on a CPU it has no bfloat16 product for) says why in one line,
// naming itself; every GPU backend asks whether a GPU is here.
TEST(RegistryTest, ABackendThatCannotRunHereSaysWhy) {
  for (const BackendEntry& e : backend_entries()) {
    if (e.device == Device::kCuda) {
      EXPECT_NE(e.available, nullptr) << e.name;
    }
    for (Precision p : e.precisions) {
      std::string why;
      if (backend_available(e, p, &why)) continue;
      EXPECT_FALSE(why.empty()) << e.name;
      EXPECT_EQ(why.find('\n'), std::string::npos) << why;
      try {
        make_backend(test::tiny_model(), raw_spec(std::string(e.name), p));
        FAIL() << e.name << " made where it cannot run";
      } catch (const std::runtime_error& error) {
        EXPECT_EQ(std::string(error.what()), "backend " + std::string(e.name) + ": " + why + ".");
      }
    }
  }
}

// Without a GPU backend that can run here (no CUDA build, or no GPU), there
// are no GPU ceilings to measure: nullopt, not an error (a sweep skips them).
// With one, gpt2_cuda_tests measures them.
TEST(RegistryTest, NoGpuNoGpuCeilings) {
  for (const BackendEntry& e : backend_entries()) {
    if (e.device == Device::kCuda && backend_available(e, Precision::kFloat32)) {
      GTEST_SKIP() << "a GPU is here";
    }
  }
  EXPECT_FALSE(measure_gpu_ceilings(0).has_value());
}

TEST(RegistryTest, NamesTheCpuKernelsInstructionSet) {
  const std::string isa = cpu_kernels_isa();
  EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "generic") << isa;
}

}  // namespace
}  // namespace gpt2
