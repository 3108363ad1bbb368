// The kernels' one implementation, compiled once per instruction set by
// kernels_<isa>.cpp, which define GPT2_ISA (a namespace name) and GPT2_ISA_ENUM
// before including this file.
// Everything here lives in that namespace, so the per-ISA copies never mix.

// GCC 12 warns that its own AVX-512 widening intrinsics use an uninitialized
// value (GCC bug 105593, fixed in 13): not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <type_traits>

#include "backends/cpu/kernels.h"
#include "backends/cpu/simd_math.h"

namespace gpt2::cpu::GPT2_ISA {
namespace {

using simd::kLanes;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;
using simd::vu;

constexpr int kVecs = kGroupRows / kLanes;                  // vectors per packed group (4, 8, 16)
constexpr int kTileRows = matmul_tile_rows(GPT2_ISA_ENUM);  // rows per register tile
// Inputs per block of a product of several tiles (a block of a float32 group:
// 16 KB, a third of L1), and tiles per panel (whose paused sums live in L1 too).
constexpr int kBlockInputs = 64;
constexpr int kPanelTiles = kTileRows >= 6 ? 8 : 48;
constexpr int kPanelRows = kPanelTiles * kTileRows;
// Vector blocks of keys (or value channels) per attention pass: R x kBlocks
// sums live in registers, 32 of them on AVX-512, 16 on AVX2 and SSE2.
constexpr int kBlocks = kLanes == 16 ? 4 : 2;

// Scalar tails go through lane 0 of the vector functions (the same bits as
// exp_ref), so that this per-ISA file uses no inline function shared with the
// rest of the program.
inline float exp1(float x) {
  return simd::exp_vec(splat(x))[0];
}

float gelu_scaling() {
  return std::sqrt(float(2.0 / std::numbers::pi));
}

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

// One group's weights of input i as kVecs float vectors, one reader per
// weight format. Each stream is asked for 4 KB ahead (hardware prefetchers stop
// at 4 KB page boundaries).
constexpr int kPrefetchBytes = 16384;

struct F32Group {
  const float* wg;  // (C, 64)
  inline void operator()(int i, vf* wv) const {
    const float* w = wg + long(i) * kGroupRows;
    __builtin_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes);
    __builtin_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes + 128);
    for (int k = 0; k < kVecs; k++) wv[k] = load(w + k * kLanes);
  }
};

// A block of a group's weights already widened to float32 (inputs [i0, ..)),
// in L1: what the tiles after the first read, whatever the packed format.
struct F32Block {
  const float* blk;  // (kBlockInputs, 64)
  int i0;
  inline void operator()(int i, vf* wv) const {
    const float* w = blk + long(i - i0) * kGroupRows;
    for (int k = 0; k < kVecs; k++) wv[k] = load(w + k * kLanes);
  }
};

// A register of the ISA as a vf (the same bits).
template <typename Register>
inline vf as_vf(Register r) {
  static_assert(sizeof(Register) == sizeof(vf));
  vf v;
  std::memcpy(&v, &r, sizeof v);
  return v;
}

// A group's 64 bfloat16 weights of one input, in bf16_slot() order: each
// 32-row half interleaves its two 16-row halves, so that a load of 2 * kLanes
// values holds kLanes rows in its even 16-bit halves and kLanes rows 16
// further on in its odd ones. Widened without a shuffle: an even half moves up
// (b << 16), an odd one is already in place (the low half masked off), each
// exactly bf16_to_float. (Widened by vpmovzxwd, a shuffle per vector, the
// 1-thread decode streamed 72-78% of the read bandwidth on AVX2, 76-84% on
// AVX-512; this way 77-84% and 79-85%: reports/studies/avx2-kernels/.)
struct BF16Group {
  const std::uint16_t* wg;                    // (C, 64), each 64 in bf16_slot() order
  static constexpr int kLoads = 16 / kLanes;  // loads of 2 * kLanes values per 32 rows
  inline void operator()(int i, vf* wv) const {
    __builtin_prefetch(reinterpret_cast<const char*>(wg + long(i) * kGroupRows) + kPrefetchBytes);
    widen(i, wv);
  }
  // The same without asking for what comes later.
  inline void widen(int i, vf* wv) const {
    const std::uint16_t* w = wg + long(i) * kGroupRows;
    for (int half = 0; half < 2; half++) {
      for (int q = 0; q < kLoads; q++) {
        vu bits;
        std::memcpy(&bits, w + half * 32 + q * 2 * kLanes, sizeof bits);
        wv[half * 2 * kLoads + q] = (vf)(bits << 16);  // rows half*32 + q*kLanes ..
        wv[half * 2 * kLoads + kLoads + q] = (vf)(bits & 0xffff0000u);  // and 16 rows on
      }
    }
  }
};

