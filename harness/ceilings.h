// The machine's own ceilings at each thread count of a sweep, measured in the
// same run in a second or two, so that every row of a sweep can say how close
// it came to what the machine allows (README: "The machine's ceiling in every
// sweep").
//
// - read bandwidth: k threads each sum a contiguous share of one buffer larger
//   than 4 times the last-level cache (at least 256 MiB), so every pass comes
//   from memory; the best of 4 passes.
// - float32 peaks, FMA and separate multiply and add: k threads each run the
//   register-only loop of harness/peaks.h for about 20 ms; the best of 4.
// - bfloat16 peak (AMX tdpbf16ps, else AVX512_BF16 vdpbf16ps), when asked for.
//
// Which ceiling bounds a row follows the roofline: its bytes of weights over
// the read bandwidth against its FLOPs over the peak its numerics can use.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace gpt2 {

struct CeilingPoint {
  int threads = 1;
  double read_gb_s = 0;            // GB/s (1e9 bytes)
  double fp32_fma_gflops = 0;      // GFLOP/s, each multiply and add counted
  double fp32_mul_add_gflops = 0;  // GFLOP/s
  double bf16_gflops = 0;          // GFLOP/s; 0 when not measured or not available
};

struct Ceilings {
  std::string isa;        // the peak loops' vector width: "avx512", "avx2", "none"
  std::string bf16_kind;  // "amx-bf16", "avx512-bf16", or "" (not measured or none)
  std::size_t read_buffer_bytes = 0;
  double seconds = 0;                // how long the measurement took
  std::vector<CeilingPoint> points;  // by increasing threads, 1 always among them
  // The point for `threads`, or nullptr.
  const CeilingPoint* at(int threads) const;
  bool empty() const { return points.empty(); }
};

struct CeilingOptions {
  std::vector<int> threads;  // the sweep's thread counts (1 is added)
  bool bf16 = false;         // also the bfloat16 peak
};

// Measures the ceilings; `progress` (if set) sees one line per thread count.
// Throws std::runtime_error when the buffer cannot be allocated.
Ceilings measure_ceilings(const CeilingOptions& options,
                          const std::function<void(const std::string&)>& progress = {});

}  // namespace gpt2
