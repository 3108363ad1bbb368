#include "harness/peaks.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "backends/cpu/kernels.h"

namespace gpt2 {

namespace {

// Independent chains per loop: enough to cover the latency of two pipes.
constexpr int kChains = 16;

bool cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit) {
  unsigned r[4] = {0, 0, 0, 0};
  if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) return false;
  return (r[reg] >> bit) & 1u;
}

// The peaks obey the cap the kernels obey (GPT2_MAX_CPU_ISA, see
// backends/cpu/kernels.h): under GPT2_MAX_CPU_ISA=avx2 an AVX-512 machine
// measures what an AVX2-only one would, and has no bfloat16 peak.
bool avx512_allowed() {
  return cpu::max_isa().value_or(cpu::Isa::kAvx512) >= cpu::Isa::kAvx512;
}
bool has_avx512() {
  return avx512_allowed() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq");
}
bool has_avx2() {
  return cpu::max_isa().value_or(cpu::Isa::kAvx512) >= cpu::Isa::kAvx2 &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512_bf16() {
  return has_avx512() && cpuid_bit(7, 1, 0, 5);
}  // EAX bit 5
bool has_amx_bf16() {
  return avx512_allowed() && cpuid_bit(7, 0, 3, 22) && cpuid_bit(7, 0, 3, 24);
}  // EDX

// Linux hands out the AMX tile state only to processes that ask for it.
bool amx_permitted() {
  static const bool permitted = [] {
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return permitted;
}

// The lanes' sum (not _mm512_reduce_add_ps: GCC 12 warns inside it).
__attribute__((target("avx512f"))) float lane_sum(__m512 v) {
  alignas(64) float out[16];
  _mm512_store_ps(out, v);
  float s = 0;
  for (float x : out) s += x;
  return s;
}

// a = a * b + c with b < 1 converges to c / (1 - b): no overflow, no denormals.
template <bool kFused>
__attribute__((target("avx512f"))) double fp32_avx512(long iters) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; j++) acc[j] = _mm512_set1_ps(float(j) * 0.01f);
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
  for (long i = 0; i < iters; i++) {
    for (int j = 0; j < kChains; j++) {
      acc[j] = kFused ? _mm512_fmadd_ps(acc[j], b, c) : _mm512_add_ps(_mm512_mul_ps(acc[j], b), c);
    }
  }
  __m512 sum = acc[0];
  for (int j = 1; j < kChains; j++) sum = _mm512_add_ps(sum, acc[j]);
  volatile float sink = lane_sum(sum);
  (void)sink;
  return double(iters) * kChains * 16 * 2;
}

template <bool kFused>
__attribute__((target("avx2,fma"))) double fp32_avx2(long iters) {
  __m256 acc[kChains];
  for (int j = 0; j < kChains; j++) acc[j] = _mm256_set1_ps(float(j) * 0.01f);
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
  for (long i = 0; i < iters; i++) {
    for (int j = 0; j < kChains; j++) {
      acc[j] = kFused ? _mm256_fmadd_ps(acc[j], b, c) : _mm256_add_ps(_mm256_mul_ps(acc[j], b), c);
    }
  }
  alignas(32) float out[8];
  __m256 sum = acc[0];
  for (int j = 1; j < kChains; j++) sum = _mm256_add_ps(sum, acc[j]);
  _mm256_store_ps(out, sum);
  volatile float sink = out[0];
  (void)sink;
  return double(iters) * kChains * 8 * 2;
}

// Each vdpbf16ps: 16 lanes, each 2 bfloat16 products added to a float32.
__attribute__((target("avx512f,avx512bf16"))) double bf16_dot(long iters) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; j++) acc[j] = _mm512_setzero_ps();
  // Tiny values: the sums stay small over any loop length.
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x2f80), b = (__m512bh)_mm512_set1_epi16(0x2f80);
  for (long i = 0; i < iters; i++) {
    for (int j = 0; j < kChains; j++) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  }
  __m512 sum = acc[0];
  for (int j = 1; j < kChains; j++) sum = _mm512_add_ps(sum, acc[j]);
  volatile float sink = lane_sum(sum);
  (void)sink;
  return double(iters) * kChains * 16 * 4;
}

