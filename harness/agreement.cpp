#include "harness/agreement.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "backends/registry.h"
#include "harness/golden_run.h"

namespace gpt2 {

namespace {

// log softmax of logits (V), in double.
std::vector<double> log_softmax(std::span<const float> logits) {
  const double mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - mx);
  const double log_sum = std::log(sum) + mx;
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); i++) out[i] = double(logits[i]) - log_sum;
  return out;
}

int argmax(std::span<const float> logits) {
  return int(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

}  // namespace

double kl_divergence(std::span<const float> a, std::span<const float> b) {
  const std::vector<double> lp = log_softmax(a), lq = log_softmax(b);
  double kl = 0;
  for (std::size_t i = 0; i < lp.size(); i++) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return std::max(0.0, kl);
}

AgreementResult run_agreement(std::shared_ptr<const Model> model,
                              const std::vector<Prompt>& all_prompts, const GoldenFile& goldens,
                              const std::vector<BackendSpec>& specs, int jobs,
                              const std::function<void(const std::string&)>& progress) {
  if (goldens.precision != Precision::kFloat32) {
    throw std::invalid_argument("agreement is measured along float32 goldens");
  }
  AgreementResult result;
  result.rule = goldens.rule;
  std::vector<Prompt> prompts;
  for (const Prompt& p : all_prompts) {
    if (goldens.find(p.id, 0) != nullptr) prompts.push_back(p);
  }
  if (progress)
    progress("float32 reference logits along the " + rule_name(goldens.rule) + " goldens");
  const StepLogits reference = reference_logits_along(model, prompts, goldens, jobs, result.notes);
  for (const BackendSpec& spec : specs) {
    const std::string label = spec_label(spec);
    if (progress) progress(label + ": preparing");
    auto backend = make_backend(model, spec);
    const int row_jobs =
        backend->info().threads == 1 && backend->info().device == Device::kCpu ? jobs : 1;
    AgreementRow row;
    row.spec = spec;
    row.details = backend->info().details;
    if (progress) progress(label + ": teacher-forced along the goldens");
    const StepLogits got = teacher_forced_logits(*backend, prompts, goldens, row_jobs);
    double kl_sum = 0, diff_sum = 0;
    long values = 0;
    int top1 = 0;
    for (const auto& [key, logits] : got) {
      const auto it = reference.find(key);
      if (it == reference.end()) continue;
      const std::vector<float>& want = it->second;
      row.steps++;
      top1 += argmax(logits) == argmax(want);
      const double kl = kl_divergence(want, logits);
      kl_sum += kl;
      row.max_kl = std::max(row.max_kl, kl);
      for (std::size_t v = 0; v < want.size(); v++) {
        const double d = std::fabs(double(logits[v]) - want[v]);
        row.max_abs_diff = std::max(row.max_abs_diff, d);
        diff_sum += d;
      }
      values += long(want.size());
    }
    if (row.steps > 0) {
      row.top1_agreement = double(top1) / row.steps;
      row.mean_kl = kl_sum / row.steps;
      row.mean_abs_diff = diff_sum / double(values);
    }
    if (progress) progress(label + ": its own continuations");
    const GoldenFile generated =
        run_prompts(*backend, prompts, goldens.rule, Mode::kKvCache, row_jobs);
    int equal = 0;
    for (const Prompt& p : prompts) {
      bool identical = true;
      for (int step = 0; const GoldenStep* want = goldens.find(p.id, step); step++) {
        const GoldenStep* mine = generated.find(p.id, step);
        row.generated_steps++;
        const bool same = mine != nullptr && mine->token == want->token;
        equal += same;
        identical = identical && same;
      }
      row.prompts++;
      row.prompts_identical += identical;
    }
    row.generated_agreement = row.generated_steps ? double(equal) / row.generated_steps : 0;
    result.rows.push_back(std::move(row));
  }
  return result;
}

}  // namespace gpt2
