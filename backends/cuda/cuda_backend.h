// cuda: the fast forward pass on one GPU, float32 or bfloat16 weights,
// batched and batch-invariant. Weights uploaded once; each sequence's
// key/value cache and every activation in device memory; every matrix
// product through the backend's own kernels (fast_kernels.h), whose sum for
// an output has one order whatever the number of rows, with the layernorms,
// the key/value store, the bias, GELU and residual fused into them;
// FlashAttention-style prefill and split-key decode attention; the rows of
// every sequence of a step in the same launches; each decode step replayed as
// one CUDA graph per bucket of batch sizes, its rows and positions in device
// memory; only the output rows' logits and probabilities cross to the host,
// into pinned memory. Sums are reordered (Numerics::kReordered), but a
// sequence's bits are the same at every batch size (BatchInvariance::kYes).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
