// Lane-wise twins of reference/mathfn.h's exp_ref and tanh_ref, and of the
// reference's GELU, over GCC vector types: the same operations in the same
// order on every lane, so every lane gets the scalar function's bits.
// Included only by the per-ISA kernel files (kernels_impl.h), inside an
// anonymous namespace of the ISA's own namespace: each ISA gets private copies,
// so the linker can never hand one ISA's code to another.
#pragma once

#ifndef GPT2_ISA
#error "simd_math.h is included by kernels_impl.h only"
#endif

#include <cstdint>
#include <cstring>
#include <utility>

#include "reference/mathfn.h"

namespace gpt2::cpu::GPT2_ISA {
namespace {
namespace simd {

// One vector is one register of the ISA the file is compiled for: 16 lanes
// (AVX-512), 8 (AVX2) or 4 (SSE2, the x86-64 baseline). A wider GCC vector
// than the registers is lowered lane-group by lane-group through the stack:
// with 16 lanes on AVX2 the matrix product's accumulators went to memory at
// every input (reports/studies/avx2-kernels/). Lanes are independent outputs,
// so the width never changes a result's bits.
#if defined(__AVX512F__)
inline constexpr int kLanes = 16;
#elif defined(__AVX2__)
inline constexpr int kLanes = 8;
#else
inline constexpr int kLanes = 4;
#endif
typedef float vf __attribute__((vector_size(4 * kLanes)));
typedef std::int32_t vi __attribute__((vector_size(4 * kLanes)));
typedef std::uint32_t vu __attribute__((vector_size(4 * kLanes)));

// Every lane x, exactly (0 + x would turn -0 into +0): the initializer
// {x, x, ...} is one broadcast (a loop over the lanes made GCC insert them one
// at a time, under a mask each).
template <std::size_t... L>
inline vf splat_lanes(float x, std::index_sequence<L...>) {
  return vf{((void)L, x)...};
}
inline vf splat(float x) {
  return splat_lanes(x, std::make_index_sequence<kLanes>{});
}
inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) {
  std::memcpy(p, &v, sizeof v);
}

inline vf exp_vec(vf x) {
  using namespace mathfn;
  // Compute on x clamped into [kExpMin, kExpMax] (NaN lanes stay NaN and are
  // fixed at the end); in-range lanes see exactly exp_ref's operations.
  vf xc = x < splat(kExpMin) ? splat(kExpMin) : x;
  xc = xc > splat(kExpMax) ? splat(kExpMax) : xc;
  const vf kf = (xc * kLog2e + kRoundMagic) - kRoundMagic;
  const vf r = (xc - kf * kLn2Hi) - kf * kLn2Lo;
  vf p = splat(kExpC7);
  p = p * r + kExpC6;
  p = p * r + kExpC5;
  p = p * r + kExpC4;
  p = p * r + kExpC3;
  p = p * r + kExpC2;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const vi k = __builtin_convertvector(kf, vi);
  const vf two_k = (vf)(((vu)(k + 127)) << 23);
  vf result = p * two_k;
  result = x < splat(kExpMin) ? splat(0.0f) : result;
  result = x > splat(kExpMax) ? splat(__builtin_inff()) : result;
  result = x != x ? x : result;
  return result;
}

inline vf tanh_vec(vf y) {
  const vu bits = (vu)y;
  const vf a = (vf)(bits & 0x7fffffffu);
  const vf e = exp_vec(-2.0f * a);
  const vf t = (1.0f - e) / (1.0f + e);
  return (vf)(((vu)t & 0x7fffffffu) | (bits & 0x80000000u));  // copysign(t, y)
}

// 0.5 x (1 + tanh(s (x + 0.044715 x^3))), grouped exactly as ref::gelu_forward.
inline vf gelu_vec(vf x, float scaling) {
  const vf cube = 0.044715f * x * x * x;
  return 0.5f * x * (1.0f + tanh_vec(scaling * (x + cube)));
}

}  // namespace simd
}  // namespace
}  // namespace gpt2::cpu::GPT2_ISA
