#include "backends/cuda/fast_kernels.h"

#include <cmath>

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

__device__ __forceinline__ float gelu(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

// ---------------------------------------------------------------------------

template <typename W>
__global__ void encoder_kernel(float* out, const int* tokens, const W* wte, const float* wpe,
                               const int* pos, int T, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), i = int(idx % C);
  out[idx] = to_float(wte[long(tokens[t]) * C + i]) + wpe[long(*pos + t) * C + i];
}

// One warp per row.
template <typename O>
__global__ void layernorm_kernel(O* out, const float* inp, const float* weight, const float* bias,
                                 int T, int C) {
  const int row = blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= T) return;
  const float* x = inp + long(row) * C;
  float sum = 0.0f;
  for (int i = lane; i < C; i += kWarp) sum += x[i];
  const float mean = warp_sum(sum) / C;
  float var = 0.0f;
  for (int i = lane; i < C; i += kWarp) {
    const float d = x[i] - mean;
    var += d * d;
  }
  const float rstd = rsqrtf(warp_sum(var) / C + 1e-5f);
  O* o = out + long(row) * C;
  for (int i = lane; i < C; i += kWarp) {
    o[i] = from_float<O>((x[i] - mean) * rstd * weight[i] + bias[i]);
  }
}

// 16 bytes of weights as floats: 4 float32 or 8 bfloat16.
template <typename W>
struct Vec;
template <>
struct Vec<float> {
  static constexpr int kN = 4;
  __device__ static void load(const float* p, float* out) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(p));
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
  }
};
template <>
struct Vec<__nv_bfloat16> {
  static constexpr int kN = 8;
  __device__ static void load(const __nv_bfloat16* p, float* out) {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float2 f = __bfloat1622float2(h[k]);
      out[2 * k] = f.x, out[2 * k + 1] = f.y;
    }
  }
};

constexpr int kMaxRows = 4;  // matvec_forward's T

