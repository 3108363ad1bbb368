// cuda: the fast forward pass on one GPU, float32 or bfloat16 weights. Weights
// uploaded once; the key/value cache and every activation in device memory;
// the matrix products of prompts of 5 or more tokens through cuBLASLt (float32
// compute, TF32 off; bfloat16 on the tensor cores) with the bias, GELU and
// residual fused as epilogues; 1 to 4 rows (decode) through the backend's own
// matrix-vector kernels, which stream each weight once; FlashAttention-style
// prefill and split-key decode attention; each decode step replayed as one
// CUDA graph with its position in device memory; only the last position's
// logits and probabilities cross to the host, into pinned memory. Sums are
// reordered: Numerics::kReordered.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
