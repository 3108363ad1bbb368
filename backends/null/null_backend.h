// The null backend: fixed logits, no computation. It measures the harness's
// own overhead per step (generation loop, decision rule, bookkeeping).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_null_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
