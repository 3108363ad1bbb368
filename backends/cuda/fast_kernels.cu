#include "backends/cuda/fast_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "backends/cuda/cuda_check.h"

namespace gpt2::cuda::fast {

namespace {

constexpr int kWarp = 32;

unsigned blocks(long n, int per_block) {
  return unsigned((n + per_block - 1) / per_block);
}

__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <typename O>
__device__ __forceinline__ O from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Programmatic dependent launch (Hopper): a kernel of the decode step lets
// the next one start at once (trigger) and waits for the previous one only
// where it reads what that one wrote (wait); in between, a matrix-vector
// product already fetches its first weights, which nothing writes. Older GPUs
// run the kernels one after another as usual.
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  cudaTriggerProgrammaticLaunchCompletion();
#endif
}
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  cudaGridDependencySynchronize();
#endif
}

// Launches `kernel` allowed to overlap the previous kernel on `stream`.
template <typename... Params, typename... Args>
void launch_pdl(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                std::size_t smem, cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attribute[1];
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attribute;
  config.numAttrs = 1;
  const cudaError_t status = cudaLaunchKernelEx(&config, kernel, Params(args)...);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw CudaError(std::string("cudaLaunchKernelEx(") + name + "): " + cudaGetErrorString(status));
  }
}

// With its fused multiply-add spelled out, so that no kernel's bits depend on
// how the compiler contracts it there (a product's outputs must not change
// with the row count: fast_kernels.h).
__device__ __forceinline__ float gelu(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + tanhf(k * __fmaf_rn(0.044715f * x * x, x, x)));
}

// ---------------------------------------------------------------------------

template <typename W>
__global__ void encoder_kernel(float* out, const int* tokens, const W* wte, const float* wpe,
                               const int* pos, int T, int C) {
  pdl_trigger();
  pdl_wait();
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), i = int(idx % C);
  out[idx] = to_float(wte[long(tokens[t]) * C + i]) + wpe[long(*pos + t) * C + i];
}

template <typename W>
__global__ void encoder_rows_kernel(float* out, const BatchRow* rows, const W* wte,
                                    const float* wpe, int R, int C) {
  pdl_trigger();
  pdl_wait();
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(R) * C) return;
  const int r = int(idx / C), i = int(idx % C);
  const BatchRow row = rows[r];
  out[idx] = to_float(wte[long(row.token) * C + i]) + wpe[long(row.pos) * C + i];
}

// The mean and 1 / sqrt(variance + eps) of a row, by one warp; the row in
// registers when it fits (kPerLane values a lane), else read twice.
constexpr int kLnPerLane = 64;  // C <= 2048 in registers

struct RowStats {
  float mean, rstd;
};

__device__ RowStats row_stats(const float* x, int C, float* held) {
  const int lane = threadIdx.x % kWarp;
  float sum = 0.0f;
  if (C <= kWarp * kLnPerLane) {
#pragma unroll
    for (int k = 0; k < kLnPerLane; k++) {
      const int i = lane + kWarp * k;
      held[k] = i < C ? x[i] : 0.0f;
      sum += held[k];
    }
    const float mean = warp_sum(sum) / C;
    float var = 0.0f;
#pragma unroll
    for (int k = 0; k < kLnPerLane; k++) {
      const float d = lane + kWarp * k < C ? held[k] - mean : 0.0f;
      var += d * d;
    }
    return {mean, rsqrtf(warp_sum(var) / C + 1e-5f)};
  }
  for (int i = lane; i < C; i += kWarp) sum += x[i];
  const float mean = warp_sum(sum) / C;
  float var = 0.0f;
  for (int i = lane; i < C; i += kWarp) {
    const float d = x[i] - mean;
    var += d * d;
  }
  return {mean, rsqrtf(warp_sum(var) / C + 1e-5f)};
}

// One warp per row.
template <typename O>
__global__ void layernorm_kernel(O* out, const float* inp, const float* weight, const float* bias,
                                 int T, int C) {
  const int row = blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= T) return;
  const float* x = inp + long(row) * C;
  float held[kLnPerLane];
  const RowStats st = row_stats(x, C, held);
  O* o = out + long(row) * C;
  if (C <= kWarp * kLnPerLane) {
#pragma unroll
    for (int k = 0; k < kLnPerLane; k++) {
      const int i = lane + kWarp * k;
      if (i < C) o[i] = from_float<O>((held[k] - st.mean) * st.rstd * weight[i] + bias[i]);
    }
    return;
  }
  for (int i = lane; i < C; i += kWarp) {
    o[i] = from_float<O>((x[i] - st.mean) * st.rstd * weight[i] + bias[i]);
  }
}

