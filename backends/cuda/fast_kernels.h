// The cuda backend's own kernels (the matrix products of prompts of 2 or more
// tokens go through cuBLASLt, cuda_backend.cpp). Sums are reordered (warp
// shuffles, FMA, split keys), so results are close to the reference's, not
// equal: tests/backends/cuda states each kernel's tolerance. Activations and
// accumulations are float32; weights of the five matrices are float32 or
// bfloat16 (W below). All pointers are device pointers; `pos` is read from
// device memory, so a captured CUDA graph serves every decode step.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace gpt2::cuda::fast {

// out (T, C) = wte[tokens[t]] + wpe[*pos + t]; wte (V, C) in W.
template <typename W>
void encoder_forward(float* out, const int* tokens, const W* wte, const float* wpe, const int* pos,
                     int T, int C, cudaStream_t stream);

// out (T, C) = layernorm(inp (T, C)) * weight + bias, in O (float or bf16):
// one warp per row, two passes over the row (mean, then variance).
template <typename O>
void layernorm_forward(O* out, const float* inp, const float* weight, const float* bias, int T,
                       int C, cudaStream_t stream);

// What the matrix-vector product does with each output after its sum.
enum class Epilogue {
  kNone,          // out = sum
  kBias,          // out = sum + bias
  kBiasGelu,      // out = gelu(sum + bias) (tanh form)
  kBiasResidual,  // out = residual + sum + bias (out may be residual)
};

// out (T, OC) = epilogue(inp (T, C) @ weight (OC, C)^T): for a few rows
// (decode: T = 1), reading each weight once at full bandwidth (16-byte loads,
// one warp per output, T <= 4). residual (T, OC) for kBiasResidual.
template <typename W>
void matvec_forward(float* out, const float* inp, const W* weight, const float* bias,
                    const float* residual, Epilogue epilogue, int T, int C, int OC,
                    cudaStream_t stream);

// The keys and values of positions *pos .. *pos+T-1 from qkv (T, 3C) into the
// caches (capacity, C).
void store_kv(float* keys, float* values, const float* qkv, const int* pos, int T, int C,
              cudaStream_t stream);

// Causal attention of T new positions *pos .. *pos+T-1, FlashAttention-style:
// tiles of keys and values in shared memory, an online softmax per query, no
// (T, T) matrix in memory. out (T, C); qkv (T, 3C) (queries in columns 0..C);
// keys, values (*pos+T, C). hs = C / NH <= 128.
void attention_prefill(float* out, const float* qkv, const float* keys, const float* values,
                       const int* pos, int T, int C, int NH, cudaStream_t stream);

// One query (decode) at position *pos over keys 0..*pos, split over the keys:
// each block a chunk of keys of one head (partial max, sum and weighted
// values into `partial`), then one block per head combines them. partial:
// scratch of attention_decode_scratch(C, NH, capacity) floats.
void attention_decode(float* out, const float* qkv, const float* keys, const float* values,
                      float* partial, const int* pos, int C, int NH, int capacity,
                      cudaStream_t stream);
long attention_decode_scratch(int C, int NH, int capacity);

// probs (V) = softmax(logits (V)), one block.
void softmax_forward(float* probs, const float* logits, int V, cudaStream_t stream);

// out (N) = in (N) as bf16 (round to nearest even).
void to_bf16(__nv_bfloat16* out, const float* in, long N, cudaStream_t stream);

}  // namespace gpt2::cuda::fast
