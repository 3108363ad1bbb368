// Built with -fmad=false and without --use_fast_math, as naive_kernels.cu:
// see tiled_kernels.h for why each kernel gives the reference's bits.
#include "backends/cuda/tiled_kernels.h"

#include <cmath>
#include <numbers>

#include "backends/cuda/cuda_check.h"
#include "reference/kernels.h"
#include "reference/mathfn.h"

namespace gpt2::cuda::tiled {

namespace {

constexpr int kBlock = 256;

unsigned blocks(long n, int per_block) {
  return unsigned((n + per_block - 1) / per_block);
}

__global__ void encoder_kernel(float* out, const BatchRow* rows, const float* wte, const float* wpe,
                               int R, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(R) * C) return;
  const int r = int(idx / C), i = int(idx % C);
  const BatchRow row = rows[r];
  out[idx] = wte[long(row.token) * C + i] + wpe[long(row.pos) * C + i];
}

// The reference's gelu, term for term (gelu_forward in reference/kernels.cpp).
__device__ __forceinline__ float gelu_ref(float x, float scaling) {
  float cube = 0.044715f * x * x * x;
  return 0.5f * x * (1.0f + tanh_ref(scaling * (x + cube)));
}

// A block: kBM rows x kBN outputs, (kBM / kTM) x (kBN / kTN) threads, each
// kTM x kTN outputs; the inputs and weights come through shared memory in
// slices of kBK of the C products (the next slice loading while one is
// summed), stored k-major so that a thread reads its
// kTM inputs and kTN weights of one k as vectors. Each output adds its
// products one k after the other: its sum in the reference's order.
template <int kBM, int kBN, int kTM, int kTN, int kBK>
__global__ void __launch_bounds__((kBM / kTM) * (kBN / kTN))
    matmul_kernel(float* out, const float* inp, const float* weight, const float* bias,
                  const float* residual, Epilogue epilogue, int T, int C, int OC, float scaling) {
  constexpr int kThreads = (kBM / kTM) * (kBN / kTN);
  __shared__ __align__(16) float xs[2][kBK][kBM];
  __shared__ __align__(16) float ws[2][kBK][kBN];
  const int tid = threadIdx.x;
  const int tr = tid / (kBN / kTN), tc = tid % (kBN / kTN);
  const int row0 = blockIdx.y * kBM, col0 = blockIdx.x * kBN;
  float acc[kTM][kTN];
#pragma unroll
  for (int j = 0; j < kTN; j++) {
    const int o = col0 + tc * kTN + j;
    const float b = bias != nullptr && o < OC ? bias[o] : 0.0f;
#pragma unroll
    for (int i = 0; i < kTM; i++) acc[i][j] = b;
  }
  // Slice k0 into buffer `buf`: consecutive threads read consecutive k of a row.
  auto load = [&](int buf, int k0) {
    for (int e = tid; e < kBM * kBK; e += kThreads) {
      const int r = e / kBK, kk = e % kBK, row = row0 + r, k = k0 + kk;
      xs[buf][kk][r] = row < T && k < C ? inp[long(row) * C + k] : 0.0f;
    }
    for (int e = tid; e < kBN * kBK; e += kThreads) {
      const int c = e / kBK, kk = e % kBK, o = col0 + c, k = k0 + kk;
      ws[buf][kk][c] = o < OC && k < C ? weight[long(o) * C + k] : 0.0f;
    }
  };
  load(0, 0);
  __syncthreads();
  int buf = 0;
  for (int k0 = 0; k0 < C; k0 += kBK) {
    if (k0 + kBK < C) load(buf ^ 1, k0 + kBK);  // the next slice, while this one is summed
    const int kn = min(kBK, C - k0);            // no products past C: the sum is C terms
    for (int kk = 0; kk < kn; kk++) {
      float a[kTM], w[kTN];
#pragma unroll
      for (int i = 0; i < kTM; i++) a[i] = xs[buf][kk][tr * kTM + i];
#pragma unroll
      for (int j = 0; j < kTN; j++) w[j] = ws[buf][kk][tc * kTN + j];
#pragma unroll
      for (int i = 0; i < kTM; i++) {
#pragma unroll
        for (int j = 0; j < kTN; j++) acc[i][j] += a[i] * w[j];
      }
    }
    __syncthreads();
    buf ^= 1;
  }
#pragma unroll
  for (int i = 0; i < kTM; i++) {
    const int row = row0 + tr * kTM + i;
    if (row >= T) continue;
#pragma unroll
    for (int j = 0; j < kTN; j++) {
      const int o = col0 + tc * kTN + j;
      if (o >= OC) continue;
      const long idx = long(row) * OC + o;
      float v = acc[i][j];
      if (epilogue == Epilogue::kGelu) v = gelu_ref(v, scaling);
      if (epilogue == Epilogue::kResidual) v = residual[idx] + v;
      out[idx] = v;
    }
  }
}

template <int kBM, int kBN, int kTM, int kTN, int kBK>
void launch_matmul(float* out, const float* inp, const float* weight, const float* bias,
                   const float* residual, Epilogue epilogue, int T, int C, int OC, float scaling,
                   cudaStream_t stream) {
  const dim3 grid(blocks(OC, kBN), blocks(T, kBM));
  matmul_kernel<kBM, kBN, kTM, kTN, kBK><<<grid, (kBM / kTM) * (kBN / kTN), 0, stream>>>(
      out, inp, weight, bias, residual, epilogue, T, C, OC, scaling);
  check_launch("tiled matmul_kernel");
}

__global__ void store_kv_kernel(const BatchRow* rows, const BatchSeq* seqs, const float* qkv,
                                int layer, int R, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(R) * C) return;
  const int r = int(idx / C), c = int(idx % C);
  const BatchRow row = rows[r];
  const BatchSeq& s = seqs[row.seq];
  const long at = layer * s.layer_floats + long(row.pos) * C + c;
  s.keys[at] = qkv[long(r) * 3 * C + C + c];
  s.values[at] = qkv[long(r) * 3 * C + 2 * C + c];
}

