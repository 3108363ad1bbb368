// The sweep: its arithmetic (FLOPs per forward pass and per run, which
// ceiling bounds a measurement on the roofline), and what its runs check.
#include "harness/bench.h"

#include <gtest/gtest.h>

#include "backends/registry.h"
#include "harness/report.h"
#include "harness/stats.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using test::prompts;

using test::specs;

ModelConfig small_config() {
  ModelConfig c;
  c.max_seq_len = 64;
  c.vocab_size = 100;
  c.padded_vocab_size = 128;
  c.num_layers = 2;
  c.num_heads = 2;
  c.channels = 8;
  return c;
}

TEST(BenchTest, ForwardFlopsCountTheProductsAttentionAndOneRowOfLogits) {
  const ModelConfig c = small_config();
  const double C = 8, L = 2, V = 100;
  // One position at 0: 12 C^2 products, attention over 1 key, the logits.
  EXPECT_DOUBLE_EQ(forward_flops(c, 0, 1), L * (2 * 12 * C * C + 4 * C * 1) + 2 * V * C);
  // Three positions after 2 cached: keys 3 + 4 + 5.
  EXPECT_DOUBLE_EQ(forward_flops(c, 2, 3), L * (2 * 3 * 12 * C * C + 4 * C * 12) + 2 * V * C);
}

TEST(BenchTest, WorkloadFlopsFollowTheMode) {
  const ModelConfig c = small_config();
  Workload w;
  w.prompts = {{"p", 7, {1, 2, 3, 4, 5}}};
  EXPECT_DOUBLE_EQ(w.flops(Mode::kRecompute, c), forward_flops(c, 0, 5) + forward_flops(c, 0, 6));
  EXPECT_DOUBLE_EQ(w.flops(Mode::kKvCache, c), forward_flops(c, 0, 5) + forward_flops(c, 5, 1));
}

Measurement timed(const std::string& backend, Numerics numerics, int threads, double seconds) {
  Measurement m;
  m.backend = backend;
  m.threads = threads;
  m.info.numerics = numerics;
  m.samples = {seconds};
  m.stats = summarize_samples(m.samples);
  return m;
}

TEST(BenchTest, EachRowGetsTheCeilingThatBoundsIt) {
  const ModelConfig c = small_config();
  Workload w;
  w.prompts = {{"p", 7, {1, 2, 3, 4, 5}}};
  const double bytes = 2 * weight_bytes_per_forward(c, Precision::kFloat32);
  const double flops = w.flops(Mode::kRecompute, c);
  Ceilings memory_bound;  // reading the weights takes far longer than the FLOPs
  memory_bound.points = {{1, 1.0, 1e6, 1e6, 0}, {2, 2.0, 2e6, 2e6, 0}};
  std::vector<Measurement> ms = {timed("openmp", Numerics::kBitExact, 2, 0.01),
                                 timed("null", Numerics::kNone, 1, 0.01),
                                 timed("openmp", Numerics::kBitExact, 4, 0.01)};
  apply_ceilings(memory_bound, {}, c, w, ms);
  ASSERT_TRUE(ms[0].ceiling.known());
  EXPECT_EQ(ms[0].ceiling.bound, "memory");
  EXPECT_EQ(ms[0].ceiling.name, "read bandwidth");
  EXPECT_EQ(ms[0].ceiling.short_name(), "bw");
  EXPECT_DOUBLE_EQ(ms[0].ceiling.value, 2.0);
  EXPECT_DOUBLE_EQ(ms[0].ceiling.achieved, bytes / 0.01 / 1e9);
  EXPECT_DOUBLE_EQ(ms[0].ceiling.percent, 100 * bytes / 0.01 / 1e9 / 2.0);
  EXPECT_FALSE(ms[1].ceiling.known());  // the null backend computes nothing
  EXPECT_FALSE(ms[2].ceiling.known());  // no ceiling measured at 4 threads

  Ceilings compute_bound;  // the other way round
  compute_bound.points = {{1, 1e6, 4.0, 2.0, 3.0}};
  ms = {timed("openmp", Numerics::kBitExact, 1, 0.5), timed("blis", Numerics::kReordered, 1, 0.5),
        timed("onednn", Numerics::kReordered, 1, 0.5)};
  ms[2].precision = Precision::kBFloat16;
  apply_ceilings(compute_bound, {}, c, w, ms);
  EXPECT_EQ(ms[0].ceiling.name, "fp32 mul+add peak");  // bit-exact: no FMA
  EXPECT_DOUBLE_EQ(ms[0].ceiling.value, 2.0);
  EXPECT_DOUBLE_EQ(ms[0].ceiling.percent, 100 * flops / 0.5 / 1e9 / 2.0);
  EXPECT_EQ(ms[1].ceiling.name, "fp32 FMA peak");
  EXPECT_DOUBLE_EQ(ms[1].ceiling.value, 4.0);
  EXPECT_EQ(ms[2].ceiling.name, "bf16 peak");
  EXPECT_EQ(ms[2].ceiling.bound, "compute");
  EXPECT_DOUBLE_EQ(ms[2].ceiling.value, 3.0);

  // A bfloat16 row when the bfloat16 peak was not measured: unknown, not guessed.
  compute_bound.points[0].bf16_gflops = 0;
  apply_ceilings(compute_bound, {}, c, w, ms);
  EXPECT_FALSE(ms[2].ceiling.known());
}

