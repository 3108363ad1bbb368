// Beam search: the state machine on toy models (a fixed table of logits per
// prefix) against a line-by-line port of transformers' vectorized
// _beam_search (full beams x vocabulary arrays, stable sorts) and against
// cases worked out by hand; then the driver on real backends, whose forked
// caches must give what each beam's sequence gets computed from scratch.
#include "runtime/beam_search.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>

#include "backends/registry.h"
#include "runtime/backend_specs.h"
#include "runtime/scheduler.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

std::vector<BeamPrompt> one(std::vector<int> tokens, int n) {
  return {BeamPrompt{std::move(tokens), n}};
}

using Logits = std::function<std::vector<float>(const std::vector<int>& sequence)>;

// A toy model: each prefix's logits drawn from a hash of it, from a few values
// so that ties happen (within a beam and across beams).
Logits toy_model(int V, std::uint64_t seed, bool coarse) {
  return [=](const std::vector<int>& seq) {
    std::uint64_t h = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int t : seq) h = (h ^ std::uint64_t(t + 1)) * 0x100000001B3ull;
    std::mt19937_64 rng(h);
    std::vector<float> logits(V);
    for (float& x : logits) {
      x = coarse ? float(int(rng() % 7) - 3) * 0.5f : float(int(rng() % 20001) - 10000) * 4e-4f;
    }
    return logits;
  };
}

// Drives a BeamSearch over a toy model.
std::vector<Hypothesis> run_search(const BeamOptions& o, const std::vector<int>& prompt,
                                   int max_length, int V, const Logits& model,
                                   int* steps = nullptr) {
  BeamSearch search(o, int(prompt.size()), max_length, V);
  while (!search.done()) {
    for (int b = 0; b < o.beams; b++) {
      std::vector<int> seq = prompt;
      if (search.steps() > 0)
        seq.insert(seq.end(), search.tokens(b).begin(), search.tokens(b).end());
      search.score(b, model(seq));
    }
    search.advance();
  }
  if (steps) *steps = search.steps();
  return search.results();
}

