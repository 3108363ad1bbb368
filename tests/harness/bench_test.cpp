// The sweep's arithmetic: FLOPs per forward pass and per run, and which
// ceiling bounds a measurement on the roofline.
#include "harness/bench.h"

#include <gtest/gtest.h>

#include "harness/stats.h"

namespace gpt2 {
namespace {

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

}  // namespace
}  // namespace gpt2
