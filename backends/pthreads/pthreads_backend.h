// The pthreads backend: the shared bit-exact kernels on a static pool of k
// worker threads (thread_pool.h), created once per backend.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_pthreads_backend(std::shared_ptr<const Model> model,
                                               const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
