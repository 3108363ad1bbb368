// The tensor-parallel layers' own kernels (the products and attention are the
// cuda backend's, backends/cuda/fast_kernels.h). Device pointers.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace gpt2::tp {

// x (R, C) = (sum (R, C) + bias (C)) + x: the bias added once after an
// all-reduce, then the residual (the fused epilogue's order, kBiasResidual).
void add_bias_residual(float* x, const float* sum, const float* bias, int R, int C,
                       cudaStream_t stream);

// out (O, V) from the all-gathered logits: rank r's (O, count_r) rows at
// gathered + r * O * chunk, count_r = min(chunk, V - r * chunk).
void unshard_vocab(float* out, const float* gathered, int O, int V, int chunk, cudaStream_t stream);

// out (count) = ins[0] + ins[1] + ... + ins[n-1], in that order (n <= kMaxSumInputs).
inline constexpr int kMaxSumInputs = 64;
void sum_buffers(float* out, const float* const* ins, int n, std::size_t count,
                 cudaStream_t stream);

}  // namespace gpt2::tp
