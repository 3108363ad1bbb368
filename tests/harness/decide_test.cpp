#include "harness/decide.h"

#include <gtest/gtest.h>

#include <vector>

namespace gpt2 {
namespace {

TEST(DecideTest, MedianTakesTheFirstTokenWhoseCumulativeSumExceedsOneHalf) {
  const std::vector<float> probs = {0.1f, 0.2f, 0.3f, 0.4f};  // cdf 0.1 0.3 0.6 1.0
  const Decision d = decide_median(probs);
  EXPECT_EQ(d.token, 2);
  EXPECT_NEAR(d.margin, 0.1f, 1e-6);  // 0.6 - 0.5 and 0.5 - 0.3: the nearer is 0.1
}

TEST(DecideTest, MedianNeedsStrictlyMoreThanOneHalf) {
  // The cdf reaches exactly 0.5 at token 1: "coin < cdf" is false there.
  const std::vector<float> probs = {0.25f, 0.25f, 0.5f};
  EXPECT_EQ(decide_median(probs).token, 2);
  EXPECT_EQ(decide_median(probs).margin, 0.0f);
}

TEST(DecideTest, MedianFallsBackToTheLastToken) {
  const std::vector<float> probs = {0.1f, 0.1f, 0.1f};  // never exceeds 0.5
  const Decision d = decide_median(probs);
  EXPECT_EQ(d.token, 2);
  EXPECT_EQ(d.margin, 0.0f);
}

TEST(DecideTest, MedianIsNotArgmax) {
  // Token 3 is the most likely, but the cdf passes 0.5 at token 1.
  const std::vector<float> probs = {0.3f, 0.25f, 0.05f, 0.4f};
  EXPECT_EQ(decide_median(probs).token, 1);
}

TEST(DecideTest, GreedyTakesTheArgmaxWithItsGap) {
  const std::vector<float> logits = {1.0f, 5.0f, 3.5f, -2.0f};
  const Decision d = decide_greedy(logits);
  EXPECT_EQ(d.token, 1);
  EXPECT_EQ(d.margin, 1.5f);
  EXPECT_EQ(top2_gap(logits), 1.5f);
}

TEST(DecideTest, GreedyBreaksTiesTowardTheLowestId) {
  const std::vector<float> logits = {1.0f, 7.0f, 2.0f, 7.0f, 7.0f};
  const Decision d = decide_greedy(logits);
  EXPECT_EQ(d.token, 1);
  EXPECT_EQ(d.margin, 0.0f);
}

TEST(DecideTest, GreedyWhenTheMaximumIsFirstOrLast) {
  EXPECT_EQ(decide_greedy(std::vector<float>{9, 1, 2}).token, 0);
  EXPECT_EQ(decide_greedy(std::vector<float>{9, 1, 2}).margin, 7.0f);
  EXPECT_EQ(decide_greedy(std::vector<float>{1, 2, 9}).token, 2);
}

TEST(DecideTest, RuleNames) {
  EXPECT_EQ(parse_rule("median"), Rule::kMedian);
  EXPECT_EQ(parse_rule("greedy"), Rule::kGreedy);
  EXPECT_FALSE(parse_rule("Median").has_value());
  EXPECT_STREQ(rule_name(Rule::kGreedy), "greedy");
  const std::vector<float> logits = {0, 1}, probs = {0.6f, 0.4f};
  EXPECT_EQ(decide(Rule::kMedian, logits, probs).token, 0);
  EXPECT_EQ(decide(Rule::kGreedy, logits, probs).token, 1);
}

}  // namespace
}  // namespace gpt2
