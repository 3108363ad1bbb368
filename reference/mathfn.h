// The reference's own exp and tanh, built from + - * / on float alone (no libm),
// so that the reference's results depend only on IEEE-754 binary32 arithmetic:
// the same bits with every compiler, C library and CPU. Bit-exact backends that
// vectorize these must follow the same steps in the same order (and a test
// holds them to it).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

// The CUDA backends compile these same functions for the GPU (nvcc defines
// __CUDACC__); every other compiler sees plain inline functions.
#if defined(__CUDACC__)
#define GPT2_HOST_DEVICE __host__ __device__
#else
#define GPT2_HOST_DEVICE
#endif

namespace gpt2 {

namespace mathfn {
inline constexpr float kLog2e = 1.44269504088896341f;
// ln(2) split so that k * kLn2Hi is exact for |k| < 2^9 (Cody and Waite).
inline constexpr float kLn2Hi = 0.693145751953125f;
inline constexpr float kLn2Lo = 1.42860676533018704e-06f;
// Adding and subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to an
// integer, ties to even.
inline constexpr float kRoundMagic = 12582912.0f;
// Taylor coefficients 1/k! of e^r for k = 2..7; with |r| <= ln(2)/2 the
// truncation error is below 6e-9 relative.
inline constexpr float kExpC2 = 1.0f / 2.0f;
inline constexpr float kExpC3 = 1.0f / 6.0f;
inline constexpr float kExpC4 = 1.0f / 24.0f;
inline constexpr float kExpC5 = 1.0f / 120.0f;
inline constexpr float kExpC6 = 1.0f / 720.0f;
inline constexpr float kExpC7 = 1.0f / 5040.0f;
inline constexpr float kExpMin = -87.0f;  // below: 0 (e^-87 is just above FLT_MIN)
inline constexpr float kExpMax = 88.0f;   // above: +infinity
}  // namespace mathfn

// e^x within about 2 ulp for x in [-87, 88]; 0 below, +inf above, NaN for NaN.
// Steps: k = round(x / ln 2); r = x - k ln 2 (in two parts); e^r by Horner's
// rule on the degree-7 Taylor polynomial; times 2^k, built from its bits.
GPT2_HOST_DEVICE inline float exp_ref(float x) {
  using namespace mathfn;
  if (x != x) return x;
  if (x < kExpMin) return 0.0f;
  if (x > kExpMax) return INFINITY;
  const float kf = (x * kLog2e + kRoundMagic) - kRoundMagic;
  const float r = (x - kf * kLn2Hi) - kf * kLn2Lo;
  float p = kExpC7;
  p = p * r + kExpC6;
  p = p * r + kExpC5;
  p = p * r + kExpC4;
  p = p * r + kExpC3;
  p = p * r + kExpC2;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
#if defined(__CUDA_ARCH__)
  const float two_k = __uint_as_float(std::uint32_t(int(kf) + 127) << 23);
#else
  const float two_k = std::bit_cast<float>(std::uint32_t(int(kf) + 127) << 23);
#endif
  return p * two_k;
}

// tanh(y) = sign(y) (1 - e) / (1 + e) with e = e^(-2|y|) <= 1: never overflows,
// absolute error a few 1e-8.
GPT2_HOST_DEVICE inline float tanh_ref(float y) {
#if defined(__CUDA_ARCH__)
  const float e = exp_ref(-2.0f * fabsf(y));
  return copysignf((1.0f - e) / (1.0f + e), y);
#else
  const float e = exp_ref(-2.0f * std::fabs(y));
  return std::copysign((1.0f - e) / (1.0f + e), y);
#endif
}

}  // namespace gpt2
