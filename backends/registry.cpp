#include "backends/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "backends/cpu/kernels.h"
#include "backends/null/null_backend.h"
#include "backends/openmp/openmp_backend.h"
#include "backends/pthreads/pthreads_backend.h"
#include "backends/reference/reference_backend.h"

#if GPT2_WITH_BLIS
#include "backends/blis/blis_backend.h"
#endif
#if GPT2_WITH_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif
#if GPT2_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_naive_backend.h"
#include "backends/cuda/cuda_tiled_backend.h"
#include "backends/cuda/device.h"
#include "backends/cuda/gpu_ceilings.h"
#endif
#if GPT2_WITH_CUDA_TP
#include "backends/cuda_tp/cuda_tp_backend.h"
#include "backends/cuda_tp/mpi_launch.h"
#endif

namespace gpt2 {

#if GPT2_WITH_CUDA
namespace {
bool cuda_available(Precision, std::string* why) {
  return cuda::device_count(why) > 0;
}
}  // namespace
#endif

const std::vector<BackendEntry>& backend_entries() {
  static const std::vector<BackendEntry> kEntries = {
    {.name = "reference",
     .summary = "the frozen serial reference (llm.c's loops, one thread)",
     .numerics = Numerics::kBitExact,
     .device = Device::kCpu,
     .threaded = false,
     .precisions = {Precision::kFloat32, Precision::kBF16Weights, Precision::kInt8Weights},
     .make = &make_reference_backend},
    {.name = "pthreads",
     .summary = "bit-exact SIMD kernels on a static pool of pthreads",
     .numerics = Numerics::kBitExact,
     .device = Device::kCpu,
     .threaded = true,
     .precisions = {Precision::kFloat32, Precision::kBF16Weights, Precision::kInt8Weights},
     .make = &make_pthreads_backend,
     .cpu_engine = true},
    {.name = "openmp",
     .summary = "the same bit-exact kernels with OpenMP parallel loops",
     .numerics = Numerics::kBitExact,
     .device = Device::kCpu,
     .threaded = true,
     .precisions = {Precision::kFloat32, Precision::kBF16Weights, Precision::kInt8Weights},
     .make = &make_openmp_backend,
     .cpu_engine = true},
#if GPT2_WITH_BLIS
    {.name = "blis",
     .summary = "matrix products through BLIS, the rest on the shared kernels",
     .numerics = Numerics::kReordered,
     .device = Device::kCpu,
     .threaded = true,
     .precisions = {Precision::kFloat32},
     .make = &make_blis_backend,
     .batch_invariance = BatchInvariance::kMeasured,
     .cpu_engine = true},
#endif
#if GPT2_WITH_ONEDNN
    {.name = "onednn",
     .summary = "matrix products through oneDNN (float32 or bfloat16), the rest shared",
     .numerics = Numerics::kReordered,
     .device = Device::kCpu,
     .threaded = true,
     .precisions = {Precision::kFloat32, Precision::kBFloat16},
     .make = &make_onednn_backend,
     .available = &onednn_available,
     .batch_invariance = BatchInvariance::kMeasured,
     .cpu_engine = true},
#endif
#if GPT2_WITH_CUDA
    {.name = "cuda-naive",
     .summary = "one GPU, naive CUDA kernels bit-exact with the reference",
     .numerics = Numerics::kBitExact,
     .device = Device::kCuda,
     .threaded = false,
     .precisions = {Precision::kFloat32},
     .make = &make_cuda_naive_backend,
     .available = &cuda_available},
    {.name = "cuda-tiled",
     .summary = "one GPU, tiled CUDA kernels bit-exact with the reference, batched",
     .numerics = Numerics::kBitExact,
     .device = Device::kCuda,
     .threaded = false,
     .precisions = {Precision::kFloat32},
     .make = &make_cuda_tiled_backend,
     .available = &cuda_available},
    {.name = "cuda",
     .summary = "one GPU, fused batch-invariant kernels, a CUDA graph per decode batch size "
                "(float32 or bfloat16)",
     .numerics = Numerics::kReordered,
     .device = Device::kCuda,
     .threaded = false,
     .precisions = {Precision::kFloat32, Precision::kBFloat16},
     .make = &make_cuda_backend,
     .available = &cuda_available},
#endif
#if GPT2_WITH_CUDA_TP
    {.name = "cuda-tp",
     .summary = "several GPUs, tensor parallel over NCCL (Megatron's layout) with cuda's kernels "
                "(float32 or bfloat16; --devices N)",
     .numerics = Numerics::kReordered,
     .device = Device::kCuda,
     .threaded = false,
     .precisions = {Precision::kFloat32, Precision::kBFloat16},
     .make = &make_cuda_tp_backend,
     .available = &cuda_available,
     .multi_gpu = true},
#endif
    {.name = "null",
     .summary = "fixed logits, no computation (measures the harness's overhead)",
     .numerics = Numerics::kNone,
     .device = Device::kCpu,
     .threaded = false,
     .precisions = {Precision::kFloat32},
     .make = &make_null_backend},
  };
  return kEntries;
}

bool backend_available(const BackendEntry& entry, Precision precision, std::string* why) {
  return entry.available == nullptr || entry.available(precision, why);
}

bool offers_precision(const BackendEntry& entry, Precision p) {
  return std::find(entry.precisions.begin(), entry.precisions.end(), p) != entry.precisions.end();
}

std::string offered_precisions(const BackendEntry& entry) {
  std::string out;
  for (Precision p : entry.precisions)
    out += (out.empty() ? "" : ", ") + std::string(precision_name(p));
  return out;
}

std::optional<Precision> parse_precision(std::string_view name) {
  for (Precision p : all_precisions()) {
    if (name == precision_name(p)) return p;
  }
  if (name == "bf16") return Precision::kBFloat16;
  return std::nullopt;
}

std::string precision_names_joined() {
  std::string out;
  for (Precision p : all_precisions())
    out += (out.empty() ? "" : ", ") + std::string(precision_name(p));
  return out;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const BackendEntry& e : backend_entries()) names.emplace_back(e.name);
  return names;
}