// transformers' _beam_search for one prompt, ported tensor for tensor onto
// whole (K, V) arrays; torch.topk's ties taken by the lower index (stable).
struct Port {
  std::vector<std::vector<int>> tokens;
  std::vector<float> scores;
  int steps = 0;
};
Port hf_port(const BeamOptions& o, const std::vector<int>& prompt, int max_length, int V,
             const Logits& model) {
  const int K = o.beams, P = int(prompt.size());
  const float big = -1.0e9f;
  auto topk = [](const std::vector<float>& v, int k) {
    std::vector<int> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return v[a] > v[b]; });
    idx.resize(k);
    return idx;
  };
  auto pow_f = [](int len, float a) { return float(std::pow(double(len), double(a))); };
  std::vector<std::vector<int>> running(K, prompt), sequences(K, prompt);
  std::vector<float> running_scores(K, big), beam_scores(K, big);
  running_scores[0] = 0.0f;
  std::vector<bool> finished(K, false);
  bool unsatisfied = true;
  int cur_len = P, steps = 0;
  while (true) {
    std::vector<float> acc(std::size_t(K) * V), lp(V);
    for (int b = 0; b < K; b++) {
      // At the first step the K beams all hold the prompt.
      beam_log_softmax(model(running[b]), lp);
      for (int t = 0; t < V; t++) acc[std::size_t(b) * V + t] = lp[t] + running_scores[b];
    }
    const std::vector<int> top = topk(acc, 2 * K);
    std::vector<float> top_scores(2 * K);
    std::vector<std::vector<int>> top_seqs(2 * K);
    std::vector<bool> hit(2 * K);
    for (int i = 0; i < 2 * K; i++) {
      top_scores[i] = acc[top[i]];
      top_seqs[i] = running[top[i] / V];
      top_seqs[i].push_back(top[i] % V);
      hit[i] = (o.eos >= 0 && top[i] % V == o.eos) || cur_len + 1 >= max_length;
    }
    std::vector<float> run_scores(2 * K);
    for (int i = 0; i < 2 * K; i++) run_scores[i] = top_scores[i] + (hit[i] ? big : -0.0f);
    const std::vector<int> next = topk(run_scores, K);
    for (int j = 0; j < K; j++) {
      running[j] = top_seqs[next[j]];
      running_scores[j] = run_scores[next[j]];
    }
    const bool full = std::all_of(finished.begin(), finished.end(), [](bool f) { return f; }) &&
                      o.early_stopping == EarlyStopping::kTrue;
    std::vector<float> merged = beam_scores;
    std::vector<std::vector<int>> merged_seqs = sequences;
    std::vector<bool> merged_finished = finished;
    for (int i = 0; i < 2 * K; i++) {
      const bool did = hit[i] && i < K;
      float f = top_scores[i] / pow_f(cur_len + 1 - P, o.length_penalty);
      f += full ? big : -0.0f;
      f += unsatisfied ? -0.0f : big;
      f += did ? -0.0f : big;
      merged.push_back(f);
      merged_seqs.push_back(top_seqs[i]);
      merged_finished.push_back(did);
    }
    const std::vector<int> keep = topk(merged, K);
    for (int k = 0; k < K; k++) {
      beam_scores[k] = merged[keep[k]];
      sequences[k] = merged_seqs[keep[k]];
      finished[k] = merged_finished[keep[k]];
    }
    cur_len++;
    steps++;
    const int best_len = o.early_stopping == EarlyStopping::kNever && o.length_penalty > 0
                             ? max_length - P
                             : cur_len - P;
    const float best = running_scores[0] / pow_f(best_len, o.length_penalty);
    const float worst = *std::min_element(beam_scores.begin(), beam_scores.end());
    bool any = false;
    for (int k = 0; k < K; k++) any = any || best > (finished[k] ? worst : big);
    unsatisfied = unsatisfied && any;
    const bool all_finished =
        std::all_of(finished.begin(), finished.end(), [](bool f) { return f; });
    const bool open = !(all_finished && o.early_stopping == EarlyStopping::kTrue);
    const bool valid = !std::all_of(hit.begin(), hit.end(), [](bool h) { return h; });
    if (!(unsatisfied && open && valid)) break;
  }
  Port out;
  for (int k = 0; k < o.num_return; k++) {
    out.tokens.emplace_back(sequences[k].begin() + P, sequences[k].end());
    out.scores.push_back(beam_scores[k]);
  }
  out.steps = steps;
  return out;
}

