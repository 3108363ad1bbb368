#include "runtime/beam_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>

#include "backends/host_chunks.h"
#include "reference/mathfn.h"
#include "runtime/scheduler.h"

namespace gpt2 {

namespace {

constexpr float kMinusBig = -1.0e9f;  // transformers' -1e9: exact in float32

// ln(s) for s > 0 in double from + - * / alone (no libm, no FMA: the build
// contracts nothing), so that a log-softmax has the same bits everywhere:
// s = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(z), z = (m-1)/(m+1),
// |z| < 0.172, by its series to z^31 (error below 1e-18).
double log_double(double s) {
  if (!(s > 0)) return s == 0 ? -std::numeric_limits<double>::infinity() : s;
  if (std::isinf(s)) return s;
  int e = 0;
  double m = std::frexp(s, &e);  // [0.5, 1)
  if (m < 0.70710678118654752440) {
    m = m * 2.0;
    e = e - 1;
  }
  const double z = (m - 1.0) / (m + 1.0), z2 = z * z;
  double sum = 0.0;
  for (int k = 15; k >= 0; k--) sum = sum * z2 + 1.0 / double(2 * k + 1);
  return 2.0 * z * sum + double(e) * 0.69314718055994530942;
}

// Orders candidates by score (NaN last), ties by the lower flat index.
struct Better {
  int vocab;
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    const float sa = std::isnan(a.score) ? -INFINITY : a.score;
    const float sb = std::isnan(b.score) ? -INFINITY : b.score;
    if (sa != sb) return sa > sb;
    return long(a.beam) * vocab + a.token < long(b.beam) * vocab + b.token;
  }
};

// The value torch divides a float32 tensor by for `len ** length_penalty`:
// Python's float power, then the scalar as float32.
float length_divisor(int len, float length_penalty) {
  return float(std::pow(double(len), double(length_penalty)));
}

}  // namespace

const char* early_stopping_name(EarlyStopping e) {
  switch (e) {
    case EarlyStopping::kFalse:
      return "false";
    case EarlyStopping::kTrue:
      return "true";
    case EarlyStopping::kNever:
      return "never";
  }
  return "?";
}

std::optional<EarlyStopping> parse_early_stopping(std::string_view text) {
  if (text == "false") return EarlyStopping::kFalse;
  if (text == "true") return EarlyStopping::kTrue;
  if (text == "never") return EarlyStopping::kNever;
  return std::nullopt;
}

std::string beam_options_label(const BeamOptions& o) {
  char penalty[32];
  std::snprintf(penalty, sizeof penalty, "%g", double(o.length_penalty));
  return "beams " + std::to_string(o.beams) + ", length penalty " + penalty + ", early stopping " +
         early_stopping_name(o.early_stopping) + ", " + std::to_string(o.num_return) + " returned" +
         (o.eos < 0 ? ", no end-of-text" : "");
}

std::string beam_options_problem(const BeamOptions& o, int vocab_size) {
  if (o.beams < 1) return "--beams must be at least 1";
  if (o.beams > kMaxBatch) {
    return "--beams " + std::to_string(o.beams) + " is more than a batch holds (" +
           std::to_string(kMaxBatch) + " sequences)";
  }
  if (o.num_return < 1) return "--num-return must be at least 1";
  if (o.num_return > o.beams) {
    return "--num-return " + std::to_string(o.num_return) + " is more than --beams " +
           std::to_string(o.beams);
  }
  if (!std::isfinite(o.length_penalty)) return "--length-penalty must be a finite number";
  if (o.eos >= vocab_size) {
    return "end-of-text token " + std::to_string(o.eos) + " is outside the vocabulary [0, " +
           std::to_string(vocab_size) + ")";
  }
  if (vocab_size < 2) return "beam search needs a vocabulary of at least 2 tokens";
  return "";
}

BeamSearch::BeamSearch(const BeamOptions& options, int prompt_len, int max_length, int vocab_size)
    : options_(options),
      prompt_len_(prompt_len),
      max_length_(max_length),
      vocab_(vocab_size),
      cur_len_(prompt_len),
      margin_(INFINITY) {
  if (std::string problem = beam_options_problem(options, vocab_size); !problem.empty()) {
    throw std::invalid_argument(problem + ".");
  }
  if (prompt_len < 1 || max_length <= prompt_len) {
    throw std::invalid_argument("beam search: a prompt of " + std::to_string(prompt_len) +
                                " tokens cannot grow to " + std::to_string(max_length));
  }
  const int K = options.beams;
  running_.resize(K);
  for (Hypothesis& h : running_) h.score = kMinusBig;
  running_[0].score = 0.0f;
  slots_.resize(K);
  for (Hypothesis& h : slots_) h.score = kMinusBig;
  best_.resize(K);
  scratch_.resize(K);
  parents_.assign(K, 0);
}

