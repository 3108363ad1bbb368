// The bit-exact CPU kernels shared by the pthreads and OpenMP backends (and the
// non-matmul layers of the BLIS and oneDNN backends).
//
// SIMD lanes run across independent outputs (output rows of a matmul, keys of
// an attention row, elements of an activation) while every single output is
// computed with the reference's operations in the reference's order, each
// product rounded before its add (no FMA). So the results are the reference's
// bits whatever the vector width, and whatever the thread count: threads split
// outputs, never one sum.
//
// The matmul weights are repacked once: output rows in groups of 64, the group's
// 64 weights of input i stored together, so the kernel streams each group's
// weights once, contiguously. For the weight-only precisions (bf16w, int8w)
// they stay narrow in memory and each is dequantized to float32 in registers
// (reference/quantize.h's operations) before its product.
#pragma once

#include <optional>

#include "reference/quantize.h"

namespace gpt2::cpu {

inline constexpr int kGroupRows = 64;
inline constexpr int kAttentionRows = 4;  // query rows per attention_rows call

enum class Isa { kGeneric, kAvx2, kAvx512 };  // in order of width
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);
// The cap the environment puts on the kernels the backends choose:
// GPT2_MAX_CPU_ISA=avx2 (or generic, avx512; any case), as oneDNN's
// ONEDNN_MAX_CPU_ISA caps its own, so that one machine tests the paths of a
// narrower CPU; nullopt when unset. Throws std::invalid_argument for another value.
std::optional<Isa> max_isa();
// The widest this CPU runs, within max_isa().
Isa best_isa();

// Rows of the matmul kernel's register tile: the AVX-512 kernel accumulates
// this many input rows of one output group at once, the others one row. The
// kernels (kernels_impl.h) and the tasks of packed_linear.h (kRowTile) both
// take it from here, so they cannot drift apart. consteval: never compiled
// into code, so no per-ISA file emits a copy that others could link to.
consteval int matmul_tile_rows(Isa isa) {
  return isa == Isa::kAvx512 ? 6 : 1;
}

// What happens to each output value v = bias[o] + sum_i inp[t][i] * w[o][i].
struct Epilogue {
  enum Kind {
    kStore,  // out[t][o] = v
    kAdd,    // out[t][o] = out[t][o] + v   (the residual add)
    kGelu,   // out[t][o] = gelu(v)
    kQkv,    // v of o < C to out (q); keys and values into the cache (below)
  } kind = kStore;
  float* out = nullptr;  // (T, ld): row t of this call is out + t * ld
  int ld = 0;
  // kQkv: output o in [C, 2C) is key element (h, i) of position pos + t, stored
  // transposed at keys_t[(h * head_size + i) * stride + pos + t]; o in [2C, 3C)
  // is value element c = o - 2C at values[(pos + t) * channels + c].
  float* keys_t = nullptr;  // (NH, hs, stride)
  float* values = nullptr;  // (stride, C)
  int pos = 0;
  int stride = 0;
  int channels = 0;
  int head_size = 0;

  // The kQkv epilogue: q (T, C) into q; keys and values of positions pos.. into
  // the cache (keys_t (NH, hs, stride), values (stride, C)).
  static Epilogue qkv(float* q, float* keys_t, float* values, int pos, int stride, int channels,
                      int head_size) {
    Epilogue ep;
    ep.kind = kQkv;
    ep.out = q;
    ep.ld = channels;
    ep.keys_t = keys_t;
    ep.values = values;
    ep.pos = pos;
    ep.stride = stride;
    ep.channels = channels;
    ep.head_size = head_size;
    return ep;
  }
};

// Where row r (0..63) of a group sits among its input's 64 bfloat16 weights:
// each 32-row half interleaves its rows j and j + 16 (slots 2j and 2j + 1), so
// that the kernels widen bfloat16 without a shuffle on every instruction set
// (kernels_impl.h's BF16Group). float32 and int8 keep rows in order.
constexpr int bf16_slot(int r) {
  const int half = r / 32, j = r % 32;
  return half * 32 + (j < 16 ? 2 * j : 2 * (j - 16) + 1);
}

// A packed matrix as the matmul kernel reads it (packed.h): (ceil(OC/64), C, 64)
// values of `format` (float, bfloat16 bits as uint16, or int8), and for int8 a
// scale per output row (ceil(OC/64) * 64).
struct PackedView {
  WeightFormat format = WeightFormat::kFloat32;
  const void* data = nullptr;
  const float* scales = nullptr;
};

struct Kernels {
  Isa isa;
  // Rows [t0, t1) of out (see Epilogue) for output groups [g0, g1) of a packed
  // matrix w; bias (OC) or null; inp (T, C).
  void (*matmul)(const PackedView& w, const float* bias, int OC, int C, const float* inp, int t0,
                 int t1, int g0, int g1, const Epilogue& ep);
  // One head of attention for R <= kAttentionRows consecutive query rows: row
  // r attends to the first n0 + r keys, with the bits of
  // ref::attention_head_forward for each row. The rows share every key and
  // value load, and their serial sums interleave (each still in key order).
  // out: row r at out + r*ostride (hs); q: row r at q + r*qstride (hs);
  // keys_t (hs, kstride): key j's element i at i*kstride + j; values: key j's
  // row at j*vstride; att: scratch (R, n0 + R).
  void (*attention_rows)(float* out, int ostride, const float* q, int qstride, int R, int n0,
                         const float* keys_t, int kstride, const float* values, int vstride,
                         float* att, int hs);
  // e (n) = exp_ref(x (n) - shift)
  void (*exp_shifted)(float* e, const float* x, float shift, int n);
  // p (n) = p / d, elementwise
  void (*divide)(float* p, float d, int n);
  // max of x (n); -inf when n = 0
  float (*max)(const float* x, int n);
  // out (n) = gelu(inp (n)), the bits of ref::gelu_forward
  void (*gelu)(float* out, const float* inp, int n);
};

const Kernels& kernels(Isa isa);  // isa must be supported
const Kernels& best_kernels();

}  // namespace gpt2::cpu
