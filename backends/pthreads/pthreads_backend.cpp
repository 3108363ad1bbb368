#include "backends/pthreads/pthreads_backend.h"

#include <stdexcept>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/packed_linear.h"
#include "backends/pthreads/thread_pool.h"

namespace gpt2 {

std::unique_ptr<Backend> make_pthreads_backend(std::shared_ptr<const Model> model,
                                               const BackendConfig& config) {
  if (config.precision != Precision::kFloat32) {
    throw std::invalid_argument("backend pthreads: only float32 (it is bit-exact)");
  }
  auto engine = std::make_shared<cpu::Engine>();
  engine->model = model;
  engine->executor = std::make_unique<ThreadPool>(config.threads);
  engine->kernels = &cpu::best_kernels();
  engine->linear = std::make_unique<cpu::PackedLinear>(model, *engine->kernels, *engine->executor);
  BackendInfo info;
  info.name = "pthreads";
  info.numerics = Numerics::kBitExact;
  info.threads = config.threads;
  info.details = "static pool of " + std::to_string(config.threads) +
                 " threads (mutex + condition variables), " + engine->linear->details();
  return std::make_unique<cpu::CpuBackend>(std::move(info), std::move(engine));
}

}  // namespace gpt2
