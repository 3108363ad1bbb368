// The speedup sweep behind `gpt2-bench`: a workload run on backends x thread
// counts x modes, timed (model loading and weight packing excluded), with the
// tokens checked against the goldens (or the reference) on every run.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "harness/ceilings.h"
#include "harness/goldens.h"
#include "harness/stats.h"
#include "runtime/beam_search.h"
#include "runtime/generate.h"

namespace gpt2 {

struct Workload {
  std::vector<Prompt> prompts;  // each completed to its n
  Rule rule = Rule::kMedian;
  // Beam search in place of the rule (runtime/beam_search.h): each prompt's K
  // beams are sequences of one batch (a row's batch B: B prompts' beams at
  // once). Its rows' tokens/s count every beam's token at every step, its
  // tokens are the best hypothesis's (checked against the reference's), and
  // its FLOPs count every beam as a sequence of its own that shares the
  // prompt's pass, to the length limit (an upper bound when a search stops
  // early).
  std::optional<BeamOptions> beams;
  int reps = 5;            // timed runs per configuration
  int warmup = 1;          // untimed runs before them
  int reference_reps = 5;  // timed runs of the serial reference
  // Each backend's thread counts prepared at once and their timed runs taken in
  // turns (1, 2, .., k, then k, .., 1, ...) rather than one count's runs back to
  // back: on a machine whose speed drifts, the speedups then compare runs of
  // the same minutes. Holds one instance (packed weights) per thread count.
  bool interleave = false;
  int new_tokens() const;  // per run, all prompts
  // Positions run through the model per run, all prompts: recompute runs the
  // whole sequence at every step; kv-cache the prompt once, then one position
  // per step (with one new token, that is the prompt's prefill).
  long positions(Mode mode) const;
  // Floating-point operations per run, all prompts: the matrix products and
  // attention (each multiply and add counted; layernorm, GELU and softmax left
  // out), with the logits of one position per forward, as every backend does.
  double flops(Mode mode, const ModelConfig& config) const;
  std::string describe() const;
};

// Whether a configuration's output agrees with what it should be.
enum class Check { kYes, kNo, kNotApplicable };
const char* check_name(Check c);

// The bytes of weights one forward pass reads: every matrix (wte's V rows for
// the logits) at the precision's width (4 bytes; bfloat16 and bf16w 2; int8w 1
// and a float32 scale per output row), biases and layernorm parameters in
// float32. Every forward reads each of them once, in both modes.
double weight_bytes_per_forward(const ModelConfig& config, Precision precision);
// The bytes of one rows x cols weight matrix at the precision's width (4;
// bfloat16 and bf16w 2; int8w 1 and a float32 scale per row).
double matrix_weight_bytes(Precision precision, double rows, double cols);

// The operations of one forward pass of n positions after pos cached ones.
double forward_flops(const ModelConfig& config, long pos, long n);

// What bounds a measurement on the roofline, and how close it came: the bytes
// of weights it read over the bandwidth, or its FLOPs over the peak its
// numerics can use, whichever takes longer. CPU rows: the read bandwidth at
// their thread count, and bit-exact float32: separate multiply and add;
// reordered float32: FMA; bfloat16: the bfloat16 peak. GPU rows: their GPU's
// copy bandwidth, and cuBLAS's float32 or bfloat16 peak.
struct RowCeiling {
  std::string bound;  // "memory" or "compute"; empty when unknown
  // "read bandwidth", "fp32 mul+add peak", "fp32 FMA peak", "bf16 peak";
  // GPU rows: "GPU copy bandwidth", "cuBLAS fp32 peak", "cuBLAS bf16 peak"
  std::string name;
  std::string unit;     // "GB/s" or "GFLOP/s"
  double value = 0;     // the ceiling at the measurement's thread count (or GPU)
  double achieved = 0;  // the measurement's weights GB/s or GFLOP/s
  double percent = 0;   // 100 * achieved / value
  bool known() const { return !bound.empty(); }
  // "bw", "mul+add", "fma", "bf16"; GPU rows: "copy", "fp32", "bf16"
  std::string short_name() const;
};

struct Measurement {
  std::string backend;
  Precision precision = Precision::kFloat32;
  Mode mode = Mode::kRecompute;
  int threads = 1;            // the threads the backend really used
  int gpus = 1;               // a multi-GPU backend's GPUs (its ranks)
  bool multi_gpu = false;     // whether its backend scales with GPUs (registry.h): its axis
  std::string workers_label;  // "2 GPUs", "4 ranks on 1 GPU", "4 threads" (workers_text)
  // The row's scaling axis' count: GPUs for a multi-GPU backend, else threads.
  int workers() const { return multi_gpu ? gpus : threads; }
  int batch = 1;          // sequences per step (1: each prompt alone, one after another)
  int sequences = 0;      // sequences per run (batched_workload's)
  long steps = 0;         // forward passes (batched steps) per run
  bool threaded = false;  // whether its backend scales with threads (registry.h): a plotted line
  BackendInfo info;
  std::vector<double> samples;         // seconds per run
  std::vector<double> decode_samples;  // seconds per run after each sequence's first step
  Stats stats;
  Check tokens = Check::kNotApplicable;               // all timed runs gave the golden tokens
  Check logits = Check::kNotApplicable;               // bit-exact: logits hashes equal the goldens'
  double pack_seconds = 0;                            // backend preparation (not timed in samples)
  std::map<std::string, std::vector<int>> generated;  // prompt id -> new tokens (last run)
  // Derived, relative to other measurements of the sweep (0 when unknown).
  double tokens_per_second = 0;               // new tokens of all sequences per second
  double tokens_per_second_per_sequence = 0;  // tokens_per_second / the sequences in flight
  double ms_per_step = 0;                     // median / steps
  // New tokens after each sequence's first, over the decode time (median of
  // decode_samples): llama-batched-bench's S_TG. 0 when the sequences did not
  // all start in the first step (more of them than the batch).
  double decode_tokens_per_second = 0;
  double positions_per_second = 0;   // Workload::positions / median
  double weights_gb_per_second = 0;  // steps x weight bytes per forward / median
  double flops_per_run = 0;          // Workload::flops
  double gflop_per_second = 0;       // flops_per_run / median
  RowCeiling ceiling;                // when the sweep measured the ceilings
  double speedup_vs_1thread = 0;     // over 1 worker on its axis: 1 thread, or 1 GPU
  double speedup_vs_reference = 0;
  double efficiency = 0;  // speedup_vs_1thread / workers()
};

// The sequences of one run at a batch of `batch`: the workload's prompts,
// taken in turn until there are at least `batch` of them (a one-prompt
// workload: `batch` copies of it). At batch 1, the workload itself.
Workload batched_workload(const Workload& w, int batch);

// Throws std::runtime_error "A batch of 64 sequences needs X MiB of key/value
// caches; Y MiB of memory are available." when the `batch` largest caches of
// w's sequences do not fit in this machine's memory (a GPU backend: "Y MiB
// are free on the GPU (name).", its Backend::device_memory_free()).
void check_cache_memory(const Backend& backend, const Workload& w, int batch);

struct SweepOptions {
  // The configurations (runtime/backend_specs.h), in order; the serial
  // reference among them is measured first, as the baseline. Consecutive specs
  // of one backend and precision are one group (interleaved runs).
  std::vector<BackendSpec> specs;
  std::vector<int> threads;  // the thread counts the ceilings are measured at
  std::vector<Mode> modes;
  bool measure_reference = true;  // the baseline, even if not among the specs
  bool measure_overhead = true;   // the null backend
  // The workload rule's goldens, one per precision that has them (float32,
  // bf16w, int8w), for the tokens and logits checks: a row is checked against
  // its precision's (bfloat16: float32's, its tokens shown, not required).
  std::vector<GoldenFile> goldens;
  bool with_ceilings = true;  // the machine's ceilings at each thread count and the GPUs'
  // The goldens a row of `precision` is checked against, or nullptr.
  const GoldenFile* goldens_for(Precision precision) const;
};

struct SweepResult {
  std::vector<Measurement> measurements;
  std::optional<Measurement> overhead;  // the null backend on the same workload
  double overhead_per_step_us = 0;
  double fastest_step_us = 0;        // of the real backends
  int failures = 0;                  // configurations whose tokens or logits differ
  std::optional<Ceilings> ceilings;  // measured before the backends ran
  // Each GPU's that the sweep's GPU backends run on, measured before them
  // (none: no GPU backend, or ceilings off).
  std::vector<GpuCeilings> gpu_ceilings;
};

// The two ceilings a measurement sits under on the roofline, its bandwidth
// and the peak its numerics can use (as apply_ceilings below chooses them);
// value 0 for one not measured.
std::pair<RowCeiling, RowCeiling> row_ceilings(const Measurement& m, const Ceilings& ceilings,
                                               const std::vector<GpuCeilings>& gpu_ceilings);

// Sets each measurement's ceiling: a CPU row's from `ceilings` at its thread
// count, a GPU row's (info.device kCuda) from its GPU's in `gpu_ceilings` (the
// first GPU its info lists; device 0 when it lists none). Nothing for a thread
// count or GPU they lack, the null backend, or a precision whose peak was not
// measured.
void apply_ceilings(const Ceilings& ceilings, const std::vector<GpuCeilings>& gpu_ceilings,
                    const ModelConfig& config, const Workload& workload,
                    std::vector<Measurement>& measurements);

using ProgressFn = std::function<void(const std::string&)>;

SweepResult run_sweep(std::shared_ptr<const Model> model, const Workload& workload,
                      const SweepOptions& options, const ProgressFn& progress);

}  // namespace gpt2
