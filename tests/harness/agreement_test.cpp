// gpt2-bench agreement: float32 against itself agrees exactly; the weight-only
// precisions move the outputs a little, and the figures say how much.
#include "harness/agreement.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backends/registry.h"
#include "harness/agreement_report.h"
#include "harness/golden_run.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using test::prompts;

TEST(AgreementTest, KlDivergenceOfSoftmaxes) {
  const std::vector<float> a = {1.0f, 2.0f, 3.0f}, shifted = {11.0f, 12.0f, 13.0f};
  EXPECT_NEAR(kl_divergence(a, a), 0.0, 1e-15);
  EXPECT_NEAR(kl_divergence(a, shifted), 0.0, 1e-12) << "softmax ignores a shift";
  // p = (1/2, 1/2), q = (e/(1+e), 1/(1+e)): KL = log((1+e)/(2e)) / 2 + log((1+e)/2) / 2.
  const std::vector<float> p = {0.0f, 0.0f}, q = {1.0f, 0.0f};
  const double e = std::exp(1.0);
  EXPECT_NEAR(kl_divergence(p, q), 0.5 * std::log((1 + e) / (2 * e)) + 0.5 * std::log((1 + e) / 2),
              1e-12);
}

TEST(AgreementTest, Float32AgreesExactlyAndWeightOnlyPrecisionsClosely) {
  const auto model = test::tiny_model();
  auto reference = make_backend(model, backend_spec("reference"));
  const GoldenFile goldens = run_prompts(*reference, prompts(), Rule::kGreedy, Mode::kKvCache, 1);
  const AgreementResult r = run_agreement(model, prompts(), goldens,
                                          {backend_spec("pthreads", Precision::kFloat32, 2),
                                           backend_spec("pthreads", Precision::kBF16Weights, 1),
                                           backend_spec("openmp", Precision::kInt8Weights, 2)},
                                          2, {});
  ASSERT_EQ(r.rows.size(), 3u);
  const AgreementRow& same = r.rows[0];
  EXPECT_EQ(same.steps, 5 + 5 + 8);
  EXPECT_EQ(same.top1_agreement, 1.0);
  EXPECT_EQ(same.mean_kl, 0.0);
  EXPECT_EQ(same.max_abs_diff, 0.0);
  EXPECT_EQ(same.generated_agreement, 1.0);
  EXPECT_EQ(same.prompts_identical, 3);
  for (const AgreementRow* row : {&r.rows[1], &r.rows[2]}) {
    EXPECT_EQ(row->steps, 18);
    EXPECT_EQ(row->generated_steps, 18);
    EXPECT_GT(row->max_abs_diff, 0.0) << precision_name(row->spec.precision);
    EXPECT_GT(row->mean_kl, 0.0);
    EXPECT_LT(row->mean_kl, 0.1);
    EXPECT_GE(row->max_kl, row->mean_kl);
    EXPECT_GE(row->max_abs_diff, row->mean_abs_diff);
    EXPECT_GE(row->top1_agreement, 0.75);
  }
  // int8 moves the logits further than bfloat16 (7 bits of mantissa against 8).
  EXPECT_GT(r.rows[2].mean_abs_diff, r.rows[1].mean_abs_diff);
  EXPECT_NE(agreement_table(r).find("| openmp | int8w | 2 | 18 |"), std::string::npos)
      << agreement_table(r);
}

}  // namespace
}  // namespace gpt2
