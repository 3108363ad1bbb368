// The onednn backend: the forward pass of backends/cpu with its matrix products
// through oneDNN (onednn_linear.h), float32 or bfloat16, and every other layer
// on the shared float32 kernels.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace gpt2 {

// Whether oneDNN can run `precision` here: float32 always; bfloat16 when
// oneDNN itself can make a bfloat16 matrix product on this CPU (asked once:
// oneDNN 2.6 has none without AVX512_BF16 or AVX-512, nor under
// ONEDNN_MAX_CPU_ISA=AVX2); if not, why not.
bool onednn_available(Precision precision, std::string* why);

std::unique_ptr<Backend> make_onednn_backend(std::shared_ptr<const Model> model,
                                             const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