TEST(BeamSearchTest, LogSoftmaxIsTheLogOfTheSoftmax) {
  const std::vector<float> logits = test::random_values(1000, 5, 8.0f);
  std::vector<float> lp(logits.size());
  beam_log_softmax(logits, lp);
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(double(x) - max);
  double total = 0;
  for (std::size_t i = 0; i < logits.size(); i++) {
    const double want = double(logits[i]) - max - std::log(sum);
    EXPECT_NEAR(lp[i], want, 1e-6 * std::max(1.0, std::fabs(want))) << i;  // float32 rounding
    total += std::exp(double(lp[i]));
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

// Every option on many toy models, coarse (ties everywhere) and fine: the
// same hypotheses, scores bit for bit and steps as the port.
TEST(BeamSearchTest, EqualsTheTransformersPortOnToyModels) {
  int compared = 0, stopped_early = 0, finished_by_eos = 0;
  for (int V : {5, 9, 40}) {
    for (int K : {1, 2, 3, 4}) {
      if (2 * K > V * K) continue;
      for (float alpha : {0.0f, 1.0f, 2.0f, -0.5f}) {
        for (EarlyStopping es :
             {EarlyStopping::kFalse, EarlyStopping::kTrue, EarlyStopping::kNever}) {
          for (int seed = 0; seed < 6; seed++) {
            BeamOptions o;
            o.beams = K;
            o.num_return = 1 + seed % K;
            o.length_penalty = alpha;
            o.early_stopping = es;
            o.eos = seed % 3 == 2 ? -1 : 1 + seed % (V - 1);
            const std::vector<int> prompt(1 + seed % 3, seed % V);
            const int max_length = int(prompt.size()) + 2 + seed % 6;
            const Logits model = toy_model(V, std::uint64_t(seed * 131 + V * 7 + K), seed % 2 == 0);
            int steps = 0;
            const std::vector<Hypothesis> ours =
                run_search(o, prompt, max_length, V, model, &steps);
            const Port port = hf_port(o, prompt, max_length, V, model);
            SCOPED_TRACE("V " + std::to_string(V) + " " + beam_options_label(o) + " seed " +
                         std::to_string(seed));
            ASSERT_EQ(ours.size(), port.tokens.size());
            EXPECT_EQ(steps, port.steps);
            for (std::size_t k = 0; k < ours.size(); k++) {
              EXPECT_EQ(ours[k].tokens, port.tokens[k]) << "hypothesis " << k;
              EXPECT_EQ(std::bit_cast<std::uint32_t>(ours[k].score),
                        std::bit_cast<std::uint32_t>(port.scores[k]))
                  << ours[k].score << " vs " << port.scores[k];
              if (!ours[k].tokens.empty() && ours[k].tokens.back() == o.eos) finished_by_eos++;
            }
            stopped_early += steps < max_length - int(prompt.size());
            compared++;
          }
        }
      }
    }
  }
  EXPECT_GT(compared, 500);
  EXPECT_GT(stopped_early, 30);  // the stopping rules were exercised
  EXPECT_GT(finished_by_eos, 50);
}

// A table of logits per prefix, for the cases worked out by hand. Tokens:
// 0 1 2, end-of-text 3; V = 4.
Logits table(const std::map<std::vector<int>, std::vector<float>>& rows) {
  return [rows](const std::vector<int>& seq) {
    auto it = rows.find(seq);
    return it != rows.end() ? it->second : std::vector<float>{0, 0, 0, 0};
  };
}

float lp_of(const std::vector<float>& logits, int t) {
  double sum = 0;
  for (float x : logits) sum += std::exp(double(x));
  return float(double(logits[t]) - std::log(sum));
}

BeamOptions two_beams(float alpha = 1.0f, EarlyStopping es = EarlyStopping::kFalse) {
  BeamOptions o;
  o.beams = 2;
  o.num_return = 2;
  o.eos = 3;
  o.length_penalty = alpha;
  o.early_stopping = es;
  return o;
}

// End-of-text ranked first at the first step (below rank K): a hypothesis of
// one token, scored by its log-probability; the search goes on with the two
// best others and ends when they cannot beat it.
TEST(BeamSearchTest, EndOfTextBelowRankKFinishesAHypothesis) {
  const std::vector<float> first = {1.0f, 0.5f, -2.0f, 2.0f};
  const std::vector<float> later = {0.0f, 0.0f, 0.0f, 1.0f};
  const Logits model = [&](const std::vector<int>& seq) { return seq.size() == 1 ? first : later; };
  int steps = 0;
  const std::vector<Hypothesis> h = run_search(two_beams(), {0}, 6, 4, model, &steps);
  EXPECT_EQ(h[0].tokens, (std::vector<int>{3}));
  EXPECT_NEAR(h[0].score, lp_of(first, 3), 1e-6);  // -0.476
  EXPECT_TRUE(h[0].finished);
  // Then [0, eos]: (lp(0) + lp'(eos)) / 2 = (-1.476 - 0.744) / 2 = -1.110;
  // the best running beam, [0, 0] at (-1.476 - 1.744) / 2 = -1.610, cannot
  // beat it: the search ends after two steps.
  EXPECT_EQ(h[1].tokens, (std::vector<int>{0, 3}));
  EXPECT_NEAR(h[1].score, (lp_of(first, 0) + lp_of(later, 3)) / 2, 1e-6);
  EXPECT_EQ(steps, 2);
}

// End-of-text at rank K exactly (the third of the 2K = 4 candidates): not a
// hypothesis; only the first K candidates may finish.
TEST(BeamSearchTest, EndOfTextAtOrAboveRankKDoesNotFinish) {
  for (const std::vector<float>& first :
       {std::vector<float>{2.0f, 1.5f, -1.0f, 1.0f}, std::vector<float>{2.0f, 1.5f, 1.2f, 1.0f}}) {
    const Logits model = table({{{0}, first}});
    BeamSearch search(two_beams(), 1, 6, 4);
    for (int b = 0; b < 2; b++) search.score(b, model({0}));
    search.advance();
    // The running beams are tokens 0 and 1; no hypothesis yet: the search goes on.
    EXPECT_EQ(search.tokens(0), (std::vector<int>{0}));
    EXPECT_EQ(search.tokens(1), (std::vector<int>{1}));
    EXPECT_FALSE(search.done());
    for (const Hypothesis& hyp : search.results()) EXPECT_FALSE(hyp.finished);
  }
}

// Ties: uniform logits make every candidate equal; the lower flat index wins,
// so beam 0's lowest tokens run on and at the length limit the first two
// candidates (beam 0, tokens 0 and 1) are returned.
TEST(BeamSearchTest, TiesGoToTheLowerFlatIndex) {
  BeamOptions o = two_beams();
  o.eos = -1;
  const Logits uniform = table({});
  const std::vector<Hypothesis> h = run_search(o, {2}, 3, 4, uniform);
  EXPECT_EQ(h[0].tokens, (std::vector<int>{0, 0}));
  EXPECT_EQ(h[1].tokens, (std::vector<int>{0, 1}));
  EXPECT_EQ(h[0].score, h[1].score);
}

// The length limit: every candidate of the last step finishes; the K best are
// the hypotheses, whether they end in end-of-text or not.
TEST(BeamSearchTest, TheLengthLimitFinishesTheBestK) {
  const std::vector<float> first = {0.0f, 3.0f, 1.0f, 2.0f};
  int steps = 0;
  const std::vector<Hypothesis> h =
      run_search(two_beams(0.0f), {0}, 2, 4, table({{{0}, first}}), &steps);
  EXPECT_EQ(steps, 1);
  EXPECT_EQ(h[0].tokens, (std::vector<int>{1}));
  EXPECT_EQ(h[1].tokens, (std::vector<int>{3}));
  EXPECT_NEAR(h[0].score, lp_of(first, 1), 1e-6);
  EXPECT_TRUE(h[0].finished && h[1].finished);
}

// Length penalties: a short hypothesis (end-of-text first, lp -0.693) against
// a long one of three tokens (summed lp -0.693 - 1e-7): with penalty 0 the
// short wins (the kept one on a near tie), with 1 and 2 the long (-0.231 and
// -0.077 against -0.693).
TEST(BeamSearchTest, TheLengthPenaltyWeighsLength) {
  // Step 0 from [0]: eos and token 1 best; from [0, 1]: token 1 again; from
  // [0, 1, 1]: token 1; the limit ends it there (three new tokens).
  const std::vector<float> first = {-9.0f, 1.0f, -9.0f, 1.0f};
  const std::vector<float> sure = {-9.0f, 9.0f, -9.0f, -9.0f};
  const Logits model = table({{{0}, first}, {{0, 1}, sure}, {{0, 1, 1}, sure}});
  for (float alpha : {0.0f, 1.0f, 2.0f}) {
    BeamOptions o = two_beams(alpha, EarlyStopping::kNever);
    const std::vector<Hypothesis> h = run_search(o, {0}, 4, 4, model);
    const bool long_wins = alpha > 0.5f;
    SCOPED_TRACE(alpha);
    EXPECT_EQ(h[0].tokens.size(), long_wins ? 3u : 1u);
    const float short_lp = lp_of(first, 3);
    const float long_lp = lp_of(first, 1) + 2 * lp_of(sure, 1);
    EXPECT_NEAR(h[long_wins ? 0 : 1].score, long_lp / std::pow(3.0f, alpha), 1e-5);
    EXPECT_NEAR(h[long_wins ? 1 : 0].score, short_lp, 1e-5);
  }
}

// early_stopping: true stops once K hypotheses are in; false when the best
// running beam cannot beat the worst of them (by the current length); never
// goes on while it could with the most length possible.
TEST(BeamSearchTest, EachEarlyStoppingModeStopsWhereItShould) {
  // From [0]: eos and 1 tie best; each later step offers eos (likely) or 1.
  const std::vector<float> first = {-9.0f, 1.0f, -9.0f, 1.0f};
  const std::vector<float> later = {-9.0f, 0.5f, -9.0f, 1.0f};
  const Logits model = [&](const std::vector<int>& seq) { return seq.size() == 1 ? first : later; };
  std::map<EarlyStopping, int> steps;
  for (EarlyStopping es : {EarlyStopping::kTrue, EarlyStopping::kFalse, EarlyStopping::kNever}) {
    int n = 0;
    run_search(two_beams(2.0f, es), {0}, 12, 4, model, &n);
    steps[es] = n;
    const Port port = hf_port(two_beams(2.0f, es), {0}, 12, 4, model);
    EXPECT_EQ(n, port.steps) << early_stopping_name(es);
  }
  EXPECT_EQ(steps[EarlyStopping::kTrue], 2);  // [eos] at step 0, [1, eos] at step 1
  EXPECT_LT(steps[EarlyStopping::kTrue], steps[EarlyStopping::kFalse]);
  EXPECT_LE(steps[EarlyStopping::kFalse], steps[EarlyStopping::kNever]);
  EXPECT_EQ(steps[EarlyStopping::kNever], 11);  // penalty 2 > 0: to the length limit
}

TEST(BeamSearchTest, BadOptionsAreNamed) {
  BeamOptions o;
  o.beams = 0;
  EXPECT_NE(beam_options_problem(o, 50257).find("--beams"), std::string::npos);
  o.beams = 4;
  o.num_return = 5;
  EXPECT_NE(beam_options_problem(o, 50257).find("--num-return 5 is more than --beams 4"),
            std::string::npos);
  o.num_return = 1;
  o.beams = kMaxBatch + 1;
  EXPECT_NE(beam_options_problem(o, 50257).find("more than a batch holds"), std::string::npos);
  o.beams = 2;
  o.eos = 50257;
  EXPECT_NE(beam_options_problem(o, 50257).find("outside the vocabulary"), std::string::npos);
  o.eos = 50256;
  EXPECT_EQ(beam_options_problem(o, 50257), "");
  EXPECT_THROW(BeamSearch(o, 3, 3, 50257), std::invalid_argument);
  EXPECT_EQ(parse_early_stopping("never"), EarlyStopping::kNever);
  EXPECT_FALSE(parse_early_stopping("yes"));
}

// The driver: a backend's forked caches give each beam what its sequence
// computes from scratch (the search re-run with every beam's logits from a
// fresh session over its whole sequence), in both modes, several prompts at
// once as alone (bit for bit where the backend promises batch invariance), on
// every backend that computes here.
class BeamDriverTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BeamDriverTest, ForkedBeamsEqualBeamsComputedFromScratch) {
  auto model = test::tiny_model();
  auto backend = make_backend(model, backend_spec(GetParam()));
  auto reference = make_backend(model, backend_spec("reference"));
  const ModelConfig& c = model->config();
  const int V = c.vocab_size;
  const Logits scratch = [&](const std::vector<int>& seq) {
    auto s = backend->open_session(int(seq.size()));
    std::vector<float> logits(V), probs(V);
    s->forward(seq, 0, logits, probs);
    return logits;
  };
  const bool exact = backend->info().numerics == Numerics::kBitExact;
  // Several prompts at once give each the bits it gets alone only where the
  // backend promises batch invariance (blis's products change with the rows).
  const bool invariant = backend->info().batch_invariance == BatchInvariance::kYes;
  std::vector<BeamPrompt> prompts = {{{5, 7, 11}, 12}, {{42}, 9}, {{3, 1, 4, 1, 5, 9, 2}, 16}};
  for (int K : {1, 3, 4}) {
    BeamOptions o;
    o.beams = K;
    o.num_return = K;
    o.eos = 17;  // a token the tiny model picks now and then
    for (Mode mode : {Mode::kKvCache, Mode::kRecompute}) {
      BeamTimes times;
      const std::vector<BeamResult> together = beam_search(*backend, prompts, o, mode, &times);
      ASSERT_EQ(together.size(), prompts.size());
      EXPECT_GT(times.steps, 0);
      if (mode == Mode::kKvCache && K > 1) {
        EXPECT_GT(times.copies, 0);
      }
      for (std::size_t p = 0; p < prompts.size(); p++) {
        SCOPED_TRACE("K " + std::to_string(K) + " " + mode_name(mode) + " prompt " +
                     std::to_string(p));
        const std::vector<BeamResult> alone =
            beam_search(*backend, std::span(prompts).subspan(p, 1), o, mode);
        const std::vector<Hypothesis> fresh =
            exact ? run_search(o, prompts[p].tokens, prompts[p].n, V, scratch)
                  : std::vector<Hypothesis>();
        const std::vector<BeamResult> ref =
            beam_search(*reference, std::span(prompts).subspan(p, 1), o, Mode::kKvCache);
        ASSERT_EQ(together[p].hypotheses.size(), std::size_t(K));
        for (int k = 0; k < K; k++) {
          const Hypothesis& h = together[p].hypotheses[k];
          if (invariant) {
            EXPECT_EQ(h.tokens, alone[0].hypotheses[k].tokens);
            EXPECT_EQ(h.score, alone[0].hypotheses[k].score);
          } else if (alone[0].margin > 1e-2f) {  // beyond a near tie
            EXPECT_EQ(h.tokens, alone[0].hypotheses[k].tokens);
            EXPECT_NEAR(h.score, alone[0].hypotheses[k].score, 1e-3);
          }
          if (exact) {
            // From scratch: each position's logits of a fresh pass; the
            // bit-exact backends give the reference's bits either way.
            EXPECT_EQ(h.tokens, fresh[k].tokens);
            EXPECT_EQ(h.score, fresh[k].score);
            EXPECT_EQ(h.tokens, ref[0].hypotheses[k].tokens);
            EXPECT_EQ(h.score, ref[0].hypotheses[k].score);
          } else if (ref[0].margin > 1e-2f) {  // beyond a near tie
            EXPECT_EQ(h.tokens, ref[0].hypotheses[k].tokens);
            EXPECT_NEAR(h.score, ref[0].hypotheses[k].score, 1e-3);
          }
        }
      }
    }
  }
}

// One beam without end-of-text is greedy search: the same tokens as generate().
TEST_P(BeamDriverTest, OneBeamIsGreedy) {
  auto model = test::tiny_model();
  auto backend = make_backend(model, backend_spec(GetParam()));
  BeamOptions o;
  o.beams = 1;
  o.eos = -1;
  const std::vector<int> prompt = {9, 8, 7};
  const std::vector<BeamResult> r = beam_search(*backend, one(prompt, 20), o, Mode::kKvCache);
  auto session = backend->open_session(19);
  EXPECT_EQ(r[0].hypotheses[0].tokens,
            generate(*backend, *session, prompt, 20, Mode::kKvCache, Rule::kGreedy));
}

// A prompt that fills the context: one step, every candidate at the limit.
TEST_P(BeamDriverTest, APromptThatFillsTheContext) {
  auto model = test::tiny_model();
  auto backend = make_backend(model, backend_spec(GetParam()));
  const int T = model->config().max_seq_len;
  std::vector<int> prompt(T - 1);
  for (int i = 0; i < T - 1; i++) prompt[i] = (i * 37) % model->config().vocab_size;
  BeamOptions o;
  o.beams = 3;
  o.num_return = 3;
  const std::vector<BeamResult> r = beam_search(*backend, one(prompt, T), o, Mode::kKvCache);
  EXPECT_EQ(r[0].steps, 1);
  for (const Hypothesis& h : r[0].hypotheses) {
    EXPECT_EQ(h.tokens.size(), 1u);
    EXPECT_TRUE(h.finished);
  }
  EXPECT_THROW(beam_search(*backend, one(prompt, T + 1), o, Mode::kKvCache), std::invalid_argument);
}

std::vector<std::string> driver_backends() {
  std::vector<std::string> out;
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics != Numerics::kNone && backend_available(e, Precision::kFloat32)) {
      out.emplace_back(e.name);
    }
  }
  return out;
}

