#include "reference/forward.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/synthetic.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

// An independent GPT-2 forward pass in double precision, written from the
// model's definition (not from the reference's loops): every position, plain
// libm exp and tanh. Returns the last position's logits over V.
std::vector<double> forward_double(const Model& model, const std::vector<int>& tokens) {
  const ModelConfig& c = model.config();
  const int T = int(tokens.size()), C = c.channels, NH = c.num_heads, hs = C / NH, V = c.vocab_size;
  const ParameterTensors& p = model.params();
  using Mat = std::vector<std::vector<double>>;
  Mat x(T, std::vector<double>(C));
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < C; i++) x[t][i] = double(p.wte[tokens[t] * C + i]) + p.wpe[t * C + i];
  }
  auto layernorm = [&](const std::vector<double>& v, const float* w, const float* b) {
    double mean = 0, var = 0;
    for (double a : v) mean += a;
    mean /= C;
    for (double a : v) var += (a - mean) * (a - mean);
    var /= C;
    std::vector<double> out(C);
    for (int i = 0; i < C; i++) out[i] = (v[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
    return out;
  };
  auto linear = [](const std::vector<double>& v, const float* w, const float* b, int out_dim) {
    const int in_dim = int(v.size());
    std::vector<double> out(out_dim);
    for (int o = 0; o < out_dim; o++) {
      double s = b != nullptr ? b[o] : 0.0;
      for (int i = 0; i < in_dim; i++) s += v[i] * w[o * in_dim + i];
      out[o] = s;
    }
    return out;
  };
  for (int l = 0; l < c.num_layers; l++) {
    Mat q(T), k(T), v(T);
    for (int t = 0; t < T; t++) {
      auto qkv = linear(layernorm(x[t], p.ln1w + l * C, p.ln1b + l * C), p.qkvw + l * 3 * C * C,
                        p.qkvb + l * 3 * C, 3 * C);
      q[t].assign(qkv.begin(), qkv.begin() + C);
      k[t].assign(qkv.begin() + C, qkv.begin() + 2 * C);
      v[t].assign(qkv.begin() + 2 * C, qkv.end());
    }
    for (int t = 0; t < T; t++) {
      std::vector<double> y(C, 0.0);
      for (int h = 0; h < NH; h++) {
        std::vector<double> w(t + 1);
        double mx = -1e300, sum = 0;
        for (int j = 0; j <= t; j++) {
          double s = 0;
          for (int i = 0; i < hs; i++) s += q[t][h * hs + i] * k[j][h * hs + i];
          w[j] = s / std::sqrt(double(hs));
          mx = std::max(mx, w[j]);
        }
        for (int j = 0; j <= t; j++) sum += (w[j] = std::exp(w[j] - mx));
        for (int j = 0; j <= t; j++) {
          for (int i = 0; i < hs; i++) y[h * hs + i] += w[j] / sum * v[j][h * hs + i];
        }
      }
      auto proj = linear(y, p.attprojw + l * C * C, p.attprojb + l * C, C);
      for (int i = 0; i < C; i++) x[t][i] += proj[i];
      auto h = linear(layernorm(x[t], p.ln2w + l * C, p.ln2b + l * C), p.fcw + l * 4 * C * C,
                      p.fcb + l * 4 * C, 4 * C);
      for (double& a : h) {
        a = 0.5 * a * (1 + std::tanh(std::sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)));
      }
      auto out = linear(h, p.fcprojw + l * 4 * C * C, p.fcprojb + l * C, C);
      for (int i = 0; i < C; i++) x[t][i] += out[i];
    }
  }
  auto last = layernorm(x[T - 1], p.lnfw, p.lnfb);
  return linear(last, p.wte, nullptr, V);
}

struct Output {
  std::vector<float> logits, probs;
};

Output run(const Model& model, const std::vector<int>& tokens) {
  ReferenceState state(model.config(), int(tokens.size()));
  Output o{std::vector<float>(model.config().vocab_size),
           std::vector<float>(model.config().vocab_size)};
  reference_forward(model, tokens, 0, state, o.logits, o.probs);
  return o;
}

