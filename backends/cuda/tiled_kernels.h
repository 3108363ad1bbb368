// The cuda-tiled kernels: the course's second rung, still bit for bit the
// frozen reference (reference/kernels.h), batched. Built as the naive kernels
// are (-fmad=false: a multiply and an add rounded separately; IEEE division
// and square root; the reference's exp and tanh): the matrix product is tiled
// through shared memory with a block of outputs per thread (register
// blocking), but each output's sum is still one thread's, its bias first,
// then its C products in index order, so the tiles change the speed, not the
// bits, and a row's result never depends on the other rows. Attention and the
// softmax compute their scores, maxima and exponentials in parallel and each
// sum in order on one thread. Rows of one step come from several sequences
// (backends/cuda/batch.h); all pointers are device pointers.
#pragma once

#include <cuda_runtime_api.h>

#include "backends/cuda/batch.h"

namespace gpt2::cuda::tiled {

// out (R, C) = wte[rows[r].token] + wpe[rows[r].pos].
void encoder_forward(float* out, const BatchRow* rows, const float* wte, const float* wpe, int R,
                     int C, cudaStream_t stream);

// What the product does with each output after its sum (bias included).
enum class Epilogue {
  kStore,     // out = sum
  kGelu,      // out = gelu(sum), the reference's tanh form
  kResidual,  // out = residual + sum (out may be residual)
};

// out (T, OC) = epilogue(bias (OC) + inp (T, C) @ weight (OC, C)^T); bias may
// be null (0). Tiles of 64 x 64, 32 x 32, 16 x 64 or 8 x 32 outputs by the shape.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias,
                    const float* residual, Epilogue epilogue, int T, int C, int OC,
                    cudaStream_t stream);

// out (T, C) = layernorm of each row of inp (T, C) (reference/kernels.h's):
// a block per row, its mean and variance summed in order by one thread.
void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                       int C, cudaStream_t stream);

// Each row's key and value (columns C..2C and 2C..3C of qkv (R, 3C)) into its
// sequence's caches of layer `layer`, at its position.
void store_kv(const BatchRow* rows, const BatchSeq* seqs, const float* qkv, int layer, int R, int C,
              cudaStream_t stream);

// Causal attention of every row over its own sequence's keys 0..its position
// (the reference's attention_head_forward): out (R, C), queries in columns
// 0..C of qkv (R, 3C). A block per (row, head): the scores in parallel (each
// dot product in order), their maximum, e^(score - max) in parallel, their
// sum in order on one thread, then one thread per channel sums the weighted
// values in order. max_positions: the longest any row attends over (the
// scores' shared memory).
void attention_forward(float* out, const float* qkv, const BatchRow* rows, const BatchSeq* seqs,
                       int layer, int R, int C, int NH, int max_positions, cudaStream_t stream);

// probs (R, V) = softmax of each row of logits (R, V): the maximum and the
// exponentials in parallel, the sum in order on one thread, then the
// divisions in parallel.
void softmax_forward(float* probs, const float* logits, int R, int V, cudaStream_t stream);

// out (R, C) = inp's rows at_rows[0..R-1] (R, C): the rows whose logits are wanted.
void gather_rows(float* out, const float* inp, const int* at_rows, int R, int C,
                 cudaStream_t stream);

}  // namespace gpt2::cuda::tiled
