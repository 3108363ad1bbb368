// The speedup sweep behind `gpt2-bench`: a workload run on backends x thread
// counts x modes, timed (model loading and weight packing excluded), with the
// tokens checked against the goldens (or the reference) on every run.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/generate.h"
#include "harness/goldens.h"
#include "harness/stats.h"

namespace gpt2 {

struct Workload {
  std::vector<Prompt> prompts;  // each completed to its n
  Rule rule = Rule::kMedian;
  int reps = 5;                 // timed runs per configuration
  int warmup = 1;               // untimed runs before them
  int reference_reps = 5;       // timed runs of the serial reference
  int new_tokens() const;       // per run, all prompts
  std::string describe() const;
};

// Whether a configuration's output agrees with what it should be.
enum class Check { kYes, kNo, kNotApplicable };
const char* check_name(Check c);

struct Measurement {
  std::string backend;
  Mode mode = Mode::kRecompute;
  int threads = 1;  // the threads the backend really used
  BackendInfo info;
  std::vector<double> samples;  // seconds per run
  Stats stats;
  Check tokens = Check::kNotApplicable;  // all timed runs gave the golden tokens
  Check logits = Check::kNotApplicable;  // bit-exact: logits hashes equal the goldens'
  double pack_seconds = 0;               // backend preparation (not timed in samples)
  std::map<std::string, std::vector<int>> generated;  // prompt id -> new tokens (last run)
  // Derived, relative to other measurements of the sweep (0 when unknown).
  double tokens_per_second = 0;
  double speedup_vs_1thread = 0;
  double speedup_vs_reference = 0;
  double efficiency = 0;  // speedup_vs_1thread / threads
};

struct SweepOptions {
  std::vector<std::string> backends;  // in order; "reference" may be among them
  std::vector<int> threads;
  std::vector<Mode> modes;
  bool measure_reference = true;   // the baseline, even if not listed
  bool measure_overhead = true;    // the null backend
  const GoldenFile* goldens = nullptr;  // for the tokens and logits checks
};

struct SweepResult {
  std::vector<Measurement> measurements;
  std::optional<Measurement> overhead;  // the null backend on the same workload
  double overhead_per_step_us = 0;
  double fastest_step_us = 0;           // of the real backends
  int failures = 0;                     // configurations whose tokens or logits differ
};

using ProgressFn = std::function<void(const std::string&)>;

SweepResult run_sweep(std::shared_ptr<const Model> model, const Workload& workload,
                      const SweepOptions& options, const ProgressFn& progress);

}  // namespace gpt2
