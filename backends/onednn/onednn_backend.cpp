#include "backends/onednn/onednn_backend.h"

#include <stdexcept>
#include <string>

#include "backends/cpu/cpu_backend.h"
#include "backends/onednn/onednn_linear.h"
#include "backends/openmp/openmp_backend.h"

namespace gpt2 {

std::unique_ptr<Backend> make_onednn_backend(std::shared_ptr<const Model> model,
                                             const BackendConfig& config) {
  if (config.precision != Precision::kFloat32 && config.precision != Precision::kBFloat16) {
    throw std::invalid_argument(std::string("backend onednn offers float32, bfloat16, not ") +
                                precision_name(config.precision));
  }
  auto engine = std::make_shared<cpu::Engine>();
  engine->model = model;
  engine->executor = std::make_unique<OpenMpExecutor>(config.threads);
  engine->kernels = &cpu::best_kernels();
  auto linear =
      std::make_unique<OnednnLinear>(model, config.precision, config.threads, *engine->kernels);
  BackendInfo info;
  info.name = "onednn";
  info.numerics = Numerics::kReordered;
  info.precision = config.precision;
  info.threads = config.threads;
  info.details = linear->details() + "; the other layers: OpenMP loops on " +
                 threads_text(config.threads) + " (the team oneDNN's threads come from), " +
                 std::string(cpu::isa_name(engine->kernels->isa)) + " float32 kernels";
  engine->linear = std::move(linear);
  return std::make_unique<cpu::CpuBackend>(std::move(info), std::move(engine));
}

}  // namespace gpt2
