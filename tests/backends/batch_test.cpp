// Batched steps (Backend::forward_batch): every backend that computes here, at
// every precision it runs, advances several sequences of different lengths and
// positions in one call, prompts and decodes together; each sequence gets what
// it gets alone, bit for bit on every backend that promises batch invariance
// (BatchInvariance::kYes: the bit-exact ones, and cuda and cuda-tp, whose
// sums have one order at any row count), close on the others (the needle test
// on the golden prompts is gpt2-bench verify --batch).
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <random>

#include "backends/registry.h"
#include "reference/synthetic.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

// One sequence's calls: (tokens, pos) per step, and what each step produced.
struct Script {
  std::vector<std::vector<int>> tokens;  // per step
  std::vector<int> pos;                  // per step
};

struct Outputs {
  std::vector<std::vector<float>> logits, probs;  // per step
};

// The sequences of the test: prompts of 1 to 70 tokens, then decode steps,
// one joining late, one recomputing from 0 at a step.
std::vector<Script> scripts(int V) {
  std::mt19937 rng(7);
  auto tokens = [&](int n) {
    std::vector<int> t(n);
    for (int& x : t) x = int(rng() % unsigned(V));
    return t;
  };
  std::vector<Script> out;
  for (int len : {1, 5, 70, 12}) {
    Script s;
    s.tokens.push_back(tokens(len));
    s.pos.push_back(0);
    for (int step = 0; step < 4; step++) {
      s.tokens.push_back(tokens(1));
      s.pos.push_back(s.pos.back() + int(s.tokens[s.tokens.size() - 2].size()));
    }
    out.push_back(s);
  }
  // Recompute at its third step: the whole sequence again from position 0.
  Script& r = out[1];
  std::vector<int> whole;
  for (int i = 0; i < 3; i++) whole.insert(whole.end(), r.tokens[i].begin(), r.tokens[i].end());
  r.tokens[3].insert(r.tokens[3].begin(), whole.begin(), whole.end());
  r.pos[3] = 0;
  return out;
}

// Each sequence alone, through Session::forward.
std::vector<Outputs> alone(const Backend& b, const std::vector<Script>& ss) {
  const int V = b.model().config().vocab_size;
  std::vector<Outputs> out(ss.size());
  for (std::size_t s = 0; s < ss.size(); s++) {
    auto session = b.open_session(80);
    for (std::size_t k = 0; k < ss[s].tokens.size(); k++) {
      std::vector<float> logits(V), probs(V);
      session->forward(ss[s].tokens[k], ss[s].pos[k], logits, probs);
      out[s].logits.push_back(logits);
      out[s].probs.push_back(probs);
    }
  }
  return out;
}

// All together: sequence s joins at step s / 2 (so prompts and decodes mix),
// every live sequence advances in one forward_batch call per step.
std::vector<Outputs> batched(const Backend& b, const std::vector<Script>& ss) {
  const int V = b.model().config().vocab_size;
  std::vector<Outputs> out(ss.size());
  std::vector<std::unique_ptr<Session>> sessions;
  for (std::size_t s = 0; s < ss.size(); s++) sessions.push_back(b.open_session(80 + int(s)));
  std::vector<std::size_t> next(ss.size(), 0);
  for (int step = 0;; step++) {
    std::vector<SequenceStep> steps;
    std::vector<std::size_t> who;
    std::vector<std::vector<float>> logits, probs;
    logits.reserve(ss.size());
    probs.reserve(ss.size());
    for (std::size_t s = 0; s < ss.size(); s++) {
      if (int(s) / 2 > step || next[s] == ss[s].tokens.size()) continue;
      logits.emplace_back(V);
      probs.emplace_back(V);
      steps.push_back({sessions[s].get(), ss[s].tokens[next[s]], ss[s].pos[next[s]], logits.back(),
                       probs.back()});
      who.push_back(s);
    }
    if (steps.empty()) break;
    b.forward_batch(steps);
    for (std::size_t i = 0; i < who.size(); i++) {
      out[who[i]].logits.push_back(logits[i]);
      out[who[i]].probs.push_back(probs[i]);
      next[who[i]]++;
    }
  }
  return out;
}

using BatchParam = std::tuple<std::string, Precision, int>;

std::vector<BatchParam> params() {
  std::vector<BatchParam> out;
  for (const BackendEntry& e : backend_entries()) {
    for (Precision p : e.precisions) {
      for (int threads : {1, 3}) {
        if (threads > 1 && !e.threaded) continue;
        out.emplace_back(std::string(e.name), p, threads);
      }
    }
  }
  return out;
}