// One warp per output row o: each lane sums a strided share of the row (16-byte
// loads when kVec), the warp adds the shares.
template <typename W, bool kVec>
__global__ void matvec_kernel(float* out, const float* inp, const W* weight, const float* bias,
                              const float* residual, Epilogue epilogue, int T, int C, int OC) {
  const int o = blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (o >= OC) return;
  const W* w = weight + long(o) * C;
  float acc[kMaxRows] = {0.0f, 0.0f, 0.0f, 0.0f};
  if constexpr (kVec) {
    constexpr int kN = Vec<W>::kN;
#pragma unroll 4
    for (int i = lane * kN; i < C; i += kWarp * kN) {
      float wv[kN];
      Vec<W>::load(w + i, wv);
#pragma unroll
      for (int t = 0; t < kMaxRows; t++) {
        if (t < T) {
          const float* x = inp + long(t) * C + i;
#pragma unroll
          for (int k = 0; k < kN; k++) acc[t] += wv[k] * __ldg(x + k);
        }
      }
    }
  } else {
    for (int i = lane; i < C; i += kWarp) {
      const float wv = to_float(w[i]);
#pragma unroll
      for (int t = 0; t < kMaxRows; t++) {
        if (t < T) acc[t] += wv * __ldg(inp + long(t) * C + i);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kMaxRows; t++) {
    if (t >= T) break;
    const float sum = warp_sum(acc[t]);
    if (lane != 0) continue;
    float v = sum;
    if (epilogue != Epilogue::kNone) v += bias[o];
    if (epilogue == Epilogue::kBiasGelu) v = gelu(v);
    if (epilogue == Epilogue::kBiasResidual) v += residual[long(t) * OC + o];
    out[long(t) * OC + o] = v;
  }
}

__global__ void store_kv_kernel(float* keys, float* values, const float* qkv, const int* pos, int T,
                                int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), c = int(idx % C);
  const long row = long(*pos + t) * C + c;
  keys[row] = qkv[long(t) * 3 * C + C + c];
  values[row] = qkv[long(t) * 3 * C + 2 * C + c];
}

// ---------------------------------------------------------------------------
// Prefill attention. A block: kBr queries of one head, 4 threads per query
// (a quad: 4 consecutive lanes), each thread kMaxD = hs / 4 of the head's
// channels (d = quad lane + 4 k). Keys and values come in tiles of kBc rows
// through shared memory; per tile each query's scores, their maximum, one
// rescale of its running sum and output, then the weighted values.
constexpr int kBr = 32, kBc = 32, kQuad = 4, kMaxHs = 128, kMaxD = kMaxHs / kQuad;

__global__ void attention_prefill_kernel(float* out, const float* qkv, const float* keys,
                                         const float* values, const int* pos_ptr, int T, int C,
                                         int NH, float scale) {
  __shared__ float ks[kBc][kMaxHs + 1];
  __shared__ float vs[kBc][kMaxHs + 1];
  const int h = blockIdx.y, hs = C / NH, pos = *pos_ptr;
  const int qi = blockIdx.x * kBr + threadIdx.x / kQuad;  // this thread's query, 0..T-1
  const int ql = threadIdx.x % kQuad;
  const bool active = qi < T;
  const int qpos = pos + qi;  // its position: keys 0..qpos
  float q[kMaxD], acc[kMaxD];
#pragma unroll
  for (int k = 0; k < kMaxD; k++) {
    const int d = ql + kQuad * k;
    q[k] = active && d < hs ? qkv[long(qi) * 3 * C + h * hs + d] * scale : 0.0f;
    acc[k] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  // The block's last query sees keys up to pos + its index.
  const int last = pos + min(T, int(blockIdx.x + 1) * kBr) - 1;
  for (int j0 = 0; j0 <= last; j0 += kBc) {
    __syncthreads();
    for (int e = threadIdx.x; e < kBc * hs; e += blockDim.x) {
      const int r = e / hs, d = e % hs, j = j0 + r;
      const bool in = j <= last;
      ks[r][d] = in ? keys[long(j) * C + h * hs + d] : 0.0f;
      vs[r][d] = in ? values[long(j) * C + h * hs + d] : 0.0f;
    }
    __syncthreads();
    float s[kBc];
    float tile_max = -INFINITY;
#pragma unroll
    for (int r = 0; r < kBc; r++) {
      float dot = 0.0f;
#pragma unroll
      for (int k = 0; k < kMaxD; k++) {
        const int d = ql + kQuad * k;
        if (d < hs) dot += q[k] * ks[r][d];
      }
      dot += __shfl_xor_sync(0xffffffffu, dot, 1);
      dot += __shfl_xor_sync(0xffffffffu, dot, 2);
      s[r] = j0 + r <= qpos ? dot : -INFINITY;
      tile_max = fmaxf(tile_max, s[r]);
    }
    if (!active || tile_max == -INFINITY) continue;  // nothing of this tile for this query
    const float m_new = fmaxf(m, tile_max);
    const float corr = __expf(m - m_new);
    float psum = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxD; k++) acc[k] *= corr;
#pragma unroll
    for (int r = 0; r < kBc; r++) {
      const float p = __expf(s[r] - m_new);
      psum += p;
#pragma unroll
      for (int k = 0; k < kMaxD; k++) {
        const int d = ql + kQuad * k;
        if (d < hs) acc[k] += p * vs[r][d];
      }
    }
    l = l * corr + psum;
    m = m_new;
  }
  if (!active) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int k = 0; k < kMaxD; k++) {
    const int d = ql + kQuad * k;
    if (d < hs) out[long(qi) * C + h * hs + d] = acc[k] * inv;
  }
}

// ---------------------------------------------------------------------------
// Decode attention: grid (NH, splits of kKc keys), 4 warps a block.
constexpr int kKc = 64, kDecodeThreads = 128;

int decode_splits(int capacity) {
  return (capacity + kKc - 1) / kKc;
}