struct alignas(64) TileConfig {
  std::uint8_t palette_id = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

// Four 16 x 16 float32 accumulators, each tdpbf16ps adding a (16 x 32) x
// (32 x 16) bfloat16 product: 16 * 16 * 32 multiplies and adds.
__attribute__((target("amx-tile,amx-bf16"))) double bf16_amx(long iters) {
  TileConfig cfg;
  for (int t = 0; t < 8; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
  alignas(64) std::uint16_t in[16 * 32];
  for (auto& v : in) v = 0x2f80;
  alignas(64) float out[16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, in, 64);
  _tile_loadd(5, in, 64);
  _tile_loadd(6, in, 64);
  _tile_loadd(7, in, 64);
  for (long i = 0; i < iters; i++) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  volatile float sink = out[0];
  (void)sink;
  return double(iters) * 4 * 16 * 16 * 32 * 2;
}

__attribute__((target("avx512f"))) float read_sum_avx512(const float* data, std::size_t count) {
  __m512 acc[8];
  for (auto& a : acc) a = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 128 <= count; i += 128) {
    for (int j = 0; j < 8; j++) acc[j] = _mm512_add_ps(acc[j], _mm512_load_ps(data + i + 16 * j));
  }
  float tail = 0;
  for (; i < count; i++) tail += data[i];
  for (int j = 1; j < 8; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  return lane_sum(acc[0]) + tail;
}

__attribute__((target("avx2"))) float read_sum_avx2(const float* data, std::size_t count) {
  __m256 acc[8];
  for (auto& a : acc) a = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 64 <= count; i += 64) {
    for (int j = 0; j < 8; j++) acc[j] = _mm256_add_ps(acc[j], _mm256_load_ps(data + i + 8 * j));
  }
  float tail = 0;
  for (; i < count; i++) tail += data[i];
  for (int j = 1; j < 8; j++) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  alignas(32) float out[8];
  _mm256_store_ps(out, acc[0]);
  for (float v : out) tail += v;
  return tail;
}

}  // namespace

const char* peak_name(PeakKind kind) {
  switch (kind) {
    case PeakKind::kFp32Fma:
      return "peak_fp32_fma";
    case PeakKind::kFp32MulAdd:
      return "peak_fp32_mul_add";
    case PeakKind::kBf16Dot:
      return "peak_bf16_vdpbf16ps";
    case PeakKind::kBf16Amx:
      return "peak_bf16_amx";
  }
  return "?";
}

const char* peak_isa() {
  return has_avx512() ? "avx512" : has_avx2() ? "avx2" : "none";
}

bool peak_available(PeakKind kind, std::string* why) {
  auto no = [&](const char* reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  switch (kind) {
    case PeakKind::kFp32Fma:
    case PeakKind::kFp32MulAdd:
      if (!has_avx512() && !has_avx2()) return no("needs AVX2 and FMA");
      return true;
    case PeakKind::kBf16Dot:
      return has_avx512_bf16() ? true
                               : no("this CPU has no AVX512_BF16 (or GPT2_MAX_CPU_ISA caps it)");
    case PeakKind::kBf16Amx:
      if (!has_amx_bf16()) return no("this CPU has no AMX-BF16 (or GPT2_MAX_CPU_ISA caps it)");
      return amx_permitted() ? true : no("the kernel refused the AMX tile state (arch_prctl)");
  }
  return false;
}

double run_peak(PeakKind kind, long work) {
  switch (kind) {
    case PeakKind::kFp32Fma:
      return has_avx512() ? fp32_avx512<true>(work) : fp32_avx2<true>(work);
    case PeakKind::kFp32MulAdd:
      return has_avx512() ? fp32_avx512<false>(work) : fp32_avx2<false>(work);
    case PeakKind::kBf16Dot:
      return bf16_dot(work);
    case PeakKind::kBf16Amx:
      return bf16_amx(work / 4);
  }
  return 0;
}

float read_sum(const float* data, std::size_t count) {
  if (has_avx512()) return read_sum_avx512(data, count);
  if (has_avx2()) return read_sum_avx2(data, count);
  float s = 0;
  for (std::size_t i = 0; i < count; i++) s += data[i];
  return s;
}

}  // namespace gpt2
