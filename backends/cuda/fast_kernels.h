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
// one warp per row, the row held in registers (C <= 2048; longer rows: two
// passes over memory), mean then variance.
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

// A matrix-vector product of a few rows (decode: T = 1), reading each weight
// once at full bandwidth: out (T, OC) = epilogue(x (T, C) @ weight (OC, C)^T).
// One warp per output row, 16-byte loads, several in flight; the input rows
// staged in shared memory, first layernormed when ln_weight is set (the
// layernorm fused into the product that reads it); with keys set, outputs
// C..2C and 2C..3C of a qkv product also go to the caches at row *pos + t
// (the key/value store fused into the product that makes them).
struct Matvec {
  float* out = nullptr;              // (T, OC)
  const float* inp = nullptr;        // (T, C)
  const float* ln_weight = nullptr;  // (C), with ln_bias: layernorm inp first
  const float* ln_bias = nullptr;    // (C)
  const float* bias = nullptr;       // (OC) for every epilogue but kNone
  const float* residual = nullptr;   // (T, OC) for kBiasResidual; may be out
  Epilogue epilogue = Epilogue::kNone;
  int T = 1, C = 0, OC = 0;  // 1 <= T <= 4
  float* keys = nullptr;     // (capacity, OC / 3): qkv's keys, with values and pos
  float* values = nullptr;
  const int* pos = nullptr;
};
template <typename W>
void matvec_forward(const Matvec& args, const W* weight, cudaStream_t stream);

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
// values into `partial`); the head's last block to finish combines them (one
// launch). partial: scratch of attention_decode_scratch(C, NH, capacity)
// floats, prepared once by attention_decode_init (its counters at 0).
void attention_decode(float* out, const float* qkv, const float* keys, const float* values,
                      float* partial, const int* pos, int C, int NH, int capacity,
                      cudaStream_t stream);
long attention_decode_scratch(int C, int NH, int capacity);
void attention_decode_init(float* partial, int C, int NH, int capacity, cudaStream_t stream);

// probs (V) = softmax(logits (V)): blocks of the vocabulary each find their
// maximum and sum of exponentials, then every block rescales its own with the
// combined ones. partial: scratch of softmax_scratch(V) floats.
void softmax_forward(float* probs, float* partial, const float* logits, int V, cudaStream_t stream);
long softmax_scratch(int V);

// out (N) = in (N) as bf16 (round to nearest even).
void to_bf16(__nv_bfloat16* out, const float* in, long N, cudaStream_t stream);

}  // namespace gpt2::cuda::fast