// kLanes int8 lanes as floats (exact). GCC's __builtin_convertvector widens int8
// lanes one at a time, so the vector ISAs say what they mean.
inline vf int8_to_float(const std::int8_t* p) {
#if defined(__AVX512F__)
  return as_vf(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)p))));
#elif defined(__AVX2__)
  return as_vf(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)p))));
#else
  vf v;
  for (int l = 0; l < kLanes; l++) v[l] = float(p[l]);
  return v;
#endif
}

// int8 q with its row's scale: float(q) * scale, exactly dequantize_int8.
struct Int8Group {
  const std::int8_t* wg;  // (C, 64)
  vf scale[kVecs];        // the group's 64 row scales
  inline void operator()(int i, vf* wv) const {
    __builtin_prefetch(reinterpret_cast<const char*>(wg + long(i) * kGroupRows) + kPrefetchBytes);
    widen(i, wv);
  }
  // The same without asking for what comes later.
  inline void widen(int i, vf* wv) const {
    const std::int8_t* w = wg + long(i) * kGroupRows;
    for (int k = 0; k < kVecs; k++) wv[k] = int8_to_float(w + k * kLanes) * scale[k];
  }
};

// What one call of a register tile covers: inputs [i0, i1) of R rows (input
// i of the tile's row r at x[r * ldx + i - xoff]: the activations, or a
// panel's copy of a block of them). A call that does not start at input 0
// resumes the sums from `spill` (R x kVecs), one that does not end at input C
// leaves them there: stored and loaded whole, so a pause never changes a bit.
// The call asks for pf_lines cache lines from pf, spread over its inputs.
struct Span {
  const float* x;
  long ldx;
  int xoff, i0, i1;
  bool first, last;
  vf* spill;
  const char* pf = nullptr;
  int pf_lines = 0;
};

// R rows x one group: acc[r][k] = bias + sum_i x[r][i] * w[i][k], in order of
// i; the tile's rows are rows t.. of the output.
template <int R, typename Group>
inline void matmul_tile(const Group& wg, const vf* bias, const Span& s, int t, int o0, int OC,
                        const Epilogue& ep, float scaling) {
  vf acc[R][kVecs];
  for (int r = 0; r < R; r++) {
    for (int k = 0; k < kVecs; k++) acc[r][k] = s.first ? bias[k] : s.spill[r * kVecs + k];
  }
  const float* x[R];
  for (int r = 0; r < R; r++) x[r] = s.x + r * s.ldx - s.xoff;
  const char* pf = s.pf;
  for (int i = s.i0, due = 0; i < s.i1; i++) {
    for (due += s.pf_lines; due >= s.i1 - s.i0; due -= s.i1 - s.i0, pf += 64) {
      __builtin_prefetch(pf);
    }
    vf wv[kVecs];
    wg(i, wv);
    for (int r = 0; r < R; r++) {
      const vf xv = splat(x[r][i]);
      for (int k = 0; k < kVecs; k++) acc[r][k] = acc[r][k] + xv * wv[k];
    }
  }
  if (!s.last) {
    for (int r = 0; r < R; r++) {
      for (int k = 0; k < kVecs; k++) s.spill[r * kVecs + k] = acc[r][k];
    }
    return;
  }
  for (int r = 0; r < R; r++) finish_row(ep, t + r, o0, OC, acc[r], scaling);
}

// One tile of r <= kTileRows rows (the tile's size chosen at run time).
template <typename Group>
inline void matmul_rows(int r, const Group& wg, const vf* bias, const Span& s, int t, int o0,
                        int OC, const Epilogue& ep, float scaling) {
  constexpr int k6 = kTileRows >= 6 ? 6 : 1, k5 = kTileRows >= 6 ? 5 : 1,
                k4 = kTileRows >= 6 ? 4 : 1, k3 = kTileRows >= 6 ? 3 : 1,
                k2 = kTileRows >= 6 ? 2 : 1;
  switch (kTileRows >= 6 ? r : 1) {
    case 6:
      return matmul_tile<k6>(wg, bias, s, t, o0, OC, ep, scaling);
    case 5:
      return matmul_tile<k5>(wg, bias, s, t, o0, OC, ep, scaling);
    case 4:
      return matmul_tile<k4>(wg, bias, s, t, o0, OC, ep, scaling);
    case 3:
      return matmul_tile<k3>(wg, bias, s, t, o0, OC, ep, scaling);
    case 2:
      return matmul_tile<k2>(wg, bias, s, t, o0, OC, ep, scaling);
    default:
      for (int k = 0; k < r; k++) {
        Span one = s;
        one.x += k * s.ldx;
        if (one.spill != nullptr) one.spill += k * kVecs;
        matmul_tile<1>(wg, bias, one, t + k, o0, OC, ep, scaling);
      }
  }
}