constexpr int kAttThreads = 128;

// The largest of every thread's `mx` in a block of kThreads (each thread gets
// it): a maximum's value does not depend on the order it is taken in, as the
// reference's std::max(maxval, val) scan; red: kThreads / 32 floats.
template <int kThreads>
__device__ float block_max(float mx, float* red) {
  __shared__ float shared_max;
  for (int o = 16; o > 0; o /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, mx, o);
    mx = mx < other ? other : mx;
  }
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = mx;
  __syncthreads();
  if (threadIdx.x == 0) {
    float m = red[0];
    for (int w = 1; w < kThreads / 32; w++) m = m < red[w] ? red[w] : m;
    shared_max = m;
  }
  __syncthreads();
  return shared_max;
}

// A block per (row, head): passes 1-4 of the reference's attention_head_forward.
__global__ void __launch_bounds__(kAttThreads)
    attention_kernel(float* out, const float* qkv, const BatchRow* rows, const BatchSeq* seqs,
                     int layer, int C, int NH, float scale) {
  extern __shared__ float att[];  // (n): the scores, then the weights
  __shared__ float red[kAttThreads / 32];
  __shared__ float shared_inv;
  const int r = blockIdx.x, h = blockIdx.y, hs = C / NH, tid = threadIdx.x;
  const BatchRow row = rows[r];
  const BatchSeq& s = seqs[row.seq];
  const int n = row.pos + 1;
  const float* q = qkv + long(r) * 3 * C + h * hs;
  const float* keys = s.keys + layer * s.layer_floats + h * hs;
  const float* values = s.values + layer * s.layer_floats + h * hs;
  // Pass 1: each score by one thread, in order of the channels; the maximum
  // (order does not change a maximum).
  float mx = -INFINITY;
  for (int j = tid; j < n; j += kAttThreads) {
    const float* k = keys + long(j) * C;
    float val = 0.0f;
    for (int i = 0; i < hs; i++) val += q[i] * k[i];
    val *= scale;
    mx = mx < val ? val : mx;
    att[j] = val;
  }
  const float maxval = block_max<kAttThreads>(mx, red);
  // Pass 2: the exponentials in parallel, their sum in order.
  for (int j = tid; j < n; j += kAttThreads) att[j] = exp_ref(att[j] - maxval);
  __syncthreads();
  if (tid == 0) {
    float expsum = 0.0f;
    for (int j = 0; j < n; j++) expsum += att[j];
    shared_inv = 1.0f / expsum;
  }
  __syncthreads();
  // Pass 3: normalize.
  const float expsum_inv = shared_inv;
  for (int j = tid; j < n; j += kAttThreads) att[j] *= expsum_inv;
  __syncthreads();
  // Pass 4: each channel's weighted values, in order of j.
  for (int i = tid; i < hs; i += kAttThreads) {
    float acc = 0.0f;
    for (int j = 0; j < n; j++) acc += att[j] * values[long(j) * C + i];
    out[long(r) * C + h * hs + i] = acc;
  }
}