__global__ void attention_decode_split_kernel(float* partial, const float* qkv, const float* keys,
                                              const float* values, const int* pos_ptr, int C,
                                              int NH, int splits, float scale) {
  __shared__ float q[kMaxHs];
  __shared__ float p[kKc];
  __shared__ float red[kDecodeThreads / kWarp];
  const int h = blockIdx.x, split = blockIdx.y, hs = C / NH;
  const int n = *pos_ptr + 1, j0 = split * kKc, j1 = min(n, j0 + kKc);
  float* part = partial + (long(h) * splits + split) * (hs + 2);
  if (j0 >= n) {  // no keys here: an empty partial
    if (threadIdx.x == 0) part[0] = -INFINITY, part[1] = 0.0f;
    return;
  }
  for (int d = threadIdx.x; d < hs; d += blockDim.x) q[d] = qkv[h * hs + d] * scale;
  __syncthreads();
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  // Scores: a warp per key, lanes over the channels.
  for (int j = j0 + warp; j < j1; j += kDecodeThreads / kWarp) {
    const float* k = keys + long(j) * C + h * hs;
    float dot = 0.0f;
    for (int d = lane; d < hs; d += kWarp) dot += q[d] * k[d];
    dot = warp_sum(dot);
    if (lane == 0) p[j - j0] = dot;
  }
  __syncthreads();
  // The chunk's maximum and e^(s - max).
  float mx = -INFINITY;
  for (int r = threadIdx.x; r < j1 - j0; r += blockDim.x) mx = fmaxf(mx, p[r]);
  mx = warp_max(mx);
  if (lane == 0) red[warp] = mx;
  __syncthreads();
  mx = red[0];
  for (int w = 1; w < kDecodeThreads / kWarp; w++) mx = fmaxf(mx, red[w]);
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
    for (int w = 0; w < kDecodeThreads / kWarp; w++) total += red[w];
    part[0] = mx;
    part[1] = total;
  }
  // Weighted values: a thread per channel.
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    float acc = 0.0f;
    for (int j = j0; j < j1; j++) acc += p[j - j0] * values[long(j) * C + h * hs + d];
    part[2 + d] = acc;
  }
}

__global__ void attention_decode_combine_kernel(float* out, const float* partial, int C, int NH,
                                                int splits) {
  const int h = blockIdx.x, hs = C / NH;
  const float* part = partial + long(h) * splits * (hs + 2);
  float mx = -INFINITY;
  for (int s = 0; s < splits; s++) mx = fmaxf(mx, part[long(s) * (hs + 2)]);
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < splits; s++) {
      const float* ps = part + long(s) * (hs + 2);
      if (ps[0] == -INFINITY) continue;
      const float w = __expf(ps[0] - mx);
      den += ps[1] * w;
      num += ps[2 + d] * w;
    }
    out[h * hs + d] = num / den;
  }
}

// ---------------------------------------------------------------------------

constexpr int kSoftmaxThreads = 1024;

__device__ float block_reduce(float v, bool is_max) {
  __shared__ float red[kSoftmaxThreads / kWarp];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  v = is_max ? warp_max(v) : warp_sum(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = red[0];
  for (int w = 1; w < int(blockDim.x) / kWarp; w++) r = is_max ? fmaxf(r, red[w]) : r + red[w];
  return r;
}

__global__ void softmax_kernel(float* probs, const float* logits, int V) {
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, logits[i]);
  mx = block_reduce(mx, true);
  float sum = 0.0f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float e = expf(logits[i] - mx);
    probs[i] = e;
    sum += e;
  }
  sum = block_reduce(sum, false);
  const float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < V; i += blockDim.x) probs[i] *= inv;
}

__global__ void to_bf16_kernel(__nv_bfloat16* out, const float* in, long N) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < N) out[idx] = __float2bfloat16_rn(in[idx]);
}

}  // namespace

template <typename W>
void encoder_forward(float* out, const int* tokens, const W* wte, const float* wpe, const int* pos,
                     int T, int C, cudaStream_t stream) {
  encoder_kernel<<<blocks(long(T) * C, 256), 256, 0, stream>>>(out, tokens, wte, wpe, pos, T, C);
  check_launch("encoder_kernel");
}

template <typename O>
void layernorm_forward(O* out, const float* inp, const float* weight, const float* bias, int T,
                       int C, cudaStream_t stream) {
  layernorm_kernel<O><<<blocks(T, 8), 8 * kWarp, 0, stream>>>(out, inp, weight, bias, T, C);
  check_launch("layernorm_kernel");
}