class BatchTest : public ::testing::TestWithParam<BatchParam> {
 protected:
  void SetUp() override {
    const auto& [name, precision, threads] = GetParam();
    if (std::string why; !backend_available(find_backend(name), precision, &why)) {
      GTEST_SKIP() << name << " at " << precision_name(precision) << " cannot run here: " << why;
    }
    backend_ = make_backend(model(), backend_spec(name, precision, threads));
  }
  // 2 layers, C = 80 in 5 heads, V = 1000: widths off every vector and group.
  static std::shared_ptr<const Model> model() {
    static const ModelConfig cfg{128, 1000, 1024, 2, 5, 80};
    static auto m = Model::from_parameters(cfg, synthetic_parameters(cfg, 5), "batch");
    return m;
  }
  std::unique_ptr<Backend> backend_;
};

TEST_P(BatchTest, EachSequenceGetsWhatItGetsAlone) {
  const std::vector<Script> ss = scripts(model()->config().vocab_size);
  const std::vector<Outputs> want = alone(*backend_, ss), got = batched(*backend_, ss);
  // Bit for bit where the backend promises it, whatever its numerics.
  const bool exact = backend_->info().batch_invariance == BatchInvariance::kYes;
  double worst = 0;
  for (std::size_t s = 0; s < ss.size(); s++) {
    ASSERT_EQ(got[s].logits.size(), want[s].logits.size());
    for (std::size_t k = 0; k < want[s].logits.size(); k++) {
      const auto &g = got[s].logits[k], &w = want[s].logits[k];
      if (exact) {
        ASSERT_EQ(std::memcmp(g.data(), w.data(), g.size() * 4), 0)
            << "sequence " << s << " step " << k << ": logits differ from its own run";
        ASSERT_EQ(std::memcmp(got[s].probs[k].data(), want[s].probs[k].data(), g.size() * 4), 0)
            << "sequence " << s << " step " << k << ": probs differ";
      }
      for (std::size_t v = 0; v < g.size(); v++) {
        worst = std::max(worst, std::fabs(double(g[v]) - w[v]));
      }
    }
  }
  // A library's products may choose other kernels for other row counts (blis,
  // onednn: BatchInvariance::kMeasured): close, and said by verify --batch
  // (bfloat16 products: within their own precision).
  const double bound = backend_->info().precision == Precision::kBFloat16 ? 0.1 : 1e-3;
  EXPECT_LE(worst, exact ? 0.0 : bound) << backend_->info().name;
}

// The logits of every position (for scoring), and no softmax when none is wanted.
TEST_P(BatchTest, EveryPositionsLogitsAndNoProbabilities) {
  const int V = model()->config().vocab_size;
  const std::vector<int> prompt = {3, 141, 59, 26, 535, 89};
  auto one = backend_->open_session(16);
  std::vector<std::vector<float>> want;
  for (std::size_t j = 0; j < prompt.size(); j++) {
    std::vector<float> logits(V), probs(V);
    one->forward(std::span<const int>(prompt).subspan(j, 1), int(j), logits, probs);
    want.push_back(logits);
  }
  auto a = backend_->open_session(16), b = backend_->open_session(8);
  std::vector<float> all(prompt.size() * V, NAN), last(V, NAN), probs(V, NAN);
  const std::vector<int> other = {7, 8};
  const std::vector<SequenceStep> steps = {{a.get(), prompt, 0, all, {}, true},
                                           {b.get(), other, 0, last, probs}};
  backend_->forward_batch(steps);
  EXPECT_EQ(a->cached(), int(prompt.size()));
  EXPECT_EQ(b->cached(), 2);
  double worst = 0;
  for (std::size_t j = 0; j < prompt.size(); j++) {
    for (int v = 0; v < V; v++) {
      ASSERT_TRUE(std::isfinite(all[j * V + v])) << "position " << j << " not written";
      worst = std::max(worst, std::fabs(double(all[j * V + v]) - want[j][v]));
    }
  }
  if (backend_->info().numerics == Numerics::kBitExact) {
    EXPECT_EQ(worst, 0.0) << "a prompt's logits at each position are those of one step at a time";
  } else {
    EXPECT_LE(worst, backend_->info().precision == Precision::kBFloat16 ? 0.1 : 1e-3);
  }
  double sum = 0;
  for (float p : probs) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-4);
}

