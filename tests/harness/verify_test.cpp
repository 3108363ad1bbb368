// verify and the sweep catch what they are there to catch.
#include "harness/verify.h"

#include <algorithm>

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

GoldenFile goldens(Rule rule, Precision precision = Precision::kFloat32) {
  BackendConfig config;
  config.precision = precision;
  auto ref = make_backend("reference", test::tiny_model(), config);
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

// The CPU backends that reorder sums, or those that offer bfloat16: these
// tests count rows over thread counts (the GPU backends are held to the same
// checks by tests/backends/cuda and the verify runs in reports/).
std::vector<std::string> backends_where(bool (*keep)(const BackendEntry&)) {
  std::vector<std::string> out;
  for (const BackendEntry& e : backend_entries()) {
    if (keep(e) && e.device == Device::kCpu) out.emplace_back(e.name);
  }
  return out;
}
bool reorders(const BackendEntry& e) {
  return e.numerics == Numerics::kReordered;
}
bool offers_bf16(const BackendEntry& e) {
  return offers_precision(e, Precision::kBFloat16);
}

TEST(VerifyTest, ReorderingBackendsPassWithTheirLogitDifferencesMeasured) {
  VerifyOptions o = options();
  o.backends = backends_where(reorders);
  if (o.backends.empty()) GTEST_SKIP() << "no reordering backend built here";
  const auto r = run_verify(test::tiny_model(), prompts(),
                            {goldens(Rule::kMedian), goldens(Rule::kGreedy)}, o, {});
  EXPECT_TRUE(r.passed);
  ASSERT_EQ(r.rows.size(), o.backends.size() * 2 * 2 * 2);
  for (const VerifyRow& row : r.rows) {
    EXPECT_FALSE(row.bit_exact);
    EXPECT_EQ(row.precision, Precision::kFloat32);
    EXPECT_EQ(row.steps, 5 + 5 + 8) << row.backend;
    EXPECT_EQ(row.token_mismatches, 0) << row.backend;
    EXPECT_DOUBLE_EQ(row.token_agreement(), 1.0);
    EXPECT_GT(row.max_diff, 0.0) << row.backend << ": sums reordered, yet the same bits?";
    EXPECT_LE(row.max_diff, 1e-3) << row.backend;
    EXPECT_GT(row.mean_diff, 0.0);
    EXPECT_LT(row.mean_diff, row.max_diff);
  }
  // The same logits against a bound below their difference fail, saying so.
  o.max_logit_diff = 1e-9;
  o.modes = {Mode::kKvCache};
  o.threads = {1};
  const auto tight = run_verify(test::tiny_model(), prompts(), {goldens(Rule::kGreedy)}, o, {});
  EXPECT_FALSE(tight.passed);
  for (const VerifyRow& row : tight.rows) {
    EXPECT_FALSE(row.passed);
    ASSERT_EQ(row.differences.size(), 1u);
    EXPECT_NE(row.differences[0].find("is above the bound 1e-09"), std::string::npos)
        << row.differences[0];
  }
}

// The reference's logits come from the pthreads backend, checked step by step
// against the goldens' hashes; a prompt whose hash differs is redone by the
// reference itself, and a note says so.
TEST(VerifyTest, TheReferenceRedoesPromptsWhoseHashDiffers) {
  VerifyOptions o = options();
  o.backends = backends_where(reorders);
  if (o.backends.empty()) GTEST_SKIP() << "no reordering backend built here";
  o.backends.resize(1);
  o.threads = {1};
  o.modes = {Mode::kKvCache};
  const GoldenFile g = goldens(Rule::kMedian);
  const auto clean = run_verify(test::tiny_model(), prompts(), {g}, o, {});
  EXPECT_TRUE(clean.notes.empty());
  GoldenFile changed = g;
  const_cast<GoldenStep*>(changed.find("a", 1))->logits_hash = "0123456789abcdef";
  const auto r = run_verify(test::tiny_model(), prompts(), {changed}, o, {});
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("on 1 prompt(s): the reference computed those"), std::string::npos)
      << r.notes[0];
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.rows[0].max_diff, clean.rows[0].max_diff) << "the same reference logits";
}

