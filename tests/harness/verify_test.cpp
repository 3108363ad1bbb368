// verify and the sweep catch what they are there to catch.
#include "harness/verify.h"

#include <gtest/gtest.h>

#include "backends/registry.h"
#include "harness/bench.h"
#include "harness/golden_run.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

std::vector<Prompt> prompts() {
  return {{"a", 8, {31373, 612, 338}}, {"b", 6, {50256}}, {"c", 12, {464, 2068, 7586, 21831}}};
}

GoldenFile goldens(Rule rule) {
  auto ref = make_backend("reference", test::tiny_model(), {});
  return run_prompts(*ref, prompts(), rule, Mode::kRecompute, 1);
}

VerifyOptions options() {
  VerifyOptions o;
  o.backends = {"reference", "pthreads", "openmp"};
  o.threads = {1, 3};
  o.modes = {Mode::kRecompute, Mode::kKvCache};
  o.jobs = 2;
  return o;
}

TEST(VerifyTest, EveryBackendPassesOnTheReferencesGoldens) {
  const auto r = run_verify(test::tiny_model(), prompts(),
                            {goldens(Rule::kMedian), goldens(Rule::kGreedy)}, options(), {});
  EXPECT_TRUE(r.passed);
  // reference once (not threaded), pthreads and openmp at 1 and 3 threads; 2 modes, 2 rules.
  EXPECT_EQ(r.rows.size(), (1u + 2 + 2) * 2 * 2);
  for (const VerifyRow& row : r.rows) {
    EXPECT_EQ(row.steps, 5 + 5 + 8) << row.backend;
    EXPECT_EQ(row.max_diff, 0.0);
  }
}

TEST(VerifyTest, AWrongGoldenTokenIsReportedWithItsPlace) {
  GoldenFile g = goldens(Rule::kGreedy);
  GoldenStep* s = const_cast<GoldenStep*>(g.find("c", 2));
  const int real = s->token;
  s->token = real + 1;
  VerifyOptions o = options();
  o.backends = {"openmp"};
  o.threads = {2};
  o.modes = {Mode::kKvCache};
  const auto r = run_verify(test::tiny_model(), prompts(), {g}, o, {});
  EXPECT_FALSE(r.passed);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].token_mismatches, 1);
  ASSERT_EQ(r.rows[0].differences.size(), 1u);
  const std::string& d = r.rows[0].differences[0];
  EXPECT_NE(d.find("prompt c step 2: expected token " + std::to_string(real + 1) + ", got " +
                   std::to_string(real)),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("margin"), std::string::npos);
}

TEST(VerifyTest, ChangedLogitsBitsFailABitExactBackend) {
  GoldenFile g = goldens(Rule::kMedian);
  const_cast<GoldenStep*>(g.find("a", 1))->logits_hash = "0123456789abcdef";
  VerifyOptions o = options();
  o.backends = {"pthreads"};
  o.threads = {2};
  o.modes = {Mode::kRecompute};
  const auto r = run_verify(test::tiny_model(), prompts(), {g}, o, {});
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.rows[0].token_mismatches, 0);
  EXPECT_EQ(r.rows[0].logits_mismatches, 1);
  EXPECT_EQ(r.rows[0].max_diff, 0.0);  // the logits themselves equal the reference's
}

TEST(SweepTest, MeasuresChecksAndComparesWithTheReference) {
  Workload w;
  w.prompts = prompts();
  w.reps = 2;
  w.warmup = 1;
  w.reference_reps = 1;
  const GoldenFile g = goldens(Rule::kMedian);
  SweepOptions o;
  o.backends = {"pthreads", "openmp"};
  o.threads = {1, 2};
  o.modes = {Mode::kRecompute, Mode::kKvCache};
  o.goldens = &g;
  const SweepResult r = run_sweep(test::tiny_model(), w, o, {});
  // Per mode: reference, pthreads x2, openmp x2.
  ASSERT_EQ(r.measurements.size(), 10u);
  EXPECT_EQ(r.failures, 0);
  for (const Measurement& m : r.measurements) {
    EXPECT_EQ(m.tokens, Check::kYes) << m.backend;
    EXPECT_EQ(m.logits, Check::kYes) << m.backend;
    EXPECT_EQ(m.samples.size(), m.backend == "reference" ? 1u : 2u);
    EXPECT_GT(m.stats.median, 0);
    EXPECT_GT(m.speedup_vs_reference, 0);
    if (m.backend != "reference") {
      EXPECT_GT(m.speedup_vs_1thread, 0);
    }
  }
  ASSERT_TRUE(r.overhead.has_value());
  EXPECT_GT(r.overhead_per_step_us, 0);
}

TEST(SweepTest, WrongExpectedTokensAreAFailure) {
  Workload w;
  w.prompts = prompts();
  w.reps = 1;
  w.warmup = 0;
  GoldenFile g = goldens(Rule::kMedian);
  const_cast<GoldenStep*>(g.find("b", 0))->token ^= 1;
  SweepOptions o;
  o.backends = {"openmp"};
  o.threads = {2};
  o.modes = {Mode::kRecompute};
  o.goldens = &g;
  o.measure_reference = false;
  o.measure_overhead = false;
  const SweepResult r = run_sweep(test::tiny_model(), w, o, {});
  ASSERT_EQ(r.measurements.size(), 1u);
  EXPECT_EQ(r.measurements[0].tokens, Check::kNo);
  EXPECT_EQ(r.failures, 1);
}

}  // namespace
}  // namespace gpt2