TEST(ForwardTest, MatchesAnIndependentDoublePrecisionForward) {
  auto model = test::tiny_model();
  for (const std::vector<int>& tokens :
       {std::vector<int>{31373}, {31373, 612, 338, 635, 281}, {50256, 0, 1, 2, 3, 4, 5, 6, 7}}) {
    const Output got = run(*model, tokens);
    const std::vector<double> want = forward_double(*model, tokens);
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < want.size(); i++) {
      worst = std::max(worst, std::fabs(got.logits[i] - want[i]));
      scale = std::max(scale, std::fabs(want[i]));
    }
    EXPECT_LT(worst, 1e-4 * scale) << "max |logit| " << scale << ", max error " << worst;
    EXPECT_GT(scale, 1.0);  // the comparison is not vacuous
  }
}

TEST(ForwardTest, ProbabilitiesAreTheSoftmaxOfTheLogits) {
  const Output o = run(*test::tiny_model(), {464, 2068, 7586});
  double sum = 0, max_logit = -1e30;
  for (float l : o.logits) max_logit = std::max(max_logit, double(l));
  double denom = 0;
  for (float l : o.logits) denom += std::exp(l - max_logit);
  for (std::size_t i = 0; i < o.probs.size(); i++) {
    sum += o.probs[i];
    // The float sum of 50257 terms in index order is off by about 1e-5 relative.
    const double want = std::exp(o.logits[i] - max_logit) / denom;
    ASSERT_NEAR(o.probs[i], want, 1e-4 * want + 1e-12) << i;
  }
  EXPECT_NEAR(sum, 1.0, 1e-4);
}

TEST(ForwardTest, PaddingRowsAreNeverRead) {
  auto model = test::tiny_model();
  std::vector<float> params(model->parameters().begin(), model->parameters().end());
  const ModelConfig& c = model->config();
  for (std::size_t i = std::size_t(c.vocab_size) * c.channels;
       i < std::size_t(c.padded_vocab_size) * c.channels; i++) {
    params[i] = NAN;
  }
  auto poisoned = Model::from_parameters(c, std::move(params), "poisoned");
  const std::vector<int> tokens = {50256, 15496, 11};
  const Output a = run(*model, tokens), b = run(*poisoned, tokens);
  EXPECT_EQ(std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * 4), 0);
  EXPECT_EQ(std::memcmp(a.probs.data(), b.probs.data(), a.probs.size() * 4), 0);
}

TEST(ForwardTest, KeyValueCacheGivesTheSameBitsAsRecomputing) {
  auto model = test::tiny_model();
  const int V = model->config().vocab_size;
  const std::vector<int> tokens = {15496, 11, 616, 3290, 318, 13779, 290, 340, 1110};
  ReferenceState cached(model->config(), int(tokens.size()));
  std::vector<float> l1(V), p1(V);
  // First three tokens at once, then two, then one at a time.
  int pos = 0;
  for (int chunk : {3, 2, 1, 1, 1, 1}) {
    reference_forward(*model, std::span(tokens).subspan(pos, chunk), pos, cached, l1, p1);
    pos += chunk;
    const Output full = run(*model, std::vector<int>(tokens.begin(), tokens.begin() + pos));
    ASSERT_EQ(std::memcmp(l1.data(), full.logits.data(), V * 4), 0) << "after " << pos;
    ASSERT_EQ(std::memcmp(p1.data(), full.probs.data(), V * 4), 0) << "after " << pos;
  }
  EXPECT_EQ(cached.cached(), 9);
  // Recomputing from position 0 in the same state gives the same bits again.
  reference_forward(*model, tokens, 0, cached, l1, p1);
  EXPECT_EQ(std::memcmp(l1.data(), run(*model, tokens).logits.data(), V * 4), 0);
}

