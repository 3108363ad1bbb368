#include "harness/bench.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include "backends/registry.h"

namespace gpt2 {

int Workload::new_tokens() const {
  int n = 0;
  for (const Prompt& p : prompts) n += p.n - int(p.tokens.size());
  return n;
}

long Workload::positions(Mode mode) const {
  long n = 0;
  for (const Prompt& p : prompts) {
    const long prompt = long(p.tokens.size()), steps = p.n - prompt;
    n += mode == Mode::kRecompute ? steps * prompt + steps * (steps - 1) / 2 : prompt + steps - 1;
  }
  return n;
}

double weight_bytes_per_forward(const ModelConfig& c, Precision precision) {
  const double C = c.channels, L = c.num_layers;
  const double matrices = L * 12 * C * C + double(c.vocab_size) * C;
  const double small = L * (3 * C + C + 4 * C + C + 4 * C) + 2 * C;  // biases, layernorms
  return matrices * (precision == Precision::kBFloat16 ? 2 : 4) + small * 4;
}

std::string backend_label(const std::string& backend, Precision precision) {
  return precision == Precision::kFloat32 ? backend : backend + " bfloat16 (not float32)";
}

std::string Workload::describe() const {
  std::ostringstream out;
  out << prompts.size() << " prompt" << (prompts.size() == 1 ? "" : "s") << " (";
  for (std::size_t i = 0; i < prompts.size() && i < 6; i++) {
    out << (i ? ", " : "") << prompts[i].id << ": " << prompts[i].tokens.size() << " -> "
        << prompts[i].n;
  }
  if (prompts.size() > 6) out << ", ...";
  out << "), " << new_tokens() << " new tokens per run, rule " << rule_name(rule);
  return out.str();
}

const char* check_name(Check c) {
  switch (c) {
    case Check::kYes:
      return "yes";
    case Check::kNo:
      return "NO";
    case Check::kNotApplicable:
      return "n/a";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// The golden continuation of a prompt, if the goldens have all of its steps.
std::optional<std::vector<const GoldenStep*>> golden_steps(const GoldenFile* goldens,
                                                           const Prompt& p) {
  if (goldens == nullptr) return std::nullopt;
  std::vector<const GoldenStep*> steps;
  for (int s = 0; s < p.n - int(p.tokens.size()); s++) {
    const GoldenStep* g = goldens->find(p.id, s);
    if (g == nullptr) return std::nullopt;
    steps.push_back(g);
  }
  return steps;
}

// Runs one configuration: warm-up runs (which also check the logits against
// the goldens' hashes), then timed runs (each checking the tokens).
Measurement measure(const Backend& backend, Mode mode, const Workload& w, int reps,
                    const GoldenFile* goldens,
                    const std::map<std::string, std::vector<int>>* expected_tokens,
                    const ProgressFn& progress, const std::string& label) {
  Measurement m;
  m.backend = backend.info().name;
  m.precision = backend.info().precision;
  m.info = backend.info();
  m.threads = backend.info().threads;
  m.mode = mode;
  std::vector<std::unique_ptr<Session>> sessions;
  for (const Prompt& p : w.prompts) sessions.push_back(backend.open_session(p.n - 1));

  const bool bit_exact = backend.info().numerics == Numerics::kBitExact;
  bool tokens_ok = true, tokens_known = true, logits_ok = true, logits_known = bit_exact;
  for (std::size_t i = 0; i < w.prompts.size(); i++) {
    tokens_known = tokens_known && (golden_steps(goldens, w.prompts[i]) ||
                                    (expected_tokens && expected_tokens->count(w.prompts[i].id)));
    logits_known = logits_known && golden_steps(goldens, w.prompts[i]).has_value();
  }
  auto expected = [&](const Prompt& p) -> std::vector<int> {
    if (auto g = golden_steps(goldens, p)) {
      std::vector<int> t;
      for (const GoldenStep* s : *g) t.push_back(s->token);
      return t;
    }
    if (expected_tokens && expected_tokens->count(p.id)) return expected_tokens->at(p.id);
    return {};
  };

  // At least one untimed run when it checks the logits (hashing is not timed).
  const int untimed = std::max(w.warmup, logits_known ? 1 : 0);
  for (int run = 0; run < untimed + reps; run++) {
    const bool timed = run >= untimed;
    if (progress) {
      progress(label + ": " +
               (timed ? "run " + std::to_string(run - untimed + 1) + "/" + std::to_string(reps)
                      : std::string("warm-up")));
    }
    double seconds = 0;
    for (std::size_t i = 0; i < w.prompts.size(); i++) {
      const Prompt& p = w.prompts[i];
      std::vector<int> got;
      if (!timed && logits_known) {
        const auto g = *golden_steps(goldens, p);
        got = generate(backend, *sessions[i], p.tokens, p.n, mode, w.rule, [&](const StepView& s) {
          if (logits_hash(s.logits) != g[s.step]->logits_hash) logits_ok = false;
        });
      } else {
        const auto t0 = Clock::now();
        got = generate(backend, *sessions[i], p.tokens, p.n, mode, w.rule);
        seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      }
      if (tokens_known && got != expected(p)) tokens_ok = false;
      m.generated[p.id] = std::move(got);
    }
    if (timed) m.samples.push_back(seconds);
  }
  m.stats = summarize_samples(m.samples);
  m.tokens = tokens_known ? (tokens_ok ? Check::kYes : Check::kNo) : Check::kNotApplicable;
  m.logits = logits_known ? (logits_ok ? Check::kYes : Check::kNo) : Check::kNotApplicable;
  if (m.stats.median > 0) {
    const ModelConfig& c = backend.model().config();
    m.tokens_per_second = w.new_tokens() / m.stats.median;
    m.positions_per_second = double(w.positions(mode)) / m.stats.median;
    m.weights_gb_per_second =
        w.new_tokens() * weight_bytes_per_forward(c, m.precision) / m.stats.median / 1e9;
  }
  return m;
}

}  // namespace

SweepResult run_sweep(std::shared_ptr<const Model> model, const Workload& w, const SweepOptions& o,
                      const ProgressFn& progress) {
  SweepResult result;
  for (Mode mode : o.modes) {
    // The serial reference first: the baseline, and the expected tokens when
    // the model has no goldens.
    const bool listed =
        std::find(o.backends.begin(), o.backends.end(), "reference") != o.backends.end();
    std::optional<Measurement> reference;
    if (listed || o.measure_reference) {
      auto backend = make_backend("reference", model, {});
      reference = measure(*backend, mode, w, w.reference_reps, o.goldens, nullptr, progress,
                          std::string("reference ") + mode_name(mode));
      result.measurements.push_back(*reference);
    }
    for (const std::string& name : o.backends) {
      if (name == "reference") continue;
      const BackendEntry& entry = find_backend(name);
      const std::vector<int> counts = entry.threaded ? o.threads : std::vector<int>{1};
      for (Precision precision : o.precisions) {
        if (!offers_precision(entry, precision)) continue;
        for (int threads : counts) {
          const std::string label = backend_label(name, precision) + " " + std::to_string(threads) +
                                    " thread" + (threads == 1 ? "" : "s") + " " + mode_name(mode);
          if (progress) progress(label + ": preparing the weights");
          BackendConfig config;
          config.threads = threads;
          config.precision = precision;
          const auto t0 = Clock::now();
          auto backend = make_backend(name, model, config);
          const double pack = std::chrono::duration<double>(Clock::now() - t0).count();
          Measurement m = measure(*backend, mode, w, w.reps, o.goldens,
                                  reference ? &reference->generated : nullptr, progress, label);
          m.pack_seconds = pack;
          result.measurements.push_back(std::move(m));
        }
      }
    }
  }
  if (o.measure_overhead) {
    auto null = make_backend("null", model, {});
    result.overhead = measure(*null, o.modes.front(), w, std::max(w.reps, 5), nullptr, nullptr,
                              progress, "null (harness overhead)");
    result.overhead_per_step_us = result.overhead->stats.median / w.new_tokens() * 1e6;
  }

  // Speedups: over 1 thread of the same backend and mode, and over the serial
  // reference in the same mode.
  double fastest = 0;
  for (Measurement& m : result.measurements) {
    for (const Measurement& base : result.measurements) {
      if (base.mode != m.mode || base.stats.median <= 0) continue;
      if (base.backend == m.backend && base.precision == m.precision && base.threads == 1) {
        m.speedup_vs_1thread = base.stats.median / m.stats.median;
        m.efficiency = m.speedup_vs_1thread / m.threads;
      }
      if (base.backend == "reference") m.speedup_vs_reference = base.stats.median / m.stats.median;
    }
    // bfloat16 is not float32: its tokens are shown, not required to match.
    const bool gated = m.precision == Precision::kFloat32;
    if ((gated && m.tokens == Check::kNo) || m.logits == Check::kNo) result.failures++;
    if (fastest == 0 || m.stats.median < fastest) fastest = m.stats.median;
  }
  result.fastest_step_us = fastest / w.new_tokens() * 1e6;
  return result;
}

}  // namespace gpt2
