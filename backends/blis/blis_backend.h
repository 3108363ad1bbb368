// The blis backend: the forward pass of backends/cpu with its matrix products
// through BLIS (blis_linear.h) and every other layer on the shared kernels.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_blis_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