TEST(ForwardTest, LaterTokensDoNotChangeEarlierPositions) {
  // Positions 0 and 1 ("a b") do not depend on what follows them. Seen
  // through the cache: "a b c" and "a b d" computed in one call each, then
  // both continued from position 2 with the same token e, from the keys and
  // values of positions 0 and 1 those calls left (every layer's, so a later
  // token leaking into an earlier position at any layer shows): the logits
  // after "a b e" are the same bits either way, and those of "a b e" alone.
  auto model = test::tiny_model();
  const ModelConfig& c = model->config();
  ASSERT_GE(c.num_layers, 2) << "layer 0's keys see only their own token";
  const int V = c.vocab_size;
  const std::vector<int> e = {500};
  std::vector<float> after_c(V), after_d(V), probs(V);
  ReferenceState sc(c, 3), sd(c, 3);
  reference_forward(*model, std::vector<int>{100, 200, 300}, 0, sc, after_c, probs);
  reference_forward(*model, std::vector<int>{100, 200, 400}, 0, sd, after_d, probs);
  EXPECT_NE(after_c, after_d) << "the third token changes the third position";
  reference_forward(*model, e, 2, sc, after_c, probs);
  reference_forward(*model, e, 2, sd, after_d, probs);
  const Output abe = run(*model, {100, 200, 500});
  EXPECT_EQ(std::memcmp(after_c.data(), after_d.data(), V * 4), 0);
  EXPECT_EQ(std::memcmp(after_c.data(), abe.logits.data(), V * 4), 0);
}

TEST(ForwardTest, RejectsBadArguments) {
  auto model = test::tiny_model();
  const int V = model->config().vocab_size;
  ReferenceState state(model->config(), 4);
  std::vector<float> logits(V), probs(V);
  const std::vector<int> ok = {1, 2}, bad = {1, V};
  EXPECT_THROW(reference_forward(*model, bad, 0, state, logits, probs), std::invalid_argument);
  EXPECT_THROW(reference_forward(*model, ok, 1, state, logits, probs), std::invalid_argument);
  EXPECT_THROW(reference_forward(*model, {}, 0, state, logits, probs), std::invalid_argument);
  EXPECT_THROW(reference_forward(*model, std::vector<int>{1, 2, 3, 4, 5}, 0, state, logits, probs),
               std::invalid_argument);
  std::vector<float> short_logits(V - 1);
  EXPECT_THROW(reference_forward(*model, ok, 0, state, short_logits, probs), std::invalid_argument);
  EXPECT_THROW(ReferenceState(model->config(), 0), std::invalid_argument);
  EXPECT_THROW(ReferenceState(model->config(), 1025), std::invalid_argument);
  EXPECT_NO_THROW(reference_forward(*model, ok, 0, state, logits, probs));
}

TEST(ForwardTest, CheckForwardArgsNamesWhatIsWrong) {
  auto model = test::tiny_model();
  const ModelConfig& c = model->config();
  const int V = c.vocab_size;
  std::vector<float> logits(V), probs(V), short_logits(V - 1);
  const std::vector<int> ok = {1, 2};
  auto message = [&](std::span<const int> tokens, int pos, int cached, int capacity,
                     std::span<const float> l) {
    try {
      check_forward_args(c, tokens, pos, cached, capacity, l, probs);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(ok, 0, 0, 4, logits), "no error");
  EXPECT_EQ(message(ok, 1, 0, 4, logits),
            "forward: 2 tokens at position 1 do not fit (cached 0, capacity 4)");
  EXPECT_EQ(message(ok, 3, 3, 4, logits),
            "forward: 2 tokens at position 3 do not fit (cached 3, capacity 4)");
  EXPECT_EQ(message({}, 0, 0, 4, logits),
            "forward: 0 tokens at position 0 do not fit (cached 0, capacity 4)");
  EXPECT_EQ(message(ok, 0, 0, 4, short_logits),
            "forward: logits and probs need " + std::to_string(V) + " floats each");
  EXPECT_EQ(message(std::vector<int>{1, V}, 0, 0, 4, logits),
            "forward: token " + std::to_string(V) + " is outside [0, " + std::to_string(V) + ")");
  EXPECT_EQ(message(std::vector<int>{-1}, 0, 0, 4, logits),
            "forward: token -1 is outside [0, " + std::to_string(V) + ")");
}

}  // namespace
}  // namespace gpt2
