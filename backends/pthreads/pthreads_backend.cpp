#include "backends/pthreads/pthreads_backend.h"

#include "backends/cpu/cpu_backend.h"
#include "backends/pthreads/thread_pool.h"

namespace gpt2 {

std::unique_ptr<Backend> make_pthreads_backend(std::shared_ptr<const Model> model,
                                               const BackendConfig& config) {
  return cpu::make_bit_exact_backend(
      "pthreads", std::move(model), config, std::make_unique<ThreadPool>(config.threads),
      "static pool of " + threads_text(config.threads) + " (mutex + condition variables)");
}

}  // namespace gpt2
