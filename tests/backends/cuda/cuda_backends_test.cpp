// The CUDA backends, picked by what they are (device CUDA), against the frozen
// reference on whole passes, in both modes, following the reference's tokens:
// bit-exact ones (cuda-naive) give the same logits and probabilities bit for
// bit at every step; reordering float32 ones (cuda) the same greedy tokens and
// logits within 1e-3; bfloat16 ones every logit within 2% of the step's largest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cuda/device.h"
#include "backends/registry.h"
#include "reference/synthetic.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

enum class Mode { kRecompute, kKvCache };

struct Case {
  std::string backend;
  Precision precision;
  Mode mode;
};

std::vector<Case> cuda_cases() {
  std::vector<Case> out;
  for (const BackendEntry& e : backend_entries()) {
    if (e.device != Device::kCuda) continue;
    for (Precision p : {Precision::kFloat32, Precision::kBFloat16}) {
      if (!offers_precision(e, p)) continue;
      for (Mode m : {Mode::kRecompute, Mode::kKvCache}) out.push_back({std::string(e.name), p, m});
    }
  }
  return out;
}

struct Steps {
  std::vector<std::vector<float>> logits, probs;
};

// Runs `tokens` (the prompt, then the continuation) through a session: the
// prompt at once, then one token per step (kv-cache) or the whole sequence
// again (recompute); the logits and probabilities after each.
Steps run(const Backend& backend, const std::vector<int>& tokens, int prompt, Mode mode) {
  const int V = backend.model().config().vocab_size;
  auto session = backend.open_session(int(tokens.size()));
  Steps out;
  std::vector<float> logits(V), probs(V);
  for (int len = prompt; len <= int(tokens.size()); len++) {
    const int pos = mode == Mode::kRecompute || len == prompt ? 0 : len - 1;
    session->forward(std::span<const int>(tokens).subspan(pos, len - pos), pos, logits, probs);
    out.logits.push_back(logits);
    out.probs.push_back(probs);
  }
  return out;
}

// The reference's greedy continuation of `prompt` to n tokens.
std::vector<int> reference_tokens(const Backend& reference, std::vector<int> prompt, int n) {
  const int V = reference.model().config().vocab_size;
  auto session = reference.open_session(n);
  std::vector<float> logits(V), probs(V);
  while (int(prompt.size()) < n) {
    session->forward(prompt, 0, logits, probs);
    prompt.push_back(int(std::max_element(logits.begin(), logits.end()) - logits.begin()));
  }
  return prompt;
}

class CudaBackendTest : public ::testing::TestWithParam<Case> {
 protected:
  void expect_matches_reference(const std::shared_ptr<const Model>& model,
                                const std::vector<std::vector<int>>& prompts, int extra) {
    const Case& c = GetParam();
    auto backend = make_backend(model, backend_spec(c.backend, c.precision));
    auto reference = make_backend(model, backend_spec("reference"));
    const BackendInfo& info = backend->info();
    EXPECT_EQ(info.device, Device::kCuda);
    ASSERT_EQ(info.gpus.size(), 1u);
    EXPECT_FALSE(info.gpus[0].name.empty());
    EXPECT_GT(info.gpus[0].sm_count, 0);
    EXPECT_GT(info.gpus[0].memory_bytes, 0u);
    double worst = 0, worst_share = 0;
    for (const auto& prompt : prompts) {
      const auto tokens = reference_tokens(*reference, prompt, int(prompt.size()) + extra);
      const Steps want = run(*reference, tokens, int(prompt.size()), Mode::kRecompute);
      const Steps got = run(*backend, tokens, int(prompt.size()), c.mode);
      ASSERT_EQ(got.logits.size(), want.logits.size());
      for (std::size_t s = 0; s < want.logits.size(); s++) {
        const auto& g = got.logits[s];
        const auto& w = want.logits[s];
        if (info.numerics == Numerics::kBitExact) {
          ASSERT_EQ(std::memcmp(g.data(), w.data(), w.size() * 4), 0)
              << c.backend << ": logits differ at step " << s;
          ASSERT_EQ(std::memcmp(got.probs[s].data(), want.probs[s].data(), w.size() * 4), 0)
              << c.backend << ": probabilities differ at step " << s;
          continue;
        }
        double diff = 0, largest = 0;
        for (std::size_t v = 0; v < w.size(); v++) {
          ASSERT_TRUE(std::isfinite(g[v])) << "step " << s << " logit " << v;
          diff = std::max(diff, std::fabs(double(g[v]) - w[v]));
          largest = std::max(largest, std::fabs(double(w[v])));
        }
        worst = std::max(worst, diff);
        worst_share = std::max(worst_share, diff / largest);
        if (c.precision == Precision::kFloat32 && s + 1 < want.logits.size()) {
          // The greedy choice the reference made, unless it was a near tie.
          const int chosen = int(std::max_element(g.begin(), g.end()) - g.begin());
          const int expected = tokens[prompt.size() + s];
          if (chosen != expected) {
            EXPECT_LT(std::fabs(double(w[chosen]) - w[expected]), 10 * diff)
                << "step " << s << ": token " << chosen << " instead of " << expected;
          }
        }
      }
    }
    if (c.precision == Precision::kFloat32 && info.numerics == Numerics::kReordered) {
      EXPECT_LE(worst, 1e-3) << c.backend;
    }
    if (c.precision == Precision::kBFloat16) {
      EXPECT_LE(worst_share, 0.02) << c.backend;
    }
  }
};

