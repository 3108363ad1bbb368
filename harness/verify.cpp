#include "harness/verify.h"

#include <atomic>
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
}  // namespace

VerifyResult run_verify(std::shared_ptr<const Model> model, const std::vector<Prompt>& all_prompts,
                        const std::vector<GoldenFile>& goldens, const VerifyOptions& o,
                        const std::function<void(const std::string&)>& progress) {
  // Each golden file covers some of the prompts (golden_prompts()).
  auto covered = [&](const GoldenFile& g) {
    std::vector<Prompt> out;
    for (const Prompt& p : all_prompts) {
      if (g.find(p.id, 0) != nullptr) out.push_back(p);
    }
    return out;
  };
  VerifyResult result;
  auto reference = make_backend("reference", model, {});
  std::map<std::string, StepLogits> ref_logits;  // by rule name, made when first needed
  auto reference_for = [&](Rule rule, const GoldenFile& g) -> const StepLogits& {
    auto it = ref_logits.find(rule_name(rule));
    if (it == ref_logits.end()) {
      if (progress) progress(std::string("reference logits along the ") + rule_name(rule) + " goldens");
      it = ref_logits.emplace(rule_name(rule), teacher_forced_logits(*reference, covered(g), g, o.jobs)).first;
    }
    return it->second;
  };

  for (const std::string& name : o.backends) {
    const BackendEntry& entry = find_backend(name);
    const std::vector<int> counts = entry.threaded ? o.threads : std::vector<int>{1};
    for (int threads : counts) {
      BackendConfig config;
      config.threads = threads;
      if (progress) progress(name + " " + std::to_string(threads) + " threads: preparing");
      auto backend = make_backend(name, model, config);
      const bool bit_exact = backend->info().numerics == Numerics::kBitExact;
      const int jobs = backend->info().threads == 1 ? o.jobs : 1;
      for (Mode mode : o.modes) {
        for (const GoldenFile& g : goldens) {
          VerifyRow row;
          row.backend = name;
          row.threads = backend->info().threads;
          row.mode = mode;
          row.rule = g.rule;
          row.bit_exact = bit_exact;
          if (progress) {
            progress(name + " " + std::to_string(row.threads) + " threads " + mode_name(mode) +
                     " " + rule_name(g.rule));
          }
          const std::vector<Prompt> prompts = covered(g);
          std::mutex mutex;
          // Logits of steps whose bits differ from the goldens, measured against
          // the reference's once the workers are done.
          std::vector<std::tuple<std::string, int, std::vector<float>>> off;
          struct Mismatch {
            std::string prompt;
            int step, want, got;
            float golden_margin, run_margin;
          };
          std::vector<Mismatch> mismatches;
          std::atomic<std::size_t> next{0};
          auto worker = [&] {
            for (std::size_t i; (i = next.fetch_add(1)) < prompts.size();) {
              const Prompt& p = prompts[i];
              auto session = backend->open_session(p.n - 1);
              bool diverged = false;
              generate(*backend, *session, p.tokens, p.n, mode, g.rule, [&](const StepView& s) {
                if (diverged) return;
                const GoldenStep* want = g.find(p.id, s.step);
                std::lock_guard lock(mutex);
                row.steps++;
                if (want == nullptr) return;
                if (logits_hash(s.logits) != want->logits_hash) {
                  if (bit_exact) row.logits_mismatches++;
                  off.emplace_back(p.id, s.step, std::vector<float>(s.logits.begin(), s.logits.end()));
                }
                if (s.decision.token != want->token) {
                  mismatches.push_back({p.id, s.step, want->token, s.decision.token, want->margin,
                                        s.decision.margin});
                  diverged = true;  // later steps continue a different sequence
                }
              });
            }
          };
          std::vector<std::thread> pool;
          for (int j = 1; j < jobs; j++) pool.emplace_back(worker);
          worker();
          for (auto& t : pool) t.join();
          double diff_sum = 0;
          std::map<std::pair<std::string, int>, double> step_diff;  // max |logit diff| per step
          if (!off.empty()) {
            const StepLogits& ref = reference_for(g.rule, g);
            for (const auto& [id, step, logits] : off) {
              auto it = ref.find({id, step});
              if (it == ref.end()) continue;
              double mx = 0;
              for (std::size_t v = 0; v < logits.size(); v++) {
                const double d = std::fabs(double(logits[v]) - it->second[v]);
                mx = std::max(mx, d);
                diff_sum += d;
              }
              step_diff[{id, step}] = mx;
              row.max_diff = std::max(row.max_diff, mx);
            }
          }
          // A different token where the golden decision was within reach of
          // this step's logit difference is what reordered sums can do: said,
          // with both numbers, and not a failure. Bit-exact backends get none.
          for (const Mismatch& m : mismatches) {
            const double d = step_diff.count({m.prompt, m.step}) ? step_diff[{m.prompt, m.step}] : 0;
            const bool near_tie = !bit_exact && m.golden_margin < kNearTieFactor * d;
            char line[640];
            std::snprintf(line, sizeof line,
                          "%s%s %d threads %s %s: prompt %s step %d: expected token %d, got %d "
                          "(golden margin %.4g, this run's margin %.4g, logit difference at "
                          "this step %.3g)",
                          near_tie ? "near tie, not a failure: " : "", name.c_str(), row.threads,
                          mode_name(mode), rule_name(g.rule).c_str(), m.prompt.c_str(), m.step,
                          m.want, m.got, double(m.golden_margin), double(m.run_margin), d);
            row.differences.push_back(line);
            (near_tie ? row.near_ties : row.token_mismatches)++;
          }
          // Steps with the goldens' bits differ by 0 and count in the mean.
          const long all_logits = long(row.steps) * model->config().vocab_size;
          row.mean_diff = all_logits > 0 ? diff_sum / double(all_logits) : 0;
          row.passed = row.token_mismatches == 0 &&
                       (bit_exact ? row.logits_mismatches == 0 : row.max_diff <= o.max_logit_diff);
          if (!bit_exact && row.max_diff > o.max_logit_diff) {
            char line[256];
            std::snprintf(line, sizeof line,
                          "%s %d threads %s %s: max logit difference %.3g is above the bound %.3g",
                          name.c_str(), row.threads, mode_name(mode), rule_name(g.rule).c_str(),
                          row.max_diff, o.max_logit_diff);
            row.differences.push_back(line);
          }
          result.passed = result.passed && row.passed;
          result.rows.push_back(std::move(row));
        }
      }
    }
  }
  return result;
}

}  // namespace gpt2
