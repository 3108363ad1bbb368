#include "backends/onednn/onednn_backend.h"

#include <string>

#include "backends/cpu/cpu_backend.h"
#include "backends/onednn/onednn_linear.h"
#include "backends/openmp/openmp_backend.h"

namespace gpt2 {

bool onednn_available(Precision precision, std::string* why) {
  return precision != Precision::kBFloat16 || OnednnLinear::bf16_available(why);
}

std::unique_ptr<Backend> make_onednn_backend(std::shared_ptr<const Model> model,
                                             const BackendSpec& spec, BackendInfo info) {
  auto engine = std::make_shared<cpu::Engine>();
  engine->model = model;
  engine->executor = std::make_unique<OpenMpExecutor>(spec.threads);
  engine->kernels = &cpu::best_kernels();
  auto linear =
      std::make_unique<OnednnLinear>(model, spec.precision, spec.threads, *engine->kernels);
  info.details = linear->details() + "; the other layers: OpenMP loops on " +
                 threads_text(spec.threads) + " (the team oneDNN's threads come from), " +
                 std::string(cpu::isa_name(engine->kernels->isa)) + " float32 kernels";
  engine->linear = std::move(linear);
  return std::make_unique<cpu::CpuBackend>(std::move(info), std::move(engine));
}

}  // namespace gpt2
