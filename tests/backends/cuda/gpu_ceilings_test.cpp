// The GPU's own ceilings (backends/cuda/gpu_ceilings.h), through the registry
// as the sweep calls them: every figure measured and plausible for the GPU's
// published facts (a copy cannot beat the memory bus; float32 without TF32
// cannot beat the CUDA cores; bfloat16 on tensor cores beats float32).
#include "backends/cuda/gpu_ceilings.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>

#include "backends/cuda/device.h"
#include "backends/registry.h"

namespace gpt2 {
namespace {

// Float32 lanes per SM: 64 on compute capability 8.0 (A100), 128 on the others
// since (8.6, 8.9, 9.0, 10.x).
int fp32_lanes_per_sm(const std::string& compute_capability) {
  return compute_capability == "8.0" ? 64 : 128;
}

TEST(GpuCeilingsTest, AllThreeMeasuredAndPlausible) {
  const std::optional<GpuCeilings> g = measure_gpu_ceilings(0);
  ASSERT_TRUE(g.has_value());
  const GpuInfo info = cuda::gpu_info(0);
  std::printf(
      "GPU 0 (%s): copy %.1f GB/s over %zu MiB, fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s "
      "(n = %d), %.2f s\n",
      g->name.c_str(), g->copy_gb_s, g->copy_bytes >> 20, g->fp32_gflops, g->bf16_gflops, g->gemm_n,
      g->seconds);
  EXPECT_EQ(g->device, 0);
  EXPECT_EQ(g->name, info.name);
  EXPECT_GE(g->copy_bytes, 2 * info.l2_bytes);  // from memory, not the L2
  EXPECT_GT(g->copy_gb_s, 0);
  EXPECT_GT(g->fp32_gflops, 0);
  EXPECT_GT(g->bf16_gflops, g->fp32_gflops);
  EXPECT_EQ(g->gemm_n, cuda::kCeilingGemmN);
  EXPECT_GT(g->seconds, 0);  // no bound on the time: a shared GPU may take longer
  // Upper bounds only: another tenant on the GPU can slow a measurement, never
  // speed it up, so these hold at any load. The margins are wide (1.5x) so
  // that a reported clock below the boost the card really runs at cannot
  // fail them, yet catch what they are for: a copy served from the L2 (several
  // times the bus) and float32 run as TF32 on the tensor cores (8x the cores).
  // Read plus written bytes cannot exceed what the bus moves (double data rate).
  if (info.memory_clock_mhz > 0 && info.memory_bus_bits > 0) {
    const double bus_gb_s = 2.0 * info.memory_clock_mhz * 1e6 * info.memory_bus_bits / 8 / 1e9;
    EXPECT_LT(g->copy_gb_s, 1.5 * bus_gb_s) << "bus " << bus_gb_s << " GB/s";
  }
  // Float32 on the CUDA cores, not TF32 on the tensor cores: below the
  // cores' peak, each lane one FMA per clock.
  if (info.sm_clock_mhz > 0) {
    const double cores_gflops =
        2.0 * info.sm_count * fp32_lanes_per_sm(info.compute_capability) * info.sm_clock_mhz / 1e3;
    EXPECT_LT(g->fp32_gflops, 1.5 * cores_gflops) << "CUDA cores " << cores_gflops << " GFLOP/s";
  }
}

TEST(GpuCeilingsTest, ADeviceThatDoesNotExistIsAnError) {
  const int count = cuda::device_count(nullptr);
  EXPECT_THROW(measure_gpu_ceilings(count), std::runtime_error);
}

}  // namespace
}  // namespace gpt2