// 16 bytes of weights, kept raw until used (4 registers, whatever the type):
// 4 float32 or 8 bfloat16, and their dot product with 16-byte-aligned floats.
template <typename W>
struct Vec;
// X: the kN inputs that meet one load of weights, read from shared memory
// once for every output they feed.
template <>
struct Vec<float> {
  static constexpr int kN = 4;
  using X = float4;
  __device__ static uint4 load(const float* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }
  __device__ static X inputs(const float* x) { return *reinterpret_cast<const float4*>(x); }
  __device__ static float dot(uint4 v, const float* x, float acc) { return dot(v, inputs(x), acc); }
  __device__ static float dot(uint4 v, float4 xv, float acc) {
    acc = __fmaf_rn(__uint_as_float(v.x), xv.x, acc);
    acc = __fmaf_rn(__uint_as_float(v.y), xv.y, acc);
    acc = __fmaf_rn(__uint_as_float(v.z), xv.z, acc);
    acc = __fmaf_rn(__uint_as_float(v.w), xv.w, acc);
    return acc;
  }
};
template <>
struct Vec<__nv_bfloat16> {
  static constexpr int kN = 8;
  struct X {
    float4 a, b;
  };
  __device__ static uint4 load(const __nv_bfloat16* p) {
    return __ldg(reinterpret_cast<const uint4*>(p));
  }
  __device__ static X inputs(const float* x) {
    return {*reinterpret_cast<const float4*>(x), *reinterpret_cast<const float4*>(x + 4)};
  }
  __device__ static float dot(uint4 v, const float* x, float acc) { return dot(v, inputs(x), acc); }
  __device__ static float dot(uint4 v, X xv, float acc) {
    const float4 x0 = xv.a, x1 = xv.b;
    // A bfloat16 is the top half of a float32.
    acc = __fmaf_rn(__uint_as_float(v.x << 16), x0.x, acc);
    acc = __fmaf_rn(__uint_as_float(v.x & 0xffff0000u), x0.y, acc);
    acc = __fmaf_rn(__uint_as_float(v.y << 16), x0.z, acc);
    acc = __fmaf_rn(__uint_as_float(v.y & 0xffff0000u), x0.w, acc);
    acc = __fmaf_rn(__uint_as_float(v.z << 16), x1.x, acc);
    acc = __fmaf_rn(__uint_as_float(v.z & 0xffff0000u), x1.y, acc);
    acc = __fmaf_rn(__uint_as_float(v.w << 16), x1.z, acc);
    acc = __fmaf_rn(__uint_as_float(v.w & 0xffff0000u), x1.w, acc);
    return acc;
  }
};

constexpr int kMaxRows = 4;      // rows a block of the decode products holds
constexpr int kMatvecWarps = 8;  // a block
constexpr int kLoadsInFlight = 6;
constexpr int kBatchOutputs = 4;  // outputs per warp group for more than kMaxRows rows

// Block-wide sums of kT values a thread (every thread gets them): each the
// warp's butterfly, then the warps' in order. red: kMatvecWarps * kT floats.
template <int kT>
__device__ void block_sums(float (&v)[kT], float* red) {
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
#pragma unroll
  for (int t = 0; t < kT; t++) v[t] = warp_sum(v[t]);
  __syncthreads();
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < kT; t++) red[warp * kT + t] = v[t];
  }
  __syncthreads();
#pragma unroll
  for (int t = 0; t < kT; t++) {
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kMatvecWarps; w++) total += red[w * kT + t];
    v[t] = total;
  }
}

// A warp's sums of N values a lane (N a multiple of 32), each over the 32
// lanes: the bits of warp_sum's butterfly (every level adds a lane's value and
// its partner's, which commute), but each level halves the values a lane
// keeps, so the warp shuffles N - N/32 values instead of 5 N. Afterwards lane
// l holds the sums of values l * N/32 .. l * N/32 + N/32 - 1 in v[0 .. N/32).
template <int N, int kOffset = kWarp / 2>
__device__ __forceinline__ void warp_sums_scattered(float* v, int lane) {
  if constexpr (kOffset >= 1) {
    const bool upper = (lane & kOffset) != 0;
#pragma unroll
    for (int i = 0; i < N / 2; i++) {
      const float keep = upper ? v[i + N / 2] : v[i];
      const float send = upper ? v[i] : v[i + N / 2];
      v[i] = keep + __shfl_xor_sync(0xffffffffu, send, kOffset);
    }
    warp_sums_scattered<N / 2, kOffset / 2>(v, lane);
  }
}

// Input rows t0 .. t0 + rows - 1 into shared memory xs (kT, C) (zeros past
// `rows`): one pass over memory by the whole block, then (when asked) each
// row layernormed in shared memory, the same arithmetic whatever kT.
template <int kT>
__device__ void stage_rows(float* xs, const Matvec& a, int t0, int rows) {
  __shared__ float red[kMatvecWarps * kT];
  const int C = a.C;
  const bool vec = C % 4 == 0 && reinterpret_cast<std::uintptr_t>(a.inp) % 16 == 0;
#pragma unroll 1
  for (int t = 0; t < kT; t++) {
    float* x = xs + t * C;
    if (t >= rows) {
      for (int i = threadIdx.x; i < C; i += blockDim.x) x[i] = 0.0f;
      continue;
    }
    const float* src = a.inp + long(a.inp_rows != nullptr ? a.inp_rows[t0 + t] : t0 + t) * C;
    if (vec) {
      for (int i = threadIdx.x * 4; i < C; i += blockDim.x * 4) {
        *reinterpret_cast<float4*>(x + i) = __ldg(reinterpret_cast<const float4*>(src + i));
      }
    } else {
      for (int i = threadIdx.x; i < C; i += blockDim.x) x[i] = __ldg(src + i);
    }
  }
  __syncthreads();
  if (a.ln_weight == nullptr) return;
  // Every row's mean, then variance, at once (each row's sums in the same
  // order whatever kT: the thread's strided terms, the block_sums; the fused
  // multiply-adds spelled out, not left to the compiler's contraction).
  float mean[kT], rstd[kT];
#pragma unroll
  for (int t = 0; t < kT; t++) {
    float sum = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) sum += xs[t * C + i];
    mean[t] = sum;
  }
  block_sums<kT>(mean, red);
#pragma unroll
  for (int t = 0; t < kT; t++) {
    mean[t] = mean[t] / C;
    float var = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
      const float d = xs[t * C + i] - mean[t];
      var = __fmaf_rn(d, d, var);
    }
    rstd[t] = var;
  }
  block_sums<kT>(rstd, red);
#pragma unroll
  for (int t = 0; t < kT; t++) {
    rstd[t] = rsqrtf(rstd[t] / C + 1e-5f);
    if (t >= rows) continue;
    float* x = xs + t * C;
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
      x[i] = __fmaf_rn((x[i] - mean[t]) * rstd[t], __ldg(a.ln_weight + i), __ldg(a.ln_bias + i));
    }
  }
  __syncthreads();
}

