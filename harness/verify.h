// `gpt2-bench verify`: every golden prompt on every backend, thread count,
// mode, rule and precision; tokens compared with the goldens step by step,
// logits with the goldens' hashes (bit-exact backends) and with the
// reference's values. Each precision the reference defines (float32, bf16w,
// int8w) is compared with its own goldens and its own reference. bfloat16 rows
// are not float32: they follow the float32 golden tokens (teacher forcing),
// report how many of their own choices agree and how far their logits are,
// and are held to bfloat16's documented agreement (a share of golden tokens
// kept, a bound on the logit error) and to finite logits. Every row must reach
// every golden step of every prompt it covers (up to a token that differs,
// after which it continues another sequence).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "harness/goldens.h"
#include "reference/model.h"
#include "runtime/generate.h"

namespace gpt2 {

// A token that a reordering backend chooses differently is a near tie (said,
// not failed) where the golden decision's margin is under this many times what
// the backend's logit error can move it by.
inline constexpr double kNearTieFactor = 10.0;

struct VerifyOptions {
  // The configurations (runtime/backend_specs.h), in order; each is verified
  // in every mode and against each golden file of its precision's; a spec's
  // batch above 1 runs the needle test (VerifyRow::batch).
  std::vector<BackendSpec> specs;
  std::vector<Mode> modes;
  std::vector<Rule> rules;
  int jobs = 1;  // prompts at once, for single-threaded configurations
  // A reordering backend fails when a logit differs from the reference's by
  // more than this (README: "Numerics").
  double max_logit_diff = 1e-3;
  // bfloat16 rows (not float32) fail when fewer of their steps than this
  // choose the golden token, or when a logit differs from float32's by more
  // than max_bfloat16_logit_diff (README: "bfloat16 is not float32"; onednn
  // measured 89.8-98.2% of steps over every rule and logits within 0.86 on
  // the tiny and 124M models).
  double min_bfloat16_agreement = 0.85;
  double max_bfloat16_logit_diff = 1.0;
  // How a spec becomes a backend: the registry's make_backend (a test may hand
  // in a backend of its own).
  std::function<std::unique_ptr<Backend>(std::shared_ptr<const Model>, const BackendSpec&)>
      factory = make_backend;
};

struct VerifyRow {
  std::string backend;
  Precision precision = Precision::kFloat32;
  int threads = 1;
  std::string workers;  // "4 threads", "2 GPUs", "4 ranks on 1 GPU": what the row ran on
  // Sequences per step: 1 runs each golden prompt alone; more runs them inside
  // batches, among filler prompts of other lengths joining at other steps.
  int batch = 1;
  Mode mode = Mode::kRecompute;
  Rule rule = Rule::kMedian;
  // Beam search rows (harness/beam_goldens.h): the settings, "beams-k4"; their
  // steps count hypotheses and their logit columns score differences. Empty
  // for a rule's rows.
  std::string search;
  // The rule, or the beam settings of a beam search row.
  std::string rule_label() const { return search.empty() ? rule_name(rule) : search; }
  bool bit_exact = false;
  // Whether its backend promises each sequence the bits it gets alone
  // (BackendInfo::batch_invariance is kYes).
  bool batch_invariant = false;
  // A reordering backend's batched row: the golden steps compared with the
  // same sequence run alone on the same backend, and those whose logits'
  // bits differed: failures where the backend promises batch invariance,
  // reported where it does not (invariance is measured).
  int batch_compared = 0;
  int batch_variant = 0;
  int steps = 0;  // steps compared
  // Golden steps the row never compared (failures): a run that stopped early,
  // a batched sequence that never ran. Steps after a differing token are not
  // counted (that run continued another sequence).
  int missed_steps = 0;
  int token_mismatches = 0;  // failures (bfloat16: reported as a share, not failures)
  // Different tokens at steps whose golden margin was within 10x of the step's
  // logit difference from the reference: what reordered sums can flip. Reported,
  // not failures (reordering backends only).
  int near_ties = 0;
  // Beam search rows of reordering backends, along each prompt's best golden
  // hypothesis (harness/beam_goldens.h): the largest |logit - reference
  // logit| (held to the row's bound) and the largest error of a candidate's
  // log-probability (the reference's 2K + 1 most likely tokens at a step),
  // whose sum over a prompt's steps makes the near-tie bound; and the
  // hypotheses whose golden margin is under that bound: their tokens are
  // waived (a difference there is a near tie).
  double beam_logit_error = 0;
  double beam_logprob_error = 0;
  int waived = 0;
  int nonfinite = 0;          // steps with a logit that is NaN or infinite
  int logits_mismatches = 0;  // steps whose logits hash differs (bit-exact backends)
  double max_diff = 0;        // max |logit - reference logit| over compared steps
  double mean_diff = 0;       // mean over all logits of those steps
  bool gates_tokens() const { return reference_precision(precision); }
  // The share of compared steps whose token equals the golden one.
  double token_agreement() const { return steps ? 1.0 - double(token_mismatches) / steps : 1.0; }
  bool passed = true;
  std::vector<std::string> differences;  // one line each
};

struct VerifyResult {
  std::vector<VerifyRow> rows;
  std::vector<std::string> notes;
  std::vector<BackendInfo> backends;  // what each verified configuration ran (its GPUs)
  bool passed = true;
};

// Called with a line saying what verify is doing (preparing a backend, a row).
using VerifyProgress = std::function<void(const std::string&)>;

// goldens: one file per rule and precision (a precision's rows use those of
// their precision; bfloat16 rows float32's).
VerifyResult run_verify(std::shared_ptr<const Model> model, const std::vector<Prompt>& prompts,
                        const std::vector<GoldenFile>& goldens, const VerifyOptions& options,
                        const VerifyProgress& progress);

}  // namespace gpt2