void beam_log_softmax(std::span<const float> logits, std::span<float> out) {
  const std::size_t V = logits.size();
  float max = -INFINITY;
  for (std::size_t i = 0; i < V; i++) max = std::max(max, logits[i]);
  double sum = 0.0;
  for (std::size_t i = 0; i < V; i++) sum += double(exp_ref(logits[i] - max));
  const float log_sum = float(log_double(sum));
  for (std::size_t i = 0; i < V; i++) out[i] = (logits[i] - max) - log_sum;
}

void BeamSearch::score(int b, std::span<const float> logits) {
  const int V = vocab_;
  if (int(logits.size()) < V) throw std::invalid_argument("beam search: logits need V floats");
  // 1. The log-softmax, 2. each candidate's score.
  std::vector<float>& s = scratch_[b];
  s.resize(V);
  beam_log_softmax(logits.first(V), s);
  const float running = running_[b].score;
  for (int i = 0; i < V; i++) s[i] = running + s[i];
  // Its 2K + 1 best (one past the 2K, for the margin), by score then id.
  const std::size_t keep = std::min<std::size_t>(2 * options_.beams + 1, V);
  std::vector<Candidate>& best = best_[b];
  best.clear();
  const Better better{V};
  for (int i = 0; i < V; i++) {
    const Candidate c{s[i], b, i};
    if (best.size() == keep && !better(c, best.back())) continue;
    auto at = std::upper_bound(best.begin(), best.end(), c, better);
    best.insert(at, c);
    if (best.size() > keep) best.pop_back();
  }
}

