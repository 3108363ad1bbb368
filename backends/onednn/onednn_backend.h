// The onednn backend: the forward pass of backends/cpu with its matrix products
// through oneDNN (onednn_linear.h), float32 or bfloat16, and every other layer
// on the shared float32 kernels.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_onednn_backend(std::shared_ptr<const Model> model,
                                             const BackendConfig& config);

}  // namespace gpt2
