#include "harness/verify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "backends/registry.h"
#include "harness/golden_run.h"

namespace gpt2 {

namespace {

// A token flip is explained by reordering when the golden step's margin is
// below this many times the step's largest logit difference from the reference.
constexpr double kNearTieFactor = 10.0;

std::string row_label(const VerifyRow& row) {
  return row.backend +
         (row.precision == Precision::kFloat32 ? ""
                                               : std::string(" ") + precision_name(row.precision)) +
         " " + threads_text(row.threads) + " " + mode_name(row.mode) + " " + rule_name(row.rule);
}

// The prompts a golden file covers (golden_prompts() chose them when it was
// written).
std::vector<Prompt> covered_prompts(const std::vector<Prompt>& all, const GoldenFile& g) {
  std::vector<Prompt> out;
  for (const Prompt& p : all) {
    if (g.find(p.id, 0) != nullptr) out.push_back(p);
  }
  return out;
}

// The reference's logits along each rule's goldens, computed when a row first
// needs them (most rows of bit-exact backends never do).
class ReferenceLogits {
 public:
  ReferenceLogits(std::shared_ptr<const Model> model, const std::vector<Prompt>& all_prompts,
                  int jobs, std::vector<std::string>& notes, const VerifyProgress& progress)
      : model_(std::move(model)),
        all_prompts_(all_prompts),
        jobs_(jobs),
        notes_(notes),
        progress_(progress) {}

  const StepLogits& along(const GoldenFile& g) {
    const std::string rule = std::string(precision_name(g.precision)) + " " + rule_name(g.rule);
    auto it = by_rule_.find(rule);
    if (it == by_rule_.end()) {
      if (progress_) progress_("reference logits along the " + rule + " goldens");
      it = by_rule_
               .emplace(rule, reference_logits_along(model_, covered_prompts(all_prompts_, g), g,
                                                     jobs_, notes_))
               .first;
    }
    return it->second;
  }