// A block's 8 warps make groups of `split` warps (1, 2, 4 or 8); a group
// sums kO output rows for the block's kT input rows, each warp a contiguous
// part of each row, each lane 16-byte slices begin + lane*kN + m*32*kN of
// it for m = 0, 1, ... in order, kL loads per output in flight, the group
// adding its parts in shared memory in order. Long rows thus get several
// warps, so small matrices still keep enough loads in flight. None of kT, kO
// and kL changes an output's order of operations. The first batch of weights
// is requested before the input rows are staged (and layernormed): the two
// latencies overlap. Blocks: x over groups of kT rows, y over outputs.
template <typename W, int kT, bool kVec, int kO>
__global__ void __launch_bounds__(kMatvecWarps* kWarp)
    matvec_kernel(Matvec a, const W* __restrict__ weight, int split) {
  extern __shared__ float xs[];  // (kT, C)
  __shared__ float parts[kMatvecWarps][kO * kT];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, C = a.C, OC = a.OC;
  const int groups = kMatvecWarps / split, group = warp / split, member = warp % split;
  constexpr int kN = Vec<W>::kN;
  constexpr int kL = kO == 1 ? kLoadsInFlight : 2;
  // This warp's part of a row: [begin, end), a multiple of the vector.
  // (Without 16-byte rows, split is 1: one warp, the whole row.)
  const int per = kVec ? (C / kN + split - 1) / split * kN : C;
  const int begin = member * per, end = min(C, begin + per);
  const int t0 = blockIdx.x * kT, rows = min(kT, a.T - t0);
  const int stride = gridDim.y * groups * kO;  // outputs a round of the grid covers
  int o = (blockIdx.y * groups + group) * kO;  // this group's first output this round
  uint4 wv[kO][kL];
  auto load_batch = [&](int base) {
#pragma unroll
    for (int q = 0; q < kO; q++) {
      const W* w = weight + long(min(o + q, OC - 1)) * C;
#pragma unroll
      for (int u = 0; u < kL; u++) {
        const int i = base + u * kWarp * kN;
        wv[q][u] = i < end && o + q < OC ? Vec<W>::load(w + i) : make_uint4(0, 0, 0, 0);
      }
    }
  };
  pdl_trigger();
  bool prefetched = kVec && o < OC;
  if (prefetched) load_batch(begin + lane * kN);
  pdl_wait();  // the input rows are the previous kernel's output
  stage_rows<kT>(xs, a, t0, rows);
  for (int round = 0;; round++, o += stride) {
    // Every group runs the same number of rounds (the block synchronizes).
    if (blockIdx.y * groups * kO + round * stride >= OC) break;
    float acc[kO][kT];
#pragma unroll
    for (int q = 0; q < kO; q++) {
#pragma unroll
      for (int t = 0; t < kT; t++) acc[q][t] = 0.0f;
    }
    if (o < OC) {
      if constexpr (kVec) {
        for (int base = begin + lane * kN; base < end; base += kWarp * kN * kL) {
          if (prefetched) {
            prefetched = false;
          } else {
            load_batch(base);
          }
#pragma unroll
          for (int u = 0; u < kL; u++) {
            const int i = base + u * kWarp * kN;
            if (i >= end) break;
#pragma unroll
            for (int t = 0; t < kT; t++) {
              const typename Vec<W>::X xv = Vec<W>::inputs(xs + t * C + i);
#pragma unroll
              for (int q = 0; q < kO; q++) acc[q][t] = Vec<W>::dot(wv[q][u], xv, acc[q][t]);
            }
          }
        }
      } else {
#pragma unroll
        for (int q = 0; q < kO; q++) {
          if (o + q >= OC) break;
          const W* w = weight + long(o + q) * C;
          for (int i = begin + lane; i < end; i += kWarp) {
            const float wf = to_float(w[i]);
#pragma unroll
            for (int t = 0; t < kT; t++) acc[q][t] = __fmaf_rn(wf, xs[t * C + i], acc[q][t]);
          }
        }
      }
    }
    if constexpr (kO * kT % kWarp == 0) {  // many sums: shuffled scattered over the lanes
      constexpr int kPer = kO * kT / kWarp;
      float* flat = &acc[0][0];
      warp_sums_scattered<kO * kT>(flat, lane);
#pragma unroll
      for (int j = 0; j < kPer; j++) parts[warp][lane * kPer + j] = flat[j];
    } else {
#pragma unroll
      for (int q = 0; q < kO; q++) {
#pragma unroll
        for (int t = 0; t < kT; t++) {
          acc[q][t] = warp_sum(acc[q][t]);
          if (lane == 0) parts[warp][q * kT + t] = acc[q][t];
        }
      }
    }
    if (split > 1) {
      __syncthreads();
    } else {
      __syncwarp();
    }
    if (member == 0 && o < OC) {
      for (int e = lane; e < kO * kT; e += kWarp) {
        const int q = e / kT, t = e % kT, oc = o + q;
        if (oc >= OC || t >= rows) continue;
        const long r = t0 + t;
        float v = 0.0f;
        for (int m = 0; m < split; m++) v += parts[warp + m][e];
        if (a.epilogue != Epilogue::kNone) v += a.bias[oc];
        if (a.epilogue == Epilogue::kBiasGelu) v = gelu(v);
        if (a.epilogue == Epilogue::kBiasResidual) v += a.residual[r * OC + oc];
        a.out[r * OC + oc] = v;
        // A qkv product: its keys and values into the caches.
        const int third = OC / 3;
        if (oc < third) continue;
        float* cache = nullptr;
        if (a.rows != nullptr) {
          const BatchRow row = a.rows[r];
          const BatchSeq& s = a.seqs[row.seq];
          cache = (oc < 2 * third ? s.keys : s.values) + a.layer * s.layer_floats +
                  long(row.pos) * third;
        } else if (a.keys != nullptr) {
          cache = (oc < 2 * third ? a.keys : a.values) + long(*a.pos + t) * third;
        }
        if (cache != nullptr) cache[oc % third] = v;
      }
    }
    // The next round's parts wait until these are read.
    if (split > 1) {
      __syncthreads();
    } else {
      __syncwarp();
    }
  }
}