TEST(VerifyTest, BFloat16RowsFollowTheGoldensAndReportAgreement) {
  VerifyOptions o = options();
  o.backends = backends_where(offers_bf16);
  if (o.backends.empty()) GTEST_SKIP() << "no bfloat16 backend built here";
  o.precisions = {Precision::kBFloat16};
  GoldenFile g = goldens(Rule::kGreedy);
  // A golden token that no backend chooses: a float32 row would fail on it.
  const_cast<GoldenStep*>(g.find("c", 2))->token ^= 1;
  const auto r = run_verify(test::tiny_model(), prompts(), {g}, o, {});
  EXPECT_TRUE(r.passed);
  ASSERT_EQ(r.rows.size(), o.backends.size() * 2 * 2);
  for (const VerifyRow& row : r.rows) {
    EXPECT_EQ(row.precision, Precision::kBFloat16);
    EXPECT_FALSE(row.gates_tokens());
    EXPECT_EQ(row.steps, 5 + 5 + 8) << "every golden step, whatever the row chooses";
    EXPECT_GE(row.token_mismatches, 1);
    EXPECT_LT(row.token_agreement(), 1.0);
    EXPECT_GE(row.token_agreement(), 0.75);
    EXPECT_GT(row.max_diff, 1e-3) << "bfloat16 differs far more than reordering";
    EXPECT_LT(row.max_diff, 2.0);
    EXPECT_EQ(row.nonfinite, 0);
    EXPECT_TRUE(row.differences.empty()) << row.differences.front();
  }
}

TEST(VerifyTest, BackendsWithoutTheAskedPrecisionAreRefused) {
  VerifyOptions o = options();
  o.backends = {"pthreads"};
  o.precisions = {Precision::kBFloat16};
  try {
    run_verify(test::tiny_model(), prompts(), {goldens(Rule::kMedian)}, o, {});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "backend pthreads offers float32, bf16w, int8w, not bfloat16");
  }
}

// bf16w and int8w rows are held to their own goldens, bit for bit, like
// float32's: they pass against them, and a changed logits hash or token in
// them fails the bit-exact backends' rows of that precision only.
TEST(VerifyTest, WeightOnlyPrecisionsAreGatedByTheirOwnGoldens) {
  VerifyOptions o = options();
  o.backends = {"pthreads", "openmp"};
  o.threads = {2};
  o.modes = {Mode::kKvCache};
  o.precisions = {Precision::kFloat32, Precision::kBF16Weights, Precision::kInt8Weights};
  std::vector<GoldenFile> all;
  for (Precision p : o.precisions) all.push_back(goldens(Rule::kGreedy, p));
  EXPECT_EQ(all[2].precision, Precision::kInt8Weights);
  EXPECT_NE(all[0].steps[0].logits_hash, all[2].steps[0].logits_hash);
  const auto clean = run_verify(test::tiny_model(), prompts(), all, o, {});
  EXPECT_TRUE(clean.passed);
  ASSERT_EQ(clean.rows.size(), 2u * 3u);
  for (const VerifyRow& row : clean.rows) {
    EXPECT_TRUE(row.gates_tokens());
    EXPECT_EQ(row.logits_mismatches, 0) << precision_name(row.precision);
    EXPECT_EQ(row.steps, 5 + 5 + 8);
  }
  std::vector<GoldenFile> changed = all;
  const_cast<GoldenStep*>(changed[2].find("c", 3))->logits_hash = "0123456789abcdef";
  const auto r = run_verify(test::tiny_model(), prompts(), changed, o, {});
  EXPECT_FALSE(r.passed);
  for (const VerifyRow& row : r.rows) {
    EXPECT_EQ(row.passed, row.precision != Precision::kInt8Weights) << row.backend;
    if (row.precision == Precision::kInt8Weights) {
      EXPECT_EQ(row.logits_mismatches, 1);
    }
  }
}