// The group reader of group g of w.
inline F32Group group_reader(const float* data, const float*, int g, int C) {
  return {data + long(g) * C * kGroupRows};
}
inline BF16Group group_reader(const std::uint16_t* data, const float*, int g, int C) {
  return {data + long(g) * C * kGroupRows};
}
inline Int8Group group_reader(const std::int8_t* data, const float* scales, int g, int C) {
  Int8Group r{data + long(g) * C * kGroupRows, {}};
  for (int k = 0; k < kVecs; k++) r.scale[k] = load(scales + g * kGroupRows + k * kLanes);
  return r;
}

template <typename T>
constexpr bool T_is_float = std::is_same_v<T, float>;

template <typename T>
void matmul_groups(const T* data, const float* scales, const float* bias, int OC, int C,
                   const float* inp, int t0, int t1, int g0, int g1, const Epilogue& ep) {
  const float scaling = gelu_scaling();
  vf spill[kPanelRows * kVecs];                         // a panel's paused sums
  alignas(64) float xblock[kPanelRows * kBlockInputs];  // a panel's inputs of a block
  alignas(64) float block[T_is_float<T> ? 1 : kBlockInputs * kGroupRows];  // widened weights
  for (int g = g0; g < g1; g++) {
    const int o0 = g * kGroupRows;
    alignas(64) float b[kGroupRows] = {};
    if (bias != nullptr) {
      for (int j = 0; j < kGroupRows && o0 + j < OC; j++) b[j] = bias[o0 + j];
    }
    vf bv[kVecs];
    for (int k = 0; k < kVecs; k++) bv[k] = load(b + k * kLanes);
    const auto wg = group_reader(data, scales, g, C);
    // The rows in as few register tiles as fit, of sizes that differ by at
    // most one (16 rows: 6, 5, 5, not 6, 6 and four of 1): each tile reads the
    // group's weights once for all its rows. Several tiles take the inputs in
    // blocks of kBlockInputs, every tile of a panel through one block before
    // the next (their sums paused in `spill`): the block comes from memory
    // once, and the panel's tiles read it from L1 (bfloat16 and int8 weights
    // widened to float32 once per block, not once per tile), so that a small
    // batch is bound by arithmetic, not by the stream of the weights. Which
    // tile a row is in, and where its sums pause, never changes its bits.
    const int rows = t1 - t0, tiles = (rows + kTileRows - 1) / kTileRows;
    const auto tile_rows = [&](int k) { return rows / tiles + (k < rows % tiles ? 1 : 0); };
    if (tiles == 1) {
      const Span all{inp + long(t0) * C, C, 0, 0, C, true, true, nullptr};
      matmul_rows(rows, wg, bv, all, t0, o0, OC, ep, scaling);
      continue;
    }
    for (int k0 = 0, p0 = t0; k0 < tiles; k0 += kPanelTiles) {  // a panel: tiles [k0, k1)
      const int k1 = k0 + kPanelTiles < tiles ? k0 + kPanelTiles : tiles;
      int p1 = p0;
      for (int k = k0; k < k1; k++) p1 += tile_rows(k);
      for (int i0 = 0; i0 < C; i0 += kBlockInputs) {
        const int i1 = i0 + kBlockInputs < C ? i0 + kBlockInputs : C;
        // The panel's inputs of this block, side by side (their rows C apart
        // would share L1's sets).
        for (int t = p0; t < p1; t++) {
          std::memcpy(xblock + (t - p0) * kBlockInputs, inp + long(t) * C + i0,
                      sizeof(float) * (i1 - i0));
        }
        // The tiles ask for the next block's weights (what follows this one
        // in memory: the next group's first block after the last), each a
        // share, so that the stream from memory overlaps the arithmetic.
        const T* next = data + (long(g) * C + i1) * kGroupRows;
        constexpr int kLines = kBlockInputs * kGroupRows * int(sizeof(T)) / 64;
        auto run_tiles = [&](const auto& reader) {
          for (int k = k0, t = p0; k < k1; k++) {
            const int r = tile_rows(k);
            const int l0 = (k - k0) * kLines / (k1 - k0), l1 = (k - k0 + 1) * kLines / (k1 - k0);
            const Span s{xblock + (t - p0) * kBlockInputs,
                         kBlockInputs,
                         i0,
                         i0,
                         i1,
                         i0 == 0,
                         i1 == C,
                         spill + (t - p0) * kVecs,
                         reinterpret_cast<const char*>(next) + l0 * 64,
                         l1 - l0};
            matmul_rows(r, reader, bv, s, t, o0, OC, ep, scaling);
            t += r;
          }
        };
        if constexpr (T_is_float<T>) {
          run_tiles(F32Block{data + (long(g) * C + i0) * kGroupRows, i0});
        } else {
          for (int i = i0; i < i1; i++) {
            vf wv[kVecs];
            wg.widen(i, wv);
            for (int k = 0; k < kVecs; k++) {
              store(block + (i - i0) * kGroupRows + k * kLanes, wv[k]);
            }
          }
          run_tiles(F32Block{block, i0});
        }
      }
      p0 = p1;
    }
  }
}

