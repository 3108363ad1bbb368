// `gpt2-bench agreement`: how far a precision that is not float32 (bf16w,
// int8w, bfloat16) moves the model's outputs from float32's, measured along the
// float32 goldens. README: "Precisions".
//
// Teacher-forced: at every golden step, the row's logits are computed on the
// golden (float32) tokens and compared with the float32 reference's logits at
// that step: top-1 agreement (argmax equal), KL(p_float32 || p_row) in nats
// (softmax in double), max and mean |logit difference|. Generated: the row
// completes each prompt itself with the goldens' rule, and its tokens are
// compared step by step with the float32 goldens (the share of steps equal,
// and the prompts whose whole continuation is equal).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/goldens.h"

namespace gpt2 {

struct AgreementRow {
  BackendSpec spec;
  std::string details;             // BackendInfo::details
  int steps = 0;                   // teacher-forced steps compared
  double top1_agreement = 0;       // share of steps whose argmax equals float32's
  double mean_kl = 0;              // mean over steps of KL(p_float32 || p_row), nats
  double max_kl = 0;               // the largest step's
  double max_abs_diff = 0;         // max |logit - float32 logit| over steps and vocabulary
  double mean_abs_diff = 0;        // mean over steps and vocabulary
  int generated_steps = 0;         // steps of the row's own continuations
  double generated_agreement = 0;  // share of them equal to the float32 goldens' token
  int prompts = 0;
  int prompts_identical = 0;  // prompts whose whole continuation equals float32's
};

struct AgreementResult {
  Rule rule = Rule::kGreedy;
  std::vector<AgreementRow> rows;
  std::vector<std::string> notes;
};

// One row per spec (runtime/backend_specs.h), along `goldens` (float32) for
// the prompts they cover. `jobs` prompts at once for specs of one thread.
// progress: a line per step of the work.
AgreementResult run_agreement(std::shared_ptr<const Model> model,
                              const std::vector<Prompt>& prompts, const GoldenFile& goldens,
                              const std::vector<BackendSpec>& specs, int jobs,
                              const std::function<void(const std::string&)>& progress);

// KL(p || q) in nats, p and q the softmax (in double) of logits a and b (V each).
double kl_divergence(std::span<const float> a, std::span<const float> b);

}  // namespace gpt2
