// The kernels' one implementation, compiled once per instruction set by
// kernels_<isa>.cpp, which define GPT2_ISA (a namespace name), GPT2_ISA_ENUM and
// GPT2_MATMUL_ROWS (rows per register tile) before including this file.
// Everything here lives in that namespace, so the per-ISA copies never mix.
#include <cmath>
#include <numbers>

#include "backends/cpu/kernels.h"
#include "backends/cpu/simd_math.h"

namespace gpt2::cpu::GPT2_ISA {
namespace {

using simd::kLanes;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;

constexpr int kVecs = kGroupRows / kLanes;  // vectors per packed group (4)

// Scalar tails go through lane 0 of the vector functions (the same bits as
// exp_ref), so that this per-ISA file uses no inline function shared with the
// rest of the program.
inline float exp1(float x) { return simd::exp_vec(splat(x))[0]; }

float gelu_scaling() { return std::sqrt(float(2.0 / std::numbers::pi)); }

// The epilogue of one row t (absolute row index `row`) of one group: acc holds
// the group's 64 values (outputs g*64 ..).
inline void finish_row(const Epilogue& ep, int row, int o0, int OC, const vf* acc, float scaling) {
  const int valid = OC - o0 < kGroupRows ? OC - o0 : kGroupRows;
  if (ep.kind == Epilogue::kQkv) {
    alignas(64) float v[kGroupRows];
    for (int k = 0; k < kVecs; k++) store(v + k * kLanes, acc[k]);
    const int C = ep.channels;
    for (int j = 0; j < valid; j++) {
      const int o = o0 + j;
      if (o < C) {
        ep.out[long(row) * ep.ld + o] = v[j];
      } else if (o < 2 * C) {
        const int c = o - C;  // (h * hs + i)
        ep.keys_t[long(c) * ep.stride + ep.pos + row] = v[j];
      } else {
        ep.values[long(ep.pos + row) * C + (o - 2 * C)] = v[j];
      }
    }
    return;
  }
  float* out = ep.out + long(row) * ep.ld + o0;
  if (valid == kGroupRows) {
    for (int k = 0; k < kVecs; k++) {
      vf v = acc[k];
      if (ep.kind == Epilogue::kAdd) v = load(out + k * kLanes) + v;
      if (ep.kind == Epilogue::kGelu) v = simd::gelu_vec(v, scaling);
      store(out + k * kLanes, v);
    }
    return;
  }
  alignas(64) float v[kGroupRows];
  for (int k = 0; k < kVecs; k++) {
    vf x = acc[k];
    if (ep.kind == Epilogue::kGelu) x = simd::gelu_vec(x, scaling);
    store(v + k * kLanes, x);
  }
  for (int j = 0; j < valid; j++) out[j] = ep.kind == Epilogue::kAdd ? out[j] + v[j] : v[j];
}

// R rows x one group: acc[r][k] = bias + sum_i x[r][i] * w[i][k], in order of i.
template <int R>
inline void matmul_tile(const float* wg, const vf* bias, int C, const float* inp, int t,
                        int o0, int OC, const Epilogue& ep, float scaling) {
  vf acc[R][kVecs];
  for (int r = 0; r < R; r++) {
    for (int k = 0; k < kVecs; k++) acc[r][k] = bias[k];
  }
  const float* x[R];
  for (int r = 0; r < R; r++) x[r] = inp + long(t + r) * C;
  for (int i = 0; i < C; i++) {
    const float* w = wg + long(i) * kGroupRows;
    vf wv[kVecs];
    for (int k = 0; k < kVecs; k++) wv[k] = load(w + k * kLanes);
    for (int r = 0; r < R; r++) {
      const vf xv = splat(x[r][i]);
      for (int k = 0; k < kVecs; k++) acc[r][k] = acc[r][k] + xv * wv[k];
    }
  }
  for (int r = 0; r < R; r++) finish_row(ep, t + r, o0, OC, acc[r], scaling);
}

void matmul(const float* packed, const float* bias, int OC, int C, const float* inp, int t0,
            int t1, int g0, int g1, const Epilogue& ep) {
  const float scaling = gelu_scaling();
  for (int g = g0; g < g1; g++) {
    const int o0 = g * kGroupRows;
    alignas(64) float b[kGroupRows] = {};
    if (bias != nullptr) {
      for (int j = 0; j < kGroupRows && o0 + j < OC; j++) b[j] = bias[o0 + j];
    }
    vf bv[kVecs];
    for (int k = 0; k < kVecs; k++) bv[k] = load(b + k * kLanes);
    const float* wg = packed + long(g) * C * kGroupRows;
    int t = t0;
    for (; t + GPT2_MATMUL_ROWS <= t1; t += GPT2_MATMUL_ROWS) {
      matmul_tile<GPT2_MATMUL_ROWS>(wg, bv, C, inp, t, o0, OC, ep, scaling);
    }
    for (; t < t1; t++) matmul_tile<1>(wg, bv, C, inp, t, o0, OC, ep, scaling);
  }
}

// Scores of keys [j, j + B*16) for one query: B independent 16-key blocks, each
// lane summing its key's hs products in order of i, starting from 0.
template <int B>
inline void score_blocks(float* att, const float* q, const float* keys_t, int kstride, int j,
                         int hs, float scale, vf& vmax) {
  vf acc[B];
  for (int b = 0; b < B; b++) acc[b] = splat(0.0f);
  for (int i = 0; i < hs; i++) {
    const vf qi = splat(q[i]);
    const float* k = keys_t + long(i) * kstride + j;
    for (int b = 0; b < B; b++) acc[b] = acc[b] + qi * load(k + b * kLanes);
  }
  for (int b = 0; b < B; b++) {
    const vf s = acc[b] * scale;
    store(att + j + b * kLanes, s);
    vmax = vmax < s ? s : vmax;
  }
}

// out[i0 .. i0 + B*16) = sum_j att[j] v_j[..], in order of j, starting from 0.
template <int B>
inline void value_blocks(float* out, const float* att, const float* values, int vstride, int n,
                         int i0) {
  vf acc[B];
  for (int b = 0; b < B; b++) acc[b] = splat(0.0f);
  for (int j = 0; j < n; j++) {
    const vf a = splat(att[j]);
    const float* v = values + long(j) * vstride + i0;
    for (int b = 0; b < B; b++) acc[b] = acc[b] + a * load(v + b * kLanes);
  }
  for (int b = 0; b < B; b++) store(out + i0 + b * kLanes, acc[b]);
}

void attention_head(float* out, const float* q, const float* keys_t, int kstride,
                    const float* values, int vstride, float* att, int n, int hs) {
  const float scale = 1.0f / std::sqrt(float(hs));
  // pass 1: scores and their maximum
  vf vmax = splat(-__builtin_inff());
  int j = 0;
  for (; j + 4 * kLanes <= n; j += 4 * kLanes) score_blocks<4>(att, q, keys_t, kstride, j, hs, scale, vmax);
  for (; j + kLanes <= n; j += kLanes) score_blocks<1>(att, q, keys_t, kstride, j, hs, scale, vmax);
  alignas(64) float lanes[kLanes];
  store(lanes, vmax);
  float maxval = -__builtin_inff();
  for (int l = 0; l < kLanes; l++) maxval = maxval < lanes[l] ? lanes[l] : maxval;
  for (; j < n; j++) {
    float val = 0.0f;
    for (int i = 0; i < hs; i++) val += q[i] * keys_t[long(i) * kstride + j];
    val *= scale;
    maxval = maxval < val ? val : maxval;
    att[j] = val;
  }
  // pass 2: exponentials (in parallel lanes) and their sum (in order)
  j = 0;
  for (; j + kLanes <= n; j += kLanes) store(att + j, simd::exp_vec(load(att + j) - maxval));
  for (; j < n; j++) att[j] = exp1(att[j] - maxval);
  float expsum = 0.0f;
  for (j = 0; j < n; j++) expsum += att[j];
  // pass 3: normalize
  const float expsum_inv = 1.0f / expsum;
  j = 0;
  for (; j + kLanes <= n; j += kLanes) store(att + j, load(att + j) * expsum_inv);
  for (; j < n; j++) att[j] *= expsum_inv;
  // pass 4: weighted sum of the values
  int i = 0;
  for (; i + 4 * kLanes <= hs; i += 4 * kLanes) value_blocks<4>(out, att, values, vstride, n, i);
  for (; i + kLanes <= hs; i += kLanes) value_blocks<1>(out, att, values, vstride, n, i);
  for (; i < hs; i++) {
    float o = 0.0f;
    for (j = 0; j < n; j++) o += att[j] * values[long(j) * vstride + i];
    out[i] = o;
  }
}

void exp_shifted(float* e, const float* x, float shift, int n) {
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) store(e + i, simd::exp_vec(load(x + i) - shift));
  for (; i < n; i++) e[i] = exp1(x[i] - shift);
}

void divide(float* p, float d, int n) {
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) store(p + i, load(p + i) / d);
  for (; i < n; i++) p[i] = p[i] / d;
}

float max(const float* x, int n) {
  vf vmax = splat(-__builtin_inff());
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vf v = load(x + i);
    vmax = vmax < v ? v : vmax;
  }
  alignas(64) float lanes[kLanes];
  store(lanes, vmax);
  float m = -__builtin_inff();
  for (int l = 0; l < kLanes; l++) m = m < lanes[l] ? lanes[l] : m;
  for (; i < n; i++) m = m < x[i] ? x[i] : m;
  return m;
}

void gelu(float* out, const float* inp, int n) {
  const float scaling = gelu_scaling();
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) store(out + i, simd::gelu_vec(load(inp + i), scaling));
  for (; i < n; i++) out[i] = simd::gelu_vec(splat(inp[i]), scaling)[0];
}

}  // namespace

const Kernels kTable = {GPT2_ISA_ENUM, &matmul, &attention_head, &exp_shifted,
                        &divide,       &max,    &gelu};

}  // namespace gpt2::cpu::GPT2_ISA
