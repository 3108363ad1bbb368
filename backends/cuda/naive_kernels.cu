// Built with -fmad=false (no contraction of a * b + c), and without
// --use_fast_math: IEEE division and square root, denormals kept. See
// naive_kernels.h for why each kernel gives the reference's bits.
#include "backends/cuda/naive_kernels.h"

#include <cmath>
#include <numbers>

#include "backends/cuda/cuda_check.h"
#include "reference/kernels.h"
#include "reference/mathfn.h"

namespace gpt2::cuda::naive {

namespace {

constexpr int kBlock = 256;

unsigned blocks(long n) {
  return unsigned((n + kBlock - 1) / kBlock);
}

__global__ void encoder_kernel(float* out, const int* tokens, const float* wte, const float* wpe,
                               int pos, int T, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), i = int(idx % C);
  out[idx] = wte[long(tokens[t]) * C + i] + wpe[long(pos + t) * C + i];
}

// One thread per row: the mean and 1 / sqrt(variance + eps), each sum in order.
__global__ void layernorm_stats_kernel(float* stats, const float* inp, int T, int C) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= T) return;
  const float* x = inp + long(t) * C;
  float m = 0.0f;
  for (int i = 0; i < C; i++) m += x[i];
  m = m / C;
  float v = 0.0f;
  for (int i = 0; i < C; i++) {
    float xshift = x[i] - m;
    v += xshift * xshift;
  }
  v = v / C;
  stats[2 * t] = m;
  stats[2 * t + 1] = 1.0f / sqrtf(v + ref::kLayerNormEps);
}

__global__ void layernorm_out_kernel(float* out, const float* stats, const float* inp,
                                     const float* weight, const float* bias, int T, int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), i = int(idx % C);
  const float m = stats[2 * t], s = stats[2 * t + 1];
  float n = s * (inp[idx] - m);
  out[idx] = n * weight[i] + bias[i];
}

// One thread per output: its bias (or 0), then its C products in index order.
__global__ void matmul_kernel(float* out, const float* inp, const float* weight, const float* bias,
                              int T, int C, int OC) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * OC) return;
  const int t = int(idx / OC), o = int(idx % OC);
  const float* x = inp + long(t) * C;
  const float* w = weight + long(o) * C;
  float acc = bias != nullptr ? bias[o] : 0.0f;
  for (int i = 0; i < C; i++) acc += x[i] * w[i];
  out[idx] = acc;
}

// One thread per (query, head): passes 1-3 of the reference's
// attention_head_forward (scores, their maximum, e^(score - max), the sum in
// order, normalized) into att.
__global__ void attention_weights_kernel(float* att, const float* qkv, const float* keys, int pos,
                                         int T, int C, int NH, int stride, float scale) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= T * NH) return;
  const int t = idx / NH, h = idx % NH, hs = C / NH, n = pos + t + 1;
  const float* q = qkv + long(t) * 3 * C + h * hs;
  float* a = att + long(idx) * stride;
  float maxval = -INFINITY;
  for (int j = 0; j < n; j++) {
    const float* k = keys + long(j) * C + h * hs;
    float val = 0.0f;
    for (int i = 0; i < hs; i++) val += q[i] * k[i];
    val *= scale;
    maxval = maxval < val ? val : maxval;  // std::max, as the reference
    a[j] = val;
  }
  float expsum = 0.0f;
  for (int j = 0; j < n; j++) {
    float e = exp_ref(a[j] - maxval);
    expsum += e;
    a[j] = e;
  }
  const float expsum_inv = 1.0f / expsum;
  for (int j = 0; j < n; j++) a[j] *= expsum_inv;
}

// One thread per output (query, channel): pass 4, sum_j att_j v_j in order of j.
__global__ void attention_values_kernel(float* out, const float* att, const float* values, int pos,
                                        int T, int C, int NH, int stride) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), c = int(idx % C), hs = C / NH, h = c / hs, n = pos + t + 1;
  const float* a = att + long(t * NH + h) * stride;
  float acc = 0.0f;
  for (int j = 0; j < n; j++) acc += a[j] * values[long(j) * C + c];
  out[idx] = acc;
}

__global__ void gelu_kernel(float* out, const float* inp, int N, float scaling) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= N) return;
  float x = inp[idx];
  float cube = 0.044715f * x * x * x;
  out[idx] = 0.5f * x * (1.0f + tanh_ref(scaling * (x + cube)));
}

