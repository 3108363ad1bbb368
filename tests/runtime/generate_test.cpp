#include "runtime/generate.h"
#include "runtime/backend_specs.h"

#include <gtest/gtest.h>

#include <vector>

#include "backends/registry.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

struct Seen {
  std::vector<int> decisions;
  std::vector<std::vector<float>> logits;
};

// generate() on the reference, recording what the callback sees.
std::vector<int> run(const std::vector<int>& prompt, int n, Mode mode, Seen& seen,
                     std::span<const int> forced = {}, int stop_after = -1) {
  auto backend = make_backend(test::tiny_model(), backend_spec("reference"));
  auto session = backend->open_session(n - 1);
  return generate(
      *backend, *session, prompt, n, mode, Rule::kMedian,
      [&](const StepView& s) {
        EXPECT_EQ(s.step, int(seen.decisions.size()));
        seen.decisions.push_back(s.decision.token);
        seen.logits.emplace_back(s.logits.begin(), s.logits.end());
        return s.step == stop_after ? Next::kStop : Next::kContinue;
      },
      forced);
}

const std::vector<int> kPrompt = {31373, 612, 338};

TEST(GenerateTest, TheCallbackSeesEveryDecisionAndCanStop) {
  Seen all, stopped;
  const std::vector<int> tokens = run(kPrompt, 8, Mode::kRecompute, all);
  EXPECT_EQ(tokens.size(), 5u);
  EXPECT_EQ(all.decisions, tokens);
  const std::vector<int> first = run(kPrompt, 8, Mode::kRecompute, stopped, {}, 2);
  EXPECT_EQ(first, std::vector<int>(tokens.begin(), tokens.begin() + 3));  // the last one kept
  EXPECT_EQ(stopped.decisions, first);
}

TEST(GenerateTest, ForcedTokensAreAppendedWhileDecisionsAreStillShown) {
  for (Mode mode : {Mode::kRecompute, Mode::kKvCache}) {
    Seen free_run;
    const std::vector<int> free_tokens = run(kPrompt, 7, mode, free_run);
    // Forcing the free continuation changes nothing.
    Seen same;
    EXPECT_EQ(run(kPrompt, 7, mode, same, free_tokens), free_tokens);
    EXPECT_EQ(same.decisions, free_run.decisions);
    EXPECT_EQ(same.logits, free_run.logits);
    // Other tokens: appended as given, and each step sees the logits of the
    // prompt followed by the forced tokens so far.
    const std::vector<int> forced = {100, 200, 300, 400};
    Seen seen;
    EXPECT_EQ(run(kPrompt, 7, mode, seen, forced), forced);
    for (int s = 0; s < 4; s++) {
      std::vector<int> prefix = kPrompt;
      prefix.insert(prefix.end(), forced.begin(), forced.begin() + s);
      Seen one;
      run(prefix, int(prefix.size()) + 1, mode, one);
      EXPECT_EQ(seen.logits[s], one.logits[0]) << mode_name(mode) << " step " << s;
      EXPECT_EQ(seen.decisions[s], one.decisions[0]);
    }
  }
}

TEST(GenerateTest, AfterTheForcedTokensTheDecisionsTakeOver) {
  const std::vector<int> forced = {100, 200};
  Seen seen;
  const std::vector<int> tokens = run(kPrompt, 8, Mode::kKvCache, seen, forced);
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[0], 100);
  EXPECT_EQ(tokens[1], 200);
  for (int s = 2; s < 5; s++) EXPECT_EQ(tokens[s], seen.decisions[s]);
  // More forced tokens than steps: the extra ones are never used.
  Seen two;
  EXPECT_EQ(run(kPrompt, 5, Mode::kKvCache, two, std::vector<int>{1, 2, 3, 4}),
            (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace gpt2