TEST(SweepTest, WorkloadPositionsAndWeightBytes) {
  Workload w;
  w.prompts = {{"a", 8, {1, 2, 3}}, {"b", 2, {7}}};  // 5 and 1 new tokens
  EXPECT_EQ(w.new_tokens(), 6);
  // recompute: 3+4+5+6+7 and 1; kv-cache: the prompt, then one per later step.
  EXPECT_EQ(w.positions(Mode::kRecompute), 25 + 1);
  EXPECT_EQ(w.positions(Mode::kKvCache), (3 + 4) + (1 + 0));
  const ModelConfig c{1024, 50257, 50304, 12, 12, 768};
  const double matrices = 12.0 * 12 * 768 * 768 + 50257.0 * 768;  // 123.5M weights
  const double small = 12.0 * (13 * 768) + 2 * 768;
  EXPECT_DOUBLE_EQ(weight_bytes_per_forward(c, Precision::kFloat32), matrices * 4 + small * 4);
  EXPECT_DOUBLE_EQ(weight_bytes_per_forward(c, Precision::kBFloat16), matrices * 2 + small * 4);
  EXPECT_DOUBLE_EQ(weight_bytes_per_forward(c, Precision::kBF16Weights), matrices * 2 + small * 4);
  const double rows = 12.0 * 9 * 768 + 50257;  // a float32 scale per output row
  EXPECT_DOUBLE_EQ(weight_bytes_per_forward(c, Precision::kInt8Weights),
                   matrices + rows * 4 + small * 4);
  EXPECT_EQ(backend_label("pthreads", Precision::kInt8Weights), "pthreads int8w");
  EXPECT_EQ(backend_label("onednn", Precision::kBFloat16), "onednn bfloat16 (not float32)");
  EXPECT_EQ(backend_label("onednn", Precision::kFloat32), "onednn");
}

TEST(VerifyTest, AReorderingBackendsFlipAtANearTieIsSaidNotFailed) {
  const std::vector<std::string> names = backend_names();
  if (std::find(names.begin(), names.end(), "onednn") == names.end()) {
    GTEST_SKIP() << "no reordering backend built";
  }
  // A golden token changed to what the backend will choose, with a golden
  // margin below the step's logit difference: explained by reordering.
  GoldenFile g = goldens(Rule::kGreedy);
  GoldenStep* s = const_cast<GoldenStep*>(g.find("c", 1));
  s->token += 1;
  VerifyOptions o = options();
  o.backends = {"onednn"};
  o.threads = {2};
  o.modes = {Mode::kKvCache};
  s->margin = 1e-9f;
  auto r = run_verify(test::tiny_model(), prompts(), {g}, o, {});
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.rows[0].near_ties, 1);
  EXPECT_EQ(r.rows[0].token_mismatches, 0);
  ASSERT_EQ(r.rows[0].differences.size(), 1u);
  EXPECT_EQ(r.rows[0].differences[0].rfind("near tie, not a failure: onednn", 0), 0u)
      << r.rows[0].differences[0];
  // The same flip with a wide golden margin is a failure.
  s->margin = 1.0f;
  r = run_verify(test::tiny_model(), prompts(), {g}, o, {});
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.rows[0].near_ties, 0);
  EXPECT_EQ(r.rows[0].token_mismatches, 1);
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
  o.goldens = {g};
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
    EXPECT_DOUBLE_EQ(m.tokens_per_second, w.new_tokens() / m.stats.median);
    EXPECT_DOUBLE_EQ(m.positions_per_second, w.positions(m.mode) / m.stats.median);
    EXPECT_DOUBLE_EQ(m.weights_gb_per_second,
                     w.new_tokens() *
                         weight_bytes_per_forward(test::tiny_model()->config(), m.precision) /
                         m.stats.median / 1e9);
    if (m.backend != "reference") {
      EXPECT_GT(m.speedup_vs_1thread, 0);
    }
  }
  ASSERT_TRUE(r.overhead.has_value());
  EXPECT_GT(r.overhead_per_step_us, 0);
}

// Wrong expected tokens fail every configuration, its runs back to back or
// interleaved with another thread count's.
TEST(SweepTest, WrongExpectedTokensAreAFailure) {
  GoldenFile g = goldens(Rule::kMedian);
  const_cast<GoldenStep*>(g.find("b", 0))->token ^= 1;
  for (bool interleave : {false, true}) {
    Workload w;
    w.prompts = prompts();
    w.reps = interleave ? 2 : 1;
    w.warmup = 0;
    w.interleave = interleave;
    SweepOptions o;
    o.backends = {"openmp"};
    o.threads = {1, 2};
    o.modes = {Mode::kRecompute};
    o.goldens = {g};
    o.measure_reference = false;
    o.measure_overhead = false;
    const SweepResult r = run_sweep(test::tiny_model(), w, o, {});
    ASSERT_EQ(r.measurements.size(), 2u) << "interleave " << interleave;
    for (const Measurement& m : r.measurements) EXPECT_EQ(m.tokens, Check::kNo);
    EXPECT_EQ(r.failures, 2) << "interleave " << interleave;
  }
}

