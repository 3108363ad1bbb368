// Backends by name. registry.cpp is the one place that knows them all (and the
// only place with #if GPT2_WITH_<X>).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace gpt2 {

// An unknown backend name; what() lists the known ones.
class UnknownBackend : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct BackendEntry {
  std::string_view name;
  std::string_view summary;  // one line for --help
  Numerics numerics;
  Device device;                      // what it computes on
  bool threaded;                      // whether --threads changes anything
  std::vector<Precision> precisions;  // what it offers (every one offers float32)
  std::unique_ptr<Backend> (*make)(std::shared_ptr<const Model>, const BackendConfig&);
  // Whether this machine can run it (a GPU backend needs a GPU); if not, why
  // not. Null: always.
  bool (*available)(std::string* why) = nullptr;
  // Whether it runs the shared CPU forward pass (backends/cpu: a CpuBackend
  // whose engine's layers tests and gpt2-microbench can run one by one).
  bool cpu_engine = false;
};

// Whether `entry` can run here; `why` says why not.
bool backend_available(const BackendEntry& entry, std::string* why = nullptr);

// Every backend built into this binary, in a stable order (reference first).
const std::vector<BackendEntry>& backend_entries();
std::vector<std::string> backend_names();
std::string backend_names_joined(std::string_view sep = ", ");

// Whether the backend runs at precision p.
bool offers_precision(const BackendEntry& entry, Precision p);
// "float32, bf16w, int8w": the precisions it offers, for error messages.
std::string offered_precisions(const BackendEntry& entry);
// "float32", "bfloat16" (or its short name "bf16"), "bf16w", "int8w"; nullopt
// otherwise.
std::optional<Precision> parse_precision(std::string_view name);
// "float32, bfloat16, bf16w, int8w": every name parse_precision() knows.
std::string precision_names_joined();

// Throws UnknownBackend for an unknown name, std::invalid_argument for a config
// the backend cannot run (threads < 1, a precision it lacks), std::runtime_error
// for a backend this machine cannot run ("backend cuda: no CUDA device on this
// machine.") or that does not fit (GPU memory).
const BackendEntry& find_backend(std::string_view name);
std::unique_ptr<Backend> make_backend(std::string_view name, std::shared_ptr<const Model> model,
                                      const BackendConfig& config);

// GPU `device`'s own ceilings (backends/cuda/gpu_ceilings.h: a device-to-device
// copy, cuBLAS float32 and bfloat16 products), measured now in a second or two;
// nullopt when this binary has no CUDA backend or this machine no CUDA device.
// Throws std::runtime_error for a device that does not exist or memory that
// does not fit, or a failed CUDA call.
std::optional<GpuCeilings> measure_gpu_ceilings(int device);

// The instruction set the shared CPU kernels (backends/cpu/) choose on this
// machine: "avx512", "avx2" or "generic". For the reports' machine facts.
const char* cpu_kernels_isa();

}  // namespace gpt2
