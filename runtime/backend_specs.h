// From a command line's backend lists to the specs a run covers: the one place
// where BackendSpecs are made (the tools, sweeps, verify, agreement, golden
// runs and gpt2-microbench all go through here). Adding a sweep axis (GPUs,
// batch size) touches this file, BackendSpec and the report.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace gpt2 {

// What --backend, --precision and --threads say (runtime/lists.h's grammar).
struct BackendRequest {
  std::string backends = "all";        // names, or all: every backend that computes
  std::string precisions = "float32";  // names, or all
  std::string threads = "1";           // a thread list: 4, 1..4, 1,2,4,8
  std::string batches = "1";           // --batch: sequences per step, a list like threads'
  // --devices: GPU counts of a multi-GPU backend (registry.h), a list like
  // threads'; N means GPUs 0..N-1, or with one_gpu N ranks on GPU 0 (--one-gpu).
  std::string devices = "1";
  bool one_gpu = false;
};

struct BackendPlan {
  // By backend (in the order named, or the registry's for all), then
  // precision (in the order named), then thread count (a multi-GPU backend:
  // GPU count), then batch size; a backend that is not threaded (registry.h)
  // at 1 thread only, one that is not multi-GPU on 1 GPU.
  std::vector<BackendSpec> specs;
  // The configurations left out because this machine cannot run them, one
  // line per reason: "skipping cuda-naive, cuda: no CUDA device on this
  // machine", "skipping onednn bfloat16: oneDNN 2.6.0 has no ...".
  std::vector<std::string> skipped;
  std::vector<Precision> precisions;  // the precisions asked for
  std::vector<int> threads;           // the thread counts asked for (ascending)
  std::vector<int> batches;           // the batch sizes asked for (ascending)
  std::vector<int> devices;           // the GPU counts asked for (ascending)
  // The backends of `specs`, each once, in order.
  std::vector<std::string> backends() const;
};

// Applies what each registry entry says (the precisions it offers, whether it
// is threaded, whether this machine can run it at each precision and why not)
// to the request. A backend and precision both named that cannot run here is
// an error; one reached through "all" is skipped and said in `skipped`. A
// backend named that offers none of the precisions is an error; one reached
// through "all" is left out. Throws std::invalid_argument (UnknownBackend for
// an unknown name) with one line, e.g. "Backend blis offers float32, not
// int8w.", "Backend cuda cannot run here: no CUDA device on this machine.",
// "No backend that runs here offers bfloat16.".
BackendPlan expand_backend_specs(const BackendRequest& request);

// One spec, checked as the expansion checks a named backend and precision
// (except whether this machine can run it: make_backend() says so): an
// unknown backend, a precision it does not offer or threads < 1 throw; a
// backend that is not threaded gets 1 thread.
BackendSpec backend_spec(std::string_view backend, Precision precision = Precision::kFloat32,
                         int threads = 1, int batch = 1);
// The devices of `gpus` GPUs for a multi-GPU backend: 0..gpus-1, or with
// one_gpu `gpus` ranks on GPU 0 ({0, 0, ...}).
std::vector<int> gpu_devices(int gpus, bool one_gpu);

// --devices' list: "1", "1..2", "1,2,4" (GPU counts, up to kMaxGpus).
inline constexpr int kMaxGpus = 64;
std::vector<int> parse_device_list(std::string_view text);

// --batch's list: "1", "1,8,32", "1..64:8" (sequences per step, up to
// kMaxBatch of runtime/scheduler.h).
std::vector<int> parse_batch_list(std::string_view text);

// "float32, bfloat16, bf16w, int8w, bf16, all", the names --precision takes.
std::string precision_list_names();
// --precision's list: names or all (every precision).
std::vector<Precision> parse_precision_list(std::string_view text);

}  // namespace gpt2
