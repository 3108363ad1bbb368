// `gpt2-bench verify`: every golden prompt on every backend, thread count,
// mode and rule; tokens compared with the goldens step by step, logits with
// the goldens' hashes (bit-exact backends) and with the reference's values.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "harness/generate.h"
#include "harness/goldens.h"
#include "reference/model.h"

namespace gpt2 {

struct VerifyOptions {
  std::vector<std::string> backends;
  std::vector<int> threads;
  std::vector<Mode> modes;
  std::vector<Rule> rules;
  int jobs = 1;  // prompts at once, for single-threaded configurations
  // A reordering backend fails when a logit differs from the reference's by
  // more than this (README: "Numerics").
  double max_logit_diff = 1e-3;
};

struct VerifyRow {
  std::string backend;
  int threads = 1;
  Mode mode = Mode::kRecompute;
  Rule rule = Rule::kMedian;
  bool bit_exact = false;
  int steps = 0;            // steps compared
  int token_mismatches = 0;  // failures
  // Different tokens at steps whose golden margin was within 10x of the step's
  // logit difference from the reference: what reordered sums can flip. Reported,
  // not failures (reordering backends only).
  int near_ties = 0;
  int logits_mismatches = 0;  // steps whose logits hash differs (bit-exact backends)
  double max_diff = 0;        // max |logit - reference logit| over compared steps
  double mean_diff = 0;       // mean over all logits of those steps
  bool passed = true;
  std::vector<std::string> differences;  // one line each
};

struct VerifyResult {
  std::vector<VerifyRow> rows;
  std::vector<std::string> notes;
  bool passed = true;
};

VerifyResult run_verify(std::shared_ptr<const Model> model, const std::vector<Prompt>& prompts,
                        const std::vector<GoldenFile>& goldens, const VerifyOptions& options,
                        const std::function<void(const std::string&)>& progress);

}  // namespace gpt2