// ---------------------------------------------------------------------------
// Prefill attention. A block: kBr queries of one head, 4 threads per query
// (a quad: 4 consecutive lanes), each thread kD channels of the head (d =
// quad lane + 4 k; hs <= 4 kD). Keys and values come in tiles of kBc rows
// through shared memory; per tile each query's scores (into shared memory),
// their maximum, one rescale of its running sum and output, then the weighted
// values. The loops over a tile's keys stay rolled (4 at a time): fully
// unrolled, the kernel's code outgrows the instruction cache.
constexpr int kBr = 32, kBc = 32, kQuad = 4, kMaxHs = 128;

template <int kD>
__global__ void __launch_bounds__(kBr* kQuad)
    attention_prefill_kernel(float* out, const float* qkv, const float* keys, const float* values,
                             const int* pos_ptr, int T, int C, int NH, float scale) {
  __shared__ float ks[kBc][kQuad * kD + 1];
  __shared__ float vs[kBc][kQuad * kD + 1];
  __shared__ float sc[kBr][kBc + 1];
  const int h = blockIdx.y, hs = C / NH, pos = *pos_ptr;
  const int ql = threadIdx.x % kQuad, qb = threadIdx.x / kQuad;  // quad lane, query in block
  const int qi = blockIdx.x * kBr + qb;                          // the query, 0..T-1
  const bool active = qi < T;
  const int qpos = pos + qi;  // its position: keys 0..qpos
  float q[kD], acc[kD];
#pragma unroll
  for (int k = 0; k < kD; k++) {
    const int d = ql + kQuad * k;
    q[k] = active && d < hs ? qkv[long(qi) * 3 * C + h * hs + d] * scale : 0.0f;
    acc[k] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  // The block's last query sees keys up to pos + its index.
  const int last = pos + min(T, int(blockIdx.x + 1) * kBr) - 1;
  for (int j0 = 0; j0 <= last; j0 += kBc) {
    __syncthreads();
#pragma unroll 4
    for (int e = threadIdx.x; e < kBc * hs; e += blockDim.x) {
      const int r = e / hs, d = e % hs, j = j0 + r;
      const bool in = j <= last;
      ks[r][d] = in ? __ldg(keys + long(j) * C + h * hs + d) : 0.0f;
      vs[r][d] = in ? __ldg(values + long(j) * C + h * hs + d) : 0.0f;
    }
    __syncthreads();
    float tile_max = -INFINITY;
#pragma unroll 4
    for (int r = 0; r < kBc; r++) {
      float dot = 0.0f;
#pragma unroll
      for (int k = 0; k < kD; k++) dot += q[k] * ks[r][ql + kQuad * k];
      dot += __shfl_xor_sync(0xffffffffu, dot, 1);
      dot += __shfl_xor_sync(0xffffffffu, dot, 2);
      const float sv = j0 + r <= qpos ? dot : -INFINITY;
      if (ql == 0) sc[qb][r] = sv;
      tile_max = fmaxf(tile_max, sv);
    }
    __syncwarp();
    if (!active || tile_max == -INFINITY) continue;  // nothing of this tile for this query
    const float m_new = fmaxf(m, tile_max);
    const float corr = __expf(m - m_new);
    float psum = 0.0f;
#pragma unroll
    for (int k = 0; k < kD; k++) acc[k] *= corr;
#pragma unroll 4
    for (int r = 0; r < kBc; r++) {
      const float p = __expf(sc[qb][r] - m_new);
      psum += p;
#pragma unroll
      for (int k = 0; k < kD; k++) acc[k] += p * vs[r][ql + kQuad * k];
    }
    l = l * corr + psum;
    m = m_new;
  }
  if (!active) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int k = 0; k < kD; k++) {
    const int d = ql + kQuad * k;
    if (d < hs) out[long(qi) * C + h * hs + d] = acc[k] * inv;
  }
}

// Prefill attention for heads of up to 64 channels, tiled for registers: a
// block of 128 threads takes 32 queries of one head (small blocks: the
// causal mask makes the last queries' blocks the longest, and they are the
// time); per tile of 64 keys
// each thread computes a 4 x 4 block of scores (4 queries x 4 keys) from
// shared memory, the 16 threads of a query row share its running maximum and
// sum through shuffles, the weights go to shared memory, and each thread adds
// them times the values into a 4 x 4 block of outputs (4 queries x 4
// channels). Two shared-memory loads feed 16 multiply-adds, where the
// 4-threads-a-query kernel above needs one per multiply-add.
constexpr int kTq = 32, kTk = 64, kTd = 64, kTpad = 4, kTileThreads = 4 * kTq;
constexpr std::size_t kTiledSmem =
    sizeof(float) * (kTd * kTq + kTd * (kTk + kTpad) + kTk * kTd + kTk * (kTq + kTpad));