__global__ void residual_kernel(float* out, const float* a, const float* b, int N) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= N) return;
  out[idx] = a[idx] + b[idx];
}

// One thread: the maximum, then e^(l - max) summed in index order.
__global__ void softmax_stats_kernel(float* stats, float* probs, const float* logits, int V) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  float maxval = -INFINITY;
  for (int i = 0; i < V; i++) maxval = maxval < logits[i] ? logits[i] : maxval;  // std::max
  float sum = 0.0f;
  for (int i = 0; i < V; i++) {
    probs[i] = exp_ref(logits[i] - maxval);
    sum += probs[i];
  }
  stats[0] = maxval;
  stats[1] = sum;
}

__global__ void softmax_out_kernel(float* probs, const float* stats, int V) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= V) return;
  probs[idx] /= stats[1];
}

__global__ void store_kv_kernel(float* keys, float* values, const float* qkv, int pos, int T,
                                int C) {
  const long idx = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= long(T) * C) return;
  const int t = int(idx / C), c = int(idx % C);
  keys[long(pos + t) * C + c] = qkv[long(t) * 3 * C + C + c];
  values[long(pos + t) * C + c] = qkv[long(t) * 3 * C + 2 * C + c];
}

}  // namespace

void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int pos,
                     int T, int C, cudaStream_t stream) {
  encoder_kernel<<<blocks(long(T) * C), kBlock, 0, stream>>>(out, tokens, wte, wpe, pos, T, C);
  check_launch("naive encoder_kernel");
}

void layernorm_forward(float* out, float* stats, const float* inp, const float* weight,
                       const float* bias, int T, int C, cudaStream_t stream) {
  layernorm_stats_kernel<<<blocks(T), kBlock, 0, stream>>>(stats, inp, T, C);
  check_launch("naive layernorm_stats_kernel");
  layernorm_out_kernel<<<blocks(long(T) * C), kBlock, 0, stream>>>(out, stats, inp, weight, bias, T,
                                                                   C);
  check_launch("naive layernorm_out_kernel");
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                    int C, int OC, cudaStream_t stream) {
  matmul_kernel<<<blocks(long(T) * OC), kBlock, 0, stream>>>(out, inp, weight, bias, T, C, OC);
  check_launch("naive matmul_kernel");
}

void attention_forward(float* out, const float* qkv, const float* keys, const float* values,
                       float* att, int pos, int T, int C, int NH, cudaStream_t stream) {
  const int hs = C / NH, stride = pos + T;
  // The reference's scale, computed as it does (IEEE square root and division).
  const float scale = 1.0f / std::sqrt(float(hs));
  attention_weights_kernel<<<blocks(long(T) * NH), kBlock, 0, stream>>>(att, qkv, keys, pos, T, C,
                                                                        NH, stride, scale);
  check_launch("naive attention_weights_kernel");
  attention_values_kernel<<<blocks(long(T) * C), kBlock, 0, stream>>>(out, att, values, pos, T, C,
                                                                      NH, stride);
  check_launch("naive attention_values_kernel");
}

void gelu_forward(float* out, const float* inp, int N, cudaStream_t stream) {
  const float scaling = std::sqrt(float(2.0 / std::numbers::pi));  // as the reference's
  gelu_kernel<<<blocks(N), kBlock, 0, stream>>>(out, inp, N, scaling);
  check_launch("naive gelu_kernel");
}

void residual_forward(float* out, const float* a, const float* b, int N, cudaStream_t stream) {
  residual_kernel<<<blocks(N), kBlock, 0, stream>>>(out, a, b, N);
  check_launch("naive residual_kernel");
}

void softmax_forward(float* probs, float* stats, const float* logits, int V, cudaStream_t stream) {
  softmax_stats_kernel<<<1, 1, 0, stream>>>(stats, probs, logits, V);
  check_launch("naive softmax_stats_kernel");
  softmax_out_kernel<<<blocks(V), kBlock, 0, stream>>>(probs, stats, V);
  check_launch("naive softmax_out_kernel");
}

void store_kv(float* keys, float* values, const float* qkv, int pos, int T, int C,
              cudaStream_t stream) {
  store_kv_kernel<<<blocks(long(T) * C), kBlock, 0, stream>>>(keys, values, qkv, pos, T, C);
  check_launch("naive store_kv_kernel");
}

}  // namespace gpt2::cuda::naive