TEST_P(BatchTest, BadStepsAreRefusedBeforeAnyWork) {
  const int V = model()->config().vocab_size;
  auto a = backend_->open_session(8);
  std::vector<float> logits(V), probs(V), small(V - 1);
  const std::vector<int> tokens = {1, 2};
  EXPECT_THROW(backend_->forward_batch(std::vector<SequenceStep>{
                   {a.get(), tokens, 0, logits, probs}, {a.get(), tokens, 0, logits, probs}}),
               std::invalid_argument);  // one session twice
  EXPECT_THROW(
      backend_->forward_batch(std::vector<SequenceStep>{{a.get(), tokens, 1, logits, probs}}),
      std::invalid_argument);  // past its cache
  EXPECT_THROW(
      backend_->forward_batch(std::vector<SequenceStep>{{a.get(), tokens, 0, small, probs}}),
      std::invalid_argument);
  const std::vector<int> bad = {V};
  EXPECT_THROW(backend_->forward_batch(std::vector<SequenceStep>{{a.get(), bad, 0, logits, probs}}),
               std::invalid_argument);
  EXPECT_EQ(a->cached(), 0);
}

// Backend::copy_caches: a session given another's cache (all of it, or its
// first positions, over what it held before) computes exactly what the
// source, or a session run along the same calls, computes: beam search forks
// its beams this way.
TEST_P(BatchTest, ACopiedCacheContinuesAsItsSource) {
  const int V = model()->config().vocab_size;
  auto run = [&](Session& s, std::vector<int> tokens, int pos) {
    std::vector<float> logits(V), probs(V);
    s.forward(tokens, pos, logits, probs);
    return logits;
  };
  const std::vector<int> prompt = {3, 141, 59, 26, 535};
  auto source = backend_->open_session(16), whole = backend_->open_session(12);
  auto prefix = backend_->open_session(16), along = backend_->open_session(16);
  run(*source, prompt, 0);
  run(*whole, {9, 9, 9, 9, 9, 9, 9}, 0);  // something to overwrite
  run(*prefix, {1, 2}, 0);
  backend_->copy_caches(
      std::vector<CacheCopy>{{source.get(), whole.get(), 5}, {source.get(), prefix.get(), 3}});
  EXPECT_EQ(whole->cached(), 5);
  EXPECT_EQ(prefix->cached(), 3);
  const std::vector<float> a = run(*source, {77}, 5), b = run(*whole, {77}, 5);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "the fork differs from its source";
  // The first three positions, then another continuation: what a session
  // that ran the same calls (the prompt, then these tokens at 3) computes.
  run(*along, prompt, 0);
  const std::vector<float> c = run(*prefix, {8, 13}, 3), d = run(*along, {8, 13}, 3);
  EXPECT_EQ(std::memcmp(c.data(), d.data(), c.size() * 4), 0) << "the prefix fork differs";
}

TEST_P(BatchTest, BadCopiesAreRefusedBeforeAnyCopy) {
  const int V = model()->config().vocab_size;
  auto a = backend_->open_session(8), b = backend_->open_session(4), c = backend_->open_session(8);
  std::vector<float> logits(V), probs(V);
  a->forward(std::vector<int>{1, 2, 3, 4, 5, 6}, 0, logits, probs);
  using Copies = std::vector<CacheCopy>;
  EXPECT_THROW(backend_->copy_caches(Copies{{a.get(), a.get(), 2}}), std::invalid_argument);
  EXPECT_THROW(backend_->copy_caches(Copies{{a.get(), c.get(), 7}}), std::invalid_argument);
  EXPECT_THROW(backend_->copy_caches(Copies{{a.get(), b.get(), 5}}), std::invalid_argument);
  EXPECT_THROW(backend_->copy_caches(Copies{{a.get(), c.get(), 2}, {a.get(), c.get(), 3}}),
               std::invalid_argument);  // a destination twice
  EXPECT_THROW(backend_->copy_caches(Copies{{a.get(), c.get(), 2}, {c.get(), b.get(), 1}}),
               std::invalid_argument);  // c both
  // Another backend's session (two reference backends over one model share
  // their weights and may copy between them).
  if (backend_->info().name != "reference") {
    auto other = make_backend(model(), backend_spec("reference"));
    auto foreign = other->open_session(8);
    EXPECT_THROW(backend_->copy_caches(Copies{{a.get(), foreign.get(), 2}}), std::invalid_argument);
  }
  EXPECT_EQ(c->cached(), 0);
  EXPECT_EQ(b->cached(), 0);
}

std::string batch_param_label(const ::testing::TestParamInfo<BatchParam>& info) {
  std::string label = std::get<0>(info.param) + "_" + precision_name(std::get<1>(info.param)) +
                      "_" + std::to_string(std::get<2>(info.param)) + "threads";
  for (char& c : label) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return label;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BatchTest, ::testing::ValuesIn(params()), batch_param_label);

}  // namespace
}  // namespace gpt2