// A block per row: the maximum and the exponentials in parallel, the sum in
// order by one thread, the divisions in parallel.
constexpr int kSumChunk = 2048;
__global__ void __launch_bounds__(kBlock) softmax_kernel(float* probs, const float* logits, int V) {
  __shared__ float red[kBlock / 32];
  __shared__ float shared_sum;
  const int tid = threadIdx.x;
  const float* l = logits + long(blockIdx.x) * V;
  float* p = probs + long(blockIdx.x) * V;
  float mx = -INFINITY;
  for (int i = tid; i < V; i += kBlock) mx = mx < l[i] ? l[i] : mx;
  const float maxval = block_max<kBlock>(mx, red);
  for (int i = tid; i < V; i += kBlock) p[i] = exp_ref(l[i] - maxval);
  __syncthreads();
  // The sum in order, a chunk at a time through shared memory (thread 0
  // adds from there, the block loads the next chunk meanwhile).
  __shared__ float chunk[2][kSumChunk];
  float sum = 0.0f;
  for (int c0 = 0, b = 0; c0 < V; c0 += kSumChunk, b ^= 1) {
    for (int i = tid; i < kSumChunk && c0 + i < V; i += kBlock) chunk[b][i] = p[c0 + i];
    __syncthreads();
    if (tid == 0) {
      const int n = min(kSumChunk, V - c0);
      for (int i = 0; i < n; i++) sum += chunk[b][i];
    }
  }
  if (tid == 0) shared_sum = sum;
  __syncthreads();
  sum = shared_sum;
  for (int i = tid; i < V; i += kBlock) p[i] /= sum;
}

// A block per row: the row into shared memory, its mean and variance by one
// thread in order (as the reference: the sum, / C; the squared deviations'
// sum, / C; 1 / sqrtf(var + eps)), the outputs in parallel.
__global__ void __launch_bounds__(kBlock)
    layernorm_kernel(float* out, const float* inp, const float* weight, const float* bias, int C) {
  extern __shared__ float row[];  // (C)
  __shared__ float stats[2];
  const float* x = inp + long(blockIdx.x) * C;
  for (int i = threadIdx.x; i < C; i += kBlock) row[i] = x[i];
  __syncthreads();
  if (threadIdx.x == 0) {
    float m = 0.0f;
    for (int i = 0; i < C; i++) m += row[i];
    m = m / C;
    float v = 0.0f;
    for (int i = 0; i < C; i++) {
      float xshift = row[i] - m;
      v += xshift * xshift;
    }
    v = v / C;
    stats[0] = m;
    stats[1] = 1.0f / sqrtf(v + ref::kLayerNormEps);
  }
  __syncthreads();
  const float m = stats[0], s = stats[1];
  float* o = out + long(blockIdx.x) * C;
  for (int i = threadIdx.x; i < C; i += kBlock) {
    float n = s * (row[i] - m);
    o[i] = n * weight[i] + bias[i];
  }
}