__global__ void __launch_bounds__(kTileThreads)
    attention_tiled_kernel(float* out, const float* qkv, const float* keys, const float* values,
                           const int* pos_ptr, int T, int C, int NH, float scale) {
  extern __shared__ float smem[];
  float* qs = smem;                      // (kTd, kTq): queries, channel-major
  float* ks = qs + kTd * kTq;            // (kTd, kTk + pad): keys, channel-major
  float* vs = ks + kTd * (kTk + kTpad);  // (kTk, kTd): values, key-major
  float* ps = vs + kTk * kTd;            // (kTk, kTq + pad): weights, key-major
  const int h = blockIdx.y, hs = C / NH, pos = *pos_ptr, q0 = blockIdx.x * kTq;
  const int tq = threadIdx.x / 16,
            tk = threadIdx.x % 16;  // this thread: queries 4tq.., keys/channels 4tk..
  for (int e = threadIdx.x; e < kTd * kTq; e += kTileThreads) {
    const int q = e / kTd, d = e % kTd;
    qs[d * kTq + q] = q0 + q < T && d < hs ? qkv[long(q0 + q) * 3 * C + h * hs + d] * scale : 0.0f;
  }
  float o[4][4] = {}, m[4], l[4];
  int qpos[4];
#pragma unroll
  for (int i = 0; i < 4; i++) m[i] = -INFINITY, l[i] = 0.0f, qpos[i] = pos + q0 + 4 * tq + i;
  const int last = pos + min(T, q0 + kTq) - 1;  // the block's last query sees keys up to here
  for (int j0 = 0; j0 <= last; j0 += kTk) {
    __syncthreads();
    for (int e = threadIdx.x; e < kTk * kTd; e += kTileThreads) {
      const int r = e / kTd, d = e % kTd, j = j0 + r;
      const bool in = j <= last && d < hs;
      ks[d * (kTk + kTpad) + r] = in ? __ldg(keys + long(j) * C + h * hs + d) : 0.0f;
      vs[r * kTd + d] = in ? __ldg(values + long(j) * C + h * hs + d) : 0.0f;
    }
    __syncthreads();
    float sc[4][4] = {};
#pragma unroll 8
    for (int d = 0; d < kTd; d++) {
      const float4 qv = *reinterpret_cast<const float4*>(qs + d * kTq + 4 * tq);
      const float4 kv = *reinterpret_cast<const float4*>(ks + d * (kTk + kTpad) + 4 * tk);
      const float qa[4] = {qv.x, qv.y, qv.z, qv.w}, ka[4] = {kv.x, kv.y, kv.z, kv.w};
#pragma unroll
      for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) sc[i][j] += qa[i] * ka[j];
      }
    }
    // Causal mask, the row's maximum and sum over its 16 threads, the weights.
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        if (j0 + 4 * tk + j > qpos[i]) sc[i][j] = -INFINITY;
        mx = fmaxf(mx, sc[i][j]);
      }
#pragma unroll
      for (int off = 8; off > 0; off /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_new = fmaxf(m[i], mx);
      const float corr = m_new == -INFINITY ? 1.0f : __expf(m[i] - m_new);
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        sc[i][j] = m_new == -INFINITY ? 0.0f : __expf(sc[i][j] - m_new);
        sum += sc[i][j];
      }
#pragma unroll
      for (int off = 8; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      l[i] = l[i] * corr + sum;
      m[i] = m_new;
#pragma unroll
      for (int j = 0; j < 4; j++) o[i][j] *= corr;
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
      *reinterpret_cast<float4*>(ps + (4 * tk + j) * (kTq + kTpad) + 4 * tq) =
          make_float4(sc[0][j], sc[1][j], sc[2][j], sc[3][j]);
    }
    __syncthreads();
    // Outputs: 4 queries x channels 4tk .. 4tk + 3.
#pragma unroll 8
    for (int r = 0; r < kTk; r++) {
      const float4 pv = *reinterpret_cast<const float4*>(ps + r * (kTq + kTpad) + 4 * tq);
      const float4 vv = *reinterpret_cast<const float4*>(vs + r * kTd + 4 * tk);
      const float pa[4] = {pv.x, pv.y, pv.z, pv.w}, va[4] = {vv.x, vv.y, vv.z, vv.w};
#pragma unroll
      for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) o[i][j] += pa[i] * va[j];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int q = q0 + 4 * tq + i;
    if (q >= T) continue;
    const float inv = 1.0f / l[i];
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int d = 4 * tk + j;
      if (d < hs) out[long(q) * C + h * hs + d] = o[i][j] * inv;
    }
  }
}

// ---------------------------------------------------------------------------
// Decode attention: grid (NH, splits of kKc keys), 4 warps a block.
constexpr int kKc = 64, kDecodeThreads = 128;

int decode_splits(int capacity) {
  return (capacity + kKc - 1) / kKc;
}

