// The cuda backend's own kernels, every matrix product included. Sums are reordered (warp
// shuffles, FMA, split keys), so results are close to the reference's, not
// equal: tests/backends/cuda states each kernel's tolerance. Activations and
// accumulations are float32; weights of the five matrices are float32 or
// bfloat16 (W below). All pointers are device pointers; `pos` is read from
// device memory, so a captured CUDA graph serves every decode step.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "backends/cuda/batch.h"

namespace gpt2::cuda::fast {

// out (T, C) = wte[tokens[t]] + wpe[*pos + t]; wte (V, C) in W.
template <typename W>
void encoder_forward(float* out, const int* tokens, const W* wte, const float* wpe, const int* pos,
                     int T, int C, cudaStream_t stream);

// out (R, C) = wte[rows[r].token] + wpe[rows[r].pos]: a batched step's rows.
template <typename W>
void encoder_forward(float* out, const BatchRow* rows, const W* wte, const float* wpe, int R, int C,
                     cudaStream_t stream);

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

// The products of every row count, each output's sum in one order whatever
// the rows (a row's bits never depend on the others: batch-invariant):
// out (T, OC) = epilogue(x (T, C) @ weight (OC, C)^T). A group of warps sums
// one output: each lane its own 16-byte slices of the row in index order
// (fused multiply-adds), the warp's lanes by a butterfly of shuffles, the
// group's warps in order, then the bias, GELU or residual. Up to 4 rows
// (decode) one warp group per output, several weight loads in flight, each
// weight read once at full bandwidth; more rows in groups of 16 (8, then 4,
// for longer rows) per block and 4 outputs per warp group, so that each input read from
// shared memory feeds 16 multiply-adds. The input rows are staged in shared
// memory, first layernormed when ln_weight is set (the layernorm fused into
// the product that reads it); with keys (one sequence: row *pos + t) or
// rows/seqs (a batch: each row at its own position of its own sequence's
// caches of `layer`) set, outputs C..2C and 2C..3C of a qkv product also go to
// the caches (the key/value store fused into the product that makes them).
struct Matvec {
  float* out = nullptr;              // (T, OC)
  const float* inp = nullptr;        // (T, C), or with inp_rows its rows inp_rows[t]
  const int* inp_rows = nullptr;     // (T): the input rows (the logits' last positions)
  const float* ln_weight = nullptr;  // (C), with ln_bias: layernorm inp first
  const float* ln_bias = nullptr;    // (C)
  const float* bias = nullptr;       // (OC) for every epilogue but kNone
  const float* residual = nullptr;   // (T, OC) for kBiasResidual; may be out
  Epilogue epilogue = Epilogue::kNone;
  int T = 1, C = 0, OC = 0;  // T >= 1
  float* keys = nullptr;     // (capacity, OC / 3): qkv's keys, with values and pos
  float* values = nullptr;
  const int* pos = nullptr;
  const BatchRow* rows = nullptr;  // (T), with seqs: the batch's key/value store
  const BatchSeq* seqs = nullptr;
  int layer = 0;
};
template <typename W>
void matvec_forward(const Matvec& args, const W* weight, cudaStream_t stream);

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

// The same for every sequence of a batched step that decodes (n = 1): the
// sequence at decode_rows[d] (a batch row) attends with its query in qkv
// (R, 3C) into its output in out (R, C), over its sequence's caches of
// `layer`. The split size is fixed (64 keys), so a row's bits do not depend on
// the batch or on `capacity` (the longest cache: the splits launched).
// partial: scratch of D * attention_decode_scratch(C, NH, capacity) floats,
// prepared once by attention_decode_rows_init.
void attention_decode_rows(float* out, const float* qkv, const BatchRow* rows, const BatchSeq* seqs,
                           const int* decode_rows, int layer, float* partial, int D, int C, int NH,
                           int capacity, cudaStream_t stream);
void attention_decode_rows_init(float* partial, int R, int C, int NH, int capacity,
                                cudaStream_t stream);

// probs (R, V) = softmax of each row of logits (R, V): blocks of the
// vocabulary each find their maximum and sum of exponentials, then every
// block rescales its own with the combined ones. partial: scratch of
// softmax_scratch(R, V) floats.
void softmax_forward(float* probs, float* partial, const float* logits, int R, int V,
                     cudaStream_t stream);
long softmax_scratch(int R, int V);

// out (N) = in (N) as bf16 (round to nearest even).
void to_bf16(__nv_bfloat16* out, const float* in, long N, cudaStream_t stream);

}  // namespace gpt2::cuda::fast