void matmul(const PackedView& w, const float* bias, int OC, int C, const float* inp, int t0, int t1,
            int g0, int g1, const Epilogue& ep) {
  switch (w.format) {
    case WeightFormat::kFloat32:
      return matmul_groups(static_cast<const float*>(w.data), w.scales, bias, OC, C, inp, t0, t1,
                           g0, g1, ep);
    case WeightFormat::kBF16:
      return matmul_groups(static_cast<const std::uint16_t*>(w.data), w.scales, bias, OC, C, inp,
                           t0, t1, g0, g1, ep);
    case WeightFormat::kInt8:
      return matmul_groups(static_cast<const std::int8_t*>(w.data), w.scales, bias, OC, C, inp, t0,
                           t1, g0, g1, ep);
  }
}

// Scores of keys [j, j + B*kLanes) for R queries: each lane sums its key's hs
// products in order of i, starting from 0; every key load serves all R rows.
template <int R, int B>
inline void score_blocks(float* const* att, const float* const* q, const float* keys_t, int kstride,
                         int j, int hs, float scale, vf* vmax) {
  vf acc[R][B];
  for (int r = 0; r < R; r++) {
    for (int b = 0; b < B; b++) acc[r][b] = splat(0.0f);
  }
  for (int i = 0; i < hs; i++) {
    const float* k = keys_t + long(i) * kstride + j;
    vf kv[B];
    for (int b = 0; b < B; b++) kv[b] = load(k + b * kLanes);
    for (int r = 0; r < R; r++) {
      const vf qi = splat(q[r][i]);
      for (int b = 0; b < B; b++) acc[r][b] = acc[r][b] + qi * kv[b];
    }
  }
  for (int r = 0; r < R; r++) {
    for (int b = 0; b < B; b++) {
      const vf s = acc[r][b] * scale;
      store(att[r] + j + b * kLanes, s);
      vmax[r] = vmax[r] < s ? s : vmax[r];
    }
  }
}

// out[r][i0 .. i0 + B*kLanes) = sum_j att[r][j] v_j[..] over j < n (the keys all R
// rows share), in order of j, starting from 0; every value load serves all rows.
template <int R, int B>
inline void value_blocks(const float* const* att, const float* values, int vstride, int n, int i0,
                         vf (*acc)[kBlocks]) {
  for (int r = 0; r < R; r++) {
    for (int b = 0; b < B; b++) acc[r][b] = splat(0.0f);
  }
  for (int j = 0; j < n; j++) {
    const float* v = values + long(j) * vstride + i0;
    vf vv[B];
    for (int b = 0; b < B; b++) vv[b] = load(v + b * kLanes);
    for (int r = 0; r < R; r++) {
      const vf a = splat(att[r][j]);
      for (int b = 0; b < B; b++) acc[r][b] = acc[r][b] + a * vv[b];
    }
  }
}

