#include "backends/pthreads/pthreads_backend.h"

#include "backends/cpu/cpu_backend.h"
#include "backends/pthreads/thread_pool.h"

namespace gpt2 {

std::unique_ptr<Backend> make_pthreads_backend(std::shared_ptr<const Model> model,
                                               const BackendSpec& spec, BackendInfo info) {
  return cpu::make_bit_exact_backend(
      std::move(model), std::move(info), std::make_unique<ThreadPool>(spec.threads),
      "static pool of " + threads_text(spec.threads) + " (mutex + condition variables)");
}

}  // namespace gpt2
