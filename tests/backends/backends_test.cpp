// Every registered backend, at 1 to 4 threads and in both modes, against the
// reference: bit-exact backends give the same logits and probabilities bit for
// bit at every step.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <tuple>

#include "backends/registry.h"
#include "harness/generate.h"
#include "reference/synthetic.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

struct Step {
  std::vector<float> logits, probs;
  int token;
};

std::vector<Step> run(const Backend& backend, const std::vector<int>& prompt, int n, Mode mode,
                      Rule rule) {
  std::vector<Step> steps;
  auto session = backend.open_session(n - 1);
  generate(backend, *session, prompt, n, mode, rule, [&](const StepView& s) {
    steps.push_back({std::vector<float>(s.logits.begin(), s.logits.end()),
                     std::vector<float>(s.probs.begin(), s.probs.end()), s.decision.token});
  });
  return steps;
}

std::vector<std::string> computing_backends() {
  std::vector<std::string> out;
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics != Numerics::kNone) out.emplace_back(e.name);
  }
  return out;
}

using Param = std::tuple<std::string, int, Mode>;

class BackendTest : public ::testing::TestWithParam<Param> {};

void expect_matches_reference(const std::shared_ptr<const Model>& model, const Param& param,
                              const std::vector<std::vector<int>>& prompts, int extra) {
  const auto& [name, threads, mode] = param;
  BackendConfig config;
  config.threads = threads;
  auto backend = make_backend(name, model, config);
  auto reference = make_backend("reference", model, {});
  EXPECT_EQ(backend->info().name, name);
  for (const auto& prompt : prompts) {
    for (Rule rule : {Rule::kMedian, Rule::kGreedy}) {
      const int n = int(prompt.size()) + extra;
      const auto want = run(*reference, prompt, n, Mode::kRecompute, rule);
      const auto got = run(*backend, prompt, n, mode, rule);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t s = 0; s < want.size(); s++) {
        ASSERT_EQ(got[s].token, want[s].token) << "step " << s;
        if (backend->info().numerics == Numerics::kBitExact) {
          ASSERT_EQ(std::memcmp(got[s].logits.data(), want[s].logits.data(), want[s].logits.size() * 4), 0)
              << name << " logits differ at step " << s;
          ASSERT_EQ(std::memcmp(got[s].probs.data(), want[s].probs.data(), want[s].probs.size() * 4), 0)
              << name << " probs differ at step " << s;
        }
      }
    }
  }
}

TEST_P(BackendTest, TinyModelMatchesTheReference) {
  expect_matches_reference(test::tiny_model(), GetParam(),
                           {{31373, 612, 338, 635, 281}, {50256}, {464, 2068, 7586, 21831}}, 5);
}

TEST_P(BackendTest, OddShapesMatchTheReference) {
  // hs = 16 with 5 heads, 3C = 240 and V = 1000 off the 64-row groups, and a
  // prompt longer than one 48-row task.
  const ModelConfig cfg{128, 1000, 1024, 3, 5, 80};
  static auto model = Model::from_parameters(cfg, synthetic_parameters(cfg, 9), "odd");
  std::vector<int> long_prompt;
  for (int i = 0; i < 70; i++) long_prompt.push_back((i * 37) % 1000);
  expect_matches_reference(model, GetParam(), {{1, 2, 3}, long_prompt}, 4);
}

INSTANTIATE_TEST_SUITE_P(
    AllBackends, BackendTest,
    ::testing::Combine(::testing::ValuesIn(computing_backends()), ::testing::Range(1, 5),
                       ::testing::Values(Mode::kRecompute, Mode::kKvCache)),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param)) + "threads_" +
             (std::get<2>(info.param) == Mode::kRecompute ? "recompute" : "kvcache");
    });

TEST(RegistryTest, UnknownNamesListTheKnownOnes) {
  try {
    find_backend("cuda");
    FAIL();
  } catch (const UnknownBackend& e) {
    EXPECT_EQ(std::string(e.what()),
              "Unknown backend 'cuda' (known: " + backend_names_joined() + ").");
  }
  const auto names = backend_names();
  EXPECT_EQ(names.front(), "reference");
  for (const char* n : {"pthreads", "openmp", "null"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  BackendConfig bad;
  bad.threads = 0;
  EXPECT_THROW(make_backend("pthreads", test::tiny_model(), bad), std::invalid_argument);
}

TEST(NullBackendTest, ReturnsTheSameFixedLogitsWithoutComputing) {
  auto backend = make_backend("null", test::tiny_model(), {});
  EXPECT_EQ(backend->info().numerics, Numerics::kNone);
  const int V = test::tiny_model()->config().vocab_size;
  auto session = backend->open_session(8);
  std::vector<float> l1(V), p1(V), l2(V), p2(V);
  session->forward(std::vector<int>{1, 2}, 0, l1, p1);
  session->forward(std::vector<int>{3}, 2, l2, p2);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(p1, p2);
  double sum = 0;
  for (float p : p1) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-4);
  EXPECT_THROW(session->forward(std::vector<int>{3}, 5, l1, p1), std::invalid_argument);
}

TEST(SessionTest, BackendsRejectBadArguments) {
  for (const std::string& name : computing_backends()) {
    auto backend = make_backend(name, test::tiny_model(), {});
    const int V = test::tiny_model()->config().vocab_size;
    auto session = backend->open_session(4);
    std::vector<float> logits(V), probs(V);
    EXPECT_THROW(session->forward(std::vector<int>{V}, 0, logits, probs), std::invalid_argument) << name;
    EXPECT_THROW(session->forward(std::vector<int>{1}, 1, logits, probs), std::invalid_argument) << name;
    EXPECT_THROW(session->forward(std::vector<int>{1, 2, 3, 4, 5}, 0, logits, probs),
                 std::invalid_argument) << name;
    EXPECT_THROW(backend->open_session(0), std::invalid_argument) << name;
  }
}

}  // namespace
}  // namespace gpt2
