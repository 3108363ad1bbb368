// The machine's ceilings, measured by loops of our own: floating-point peaks
// (register-resident loops with no memory traffic) and read bandwidth. For
// gpt2-microbench, which reports every op against them.
#pragma once

#include <cstddef>
#include <string>

namespace gpt2 {

enum class PeakKind {
  kFp32Fma,     // float32 fused multiply-add (what BLAS libraries use)
  kFp32MulAdd,  // float32 multiply, then add (what the bit-exact kernels do)
  kBf16Dot,     // AVX512_BF16 vdpbf16ps: bfloat16 pairs into float32
  kBf16Amx,     // AMX tdpbf16ps: bfloat16 tiles into float32
};
const char* peak_name(PeakKind kind);

// Whether this CPU (and, for AMX, the kernel, asked once) can run `kind`; if
// not, why not.
bool peak_available(PeakKind kind, std::string* why);

// One thread's loop: returns the floating-point operations it did (each
// multiply and each add counts one). `work` scales the loop's length.
double run_peak(PeakKind kind, long work);

// The widest float32 vector the peak loops use here, e.g. "avx512" or "avx2".
const char* peak_isa();

// Sums `bytes` bytes of `data` (64-byte aligned) with the widest vector loads:
// the loop of the read bandwidth benchmark. The result keeps it from being
// optimized away.
float read_sum(const float* data, std::size_t count);

}  // namespace gpt2