// With rows set, blockIdx.z is a decoding sequence of a batched step (its
// row decode_rows[z]): its query, output, position, caches (of `layer`) and
// scratch (row_scratch floats each) are its own.
__global__ void attention_decode_split_kernel(float* out, float* partial, const float* qkv,
                                              const float* keys, const float* values,
                                              const int* pos_ptr, int C, int NH, int splits,
                                              float scale, const BatchRow* rows,
                                              const BatchSeq* seqs, const int* decode_rows,
                                              int layer, long row_scratch) {
  __shared__ float q[kMaxHs];
  __shared__ float p[kKc];
  __shared__ float red[kDecodeThreads / kWarp];
  __shared__ bool last;
  pdl_trigger();
  pdl_wait();
  const int h = blockIdx.x, split = blockIdx.y, hs = C / NH;
  int pos = 0;
  if (rows != nullptr) {
    const int r = decode_rows[blockIdx.z];
    const BatchRow row = rows[r];
    const BatchSeq& sq = seqs[row.seq];
    pos = row.pos;
    keys = sq.keys + layer * sq.layer_floats;
    values = sq.values + layer * sq.layer_floats;
    qkv += long(r) * 3 * C;
    out += long(r) * C;
    partial += blockIdx.z * row_scratch;
  } else {
    pos = *pos_ptr;
  }
  const int n = pos + 1, j0 = split * kKc, j1 = min(n, j0 + kKc);
  float* part = partial + (long(h) * splits + split) * (hs + 2);
  int* done = reinterpret_cast<int*>(partial + long(NH) * splits * (hs + 2)) + h;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (j0 >= n) {  // no keys here: an empty partial
    if (threadIdx.x == 0) part[0] = -INFINITY, part[1] = 0.0f;
  } else {
    for (int d = threadIdx.x; d < hs; d += blockDim.x) q[d] = qkv[h * hs + d] * scale;
    __syncthreads();
    // Scores: a warp per key, lanes over the channels; four keys at a time so
    // their loads are in flight together.
    constexpr int kWarps = kDecodeThreads / kWarp, kKeys = 4;
    for (int jb = j0 + warp * kKeys; jb < j1; jb += kWarps * kKeys) {
      float dot[kKeys] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int d = lane; d < hs; d += kWarp) {
#pragma unroll
        for (int u = 0; u < kKeys; u++) {
          if (jb + u < j1) dot[u] += q[d] * __ldg(keys + long(jb + u) * C + h * hs + d);
        }
      }
#pragma unroll
      for (int u = 0; u < kKeys; u++) {
        const float sum = warp_sum(dot[u]);
        if (lane == 0 && jb + u < j1) p[jb + u - j0] = sum;
      }
    }
    __syncthreads();
    // The chunk's maximum and e^(s - max).
    float mx = -INFINITY;
    for (int r = threadIdx.x; r < j1 - j0; r += blockDim.x) mx = fmaxf(mx, p[r]);
    mx = warp_max(mx);
    if (lane == 0) red[warp] = mx;
    __syncthreads();
    mx = red[0];
    for (int w = 1; w < kWarps; w++) mx = fmaxf(mx, red[w]);
    __syncthreads();
    float sum = 0.0f;
    for (int r = threadIdx.x; r < j1 - j0; r += blockDim.x) {
      const float e = __expf(p[r] - mx);
      p[r] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    if (lane == 0) red[warp] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
      float total = 0.0f;
      for (int w = 0; w < kWarps; w++) total += red[w];
      part[0] = mx;
      part[1] = total;
    }
    // Weighted values: a thread per channel.
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
      float acc = 0.0f;
#pragma unroll 8
      for (int j = j0; j < j1; j++) acc += p[j - j0] * __ldg(values + long(j) * C + h * hs + d);
      part[2 + d] = acc;
    }
  }
  // The head's last block to finish combines every block's partial (and
  // leaves the counter at 0 for the next step).
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(done, 1) == splits - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  const float* head = partial + long(h) * splits * (hs + 2);
  float M = -INFINITY;
  for (int sp = 0; sp < splits; sp++) M = fmaxf(M, __ldcg(head + long(sp) * (hs + 2)));
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    float num = 0.0f, den = 0.0f;
    for (int sp = 0; sp < splits; sp++) {
      const float* ps = head + long(sp) * (hs + 2);
      const float m = __ldcg(ps);
      if (m == -INFINITY) continue;
      const float w = __expf(m - M);
      den += __ldcg(ps + 1) * w;
      num += __ldcg(ps + 2 + d) * w;
    }
    out[h * hs + d] = num / den;
  }
  if (threadIdx.x == 0) *done = 0;
}

// ---------------------------------------------------------------------------

constexpr int kSoftmaxThreads = 256, kSoftmaxChunk = 2048;

int softmax_blocks(int V) {
  return (V + kSoftmaxChunk - 1) / kSoftmaxChunk;
}

// A block's max and sum of e^(l - max) over the block's values, online.
__device__ void block_max_sum(float& mx, float& sum) {
  __shared__ float rm[kSoftmaxThreads / kWarp], rs[kSoftmaxThreads / kWarp];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const float wm = warp_max(mx);
  sum = warp_sum(mx == -INFINITY ? 0.0f : sum * __expf(mx - wm));
  mx = wm;
  if (lane == 0) rm[warp] = mx, rs[warp] = sum;
  __syncthreads();
  mx = -INFINITY;
  for (int w = 0; w < kSoftmaxThreads / kWarp; w++) mx = fmaxf(mx, rm[w]);
  sum = 0.0f;
  for (int w = 0; w < kSoftmaxThreads / kWarp; w++) {
    if (rm[w] != -INFINITY) sum += rs[w] * __expf(rm[w] - mx);
  }
}

// Pass 1: each block's (max, sum of e^(l - max)) over its chunk.
__global__ void softmax_partial_kernel(float* partial, const float* logits, int V) {
  pdl_trigger();
  pdl_wait();
  logits += long(blockIdx.y) * V;  // this block's row
  partial += 2L * gridDim.x * blockIdx.y;
  const int begin = blockIdx.x * kSoftmaxChunk, end = min(V, begin + kSoftmaxChunk);
  float mx = -INFINITY, sum = 0.0f;
  for (int i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float l = logits[i];
    if (l > mx) {
      sum = sum * expf(mx - l) + 1.0f;
      mx = l;
    } else {
      sum += expf(l - mx);
    }
  }
  block_max_sum(mx, sum);
  if (threadIdx.x == 0) partial[2 * blockIdx.x] = mx, partial[2 * blockIdx.x + 1] = sum;
}

