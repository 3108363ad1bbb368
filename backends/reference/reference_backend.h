// The frozen serial reference as a backend: one thread, llm.c's loops.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

// Serial (info().threads is 1), at the precisions the reference defines.
std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const Model> model,
                                                const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