void BeamSearch::advance() {
  if (done_) throw std::logic_error("beam search: advance() after done()");
  const int K = options_.beams;
  const Better better{vocab_};
  // 3. The 2K best over all beams.
  std::vector<Candidate> all;
  for (const auto& b : best_) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end(), better);
  const std::size_t take = std::min<std::size_t>(2 * K, all.size());
  auto gap = [&](float a, float b) {
    if (std::isfinite(a) && std::isfinite(b) && a > kMinusBig / 2 && b > kMinusBig / 2) {
      margin_ = std::min(margin_, a - b);
    }
  };
  if (all.size() > take) gap(all[take - 1].score, all[take].score);
  all.resize(take);
  // 4. Which finish, and the K running beams among the rest.
  std::vector<bool> hit(take);
  for (std::size_t i = 0; i < take; i++) {
    hit[i] = (options_.eos >= 0 && all[i].token == options_.eos) || cur_len_ + 1 >= max_length_;
  }
  struct Ranked {
    float score;
    int beam;  // its rank among the 2K (the tie-break)
    int token;
  };
  std::vector<Ranked> run(take);
  for (std::size_t i = 0; i < take; i++) {
    run[i] = {hit[i] ? all[i].score + kMinusBig : all[i].score, int(i), 0};
  }
  std::stable_sort(run.begin(), run.end(), [](const Ranked& a, const Ranked& b) {
    const float sa = std::isnan(a.score) ? -INFINITY : a.score;
    const float sb = std::isnan(b.score) ? -INFINITY : b.score;
    return sa > sb;
  });
  if (int(run.size()) > K) gap(run[K - 1].score, run[K].score);
  auto extended = [&](std::size_t i) {
    const Candidate& c = all[i];
    Hypothesis h;
    h.tokens = running_[c.beam].tokens;
    h.tokens.push_back(c.token);
    h.path = running_[c.beam].path;
    h.path.push_back(c.score);
    return h;
  };
  std::vector<Hypothesis> next(K);
  for (int j = 0; j < K; j++) {
    const std::size_t i = std::size_t(run[j].beam);
    next[j] = extended(i);
    next[j].score = run[j].score;
    parents_[j] = all[i].beam;
  }
  // 5. The hypotheses: the kept K, then the 2K candidates, K best stay.
  const float divisor = length_divisor(cur_len_ + 1 - prompt_len_, options_.length_penalty);
  const bool full =
      options_.early_stopping == EarlyStopping::kTrue &&
      std::all_of(slots_.begin(), slots_.end(), [](const Hypothesis& h) { return h.finished; });
  std::vector<Ranked> merged;
  for (int k = 0; k < K; k++) merged.push_back({slots_[k].score, k, 0});
  for (std::size_t i = 0; i < take; i++) {
    const bool finishes = hit[i] && int(i) < K;
    float f = all[i].score / divisor;
    f += full ? kMinusBig : -0.0f;
    f += heuristic_unsatisfied_ ? -0.0f : kMinusBig;
    f += finishes ? -0.0f : kMinusBig;
    merged.push_back({f, K + int(i), finishes ? 1 : 0});
  }
  std::stable_sort(merged.begin(), merged.end(), [](const Ranked& a, const Ranked& b) {
    const float sa = std::isnan(a.score) ? -INFINITY : a.score;
    const float sb = std::isnan(b.score) ? -INFINITY : b.score;
    return sa > sb;
  });
  if (int(merged.size()) > K) gap(merged[K - 1].score, merged[K].score);
  std::vector<Hypothesis> slots(K);
  for (int k = 0; k < K; k++) {
    const Ranked& m = merged[k];
    if (m.beam < K) {
      slots[k] = slots_[m.beam];
    } else {
      slots[k] = extended(std::size_t(m.beam - K));
      slots[k].finished = m.token == 1;
    }
    slots[k].score = m.score;
  }
  slots_ = std::move(slots);
  running_ = std::move(next);
  cur_len_++;
  steps_++;
  // 6. Whether to go on.
  const int best_len =
      options_.early_stopping == EarlyStopping::kNever && options_.length_penalty > 0.0f
          ? max_length_ - prompt_len_
          : cur_len_ - prompt_len_;
  const float best_running = running_[0].score / length_divisor(best_len, options_.length_penalty);
  float worst = INFINITY;
  for (const Hypothesis& h : slots_) worst = std::min(worst, h.score);
  bool improvable = false;
  for (const Hypothesis& h : slots_) improvable |= best_running > (h.finished ? worst : kMinusBig);
  heuristic_unsatisfied_ = heuristic_unsatisfied_ && improvable;
  const bool all_finished =
      std::all_of(slots_.begin(), slots_.end(), [](const Hypothesis& h) { return h.finished; });
  const bool open_beam = !(all_finished && options_.early_stopping == EarlyStopping::kTrue);
  const bool continuations = !std::all_of(hit.begin(), hit.end(), [](bool h) { return h; });
  done_ = !(heuristic_unsatisfied_ && open_beam && continuations);
}

std::vector<Hypothesis> BeamSearch::results() const {
  return {slots_.begin(), slots_.begin() + options_.num_return};
}

std::size_t beam_cache_bytes(const ModelConfig& config, std::span<const BeamPrompt> prompts,
                             int beams) {
  std::size_t need = 0;
  for (const BeamPrompt& p : prompts) need += std::size_t(beams) * kv_cache_bytes(config, p.n - 1);
  return need;
}

namespace {

// One prompt's search and its beams' sessions.
struct Group {
  std::unique_ptr<BeamSearch> search;
  const BeamPrompt* prompt = nullptr;
  std::vector<std::unique_ptr<Session>> sessions;  // K, opened at the start
  std::vector<int> session_of;                     // running beam j's session
  std::vector<float> logits;                       // K x V
  std::vector<std::vector<int>> sequences;         // this step's, per running beam
};

}  // namespace