// Pass 2: every block combines the partials and writes its chunk.
__global__ void softmax_out_kernel(float* probs, const float* partial, const float* logits, int V,
                                   int blocks) {
  pdl_trigger();
  pdl_wait();
  logits += long(blockIdx.y) * V;  // this block's row
  probs += long(blockIdx.y) * V;
  partial += 2L * blocks * blockIdx.y;
  __shared__ float stats[2];
  if (threadIdx.x == 0) {
    float mx = -INFINITY, sum = 0.0f;
    for (int b = 0; b < blocks; b++) mx = fmaxf(mx, partial[2 * b]);
    for (int b = 0; b < blocks; b++) sum += partial[2 * b + 1] * expf(partial[2 * b] - mx);
    stats[0] = mx, stats[1] = 1.0f / sum;
  }
  __syncthreads();
  const int begin = blockIdx.x * kSoftmaxChunk, end = min(V, begin + kSoftmaxChunk);
  for (int i = begin + threadIdx.x; i < end; i += blockDim.x) {
    probs[i] = expf(logits[i] - stats[0]) * stats[1];
  }
}

__global__ void to_bf16_kernel(__nv_bfloat16* out, const float* in, long N) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < N) out[idx] = __float2bfloat16_rn(in[idx]);
}

}  // namespace

template <typename W>
void encoder_forward(float* out, const int* tokens, const W* wte, const float* wpe, const int* pos,
                     int T, int C, cudaStream_t stream) {
  launch_pdl("encoder_kernel", encoder_kernel<W>, blocks(long(T) * C, 256), 256, 0, stream, out,
             tokens, wte, wpe, pos, T, C);
}

template <typename O>
void layernorm_forward(O* out, const float* inp, const float* weight, const float* bias, int T,
                       int C, cudaStream_t stream) {
  layernorm_kernel<O><<<blocks(T, 8), 8 * kWarp, 0, stream>>>(out, inp, weight, bias, T, C);
  check_launch("layernorm_kernel");
}

template <typename W>
void encoder_forward(float* out, const BatchRow* rows, const W* wte, const float* wpe, int R, int C,
                     cudaStream_t stream) {
  launch_pdl("encoder_rows_kernel", encoder_rows_kernel<W>, blocks(long(R) * C, 256), 256, 0,
             stream, out, rows, wte, wpe, R, C);
}

constexpr int kMaxStagedBytes = 160 * 1024;  // what a block's input rows may take (A100: 163 KB)

// Warps per output row: enough that each has at most one batch of loads per
// row (kLoadsInFlight of them, whatever a kernel really keeps in flight): a
// function of C alone, so every row count sums an output in the same order.
template <typename W, bool kVec>
int matvec_split(int C) {
  int split = 1;
  while (kVec && split < kMatvecWarps && C > split * kWarp * Vec<W>::kN * kLoadsInFlight) {
    split *= 2;
  }
  return split;
}

template <typename W, int kT, bool kVec, int kO>
void launch_matvec(const Matvec& a, const W* weight, cudaStream_t stream) {
  const std::size_t smem = std::size_t(kT) * a.C * sizeof(float);
  static const int sms = [] {
    // More than 48 KB of input rows needs asking.
    GPT2_CUDA(cudaFuncSetAttribute(matvec_kernel<W, kT, kVec, kO>,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxStagedBytes));
    int device = 0, count = 0;
    GPT2_CUDA(cudaGetDevice(&device));
    GPT2_CUDA(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    return std::max(1, count);
  }();
  int per_sm = 0;
  GPT2_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, matvec_kernel<W, kT, kVec, kO>,
                                                          kMatvecWarps * kWarp, smem));
  const int split = matvec_split<W, kVec>(a.C);
  const int groups = kMatvecWarps / split;
  // x: the groups of kT rows; y: at most the blocks that fit at once beside
  // them, looping over outputs, so that each block stages (and layernorms)
  // its input rows once and the row groups of one output run together (its
  // weights read from memory once, then from L2).
  const unsigned row_groups = blocks(a.T, kT);
  const unsigned resident = unsigned(sms * std::max(1, per_sm));
  const unsigned y = std::min<unsigned>(blocks(a.OC, groups * kO),
                                        std::max(1u, (kO == 1 ? 1 : 2) * resident / row_groups));
  launch_pdl("matvec_kernel", matvec_kernel<W, kT, kVec, kO>, dim3(row_groups, y),
             kMatvecWarps * kWarp, smem, stream, a, weight, split);
}

template <typename W, int kT, int kO>
void launch_matvec_rows(const Matvec& a, const W* weight, cudaStream_t stream) {
  // Every row starts 16-byte aligned when C is a multiple of the vector.
  if (a.C % Vec<W>::kN == 0) {
    launch_matvec<W, kT, true, kO>(a, weight, stream);
  } else {
    launch_matvec<W, kT, false, kO>(a, weight, stream);
  }
}

template <typename W>
void matvec_forward(const Matvec& a, const W* weight, cudaStream_t stream) {
  if (a.T < 1) throw CudaError("matvec_forward: T must be at least 1");
  const std::size_t row_bytes = std::size_t(a.C) * sizeof(float);
  if (std::min(a.T, kMaxRows) * row_bytes > kMaxStagedBytes) {
    throw CudaError("matvec_forward: " + std::to_string(std::min(a.T, kMaxRows)) + " rows of " +
                    std::to_string(a.C) + " do not fit in shared memory");
  }
  switch (a.T) {
    case 1:
      return launch_matvec_rows<W, 1, 1>(a, weight, stream);
    case 2:
      return launch_matvec_rows<W, 2, 1>(a, weight, stream);
    case 3:
      return launch_matvec_rows<W, 3, 1>(a, weight, stream);
    case 4:
      return launch_matvec_rows<W, 4, 1>(a, weight, stream);
  }
  // More rows: blocks of 16 (8, then 4 for long rows) and 4 outputs a group.
  if (16 * row_bytes <= 64 * 1024)
    return launch_matvec_rows<W, 16, kBatchOutputs>(a, weight, stream);
  if (8 * row_bytes <= kMaxStagedBytes) {
    return launch_matvec_rows<W, 8, kBatchOutputs>(a, weight, stream);
  }
  return launch_matvec_rows<W, 4, kBatchOutputs>(a, weight, stream);
}