// Interleaved: each backend's thread counts take turns, one timed run each,
// ascending then descending; every check and sample count is as without.
TEST(SweepTest, InterleavedThreadCountsTakeTurns) {
  Workload w;
  w.prompts = prompts();
  w.reps = 3;
  w.warmup = 1;
  w.interleave = true;
  const GoldenFile g = goldens(Rule::kMedian);
  SweepOptions o;
  o.backends = {"pthreads", "openmp"};
  o.threads = {1, 2, 3};
  o.modes = {Mode::kRecompute};
  o.goldens = {g};
  o.measure_reference = false;
  o.measure_overhead = false;
  std::vector<std::string> timed;
  const SweepResult r = run_sweep(test::tiny_model(), w, o, [&](const std::string& line) {
    if (line.find(": run ") != std::string::npos) timed.push_back(line);
  });
  ASSERT_EQ(r.measurements.size(), 6u);
  EXPECT_EQ(r.failures, 0);
  for (std::size_t i = 0; i < r.measurements.size(); i++) {
    const Measurement& m = r.measurements[i];
    EXPECT_EQ(m.backend, i < 3 ? "pthreads" : "openmp");
    EXPECT_EQ(m.threads, int(i % 3) + 1);
    EXPECT_EQ(m.samples.size(), 3u);
    EXPECT_EQ(m.tokens, Check::kYes);
    EXPECT_EQ(m.logits, Check::kYes);
    EXPECT_GT(m.speedup_vs_1thread, 0);
  }
  const std::vector<std::string> want = {
      "pthreads 1 thread recompute: run 1/3",  "pthreads 2 threads recompute: run 1/3",
      "pthreads 3 threads recompute: run 1/3", "pthreads 3 threads recompute: run 2/3",
      "pthreads 2 threads recompute: run 2/3", "pthreads 1 thread recompute: run 2/3",
      "pthreads 1 thread recompute: run 3/3",  "pthreads 2 threads recompute: run 3/3",
      "pthreads 3 threads recompute: run 3/3", "openmp 1 thread recompute: run 1/3"};
  ASSERT_GE(timed.size(), want.size());
  for (std::size_t i = 0; i < want.size(); i++) EXPECT_EQ(timed[i], want[i]) << i;
  EXPECT_EQ(timed.size(), 18u);
}

TEST(SweepTest, BFloat16RunsAreMeasuredAndNotHeldToTheGoldenTokens) {
  std::vector<std::string> names = backends_where(offers_bf16);
  if (names.empty()) GTEST_SKIP() << "no bfloat16 backend built here";
  Workload w;
  w.prompts = prompts();
  w.reps = 1;
  w.warmup = 0;
  GoldenFile g = goldens(Rule::kMedian);
  const_cast<GoldenStep*>(g.find("b", 0))->token ^= 1;  // no backend gives this one
  SweepOptions o;
  o.backends = names;
  o.threads = {1, 2};
  o.modes = {Mode::kKvCache};
  o.precisions = {Precision::kFloat32, Precision::kBFloat16};
  o.goldens = {g};
  o.measure_reference = false;
  o.measure_overhead = false;
  const SweepResult r = run_sweep(test::tiny_model(), w, o, {});
  ASSERT_EQ(r.measurements.size(), names.size() * 2 * 2);
  int bf16 = 0;
  for (const Measurement& m : r.measurements) {
    EXPECT_EQ(m.tokens, Check::kNo) << m.backend;
    EXPECT_EQ(m.info.precision, m.precision);
    if (m.precision == Precision::kBFloat16) {
      bf16++;
      EXPECT_GT(m.speedup_vs_1thread, 0) << "compared with its own 1-thread bfloat16 run";
    }
  }
  EXPECT_EQ(bf16, int(names.size()) * 2);
  EXPECT_EQ(r.failures, int(names.size()) * 2) << "only the float32 runs count as failures";
}

}  // namespace
}  // namespace gpt2