__global__ void gather_kernel(float* out, const float* inp, const int* at_rows, int R, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(R) * C) return;
  const int r = int(idx / C), i = int(idx % C);
  out[idx] = inp[long(at_rows[r]) * C + i];
}

}  // namespace

void encoder_forward(float* out, const BatchRow* rows, const float* wte, const float* wpe, int R,
                     int C, cudaStream_t stream) {
  encoder_kernel<<<blocks(long(R) * C, kBlock), kBlock, 0, stream>>>(out, rows, wte, wpe, R, C);
  check_launch("tiled encoder_kernel");
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    const float* residual, Epilogue epilogue, int T, int C, int OC,
                    cudaStream_t stream) {
  const float scaling = std::sqrt(float(2.0 / std::numbers::pi));  // as the reference's gelu
  static const int sms = [] {  // the first GPU's: only the choice of tiles depends on it
    int count = 0, device = 0;
    GPT2_CUDA(cudaGetDevice(&device));
    GPT2_CUDA(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    return count;
  }();
  // Few rows: tiles of 8 or 16 rows; else 64 x 64 tiles where they make a
  // grid that fills the GPU twice over, 32 x 32 otherwise. The bits are the same.
  if (T <= 8) {  // decode: long slices of few rows, so that enough weights are in flight
    launch_matmul<8, 32, 1, 1, 64>(out, inp, weight, bias, residual, epilogue, T, C, OC, scaling,
                                   stream);
  } else if (T <= 16) {
    launch_matmul<16, 64, 1, 4, 32>(out, inp, weight, bias, residual, epilogue, T, C, OC, scaling,
                                    stream);
  } else if (long(blocks(T, 64)) * blocks(OC, 64) >= 2L * sms) {
    launch_matmul<64, 64, 4, 4, 16>(out, inp, weight, bias, residual, epilogue, T, C, OC, scaling,
                                    stream);
  } else {
    launch_matmul<32, 32, 2, 2, 16>(out, inp, weight, bias, residual, epilogue, T, C, OC, scaling,
                                    stream);
  }
}

void store_kv(const BatchRow* rows, const BatchSeq* seqs, const float* qkv, int layer, int R, int C,
              cudaStream_t stream) {
  store_kv_kernel<<<blocks(long(R) * C, kBlock), kBlock, 0, stream>>>(rows, seqs, qkv, layer, R, C);
  check_launch("tiled store_kv_kernel");
}

void attention_forward(float* out, const float* qkv, const BatchRow* rows, const BatchSeq* seqs,
                       int layer, int R, int C, int NH, int max_positions, cudaStream_t stream) {
  const int hs = C / NH;
  // The reference's scale, computed as it does (IEEE square root and division).
  const float scale = 1.0f / std::sqrt(float(hs));
  // Four floats more: the compiler reads the weights as vectors of up to 4,
  // the last one past the row (compute-sanitizer's memcheck saw it).
  const std::size_t smem = (std::size_t(max_positions) + 4) * sizeof(float);
  attention_kernel<<<dim3(R, NH), kAttThreads, smem, stream>>>(out, qkv, rows, seqs, layer, C, NH,
                                                               scale);
  check_launch("tiled attention_kernel");
}

void softmax_forward(float* probs, const float* logits, int R, int V, cudaStream_t stream) {
  softmax_kernel<<<R, kBlock, 0, stream>>>(probs, logits, V);
  check_launch("tiled softmax_kernel");
}

void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                       int C, cudaStream_t stream) {
  layernorm_kernel<<<T, kBlock, std::size_t(C) * sizeof(float), stream>>>(out, inp, weight, bias,
                                                                          C);
  check_launch("tiled layernorm_kernel");
}

void gather_rows(float* out, const float* inp, const int* at_rows, int R, int C,
                 cudaStream_t stream) {
  gather_kernel<<<blocks(long(R) * C, kBlock), kBlock, 0, stream>>>(out, inp, at_rows, R, C);
  check_launch("tiled gather_kernel");
}

}  // namespace gpt2::cuda::tiled
