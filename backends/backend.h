// The forward-pass interface every backend implements, the reference included.
//
// A Backend is made for one model and one BackendSpec (precision, threads,
// devices). It prepares the shared const weights once (it may repack them)
// and opens Sessions. A Session owns its scratch buffers and key/value cache and
// turns new tokens at given positions into the logits and probabilities of the
// last one. Generation and decision rules live in the runtime (runtime/),
// verification and measurement in the harness (harness/).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reference/model.h"
#include "reference/quantize.h"

namespace gpt2 {

// How a backend's logits relate to the reference's.
enum class Numerics {
  kBitExact,   // the same bits: every sum in the reference's order
  kReordered,  // sums reordered (BLAS, other precisions): close, not equal
  kNone,       // computes nothing (the null backend)
};
const char* numerics_name(Numerics n);

// Whether a sequence's outputs in a batched step (Backend::forward_batch) are
// the bits it gets alone (Session::forward), whatever else is in the step.
enum class BatchInvariance {
  kYes,       // promised, bit for bit: by construction (the bit-exact backends, the
              // default loop) or by design (cuda's one order of every sum at any row
              // count); verify --batch fails a reordering backend's row on any step
              // whose bits move, and BatchTest holds it bit for bit
  kMeasured,  // not promised: a library may choose other kernels for other row counts;
              // gpt2-bench verify --batch measures and reports it
};
const char* batch_invariance_name(BatchInvariance b);  // "yes", "measured"

// What a backend computes in (README: "Precisions").
enum class Precision {
  kFloat32,      // "float32": the checkpoint's weights, float32 everywhere
  kBFloat16,     // "bfloat16": matrix products in bfloat16 (a library's own sums)
  kBF16Weights,  // "bf16w": weight-only bfloat16, defined by reference/quantize.h
  kInt8Weights,  // "int8w": weight-only int8 per output row, defined by reference/quantize.h
};
const char* precision_name(Precision p);
// Every precision, in the order above.
const std::vector<Precision>& all_precisions();
// The weights a precision's products read: bf16w and int8w their formats,
// float32 and bfloat16 the checkpoint's float32 (bfloat16 converts them itself).
WeightFormat weight_format(Precision p);
// Whether the reference defines the precision (float32, bf16w, int8w): it then
// has its own goldens, bit-exact backends run it, and verify gates its tokens.
bool reference_precision(Precision p);

// What a backend computes on. The harness runs every backend the same way;
// it reads this to pick backends by what they are and to report the GPUs.
enum class Device { kCpu, kCuda };
const char* device_name(Device d);  // "cpu", "cuda"

// One GPU as reports describe it.
struct GpuInfo {
  int index = 0;                   // the CUDA device number
  std::string name;                // "NVIDIA H100 80GB HBM3"
  std::string compute_capability;  // "9.0"
  int sm_count = 0;
  std::size_t memory_bytes = 0;
  std::size_t l2_bytes = 0;
  int memory_bus_bits = 0;
  int sm_clock_mhz = 0;             // peak
  int memory_clock_mhz = 0;         // peak
  std::string driver_cuda_version;  // the CUDA version the driver supports, "13.0"
  std::string runtime_version;      // the CUDA runtime this binary uses, "13.0"
};

// What one GPU allows, measured in the same run as a sweep (README: "The
// machine's ceiling in every sweep"), so that a GPU row's % of ceiling compares
// it with its own GPU, not with the CPU.
struct GpuCeilings {
  int device = 0;              // the CUDA device number
  std::string name;            // "NVIDIA H100 80GB HBM3"
  std::size_t copy_bytes = 0;  // the size of the device-to-device copy
  double copy_gb_s = 0;        // GB/s (1e9 bytes), bytes read plus bytes written
  int gemm_n = 0;              // the products are n x n x n
  double fp32_gflops = 0;      // cuBLAS float32, TF32 off; each multiply and add counted
  double bf16_gflops = 0;      // cuBLAS bfloat16 in, float32 accumulate and out
  double seconds = 0;          // how long the measurement took
};

// "1 thread", "4 threads": the thread count as the details lines and labels
// write it.
std::string threads_text(int threads);

// "2 GPUs", "1 GPU", "4 ranks on GPU 0" (a device list that repeats one GPU).
std::string devices_text(const std::vector<int>& devices);

// What a backend is made with: which one, at what precision, on how many CPU
// threads and which GPUs. A value: runtime/backend_specs.h makes them (from a
// command line's lists, or one at a time) with what the registry says of each
// backend, and make_backend() (registry.h) turns one into a backend. The next
// sweep axes (GPUs, batch size) are fields here and lists there.
struct BackendSpec {
  std::string backend;
  Precision precision = Precision::kFloat32;
  int threads = 1;                 // CPU threads (GPU backends: the host thread that drives them)
  std::vector<int> devices = {0};  // GPU backends: the CUDA devices to run on
  // Sequences advanced together per step (runtime/scheduler.h): how a run
  // uses the backend, not how it is made (make_backend() ignores it).
  int batch = 1;
  bool operator==(const BackendSpec&) const = default;
};
// "pthreads int8w 4 threads", "onednn bfloat16 2 threads batch 8": as
// progress lines and messages name a configuration.
std::string spec_label(const BackendSpec& spec);

// What a backend is, once made: its registry entry's name, numerics, batch
// invariance and device and its spec's precision (make_backend() fills them in), and what only the
// backend knows: the threads it really runs, its GPUs, its details.
struct BackendInfo {
  std::string name;
  Numerics numerics = Numerics::kBitExact;
  BatchInvariance batch_invariance = BatchInvariance::kYes;  // its entry's declaration
  Precision precision = Precision::kFloat32;
  int threads = 1;  // the threads it really runs on
  Device device = Device::kCpu;
  std::vector<GpuInfo> gpus;  // the GPUs it runs on (none for CPU backends)
  int ranks = 1;              // a multi-GPU backend's ranks (GPUs, or ranks sharing one)
  std::string details;        // kernel variant, library and threading, as a person reads it
};

// What a made backend runs on, as a label: "4 threads", or a multi-GPU
// backend's (registry.h) "2 GPUs", "1 GPU", "4 ranks on 1 GPU".
std::string workers_text(const BackendInfo& info, bool multi_gpu);

// Every backend, GPU ones too, returns the logits and probabilities of the
// last position in host memory: the harness's decision rules run on the host,
// and every timing counts that copy.
class Session {
 public:
  virtual ~Session() = default;
  // Runs tokens (n >= 1) at positions pos .. pos+n-1 and writes logits (V) and
  // probs (V) of position pos+n-1. The session holds the keys and values of
  // positions < cached(); requires pos <= cached() and pos+n <= capacity. pos = 0
  // recomputes everything. Throws std::invalid_argument on bad arguments
  // (every backend checks them with reference/forward.h's check_forward_args).
  virtual void forward(std::span<const int> tokens, int pos, std::span<float> logits,
                       std::span<float> probs) = 0;
  virtual int cached() const = 0;
  virtual int capacity() const = 0;
};

// One sequence's part of a batched step (Backend::forward_batch): what
// Session::forward takes, for one of several sessions at once.
struct SequenceStep {
  Session* session = nullptr;   // one of this backend's, at most once per step
  std::span<const int> tokens;  // n >= 1 new tokens at positions pos .. pos+n-1
  int pos = 0;                  // <= the session's cached(); 0 recomputes everything
  // V logits of the last position; with all_positions, n x V: position pos+j's
  // in row j (for scoring a text).
  std::span<float> logits;
  std::span<float> probs;  // V: the last position's softmax, or empty: not computed
  bool all_positions = false;
};

// The checks of forward_batch's arguments that every backend makes before any
// work (each step's check_forward_args, no session twice, output sizes).
void check_batch_steps(const ModelConfig& config, std::span<const SequenceStep> steps);

// One copy of Backend::copy_caches: `to` then holds the keys and values of the
// first `positions` positions of `from`'s cache, and to->cached() == positions
// (what `to` held before is gone). Beam search forks a beam this way: the
// child's session takes its parent's cache (runtime/beam_search.h).
struct CacheCopy {
  const Session* from = nullptr;
  Session* to = nullptr;
  int positions = 0;  // in [0, from->cached()] and <= to->capacity()
};

// The checks of copy_caches' arguments that every backend makes before any
// copy: both sessions given and distinct, positions in range, no session a
// destination twice or both a source and a destination (so the copies of one
// call may run in any order, or at once).
void check_cache_copies(std::span<const CacheCopy> copies);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendInfo& info() const = 0;
  virtual const Model& model() const = 0;
  // A session for sequences of up to `capacity` positions (<= max_seq_len).
  // Sessions share the backend's threads: when info().threads > 1, use them
  // from one thread at a time. A session must not outlive its backend's model.
  virtual std::unique_ptr<Session> open_session(int capacity) const = 0;
  // Advances each step's session by its tokens, in one call: sequences of any
  // lengths and positions together (prompts and decodes alike). What each
  // sequence gets must not depend on the others: a bit-exact backend gives each
  // the bits it gets alone (Session::forward), whatever the batch; whether a
  // reordering backend's rows stay invariant its registry entry declares
  // (BatchInvariance, registry.h) and verify --batch measures. This default
  // runs the steps one after another through Session::forward (with
  // all_positions, one position at a time from the cache), so every backend
  // batches; a backend that can stack the sequences' rows overrides it.
  // Throws std::invalid_argument on bad arguments (check_forward_args, a
  // session given twice or of another backend), before any work.
  virtual void forward_batch(std::span<const SequenceStep> steps) const;
  // Makes each copy's `to` session hold the first positions of its `from`'s
  // cache (CacheCopy), all of them sessions of this backend, and returns when
  // they are done. A copy moves the bytes of the cache as they are, so a
  // forked sequence computes exactly what its parent would have. Throws
  // std::invalid_argument on bad arguments (check_cache_copies, a session of
  // another backend), before any copy.
  virtual void copy_caches(std::span<const CacheCopy> copies) const = 0;
  // The bytes free now where the backend's sessions keep their caches when
  // that is not the host's memory (a GPU backend: its GPU's free memory), so
  // that a batch that cannot fit is refused before any work; nullopt for CPU
  // backends (the machine's available memory is theirs).
  virtual std::optional<std::size_t> device_memory_free() const { return std::nullopt; }
};

}  // namespace gpt2