template <int R>
void attention_rows_r(float* out, int ostride, const float* q, int qstride, int n0,
                      const float* keys_t, int kstride, const float* values, int vstride,
                      float* att_base, int hs) {
  const float scale = 1.0f / std::sqrt(float(hs));
  const float* qr[R];
  float* att[R];
  float* outr[R];
  int n[R];
  for (int r = 0; r < R; r++) {
    qr[r] = q + long(r) * qstride;
    att[r] = att_base + long(r) * (n0 + R);
    outr[r] = out + long(r) * ostride;
    n[r] = n0 + r;
  }
  // pass 1: scores and maxima. Keys [0, n0) are every row's: vector blocks
  // shared by the rows; the rest (a tail of fewer than kLanes, and each row's own
  // last r keys) in scalar code, in the reference's order.
  vf vmax[R];
  for (int r = 0; r < R; r++) vmax[r] = splat(-__builtin_inff());
  int j = 0;
  for (; j + kBlocks * kLanes <= n0; j += kBlocks * kLanes) {
    score_blocks<R, kBlocks>(att, qr, keys_t, kstride, j, hs, scale, vmax);
  }
  for (; j + kLanes <= n0; j += kLanes)
    score_blocks<R, 1>(att, qr, keys_t, kstride, j, hs, scale, vmax);
  const int shared = j;
  float maxval[R];
  for (int r = 0; r < R; r++) {
    alignas(64) float lanes[kLanes];
    store(lanes, vmax[r]);
    maxval[r] = -__builtin_inff();
    for (int l = 0; l < kLanes; l++) maxval[r] = maxval[r] < lanes[l] ? lanes[l] : maxval[r];
    for (int jj = shared; jj < n[r]; jj++) {
      float val = 0.0f;
      for (int i = 0; i < hs; i++) val += qr[r][i] * keys_t[long(i) * kstride + jj];
      val *= scale;
      maxval[r] = maxval[r] < val ? val : maxval[r];
      att[r][jj] = val;
    }
  }
  // pass 2: exponentials in parallel lanes; the sums in key order, the rows'
  // serial chains interleaved.
  float expsum[R];
  for (int r = 0; r < R; r++) {
    int jj = 0;
    for (; jj + kLanes <= n[r]; jj += kLanes) {
      store(att[r] + jj, simd::exp_vec(load(att[r] + jj) - maxval[r]));
    }
    for (; jj < n[r]; jj++) att[r][jj] = exp1(att[r][jj] - maxval[r]);
    expsum[r] = 0.0f;
  }
  for (int jj = 0; jj < n0; jj++) {
    for (int r = 0; r < R; r++) expsum[r] += att[r][jj];
  }
  for (int r = 0; r < R; r++) {
    for (int jj = n0; jj < n[r]; jj++) expsum[r] += att[r][jj];
  }
  // pass 3: normalize
  for (int r = 0; r < R; r++) {
    const float inv = 1.0f / expsum[r];
    int jj = 0;
    for (; jj + kLanes <= n[r]; jj += kLanes) store(att[r] + jj, load(att[r] + jj) * inv);
    for (; jj < n[r]; jj++) att[r][jj] *= inv;
  }
  // pass 4: weighted sums of the values, in key order: keys [0, n0) shared by
  // the rows, then each row's own last keys.
  int i = 0;
  vf acc[R][kBlocks];
  auto finish = [&](int b_count) {
    for (int r = 0; r < R; r++) {
      for (int jj = n0; jj < n[r]; jj++) {
        const float* v = values + long(jj) * vstride + i;
        const vf a = splat(att[r][jj]);
        for (int b = 0; b < b_count; b++) acc[r][b] = acc[r][b] + a * load(v + b * kLanes);
      }
      for (int b = 0; b < b_count; b++) store(outr[r] + i + b * kLanes, acc[r][b]);
    }
  };
  for (; i + kBlocks * kLanes <= hs; i += kBlocks * kLanes) {
    value_blocks<R, kBlocks>(att, values, vstride, n0, i, acc);
    finish(kBlocks);
  }
  for (; i + kLanes <= hs; i += kLanes) {
    value_blocks<R, 1>(att, values, vstride, n0, i, acc);
    finish(1);
  }
  for (; i < hs; i++) {
    for (int r = 0; r < R; r++) {
      float o = 0.0f;
      for (int jj = 0; jj < n[r]; jj++) o += att[r][jj] * values[long(jj) * vstride + i];
      outr[r][i] = o;
    }
  }
}

void attention_rows(float* out, int ostride, const float* q, int qstride, int R, int n0,
                    const float* keys_t, int kstride, const float* values, int vstride, float* att,
                    int hs) {
  switch (R) {
    case 1:
      return attention_rows_r<1>(out, ostride, q, qstride, n0, keys_t, kstride, values, vstride,
                                 att, hs);
    case 2:
      return attention_rows_r<2>(out, ostride, q, qstride, n0, keys_t, kstride, values, vstride,
                                 att, hs);
    case 3:
      return attention_rows_r<3>(out, ostride, q, qstride, n0, keys_t, kstride, values, vstride,
                                 att, hs);
    default:
      return attention_rows_r<4>(out, ostride, q, qstride, n0, keys_t, kstride, values, vstride,
                                 att, hs);
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

const Kernels kTable = {GPT2_ISA_ENUM, &matmul, &attention_rows, &exp_shifted, &divide,
                        &max,          &gelu};

}  // namespace gpt2::cpu::GPT2_ISA