template <typename W>
void matvec_forward(float* out, const float* inp, const W* weight, const float* bias,
                    const float* residual, Epilogue epilogue, int T, int C, int OC,
                    cudaStream_t stream) {
  if (T < 1 || T > kMaxRows) throw CudaError("matvec_forward: T must be 1 to 4");
  constexpr int kWarps = 8;
  const bool vec = C % Vec<W>::kN == 0;  // every row starts 16-byte aligned
  if (vec) {
    matvec_kernel<W, true><<<blocks(OC, kWarps), kWarps * kWarp, 0, stream>>>(
        out, inp, weight, bias, residual, epilogue, T, C, OC);
  } else {
    matvec_kernel<W, false><<<blocks(OC, kWarps), kWarps * kWarp, 0, stream>>>(
        out, inp, weight, bias, residual, epilogue, T, C, OC);
  }
  check_launch("matvec_kernel");
}

void store_kv(float* keys, float* values, const float* qkv, const int* pos, int T, int C,
              cudaStream_t stream) {
  store_kv_kernel<<<blocks(long(T) * C, 256), 256, 0, stream>>>(keys, values, qkv, pos, T, C);
  check_launch("store_kv_kernel");
}

void attention_prefill(float* out, const float* qkv, const float* keys, const float* values,
                       const int* pos, int T, int C, int NH, cudaStream_t stream) {
  const int hs = C / NH;
  if (hs > kMaxHs) throw CudaError("attention_prefill: head size above 128");
  const dim3 grid(blocks(T, kBr), NH);
  attention_prefill_kernel<<<grid, kBr * kQuad, 0, stream>>>(out, qkv, keys, values, pos, T, C, NH,
                                                             1.0f / std::sqrt(float(hs)));
  check_launch("attention_prefill_kernel");
}

long attention_decode_scratch(int C, int NH, int capacity) {
  return long(NH) * decode_splits(capacity) * (C / NH + 2);
}

void attention_decode(float* out, const float* qkv, const float* keys, const float* values,
                      float* partial, const int* pos, int C, int NH, int capacity,
                      cudaStream_t stream) {
  const int hs = C / NH, splits = decode_splits(capacity);
  if (hs > kMaxHs) throw CudaError("attention_decode: head size above 128");
  attention_decode_split_kernel<<<dim3(NH, splits), kDecodeThreads, 0, stream>>>(
      partial, qkv, keys, values, pos, C, NH, splits, 1.0f / std::sqrt(float(hs)));
  check_launch("attention_decode_split_kernel");
  attention_decode_combine_kernel<<<NH, kMaxHs, 0, stream>>>(out, partial, C, NH, splits);
  check_launch("attention_decode_combine_kernel");
}

void softmax_forward(float* probs, const float* logits, int V, cudaStream_t stream) {
  softmax_kernel<<<1, kSoftmaxThreads, 0, stream>>>(probs, logits, V);
  check_launch("softmax_kernel");
}

void to_bf16(__nv_bfloat16* out, const float* in, long N, cudaStream_t stream) {
  to_bf16_kernel<<<blocks(N, 256), 256, 0, stream>>>(out, in, N);
  check_launch("to_bf16_kernel");
}

template void encoder_forward<float>(float*, const int*, const float*, const float*, const int*,
                                     int, int, cudaStream_t);
template void encoder_forward<__nv_bfloat16>(float*, const int*, const __nv_bfloat16*, const float*,
                                             const int*, int, int, cudaStream_t);
template void layernorm_forward<float>(float*, const float*, const float*, const float*, int, int,
                                       cudaStream_t);
template void layernorm_forward<__nv_bfloat16>(__nv_bfloat16*, const float*, const float*,
                                               const float*, int, int, cudaStream_t);
template void matvec_forward<float>(float*, const float*, const float*, const float*, const float*,
                                    Epilogue, int, int, int, cudaStream_t);
template void matvec_forward<__nv_bfloat16>(float*, const float*, const __nv_bfloat16*,
                                            const float*, const float*, Epilogue, int, int, int,
                                            cudaStream_t);

}  // namespace gpt2::cuda::fast
