// The cuda-naive kernels: GPT-2's layers on the GPU, bit for bit the frozen
// reference's (reference/kernels.h): one thread per output element, every sum
// by one thread in the reference's order, the reference's own exp and tanh
// (reference/mathfn.h) compiled for the device, no FMA contraction
// (-fmad=false), IEEE division and square root. Where a sum is shared by a row
// of outputs (layernorm's mean and variance, attention's scores and softmax,
// the softmax's total), one thread per row computes it first, in order, and
// one thread per output uses it. All pointers are device pointers; shapes as in
// reference/kernels.h. Each call launches on `stream` and returns at once.
#pragma once

#include <cuda_runtime_api.h>

namespace gpt2::cuda::naive {

// out (T, C) = wte[tokens[t]] + wpe[pos + t]; tokens (T) on the device.
void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int pos,
                     int T, int C, cudaStream_t stream);

// out (T, C) = (inp - mean) * rstd * weight + bias; stats (T, 2) scratch.
void layernorm_forward(float* out, float* stats, const float* inp, const float* weight,
                       const float* bias, int T, int C, cudaStream_t stream);

// out (T, OC) = inp (T, C) @ weight (OC, C)^T + bias (OC); bias may be null.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                    int C, int OC, cudaStream_t stream);

// Causal attention of the T new positions pos .. pos+T-1 (reference's
// attention_forward). out (T, C); qkv (T, 3C); keys, values (pos+T, C);
// att (T * NH, pos+T) scratch: each query head's softmax weights.
void attention_forward(float* out, const float* qkv, const float* keys, const float* values,
                       float* att, int pos, int T, int C, int NH, cudaStream_t stream);

// out (N) = gelu(inp (N)), tanh form.
void gelu_forward(float* out, const float* inp, int N, cudaStream_t stream);

// out (N) = a (N) + b (N)
void residual_forward(float* out, const float* a, const float* b, int N, cudaStream_t stream);

// probs (V) = softmax(logits (V)); stats (2) scratch: the maximum and the sum.
void softmax_forward(float* probs, float* stats, const float* logits, int V, cudaStream_t stream);

// The keys and values of the T new positions from qkv (T, 3C) into the
// caches (capacity, C) at rows pos .. pos+T-1.
void store_kv(float* keys, float* values, const float* qkv, int pos, int T, int C,
              cudaStream_t stream);

}  // namespace gpt2::cuda::naive