// GPU rows sit on their own GPU's roofline (its copy bandwidth, cuBLAS's
// peaks), never on the CPU's, and CPU rows keep the CPU's in the same sweep.
TEST(BenchTest, GpuRowsGetTheirGpusCeilings) {
  const ModelConfig c = small_config();
  Workload w;
  w.prompts = {{"p", 7, {1, 2, 3, 4, 5}}};
  const double bytes = 2 * weight_bytes_per_forward(c, Precision::kFloat32);
  const double bf16_bytes = 2 * weight_bytes_per_forward(c, Precision::kBFloat16);
  const double flops = w.flops(Mode::kRecompute, c);
  Ceilings cpu;
  cpu.points = {{1, 1.0, 1e6, 1e6, 1e6}};
  GpuCeilings gpu0, gpu1;
  gpu0.device = 0, gpu0.copy_gb_s = 7.0, gpu0.fp32_gflops = 1e6, gpu0.bf16_gflops = 1e6;
  gpu1.device = 1, gpu1.copy_gb_s = 9.0, gpu1.fp32_gflops = 1e6, gpu1.bf16_gflops = 1e6;
  auto gpu_row = [&](const std::string& backend, Numerics numerics, Precision precision,
                     int device) {
    Measurement m = timed(backend, numerics, 1, 0.01);
    m.precision = precision;
    m.info.device = Device::kCuda;
    GpuInfo g;
    g.index = device;
    m.info.gpus = {g};
    return m;
  };
  // Memory-bound: weights GB/s over the GPU's copy bandwidth.
  std::vector<Measurement> ms = {
      gpu_row("cuda", Numerics::kReordered, Precision::kFloat32, 0),
      gpu_row("cuda", Numerics::kReordered, Precision::kBFloat16, 1),
      timed("openmp", Numerics::kBitExact, 1, 0.01),
      gpu_row("cuda-naive", Numerics::kBitExact, Precision::kFloat32, 2)};
  apply_ceilings(cpu, {gpu0, gpu1}, c, w, ms);
  ASSERT_TRUE(ms[0].ceiling.known());
  EXPECT_EQ(ms[0].ceiling.bound, "memory");
  EXPECT_EQ(ms[0].ceiling.name, "GPU copy bandwidth");
  EXPECT_EQ(ms[0].ceiling.short_name(), "copy");
  EXPECT_EQ(ms[0].ceiling.unit, "GB/s");
  EXPECT_DOUBLE_EQ(ms[0].ceiling.value, 7.0);
  EXPECT_DOUBLE_EQ(ms[0].ceiling.achieved, bytes / 0.01 / 1e9);
  EXPECT_DOUBLE_EQ(ms[0].ceiling.percent, 100 * bytes / 0.01 / 1e9 / 7.0);
  EXPECT_EQ(ms[1].ceiling.name, "GPU copy bandwidth");  // its own GPU's
  EXPECT_DOUBLE_EQ(ms[1].ceiling.value, 9.0);
  EXPECT_DOUBLE_EQ(ms[1].ceiling.achieved, bf16_bytes / 0.01 / 1e9);
  EXPECT_EQ(ms[2].ceiling.name, "read bandwidth");  // a CPU row keeps the CPU's
  EXPECT_DOUBLE_EQ(ms[2].ceiling.value, 1.0);
  EXPECT_FALSE(ms[3].ceiling.known());  // GPU 2 not measured: unknown, not the CPU's

  // Compute-bound: GFLOP/s over cuBLAS's peak at the row's precision, the
  // bit-exact kernels too (the GPU has no separate mul+add peak).
  gpu0 = {};
  gpu0.copy_gb_s = 1e6, gpu0.fp32_gflops = 2.0, gpu0.bf16_gflops = 5.0;
  ms = {gpu_row("cuda", Numerics::kReordered, Precision::kFloat32, 0),
        gpu_row("cuda", Numerics::kReordered, Precision::kBFloat16, 0),
        gpu_row("cuda-naive", Numerics::kBitExact, Precision::kFloat32, 0)};
  ms[1].info.gpus.clear();  // no GPU listed: device 0
  apply_ceilings(cpu, {gpu0}, c, w, ms);
  EXPECT_EQ(ms[0].ceiling.bound, "compute");
  EXPECT_EQ(ms[0].ceiling.name, "cuBLAS fp32 peak");
  EXPECT_EQ(ms[0].ceiling.short_name(), "fp32");
  EXPECT_DOUBLE_EQ(ms[0].ceiling.value, 2.0);
  EXPECT_DOUBLE_EQ(ms[0].ceiling.percent, 100 * flops / 0.01 / 1e9 / 2.0);
  EXPECT_EQ(ms[1].ceiling.name, "cuBLAS bf16 peak");
  EXPECT_EQ(ms[1].ceiling.short_name(), "bf16");
  EXPECT_DOUBLE_EQ(ms[1].ceiling.value, 5.0);
  EXPECT_EQ(ms[2].ceiling.name, "cuBLAS fp32 peak");

  // Without GPU ceilings (none measured) a GPU row has none.
  apply_ceilings(cpu, {}, c, w, ms);
  EXPECT_FALSE(ms[0].ceiling.known());
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

TEST(SweepTest, MeasuresChecksAndComparesWithTheReference) {
  Workload w;
  w.prompts = prompts();
  w.reps = 2;
  w.warmup = 1;
  w.reference_reps = 1;
  const GoldenFile g = test::reference_goldens(Rule::kMedian);
  SweepOptions o;
  o.with_ceilings = false;  // measured by CeilingsTest and BenchCliTest
  o.specs = specs("pthreads,openmp", "float32", "1..2");
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
  GoldenFile g = test::reference_goldens(Rule::kMedian);
  const_cast<GoldenStep*>(g.find("b", 0))->token ^= 1;
  for (bool interleave : {false, true}) {
    Workload w;
    w.prompts = prompts();
    w.reps = interleave ? 2 : 1;
    w.warmup = 0;
    w.interleave = interleave;
    SweepOptions o;
    o.with_ceilings = false;  // measured by CeilingsTest and BenchCliTest
    o.specs = specs("openmp", "float32", "1..2");
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
  const GoldenFile g = test::reference_goldens(Rule::kMedian);
  SweepOptions o;
  o.with_ceilings = false;  // measured by CeilingsTest and BenchCliTest
  o.specs = specs("pthreads,openmp", "float32", "1..3");
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
  std::vector<std::string> names;
  std::string not_here;  // bfloat16 backends this machine cannot run, and why
  for (const BackendEntry& e : backend_entries()) {
    if (e.device != Device::kCpu || !offers_precision(e, Precision::kBFloat16)) continue;
    if (std::string why; !backend_available(e, Precision::kBFloat16, &why)) {
      not_here += std::string(e.name) + ": " + why + "; ";
    } else {
      names.emplace_back(e.name);
    }
  }
  if (names.empty()) {
    GTEST_SKIP() << (not_here.empty() ? "no bfloat16 backend built here"
                                      : "no bfloat16 backend runs here: " + not_here);
  }
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ",") + n;
  Workload w;
  w.prompts = prompts();
  w.reps = 1;
  w.warmup = 0;
  GoldenFile g = test::reference_goldens(Rule::kMedian);
  const_cast<GoldenStep*>(g.find("b", 0))->token ^= 1;  // no backend gives this one
  SweepOptions o;
  o.with_ceilings = false;  // measured by CeilingsTest and BenchCliTest
  o.specs = specs(list, "float32,bfloat16", "1..2");
  o.threads = {1, 2};
  o.modes = {Mode::kKvCache};
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

TEST(SweepTest, BatchedRowsRunTheirSequencesTogether) {
  Workload w;
  w.prompts = {{"a", 9, {31373, 612, 338}}};  // 6 new tokens
  w.reps = 2;
  w.warmup = 0;
  const std::vector<Prompt> four = batched_workload(w, 4).prompts;
  ASSERT_EQ(four.size(), 4u);
  EXPECT_EQ(four[3].tokens, w.prompts[0].tokens);
  Workload three = w;
  three.prompts = prompts();
  EXPECT_EQ(batched_workload(three, 2).prompts.size(), 3u) << "at least the workload's prompts";
  EXPECT_EQ(batched_workload(three, 5).prompts[4].id, "b") << "taken in turn";
  SweepOptions o;
  o.specs = expand_backend_specs({"pthreads", "float32", "1..2", "1,4"}).specs;
  o.threads = {1, 2};
  o.modes = {Mode::kKvCache};
  o.with_ceilings = false;
  o.measure_overhead = false;
  const SweepResult r = run_sweep(test::tiny_model(), w, o, {});
  ASSERT_EQ(r.measurements.size(), 1u + 4);  // the reference, then 2 threads x 2 batches
  EXPECT_EQ(r.failures, 0);
  for (const Measurement& m : r.measurements) {
    // The reference's tokens are the others' expected ones (no goldens here).
    EXPECT_EQ(m.tokens, m.backend == "reference" ? Check::kNotApplicable : Check::kYes)
        << m.backend << " batch " << m.batch;
    EXPECT_EQ(m.sequences, m.batch);
    // A step per new token: 6 steps, whatever the batch (all sequences together).
    EXPECT_EQ(m.steps, 6) << m.backend << " batch " << m.batch;
    EXPECT_NEAR(m.tokens_per_second, 6.0 * m.batch / m.stats.median, 1e-9 * m.tokens_per_second);
    EXPECT_NEAR(m.ms_per_step, 1e3 * m.stats.median / 6, 1e-9);
    EXPECT_NEAR(m.tokens_per_second_per_sequence, m.tokens_per_second / m.batch, 1e-9);
    // All start in the first step: decode alone is measured (5 tokens a sequence after it).
    EXPECT_GT(m.decode_tokens_per_second, m.tokens_per_second * 5.0 / 6.0) << m.backend;
  }
  // Each batch's thread counts together (one interleaving group), and speedups
  // over 1 thread compare rows of the same batch.
  EXPECT_EQ(r.measurements[2].batch, 1);
  EXPECT_EQ(r.measurements[2].threads, 2);
  EXPECT_EQ(r.measurements[4].batch, 4);
  EXPECT_EQ(r.measurements[4].threads, 2);
  EXPECT_NEAR(r.measurements[4].speedup_vs_1thread,
              r.measurements[3].stats.median / r.measurements[4].stats.median, 1e-12);
}

// Beam search as a workload: K beams a prompt, every beam's token counted;
// the tokens are the best hypothesis's, held to the reference's; a batch of B
// runs B prompts' beams at once and gets the same beams.
TEST(SweepTest, BeamSearchRowsCountEveryBeam) {
  Workload w;
  w.prompts = {{"a", 9, {31373, 612, 338}}, {"b", 7, {5, 6}}};
  w.reps = 2;
  w.warmup = 0;
  BeamOptions beams;
  beams.beams = 3;
  beams.eos = -1;  // to the length limit: 6 and 5 steps
  w.beams = beams;
  EXPECT_NE(w.describe().find("beam search (beams 3"), std::string::npos) << w.describe();
  SweepOptions o;
  o.specs = expand_backend_specs({"pthreads", "float32", "1", "1,2"}).specs;
  o.threads = {1};
  o.modes = {Mode::kKvCache};
  o.with_ceilings = false;
  o.measure_overhead = false;
  const SweepResult r = run_sweep(test::tiny_model(), w, o, {});
  ASSERT_EQ(r.measurements.size(), 3u);  // the reference, then batch 1 and 2
  EXPECT_EQ(r.failures, 0);
  auto model = test::tiny_model();
  auto reference = make_backend(model, backend_spec("reference"));
  for (const Measurement& m : r.measurements) {
    SCOPED_TRACE(m.backend + " batch " + std::to_string(m.batch));
    EXPECT_EQ(m.tokens, m.backend == "reference" ? Check::kNotApplicable : Check::kYes);
    // Batch 1: 6 + 5 steps, one prompt after the other; batch 2: 6 together.
    EXPECT_EQ(m.steps, m.batch == 1 ? 11 : 6);
    EXPECT_NEAR(m.tokens_per_second, 3.0 * 11 / m.stats.median, 1e-9 * m.tokens_per_second);
    const std::vector<BeamPrompt> one = {{w.prompts[0].tokens, w.prompts[0].n}};
    EXPECT_EQ(m.generated.at("a"),
              beam_search(*reference, one, beams, Mode::kKvCache).front().hypotheses[0].tokens);
  }
}

}  // namespace
}  // namespace gpt2
