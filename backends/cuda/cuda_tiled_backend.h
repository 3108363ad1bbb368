// cuda-tiled: the course's second rung on one GPU, batched and still bit-exact
// with the reference (tiled_kernels.h): matrix products tiled through shared
// memory with register blocking, each output's sum in the reference's order
// with no FMA; attention and the softmax parallel except their sums. Every
// sequence of a step runs in the same launches (its rows stacked, each over
// its own cache), so a row's bits are the reference's at every batch size.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_cuda_tiled_backend(std::shared_ptr<const Model> model,
                                                 const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