std::vector<BeamResult> beam_search(const Backend& backend, std::span<const BeamPrompt> prompts,
                                    const BeamOptions& options, Mode mode, BeamTimes* times) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  const ModelConfig& c = backend.model().config();
  const int V = c.vocab_size, K = options.beams;
  if (std::string problem = beam_options_problem(options, V); !problem.empty()) {
    throw std::invalid_argument(problem + ".");
  }
  if (std::size_t(K) * prompts.size() > std::size_t(kMaxBatch)) {
    throw std::invalid_argument(std::to_string(prompts.size()) + " prompts of " +
                                std::to_string(K) + " beams are more sequences than a batch " +
                                "holds (" + std::to_string(kMaxBatch) + ").");
  }
  for (const BeamPrompt& p : prompts) check_prompt(p.tokens, p.n, c, PromptOwner::kBeamPrompt);
  check_cache_memory(beam_cache_bytes(c, prompts, K), cache_memory(backend), "The beams'",
                     "fewer --beams or prompts at once, or shorter sequences");
  const bool parallel = backend.info().device != Device::kCpu;
  std::vector<Group> groups(prompts.size());
  for (std::size_t g = 0; g < prompts.size(); g++) {
    Group& gr = groups[g];
    gr.prompt = &prompts[g];
    gr.search =
        std::make_unique<BeamSearch>(options, int(prompts[g].tokens.size()), prompts[g].n, V);
    for (int b = 0; b < K; b++) gr.sessions.push_back(backend.open_session(prompts[g].n - 1));
    gr.session_of.assign(K, 0);
    gr.logits.resize(std::size_t(K) * V);
    gr.sequences.resize(K);
  }
  BeamTimes local;
  BeamTimes& t = times ? *times : local;
  std::vector<SequenceStep> steps;
  std::vector<std::pair<Group*, int>> scored;  // (group, beam) of this step
  while (true) {
    // The running beams' step: each beam's new token (its whole sequence in
    // recompute mode; the prompt, on beam 0 only, at the first step).
    steps.clear();
    for (Group& gr : groups) {
      if (gr.search->done()) continue;
      const BeamSearch& s = *gr.search;
      const int live = s.steps() == 0 ? 1 : K;
      for (int j = 0; j < live; j++) {
        std::vector<int>& seq = gr.sequences[j];
        seq = gr.prompt->tokens;
        if (s.steps() > 0) seq.insert(seq.end(), s.tokens(j).begin(), s.tokens(j).end());
        const int session = mode == Mode::kKvCache ? gr.session_of[j] : j;
        const int pos = mode == Mode::kKvCache ? gr.sessions[session]->cached() : 0;
        SequenceStep step;
        step.session = gr.sessions[session].get();
        step.tokens = std::span<const int>(seq).subspan(pos);
        step.pos = pos;
        step.logits = std::span<float>(gr.logits).subspan(std::size_t(j) * V, V);
        steps.push_back(step);
      }
    }
    if (steps.empty()) break;
    const auto t0 = Clock::now();
    backend.forward_batch(steps);
    const auto t1 = Clock::now();
    t.forward += seconds(t0, t1);
    t.steps++;
    // Score every beam (at the first step every beam sees beam 0's logits).
    scored.clear();
    for (Group& gr : groups) {
      if (gr.search->done()) continue;
      for (int b = 0; b < K; b++) scored.emplace_back(&gr, b);
    }
    t.tokens += long(scored.size());  // each running beam's token of the step
    // A GPU backend's beams on a few host threads (a beam's log-softmax is
    // ~50k exps: one beam a thread is worth it).
    auto score = [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; i++) {
        auto [gr, b] = scored[i];
        const int row = gr->search->steps() == 0 ? 0 : b;
        gr->search->score(b, std::span<const float>(gr->logits).subspan(std::size_t(row) * V, V));
      }
    };
    if (parallel) {
      for_host_chunks(scored.size(), score, 1);
    } else {
      score(0, scored.size());
    }
    // Advance, and fork the caches of the beams that go on.
    std::vector<CacheCopy> copies;
    for (Group& gr : groups) {
      if (gr.search->done()) continue;
      gr.search->advance();
      if (gr.search->done() || mode != Mode::kKvCache) continue;
      std::vector<int> next(K, -1);
      std::vector<bool> claimed(K, false);
      for (int j = 0; j < K; j++) {
        const int from = gr.session_of[gr.search->parent(j)];
        if (!claimed[from]) {
          claimed[from] = true;
          next[j] = from;
        }
      }
      int free = 0;
      for (int j = 0; j < K; j++) {
        if (next[j] >= 0) continue;
        while (claimed[free]) free++;
        claimed[free] = true;
        next[j] = free;
        const Session* from = gr.sessions[gr.session_of[gr.search->parent(j)]].get();
        copies.push_back({from, gr.sessions[free].get(), from->cached()});
      }
      gr.session_of = next;
    }
    const auto t2 = Clock::now();
    backend.copy_caches(copies);
    const auto t3 = Clock::now();
    t.search += seconds(t1, t2);
    t.copy += seconds(t2, t3);
    t.copies += long(copies.size());
  }
  std::vector<BeamResult> out(groups.size());
  for (std::size_t g = 0; g < groups.size(); g++) {
    out[g].hypotheses = groups[g].search->results();
    out[g].steps = groups[g].search->steps();
    out[g].margin = groups[g].search->margin();
  }
  return out;
}

}  // namespace gpt2
