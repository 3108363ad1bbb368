// The one expansion of a command line's backend lists into specs.
#include "runtime/backend_specs.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "backends/registry.h"

namespace gpt2 {
namespace {

std::string error_of(const BackendRequest& request) {
  try {
    expand_backend_specs(request);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(BackendSpecsTest, NamedBackendsByPrecisionThenThreads) {
  const BackendPlan plan = expand_backend_specs({"openmp,reference", "float32,int8w", "1..2"});
  std::vector<std::string> labels;
  for (const BackendSpec& s : plan.specs) labels.push_back(spec_label(s));
  // The reference is not threaded: one spec per precision, at 1 thread.
  EXPECT_EQ(labels, (std::vector<std::string>{"openmp 1 thread", "openmp 2 threads",
                                              "openmp int8w 1 thread", "openmp int8w 2 threads",
                                              "reference 1 thread", "reference int8w 1 thread"}));
  EXPECT_EQ(plan.backends(), (std::vector<std::string>{"openmp", "reference"}));
  EXPECT_EQ(plan.threads, (std::vector<int>{1, 2}));
  EXPECT_EQ(plan.precisions,
            (std::vector<Precision>{Precision::kFloat32, Precision::kInt8Weights}));
  EXPECT_TRUE(plan.skipped.empty());
}

TEST(BackendSpecsTest, AllIsEveryBackendThatComputesAndRunsHere) {
  const BackendPlan plan = expand_backend_specs({"all", "all", "3"});
  int expected = 0;
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kNone) continue;
    for (Precision p : e.precisions) expected += backend_available(e, p) ? 1 : 0;
  }
  EXPECT_EQ(int(plan.specs.size()), expected);
  for (const BackendSpec& s : plan.specs) {
    const BackendEntry& e = find_backend(s.backend);
    EXPECT_NE(e.numerics, Numerics::kNone);
    EXPECT_TRUE(backend_available(e, s.precision)) << spec_label(s);
    EXPECT_EQ(s.threads, e.threaded ? 3 : 1) << spec_label(s);
  }
  // What cannot run here is said, one line per reason, never silently dropped.
  for (const BackendEntry& e : backend_entries()) {
    for (Precision p : e.precisions) {
      std::string why;
      if (e.numerics == Numerics::kNone || backend_available(e, p, &why)) continue;
      EXPECT_TRUE(std::any_of(plan.skipped.begin(), plan.skipped.end(),
                              [&](const std::string& line) {
                                return line.find(std::string(e.name)) != std::string::npos &&
                                       line.find(why) != std::string::npos;
                              }))
          << e.name << " " << precision_name(p);
    }
  }
}

TEST(BackendSpecsTest, MistakesAreOneLine) {
  EXPECT_EQ(error_of({"tpu", "float32", "1"}).rfind("Unknown backend 'tpu' (known: reference", 0),
            0u);
  EXPECT_EQ(error_of({"openmp", "bf16", "1"}),
            "Backend openmp offers float32, bf16w, int8w, not bfloat16.");
  EXPECT_EQ(error_of({"all", "fp8", "1"}),
            "Unknown precision 'fp8' (known: float32, bfloat16, bf16w, int8w, bf16, all).");
  EXPECT_EQ(error_of({"openmp", "float32,", "1"}),
            "Bad precision list 'float32,': an item is empty.");
  EXPECT_EQ(error_of({"openmp,", "float32", "1"}), "Bad backend list 'openmp,': an item is empty.");
  EXPECT_EQ(error_of({"openmp", "float32", "0"}),
            "Bad thread list '0': thread counts start at 1, not 0.");
  // A backend named that cannot run a precision named: an error naming why.
  for (const BackendEntry& e : backend_entries()) {
    for (Precision p : e.precisions) {
      std::string why;
      if (backend_available(e, p, &why)) continue;
      const std::string error = error_of({std::string(e.name), precision_name(p), "1"});
      EXPECT_NE(error.find("Backend " + std::string(e.name) + " cannot run"), std::string::npos)
          << error;
      EXPECT_NE(error.find(why), std::string::npos) << error;
    }
  }
}

TEST(BackendSpecsTest, OneSpecIsCheckedLikeTheExpansion) {
  const BackendSpec s = backend_spec("pthreads", Precision::kBF16Weights, 4);
  EXPECT_EQ(s.backend, "pthreads");
  EXPECT_EQ(s.precision, Precision::kBF16Weights);
  EXPECT_EQ(s.threads, 4);
  EXPECT_EQ(s.devices, (std::vector<int>{0}));
  EXPECT_EQ(backend_spec("reference", Precision::kFloat32, 8).threads, 1);  // not threaded
  EXPECT_THROW(backend_spec("tpu"), UnknownBackend);
  EXPECT_THROW(backend_spec("reference", Precision::kBFloat16), std::invalid_argument);
  EXPECT_THROW(backend_spec("pthreads", Precision::kFloat32, 0), std::invalid_argument);
  // The expansion makes its specs with backend_spec: equal values.
  EXPECT_EQ(expand_backend_specs({"pthreads", "bf16w", "4"}).specs.front(), s);
}

TEST(BackendSpecsTest, PrecisionListsTakeAllAndTheShortName) {
  EXPECT_EQ(parse_precision_list("all"), all_precisions());
  EXPECT_EQ(parse_precision_list("bf16,float32,bfloat16"),
            (std::vector<Precision>{Precision::kBFloat16, Precision::kFloat32}));
}

TEST(BackendSpecsTest, BatchSizesAreAnAxisInsideThreads) {
  const BackendPlan plan = expand_backend_specs({"pthreads,reference", "float32", "1,2", "1,8"});
  std::vector<std::string> labels;
  for (const BackendSpec& s : plan.specs) labels.push_back(spec_label(s));
  EXPECT_EQ(labels, (std::vector<std::string>{"pthreads 1 thread", "pthreads 1 thread batch 8",
                                              "pthreads 2 threads", "pthreads 2 threads batch 8",
                                              "reference 1 thread", "reference 1 thread batch 8"}));
  EXPECT_EQ(plan.batches, (std::vector<int>{1, 8}));
  EXPECT_EQ(parse_batch_list("1..64:16"), (std::vector<int>{1, 17, 33, 49}));
  EXPECT_EQ(error_of({"pthreads", "float32", "1", "0"}),
            "Bad batch list '0': batch sizes start at 1, not 0.");
  EXPECT_EQ(error_of({"pthreads", "float32", "1", "2000"}),
            "Bad batch list '2000': 2000 sequences is more than the cap of 1024.");
}

}  // namespace
}  // namespace gpt2