// Every backend that computes here (the CUDA ones on a GPU machine).
INSTANTIATE_TEST_SUITE_P(Backends, BeamDriverTest, ::testing::ValuesIn(driver_backends()),
                         [](const auto& info) {
                           std::string label = info.param;
                           for (char& ch : label) ch = std::isalnum((unsigned char)ch) ? ch : '_';
                           return label;
                         });

TEST(BeamDriverTest, BadRunsAreRefusedBeforeAnyWork) {
  auto backend = make_backend(test::tiny_model(), backend_spec("reference"));
  BeamOptions o;
  o.beams = 2;
  EXPECT_THROW(beam_search(*backend, one({1, 2}, 2), o, Mode::kKvCache), std::invalid_argument);
  EXPECT_THROW(beam_search(*backend, one({1, 99999}, 5), o, Mode::kKvCache), std::invalid_argument);
  o.num_return = 3;
  EXPECT_THROW(beam_search(*backend, one({1}, 5), o, Mode::kKvCache), std::invalid_argument);
  o.num_return = 1;
  o.beams = 600;
  std::vector<BeamPrompt> two = {{{1}, 5}, {{2}, 5}};
  EXPECT_THROW(beam_search(*backend, two, o, Mode::kKvCache), std::invalid_argument);
}

// The refusals say what is wrong, in a prompt's words (the checks the
// scheduler's requests get, runtime/scheduler.h).
TEST(BeamDriverTest, RefusalsSayWhatIsWrong) {
  const ModelConfig& c = test::tiny_model()->config();
  const std::size_t one_beam = kv_cache_bytes(c, c.max_seq_len - 1);
  test::SmallDevice gpu(make_backend(test::tiny_model(), backend_spec("reference")), 3 * one_beam);
  BeamOptions o;
  o.beams = 2;
  auto error = [&](std::vector<BeamPrompt> prompts) {
    try {
      beam_search(gpu, prompts, o, Mode::kKvCache);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(one({}, 5)), "A prompt holds no token.");
  EXPECT_EQ(error(one({1, 2}, 2)), "A prompt of 2 tokens asks for n = 2: n must be in [3, " +
                                       std::to_string(c.max_seq_len) + "].");
  EXPECT_EQ(error(one({1, 50257}, 5)), "Token 50257 is out of range [0, 50257).");
  const std::vector<BeamPrompt> two = {{{1}, c.max_seq_len}, {{2}, c.max_seq_len}};
  EXPECT_EQ(error(two), "The beams' key/value caches need " + std::to_string((4 * one_beam) >> 20) +
                            " MiB at once; " + std::to_string((3 * one_beam) >> 20) +
                            " MiB are free on the GPU (fewer --beams or prompts at once, or "
                            "shorter sequences).");
  EXPECT_EQ(error(one({1}, 5)), "no error");
}

// A GPU backend's beams are scored on several host threads: the same
// hypotheses, to the bit, as on one.
TEST(BeamDriverTest, BeamsScoredOnSeveralThreadsGetTheSameHypotheses) {
  auto cpu = make_backend(test::tiny_model(), backend_spec("reference"));
  test::SmallDevice gpu(make_backend(test::tiny_model(), backend_spec("reference")), std::size_t(1)
                                                                                         << 40);
  BeamOptions o;
  o.beams = 4;
  o.num_return = 4;
  o.eos = 7;
  const std::vector<BeamPrompt> prompts = {{{1, 2, 3}, 12}, {{4}, 9}, {{5, 6}, 14}};
  const std::vector<BeamResult> want = beam_search(*cpu, prompts, o, Mode::kKvCache);
  const std::vector<BeamResult> got = beam_search(gpu, prompts, o, Mode::kKvCache);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t g = 0; g < want.size(); g++) {
    EXPECT_EQ(got[g].steps, want[g].steps);
    ASSERT_EQ(got[g].hypotheses.size(), want[g].hypotheses.size());
    for (std::size_t h = 0; h < want[g].hypotheses.size(); h++) {
      const Hypothesis &a = got[g].hypotheses[h], &b = want[g].hypotheses[h];
      EXPECT_EQ(a.tokens, b.tokens);
      EXPECT_EQ(a.path, b.path);
      EXPECT_EQ(a.finished, b.finished);
      EXPECT_EQ(std::memcmp(&a.score, &b.score, sizeof(float)), 0) << a.score << " " << b.score;
    }
  }
}

}  // namespace
}  // namespace gpt2
