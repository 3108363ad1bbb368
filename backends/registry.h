// Backends by name. registry.cpp is the one place that knows them all (and the
// only place with #if GPT2_WITH_<X>): each entry states what its backend is,
// what it offers and whether this machine can run it, once.
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
  bool threaded;                      // whether the spec's threads change anything
  std::vector<Precision> precisions;  // what it offers (every one offers float32)
  // Makes the backend for a spec that make_backend() has checked against this
  // entry (a precision it offers, threads >= 1, available here). `info` comes
  // filled in from the entry and the spec (name, numerics, device, precision,
  // threads); the factory adds what it alone knows (details, GPUs, the threads
  // it really runs) and keeps it.
  std::unique_ptr<Backend> (*make)(std::shared_ptr<const Model> model, const BackendSpec& spec,
                                   BackendInfo info);
  // Whether this machine can run it at a precision it offers (a GPU backend
  // needs a GPU, oneDNN's bfloat16 a CPU it has a bfloat16 product for); if
  // not, why not, as a clause ("no CUDA device on this machine"). Null: always.
  bool (*available)(Precision precision, std::string* why) = nullptr;
  // Whether a batched step changes a sequence's outputs (BatchInvariance,
  // backend.h): kYes is a promise that verify --batch and BatchTest hold.
  BatchInvariance batch_invariance = BatchInvariance::kYes;
  // Whether it runs the shared CPU forward pass (backends/cpu: a CpuBackend
  // whose engine's layers tests and gpt2-microbench can run one by one).
  bool cpu_engine = false;
  // Whether it runs on several GPUs at once: the spec's devices are then a
  // sweep axis (--devices), as threads are for a threaded backend.
  bool multi_gpu = false;
};

// Whether `entry` can run here at `precision` (which it offers); `why` says
// why not.
bool backend_available(const BackendEntry& entry, Precision precision, std::string* why = nullptr);

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

// Throws UnknownBackend for an unknown name.
const BackendEntry& find_backend(std::string_view name);

// The one way a backend is made. Throws UnknownBackend for an unknown name,
// std::invalid_argument for a spec the backend cannot take (threads < 1, a
// precision it lacks), std::runtime_error for one this machine cannot run
// ("backend cuda: no CUDA device on this machine.") or that does not fit (GPU
// memory).
std::unique_ptr<Backend> make_backend(std::shared_ptr<const Model> model, const BackendSpec& spec);

// GPU `device`'s own ceilings (backends/cuda/gpu_ceilings.h: a device-to-device
// copy, cuBLAS float32 and bfloat16 products), measured now in a second or two;
// nullopt when this binary has no CUDA backend or this machine no CUDA device.
// Throws std::runtime_error for a device that does not exist or memory that
// does not fit, or a failed CUDA call.
std::optional<GpuCeilings> measure_gpu_ceilings(int device);

// Call first in a tool's main: under an MPI launch (mpirun -n N, for cuda-tp
// across processes) rank 0 gets nullopt and runs the tool, the other ranks
// serve its backends and get their exit status; without a launch, nullopt.
std::optional<int> enter_launcher(int argc, char** argv);

// The instruction set the shared CPU kernels (backends/cpu/) choose on this
// machine: "avx512", "avx2" or "generic". For the reports' machine facts.
const char* cpu_kernels_isa();

}  // namespace gpt2
