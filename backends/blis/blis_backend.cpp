#include "backends/blis/blis_backend.h"

#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "backends/blis/blis_linear.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/openmp/openmp_backend.h"

namespace gpt2 {

namespace {

// The CPUs this process may run on.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

std::unique_ptr<Backend> make_blis_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info) {
  // BLIS's threads busy-wait at the barriers inside every product: with more
  // threads than CPUs, each barrier waits for a descheduled thread's turn, and
  // a forward pass slows by orders of magnitude. So the backend runs on at most
  // as many threads as there are CPUs, and says so.
  const int cpus = usable_cpus();
  const int threads = std::min(spec.threads, cpus);
  auto engine = std::make_shared<cpu::Engine>();
  engine->model = model;
  engine->executor = std::make_unique<OpenMpExecutor>(threads);
  engine->kernels = &cpu::best_kernels();
  auto linear = std::make_unique<BlisLinear>(model, *engine->kernels);
  const ModelConfig& c = model->config();
  const int used = BlisLinear::gemm_threads(128, 3 * c.channels, c.channels, threads);
  info.threads = threads;
  info.details = linear->details() + "; BLIS runs a 128-token qkv gemm on " + std::to_string(used) +
                 " thread" + (used == 1 ? "" : "s") + "; the other layers: OpenMP loops on " +
                 std::to_string(threads) + " thread" + (threads == 1 ? "" : "s") +
                 " (the team BLIS's threads come from), " +
                 std::string(cpu::isa_name(engine->kernels->isa)) + " kernels";
  if (threads < spec.threads) {
    info.details += "; " + threads_text(spec.threads) + " asked for, " + std::to_string(threads) +
                    " run: this process may use " + std::to_string(cpus) + " CPU" +
                    (cpus == 1 ? "" : "s") + " and BLIS's threads busy-wait at barriers";
  }
  engine->linear = std::move(linear);
  return std::make_unique<cpu::CpuBackend>(std::move(info), std::move(engine));
}

}  // namespace gpt2