 private:
  std::shared_ptr<const Model> model_;
  const std::vector<Prompt>& all_prompts_;
  int jobs_;
  std::vector<std::string>& notes_;
  const VerifyProgress& progress_;
  std::map<std::string, StepLogits> by_rule_;  // by "<precision> <rule>"
};

// A step whose token differs from the golden one, in a row that gates tokens.
struct Mismatch {
  std::string prompt;
  int step, want, got;
  float golden_margin, run_margin;
};

// What a row's runs leave to measure against the reference once they are done.
struct RowRuns {
  // Logits of the steps whose bits differ from the goldens: (prompt, step, logits).
  std::vector<std::tuple<std::string, int, std::vector<float>>> off;
  std::vector<Mismatch> mismatches;
};

// Runs the row's prompts, `jobs` at once, each compared step by step with the
// goldens as it goes: float32 rows generate freely and stop at the first
// token that differs (later steps would continue another sequence); bfloat16
// rows follow the golden tokens. Counts steps, non-finite logits, logits bits
// (bit-exact backends) and, for bfloat16, token disagreements into row.
RowRuns run_row_prompts(const Backend& backend, const std::vector<Prompt>& prompts,
                        const GoldenFile& g, int jobs, VerifyRow& row) {
  RowRuns runs;
  std::mutex mutex;
  for_each_prompt(prompts.size(), jobs, [&](std::size_t i) {
    const Prompt& p = prompts[i];
    auto session = backend.open_session(p.n - 1);
    auto on_step = [&](const StepView& s) {
      const GoldenStep* want = g.find(p.id, s.step);
      std::lock_guard lock(mutex);
      row.steps++;
      if (!std::all_of(s.logits.begin(), s.logits.end(),
                       [](float l) { return std::isfinite(l); })) {
        row.nonfinite++;
      }
      if (want == nullptr) return Next::kContinue;
      if (logits_hash(s.logits) != want->logits_hash) {
        if (row.bit_exact) row.logits_mismatches++;
        runs.off.emplace_back(p.id, s.step, std::vector<float>(s.logits.begin(), s.logits.end()));
      }
      if (s.decision.token != want->token) {
        if (!row.gates_tokens()) {  // reported as a share, not a failure
          row.token_mismatches++;
          return Next::kContinue;
        }
        runs.mismatches.push_back(
            {p.id, s.step, want->token, s.decision.token, want->margin, s.decision.margin});
        return Next::kStop;
      }
      return Next::kContinue;
    };
    if (row.gates_tokens()) {
      generate(backend, *session, p.tokens, p.n, row.mode, g.rule, on_step);
    } else {
      run_teacher_forced(backend, *session, p, g, row.mode, on_step);
    }
  });
  return runs;
}

// Largest |logit - reference logit| of each step whose bits differ from the
// goldens (keyed by prompt and step); sets row.max_diff and adds every finite
// difference to diff_sum.
std::map<std::pair<std::string, int>, double> measure_logit_differences(const RowRuns& runs,
                                                                        const StepLogits& ref,
                                                                        VerifyRow& row,
                                                                        double& diff_sum) {
  std::map<std::pair<std::string, int>, double> step_diff;
  for (const auto& [id, step, logits] : runs.off) {
    auto it = ref.find({id, step});
    if (it == ref.end()) continue;
    double mx = 0;
    for (std::size_t v = 0; v < logits.size(); v++) {
      const double d = std::fabs(double(logits[v]) - it->second[v]);
      if (std::isfinite(d)) mx = std::max(mx, d);
      diff_sum += std::isfinite(d) ? d : 0.0;
    }
    step_diff[{id, step}] = mx;
    row.max_diff = std::max(row.max_diff, mx);
  }
  return step_diff;
}

// A different token where the golden decision was within reach of this step's
// logit difference is what reordered sums can do: said, with both numbers, and
// counted as a near tie, not a failure. Bit-exact backends get none.
void report_token_mismatches(const std::vector<Mismatch>& mismatches,
                             const std::map<std::pair<std::string, int>, double>& step_diff,
                             const std::string& label, VerifyRow& row) {
  for (const Mismatch& m : mismatches) {
    const auto it = step_diff.find({m.prompt, m.step});
    const double d = it != step_diff.end() ? it->second : 0.0;
    const bool near_tie = !row.bit_exact && m.golden_margin < kNearTieFactor * d;
    char line[640];
    std::snprintf(line, sizeof line,
                  "%s%s: prompt %s step %d: expected token %d, got %d (golden margin "
                  "%.4g, this run's margin %.4g, logit difference at this step %.3g)",
                  near_tie ? "near tie, not a failure: " : "", label.c_str(), m.prompt.c_str(),
                  m.step, m.want, m.got, double(m.golden_margin), double(m.run_margin), d);
    row.differences.push_back(line);
    (near_tie ? row.near_ties : row.token_mismatches)++;
  }
}

// Sets row.passed (README: "Numerics") and adds the lines that say why not.
void judge_row(double max_logit_diff, const std::string& label, VerifyRow& row) {
  if (!row.gates_tokens()) {
    row.passed = row.nonfinite == 0;
  } else {
    row.passed = row.token_mismatches == 0 && row.nonfinite == 0 &&
                 (row.bit_exact ? row.logits_mismatches == 0 : row.max_diff <= max_logit_diff);
    if (!row.bit_exact && row.max_diff > max_logit_diff) {
      char line[256];
      std::snprintf(line, sizeof line, "%s: max logit difference %.3g is above the bound %.3g",
                    label.c_str(), row.max_diff, max_logit_diff);
      row.differences.push_back(line);
    }
  }
  if (row.nonfinite > 0) {
    row.differences.push_back(label + ": " + std::to_string(row.nonfinite) +
                              " step(s) with a logit that is NaN or infinite");
  }
}

// One row: a prepared backend, one mode, one golden file.
VerifyRow verify_row(const Backend& backend, const std::string& name, Precision precision,
                     Mode mode, const GoldenFile& g, const std::vector<Prompt>& prompts, int jobs,
                     double max_logit_diff, ReferenceLogits& reference,
                     const VerifyProgress& progress) {
  VerifyRow row;
  row.backend = name;
  row.precision = precision;
  row.threads = backend.info().threads;
  row.mode = mode;
  row.rule = g.rule;
  row.bit_exact = backend.info().numerics == Numerics::kBitExact;
  const std::string label = row_label(row);
  if (progress) progress(label);
  const RowRuns runs = run_row_prompts(backend, prompts, g, jobs, row);
  double diff_sum = 0;
  std::map<std::pair<std::string, int>, double> step_diff;
  if (!runs.off.empty()) {
    step_diff = measure_logit_differences(runs, reference.along(g), row, diff_sum);
  }
  report_token_mismatches(runs.mismatches, step_diff, label, row);
  // Steps with the goldens' bits differ by 0 and count in the mean.
  const long all_logits = long(row.steps) * backend.model().config().vocab_size;
  row.mean_diff = all_logits > 0 ? diff_sum / double(all_logits) : 0;
  judge_row(max_logit_diff, label, row);
  return row;
}

}  // namespace

VerifyResult run_verify(std::shared_ptr<const Model> model, const std::vector<Prompt>& all_prompts,
                        const std::vector<GoldenFile>& goldens, const VerifyOptions& o,
                        const VerifyProgress& progress) {
  VerifyResult result;
  ReferenceLogits reference(model, all_prompts, o.jobs, result.notes, progress);
  for (const BackendSpec& spec : o.specs) {
    if (progress) progress(spec_label(spec) + ": preparing");
    auto backend = make_backend(model, spec);
    result.backends.push_back(backend->info());
    // Prompts at once only for serial CPU backends: a GPU backend's sessions
    // share one device and gain nothing from more host threads.
    const BackendInfo& info = backend->info();
    const int jobs = info.threads == 1 && info.device == Device::kCpu ? o.jobs : 1;
    // Each precision's own goldens; bfloat16's are float32's.
    const Precision golden_precision = golden_precision_of(spec.precision);
    for (Mode mode : o.modes) {
      for (const GoldenFile& g : goldens) {
        if (g.precision != golden_precision) continue;
        VerifyRow row = verify_row(*backend, spec.backend, spec.precision, mode, g,
                                   covered_prompts(all_prompts, g), jobs, o.max_logit_diff,
                                   reference, progress);
        result.passed = result.passed && row.passed;
        result.rows.push_back(std::move(row));
      }
    }
  }
  return result;
}

}  // namespace gpt2