std::string backend_names_joined(std::string_view sep) {
  std::string out;
  for (const BackendEntry& e : backend_entries()) {
    if (!out.empty()) out += sep;
    out += e.name;
  }
  return out;
}

const BackendEntry& find_backend(std::string_view name) {
  for (const BackendEntry& e : backend_entries()) {
    if (e.name == name) return e;
  }
  throw UnknownBackend("Unknown backend '" + std::string(name) +
                       "' (known: " + backend_names_joined() + ").");
}

std::unique_ptr<Backend> make_backend(std::shared_ptr<const Model> model, const BackendSpec& spec) {
  const BackendEntry& entry = find_backend(spec.backend);
  const std::string& name = spec.backend;
  if (spec.threads < 1) {
    throw std::invalid_argument("backend " + name + ": threads must be at least 1");
  }
  if (!offers_precision(entry, spec.precision)) {
    throw std::invalid_argument("backend " + name + " offers " + offered_precisions(entry) +
                                ", not " + precision_name(spec.precision));
  }
  if (std::string why; !backend_available(entry, spec.precision, &why)) {
    throw std::runtime_error("backend " + name + ": " + why + ".");
  }
  BackendInfo info;
  info.name = std::string(entry.name);
  info.numerics = entry.numerics;
  info.batch_invariance = entry.batch_invariance;
  info.device = entry.device;
  info.precision = spec.precision;
  info.threads = entry.threaded ? spec.threads : 1;
  return entry.make(std::move(model), spec, std::move(info));
}

std::optional<GpuCeilings> measure_gpu_ceilings([[maybe_unused]] int device) {
#if GPT2_WITH_CUDA
  if (cuda::device_count(nullptr) == 0) return std::nullopt;
  return cuda::measure_gpu_ceilings(device);
#else
  return std::nullopt;
#endif
}

std::optional<int> enter_launcher([[maybe_unused]] int argc, [[maybe_unused]] char** argv) {
#if GPT2_WITH_CUDA_TP
  return tp::mpi_enter(argc, argv);
#else
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size != nullptr && std::atoi(size) > 1) {
    std::fprintf(stderr,
                 "error: started by mpirun, but this build has no cuda-tp backend (no "
                 "NCCL or no CUDA toolkit at configure time).\n");
    return 1;
  }
  return std::nullopt;
#endif
}

const char* cpu_kernels_isa() {
  return cpu::isa_name(cpu::best_isa());
}

}  // namespace gpt2