void attention_prefill(float* out, const float* qkv, const float* keys, const float* values,
                       const int* pos, int T, int C, int NH, cudaStream_t stream) {
  const int hs = C / NH;
  if (hs > kMaxHs) throw CudaError("attention_prefill: head size above 128");
  const float scale = 1.0f / std::sqrt(float(hs));
  if (hs <= kTd) {  // GPT-2's heads of 64: the register-tiled kernel
    static const bool raised = [] {
      GPT2_CUDA(cudaFuncSetAttribute(attention_tiled_kernel,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, int(kTiledSmem)));
      return true;
    }();
    (void)raised;
    attention_tiled_kernel<<<dim3(blocks(T, kTq), NH), kTileThreads, kTiledSmem, stream>>>(
        out, qkv, keys, values, pos, T, C, NH, scale);
    check_launch("attention_tiled_kernel");
    return;
  }
  const dim3 grid(blocks(T, kBr), NH);
  // Channels per thread: 32 covers any head up to 128.
  attention_prefill_kernel<32>
      <<<grid, kBr * kQuad, 0, stream>>>(out, qkv, keys, values, pos, T, C, NH, scale);
  check_launch("attention_prefill_kernel");
}

long attention_decode_scratch(int C, int NH, int capacity) {
  return long(NH) * decode_splits(capacity) * (C / NH + 2) + NH;  // partials, then counters
}

void attention_decode_init(float* partial, int C, int NH, int capacity, cudaStream_t stream) {
  const long counters = long(NH) * decode_splits(capacity) * (C / NH + 2);
  GPT2_CUDA(cudaMemsetAsync(partial + counters, 0, NH * sizeof(int), stream));
}

void attention_decode(float* out, const float* qkv, const float* keys, const float* values,
                      float* partial, const int* pos, int C, int NH, int capacity,
                      cudaStream_t stream) {
  const int hs = C / NH, splits = decode_splits(capacity);
  if (hs > kMaxHs) throw CudaError("attention_decode: head size above 128");
  launch_pdl("attention_decode_split_kernel", attention_decode_split_kernel, dim3(NH, splits),
             kDecodeThreads, 0, stream, out, partial, qkv, keys, values, pos, C, NH, splits,
             1.0f / std::sqrt(float(hs)), static_cast<const BatchRow*>(nullptr),
             static_cast<const BatchSeq*>(nullptr), static_cast<const int*>(nullptr), 0, 0L);
}

void attention_decode_rows(float* out, const float* qkv, const BatchRow* rows, const BatchSeq* seqs,
                           const int* decode_rows, int layer, float* partial, int D, int C, int NH,
                           int capacity, cudaStream_t stream) {
  const int hs = C / NH, splits = decode_splits(capacity);
  if (hs > kMaxHs) throw CudaError("attention_decode_rows: head size above 128");
  if (D > 65535) throw CudaError("attention_decode_rows: more than 65535 decoding sequences");
  launch_pdl("attention_decode_split_kernel", attention_decode_split_kernel, dim3(NH, splits, D),
             kDecodeThreads, 0, stream, out, partial, qkv, static_cast<const float*>(nullptr),
             static_cast<const float*>(nullptr), static_cast<const int*>(nullptr), C, NH, splits,
             1.0f / std::sqrt(float(hs)), rows, seqs, decode_rows, layer,
             attention_decode_scratch(C, NH, capacity));
}

void attention_decode_rows_init(float* partial, int R, int C, int NH, int capacity,
                                cudaStream_t stream) {
  GPT2_CUDA(cudaMemsetAsync(
      partial, 0, std::size_t(R) * attention_decode_scratch(C, NH, capacity) * sizeof(float),
      stream));
}

long softmax_scratch(int R, int V) {
  return 2L * softmax_blocks(V) * R;
}

void softmax_forward(float* probs, float* partial, const float* logits, int R, int V,
                     cudaStream_t stream) {
  const int n = softmax_blocks(V);
  launch_pdl("softmax_partial_kernel", softmax_partial_kernel, dim3(n, R), kSoftmaxThreads, 0,
             stream, partial, logits, V);
  launch_pdl("softmax_out_kernel", softmax_out_kernel, dim3(n, R), kSoftmaxThreads, 0, stream,
             probs, partial, logits, V, n);
}

void to_bf16(__nv_bfloat16* out, const float* in, long N, cudaStream_t stream) {
  to_bf16_kernel<<<blocks(N, 256), 256, 0, stream>>>(out, in, N);
  check_launch("to_bf16_kernel");
}

template void encoder_forward<float>(float*, const int*, const float*, const float*, const int*,
                                     int, int, cudaStream_t);
template void encoder_forward<__nv_bfloat16>(float*, const int*, const __nv_bfloat16*, const float*,
                                             const int*, int, int, cudaStream_t);
template void encoder_forward<float>(float*, const BatchRow*, const float*, const float*, int, int,
                                     cudaStream_t);
template void encoder_forward<__nv_bfloat16>(float*, const BatchRow*, const __nv_bfloat16*,
                                             const float*, int, int, cudaStream_t);
template void layernorm_forward<float>(float*, const float*, const float*, const float*, int, int,
                                       cudaStream_t);
template void layernorm_forward<__nv_bfloat16>(__nv_bfloat16*, const float*, const float*,
                                               const float*, int, int, cudaStream_t);
template void matvec_forward<float>(const Matvec&, const float*, cudaStream_t);
template void matvec_forward<__nv_bfloat16>(const Matvec&, const __nv_bfloat16*, cudaStream_t);

}  // namespace gpt2::cuda::fast