TEST_P(CudaBackendTest, TinyModelMatchesTheReference) {
  expect_matches_reference(test::tiny_model(),
                           {{31373, 612, 338, 635, 281}, {50256}, {464, 2068, 7586, 21831}}, 6);
}

TEST_P(CudaBackendTest, OddShapesMatchTheReference) {
  // hs = 16 with 5 heads, V = 1000, a prompt of 129 tokens (past the tiles).
  const ModelConfig cfg{160, 1000, 1024, 3, 5, 80};
  static auto model = Model::from_parameters(cfg, synthetic_parameters(cfg, 9), "odd");
  std::vector<int> long_prompt;
  for (int i = 0; i < 129; i++) long_prompt.push_back((i * 37) % 1000);
  expect_matches_reference(model, {{1, 2, 3}, {7, 8, 9, 10, 11, 12, 13}, long_prompt}, 5);
}

TEST_P(CudaBackendTest, ShapesOffTheVectorWidthMatchTheReference) {
  // C = 36, hs = 12, V = 97 unpadded: rows that are not 16-byte multiples.
  const ModelConfig cfg{48, 97, 97, 2, 3, 36};
  static auto model = Model::from_parameters(cfg, synthetic_parameters(cfg, 11), "narrow");
  std::vector<int> long_prompt;
  for (int i = 0; i < 33; i++) long_prompt.push_back((i * 29) % 97);
  expect_matches_reference(model, {{5}, long_prompt}, 6);
}

INSTANTIATE_TEST_SUITE_P(CudaBackends, CudaBackendTest, ::testing::ValuesIn(cuda_cases()),
                         [](const auto& info) {
                           std::string name =
                               info.param.backend + "_" + precision_name(info.param.precision) +
                               "_" +
                               (info.param.mode == Mode::kRecompute ? "recompute" : "kvcache");
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(CudaErrorsTest, ADeviceThatDoesNotExistOrMemoryThatDoesNotFitIsOneLine) {
  BackendSpec spec = backend_spec("cuda");
  spec.devices = {99};
  try {
    make_backend(test::tiny_model(), spec);
    FAIL() << "device 99 accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA device 99 does not exist"), std::string::npos)
        << e.what();
  }
  // More memory than any GPU has: one line saying how much was needed and free.
  try {
    cuda::require_free_memory(std::size_t(1) << 50, "a test buffer");
    FAIL() << "a petabyte fitted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("not enough GPU memory: a test buffer needs 1073741824 MiB, ", 0), 0u)
        << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace gpt2
