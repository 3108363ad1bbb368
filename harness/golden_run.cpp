#include "harness/golden_run.h"

#include "backends/registry.h"
#include "runtime/backend_specs.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace gpt2 {

void for_each_prompt(std::size_t count, int jobs,
                     const std::function<void(std::size_t)>& each_prompt) {
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto worker = [&] {
    try {
      for (std::size_t i; (i = next.fetch_add(1)) < count;) each_prompt(i);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next = count;
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < jobs; j++) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

GoldenFile run_prompts(const Backend& backend, const std::vector<Prompt>& prompts, Rule rule,
                       Mode mode, int jobs,
                       const std::function<void(int, int, const std::string&)>& progress) {
  std::vector<std::vector<GoldenStep>> per_prompt(prompts.size());
  int done = 0;
  std::mutex progress_mutex;
  for_each_prompt(prompts.size(), jobs, [&](std::size_t i) {
    const Prompt& p = prompts[i];
    std::unique_ptr<Session> session = backend.open_session(p.n - 1);
    generate(backend, *session, p.tokens, p.n, mode, rule, [&](const StepView& s) {
      per_prompt[i].push_back({p.id, s.step, s.decision.token, s.decision.margin,
                               top2_gap(s.logits), logits_hash(s.logits)});
      return Next::kContinue;
    });
    std::lock_guard lock(progress_mutex);
    ++done;
    if (progress) progress(done, int(prompts.size()), p.id);
  });

  GoldenFile out;
  out.model = backend.model().name();
  out.checksum = backend.model().checksum();
  out.rule = rule;
  out.precision = backend.info().precision;
  for (auto& steps : per_prompt) {
    for (GoldenStep& s : steps) out.steps.push_back(std::move(s));
  }
  return out;
}

void run_teacher_forced(const Backend& backend, Session& session, const Prompt& p,
                        const GoldenFile& g, Mode mode, const StepCallback& on_step) {
  std::vector<int> golden;  // steps 0, 1, ... up to the first one g lacks
  for (const GoldenStep* s; (s = g.find(p.id, int(golden.size()))) != nullptr;) {
    golden.push_back(s->token);
  }
  const int n = std::min(p.n, int(p.tokens.size() + golden.size()));
  if (n <= int(p.tokens.size())) return;  // no golden step to follow
  generate(backend, session, p.tokens, n, mode, g.rule, on_step, golden);
}

StepLogits teacher_forced_logits(const Backend& backend, const std::vector<Prompt>& prompts,
                                 const GoldenFile& g, int jobs) {
  StepLogits out;
  std::mutex mutex;
  for_each_prompt(prompts.size(), jobs, [&](std::size_t i) {
    const Prompt& p = prompts[i];
    auto session = backend.open_session(p.n - 1);
    run_teacher_forced(backend, *session, p, g, Mode::kKvCache, [&](const StepView& s) {
      std::vector<float> logits(s.logits.begin(), s.logits.end());
      std::lock_guard lock(mutex);
      out[{p.id, s.step}] = std::move(logits);
      return Next::kContinue;
    });
  });
  return out;
}

StepLogits reference_logits_along(const std::shared_ptr<const Model>& model,
                                  const std::vector<Prompt>& prompts, const GoldenFile& g, int jobs,
                                  std::vector<std::string>& notes) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  auto fast = make_backend(model, backend_spec("pthreads", g.precision, cores));
  StepLogits out = teacher_forced_logits(*fast, prompts, g, 1);
  std::vector<Prompt> redo;
  for (const Prompt& p : prompts) {
    for (int step = 0; const GoldenStep* s = g.find(p.id, step); step++) {
      auto it = out.find({p.id, step});
      if (it == out.end() || logits_hash(it->second) != s->logits_hash) {
        redo.push_back(p);
        break;
      }
    }
  }
  if (!redo.empty()) {
    auto reference = make_backend(model, backend_spec("reference", g.precision));
    for (auto& [key, logits] : teacher_forced_logits(*reference, redo, g, jobs)) {
      out[key] = std::move(logits);
    }
    notes.push_back("The pthreads backend's logits differed from the goldens' hashes on " +
                    std::to_string(redo.size()) + " prompt(s): the reference computed those.");
  }
  return out;
}

GoldenSummary summarize(const GoldenFile& g) {
  constexpr int kMinRepeatLength = 4;
  GoldenSummary s;
  s.steps = int(g.steps.size());
  s.min_gap = s.min_margin = INFINITY;
  std::set<int> distinct;
  std::map<std::string, std::map<int, int>> counts;
  std::map<std::string, int> lengths;
  for (const GoldenStep& st : g.steps) {
    const std::string at = st.prompt_id + "/" + std::to_string(st.step);
    if (st.logit_gap < s.min_gap) s.min_gap = st.logit_gap, s.min_gap_at = at;
    if (st.margin < s.min_margin) s.min_margin = st.margin, s.min_margin_at = at;
    distinct.insert(st.token);
    counts[st.prompt_id][st.token]++;
    lengths[st.prompt_id]++;
  }
  for (const auto& [id, c] : counts) {
    if (lengths[id] < kMinRepeatLength) continue;  // one or two new tokens say nothing
    for (const auto& [token, k] : c) {
      const float share = float(k) / float(lengths[id]);
      if (share > s.max_repeat_share) s.max_repeat_share = share, s.max_repeat_at = id;
    }
  }
  s.distinct_tokens = int(distinct.size());
  return s;
}

std::vector<std::string> GoldenSummary::lines() const {
  char buf[256];
  std::vector<std::string> out;
  std::snprintf(buf, sizeof buf, "steps: %d, distinct tokens: %d", steps, distinct_tokens);
  out.push_back(buf);
  std::snprintf(buf, sizeof buf, "smallest top-1 minus top-2 logit gap: %.4g (at %s)",
                double(min_gap), min_gap_at.c_str());
  out.push_back(buf);
  std::snprintf(buf, sizeof buf, "smallest decision margin of the rule: %.4g (at %s)",
                double(min_margin), min_margin_at.c_str());
  out.push_back(buf);
  std::snprintf(buf, sizeof buf,
                "largest share of one token in a continuation of 4 or more: %.2f (in %s)",
                double(max_repeat_share), max_repeat_at.c_str());
  out.push_back(buf);
  return out;
}

}  // namespace gpt2
