// cuda-naive: the forward pass on one GPU with the bit-exact naive kernels
// (naive_kernels.h): the reference's bits, computed by the GPU.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_cuda_naive_backend(std::shared_ptr<const Model> model,
                                                 const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
