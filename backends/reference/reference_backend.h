// The frozen serial reference as a backend: one thread, llm.c's loops.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

// Ignores config.threads (it is serial; info().threads says 1). Refuses bf16.
std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const Model> model,
                                                const BackendConfig& config);

}  // namespace gpt2
