#include "harness/verify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "backends/registry.h"
#include "harness/golden_run.h"
#include "reference/random.h"
#include "runtime/scheduler.h"

namespace gpt2 {

namespace {

std::string row_label(const VerifyRow& row) {
  return row.backend +
         (row.precision == Precision::kFloat32 ? ""
                                               : std::string(" ") + precision_name(row.precision)) +
         " " + threads_text(row.threads) +
         (row.batch == 1 ? std::string() : " batch " + std::to_string(row.batch)) + " " +
         mode_name(row.mode) + " " + row.rule_label();
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

// How far a prompt's run got through its golden steps.
struct Reached {
  std::set<int> steps;  // the golden steps compared
  int stopped_at = -1;  // the step whose different token stopped the run; -1: none
};

// What a row's runs leave to measure against the reference once they are done.
struct RowRuns {
  // Logits of the steps whose bits differ from the goldens: (prompt, step, logits).
  std::vector<std::tuple<std::string, int, std::vector<float>>> off;
  std::vector<Mismatch> mismatches;
  std::map<std::string, Reached> reached;  // by prompt id
  // The first step whose bits moved from the sequence's own run alone:
  // "prompt c step 3".
  std::string first_variant;
};

// Each step's logits hash, keyed by (prompt id, step).
using StepHashes = std::map<std::pair<std::string, int>, std::string>;

// The checks of a row's steps, the same for every prompt and every way of
// running them: each step compared with the goldens as it comes. float32
// rows generate freely and stop at the first token that differs (later steps
// would continue another sequence); bfloat16 rows follow the golden tokens.
// Counts steps, non-finite logits, logits bits (bit-exact backends) and, for
// bfloat16, token disagreements into row; with `alone` (a batched row of a
// reordering backend), whether each step's logits are the bits the sequence
// gets alone. Thread-safe: prompts may run at once.
class RowChecker {
 public:
  RowChecker(const GoldenFile& g, VerifyRow& row, const StepHashes* alone)
      : g_(g), row_(row), alone_(alone) {}

  StepCallback for_prompt(const Prompt& p) {
    return [this, &p](const StepView& s) {
      const GoldenStep* want = g_.find(p.id, s.step);
      const std::string hash = logits_hash(s.logits);
      std::lock_guard lock(mutex_);
      row_.steps++;
      if (!std::all_of(s.logits.begin(), s.logits.end(),
                       [](float l) { return std::isfinite(l); })) {
        row_.nonfinite++;
      }
      if (alone_ != nullptr) {
        if (auto it = alone_->find({p.id, s.step}); it != alone_->end()) {
          row_.batch_compared++;
          if (it->second != hash && row_.batch_variant++ == 0) {
            runs_.first_variant = "prompt " + p.id + " step " + std::to_string(s.step);
          }
        }
      }
      if (want == nullptr) return Next::kContinue;
      Reached& reached = runs_.reached[p.id];
      reached.steps.insert(s.step);
      if (hash != want->logits_hash) {
        if (row_.bit_exact) row_.logits_mismatches++;
        runs_.off.emplace_back(p.id, s.step, std::vector<float>(s.logits.begin(), s.logits.end()));
      }
      if (s.decision.token != want->token) {
        if (!row_.gates_tokens()) {  // reported as a share, not a failure
          row_.token_mismatches++;
          return Next::kContinue;
        }
        runs_.mismatches.push_back(
            {p.id, s.step, want->token, s.decision.token, want->margin, s.decision.margin});
        reached.stopped_at = s.step;
        return Next::kStop;
      }
      return Next::kContinue;
    };
  }

  RowRuns take() { return std::move(runs_); }

 private:
  const GoldenFile& g_;
  VerifyRow& row_;
  const StepHashes* alone_;
  std::mutex mutex_;
  RowRuns runs_;
};

// The golden tokens a bfloat16 row follows, and the length of that run.
std::vector<int> golden_tokens(const Prompt& p, const GoldenFile& g) {
  std::vector<int> out;
  for (const GoldenStep* s; (s = g.find(p.id, int(out.size()))) != nullptr;)
    out.push_back(s->token);
  return out;
}

// The row's prompts one by one, `jobs` at once, each in its own session.
RowRuns run_row_prompts(const Backend& backend, const std::vector<Prompt>& prompts,
                        const GoldenFile& g, int jobs, VerifyRow& row) {
  RowChecker checker(g, row, nullptr);
  for_each_prompt(prompts.size(), jobs, [&](std::size_t i) {
    const Prompt& p = prompts[i];
    auto session = backend.open_session(p.n - 1);
    if (row.gates_tokens()) {
      generate(backend, *session, p.tokens, p.n, row.mode, g.rule, checker.for_prompt(p));
    } else {
      run_teacher_forced(backend, *session, p, g, row.mode, checker.for_prompt(p));
    }
  });
  return checker.take();
}

// Each step's logits hash of each prompt run alone on `backend`, as a row runs
// it (free or along the golden tokens).
StepHashes hashes_alone(const Backend& backend, const std::vector<Prompt>& prompts,
                        const GoldenFile& g, Mode mode, bool free_run) {
  StepHashes out;
  for (const Prompt& p : prompts) {
    auto session = backend.open_session(p.n - 1);
    const StepCallback record = [&](const StepView& s) {
      out[{p.id, s.step}] = logits_hash(s.logits);
      return Next::kContinue;
    };
    if (free_run) {
      generate(backend, *session, p.tokens, p.n, mode, g.rule, record);
    } else {
      run_teacher_forced(backend, *session, p, g, mode, record);
    }
  }
  return out;
}

// The needle test: the row's prompts inside batches of `batch` sequences, with
// filler prompts of other lengths (random tokens, greedy) before and between
// them, so that each golden prompt joins at another step beside sequences at
// other positions, prompts and decodes in the same steps.
RowRuns run_row_batched(const Backend& backend, const std::vector<Prompt>& prompts,
                        const GoldenFile& g, int batch, VerifyRow& row, const StepHashes* alone) {
  RowChecker checker(g, row, alone);
  Scheduler scheduler(backend, batch, row.mode);
  const ModelConfig& c = backend.model().config();
  SplitMix64 rng(0x6e6565646c65ull + std::uint64_t(batch));
  auto filler = [&] {
    const int len = 1 + int(rng.next() % std::uint64_t(std::min(48, c.max_seq_len - 8)));
    Request r;
    for (int i = 0; i < len; i++) r.prompt.push_back(int(rng.next() % std::uint64_t(c.vocab_size)));
    r.n = len + 1 + int(rng.next() % 6);
    r.rule = Rule::kGreedy;
    scheduler.submit(std::move(r));
  };
  for (int i = 1; i < batch; i++) filler();
  for (const Prompt& p : prompts) {
    filler();
    Request r;
    r.prompt = p.tokens;
    r.n = p.n;
    r.rule = g.rule;
    r.on_step = checker.for_prompt(p);
    if (!row.gates_tokens()) {
      r.forced = golden_tokens(p, g);
      r.n = std::min(p.n, int(p.tokens.size() + r.forced.size()));
      if (r.n <= int(p.tokens.size())) continue;  // no golden step to follow
    }
    scheduler.submit(std::move(r));
  }
  scheduler.check_memory();
  scheduler.run();
  return checker.take();
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

// Every golden step of each prompt must have been compared, up to the step
// where a different token stopped its run (what follows continues another
// sequence): a run that stops early or a batched sequence that never ran
// fails the row, the prompt and the first step it missed named.
void check_golden_steps_reached(const std::vector<Prompt>& prompts, const GoldenFile& g,
                                const RowRuns& runs, const std::string& label, VerifyRow& row) {
  std::map<std::string, std::vector<int>> golden_steps;
  for (const GoldenStep& s : g.steps) golden_steps[s.prompt_id].push_back(s.step);
  static const Reached kNone;
  for (const Prompt& p : prompts) {
    const auto it = runs.reached.find(p.id);
    const Reached& reached = it != runs.reached.end() ? it->second : kNone;
    const std::vector<int>& steps = golden_steps[p.id];
    int missed = 0, first = -1;
    for (int step : steps) {
      if (reached.stopped_at >= 0 && step > reached.stopped_at) continue;
      if (reached.steps.count(step) == 0) {
        if (missed++ == 0) first = step;
      }
    }
    if (missed == 0) continue;
    row.missed_steps += missed;
    row.differences.push_back(label + ": prompt " + p.id + " step " + std::to_string(first) +
                              ": never compared (" + std::to_string(missed) + " of its " +
                              std::to_string(steps.size()) +
                              " golden steps missed: the run stopped early or never ran)");
  }
}

// Sets row.passed (README: "Numerics", "bfloat16 is not float32") and adds the
// lines that say why not.
void judge_row(const VerifyOptions& o, const std::string& label, const RowRuns& runs,
               VerifyRow& row) {
  char line[512];
  if (!row.gates_tokens()) {
    const bool agrees = row.token_agreement() >= o.min_bfloat16_agreement;
    const bool close = row.max_diff <= o.max_bfloat16_logit_diff;
    row.passed = agrees && close;
    if (!agrees) {
      std::snprintf(line, sizeof line,
                    "%s: %d of %d steps chose the golden token (%.1f%%), below bfloat16's "
                    "documented %.0f%%",
                    label.c_str(), row.steps - row.token_mismatches, row.steps,
                    100.0 * row.token_agreement(), 100.0 * o.min_bfloat16_agreement);
      row.differences.push_back(line);
    }
    if (!close) {
      std::snprintf(line, sizeof line,
                    "%s: max logit difference %.3g from float32 is above bfloat16's bound %.3g",
                    label.c_str(), row.max_diff, o.max_bfloat16_logit_diff);
      row.differences.push_back(line);
    }
  } else {
    row.passed = row.token_mismatches == 0 &&
                 (row.bit_exact ? row.logits_mismatches == 0 : row.max_diff <= o.max_logit_diff);
    if (!row.bit_exact && row.max_diff > o.max_logit_diff) {
      std::snprintf(line, sizeof line, "%s: max logit difference %.3g is above the bound %.3g",
                    label.c_str(), row.max_diff, o.max_logit_diff);
      row.differences.push_back(line);
    }
  }
  if (row.nonfinite > 0) {
    row.passed = false;
    row.differences.push_back(label + ": " + std::to_string(row.nonfinite) +
                              " step(s) with a logit that is NaN or infinite");
  }
  if (row.missed_steps > 0) row.passed = false;
  // A backend that promises batch invariance is held to it.
  if (row.batch_invariant && row.batch_variant > 0) {
    row.passed = false;
    row.differences.push_back(
        label + ": declared batch-invariant, but " + std::to_string(row.batch_variant) + " of " +
        std::to_string(row.batch_compared) +
        " steps' logits bits differ from the sequence run alone (first: " + runs.first_variant +
        ")");
  }
}

// One row: a prepared backend, one mode, one golden file.
VerifyRow verify_row(const Backend& backend, const BackendSpec& spec, Mode mode,
                     const GoldenFile& g, const std::vector<Prompt>& prompts, int jobs,
                     const VerifyOptions& o, ReferenceLogits& reference,
                     const VerifyProgress& progress) {
  VerifyRow row;
  row.backend = spec.backend;
  row.precision = spec.precision;
  row.batch = spec.batch;
  row.threads = backend.info().threads;
  row.workers = workers_text(backend.info(), find_backend(backend.info().name).multi_gpu);
  row.mode = mode;
  row.rule = g.rule;
  row.bit_exact = backend.info().numerics == Numerics::kBitExact;
  row.batch_invariant = backend.info().batch_invariance == BatchInvariance::kYes;
  const std::string label = row_label(row);
  if (progress) progress(label);
  RowRuns runs;
  if (row.batch == 1) {
    runs = run_row_prompts(backend, prompts, g, jobs, row);
  } else if (row.bit_exact) {  // the goldens' hashes say whether the bits moved
    runs = run_row_batched(backend, prompts, g, row.batch, row, nullptr);
  } else {  // the bits each sequence gets alone on this backend, to compare with
    const StepHashes alone = hashes_alone(backend, prompts, g, mode, row.gates_tokens());
    runs = run_row_batched(backend, prompts, g, row.batch, row, &alone);
  }
  double diff_sum = 0;
  std::map<std::pair<std::string, int>, double> step_diff;
  if (!runs.off.empty()) {
    step_diff = measure_logit_differences(runs, reference.along(g), row, diff_sum);
  }
  report_token_mismatches(runs.mismatches, step_diff, label, row);
  // Steps with the goldens' bits differ by 0 and count in the mean.
  const long all_logits = long(row.steps) * backend.model().config().vocab_size;
  row.mean_diff = all_logits > 0 ? diff_sum / double(all_logits) : 0;
  check_golden_steps_reached(prompts, g, runs, label, row);
  judge_row(o, label, runs, row);
  return row;
}

}  // namespace

VerifyResult run_verify(std::shared_ptr<const Model> model, const std::vector<Prompt>& all_prompts,
                        const std::vector<GoldenFile>& goldens, const VerifyOptions& o,
                        const VerifyProgress& progress) {
  VerifyResult result;
  ReferenceLogits reference(model, all_prompts, o.jobs, result.notes, progress);
  std::unique_ptr<Backend> backend;
  BackendSpec made;
  for (const BackendSpec& spec : o.specs) {
    // One backend for the batch sizes of one configuration.
    BackendSpec unbatched = spec;
    unbatched.batch = 1;
    if (backend == nullptr || made != unbatched) {
      if (progress) progress(spec_label(spec) + ": preparing");
      backend.reset();
      backend = o.factory(model, spec);
      made = unbatched;
      result.backends.push_back(backend->info());
    }
    // Prompts at once only for serial CPU backends: a GPU backend's sessions
    // share one device and gain nothing from more host threads.
    const BackendInfo& info = backend->info();
    const int jobs = info.threads == 1 && info.device == Device::kCpu ? o.jobs : 1;
    // Each precision's own goldens; bfloat16's are float32's.
    const Precision golden_precision = golden_precision_of(spec.precision);
    for (Mode mode : o.modes) {
      for (const GoldenFile& g : goldens) {
        if (g.precision != golden_precision) continue;
        VerifyRow row = verify_row(*backend, spec, mode, g, covered_prompts(all_prompts, g), jobs,
                                   o, reference, progress);
        result.passed = result.passed && row.passed;
        result.rows.push_back(std::move(row));
      }
    }
  }
  return result;
}

}  // namespace gpt2
