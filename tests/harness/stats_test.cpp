#include "harness/stats.h"

#include <gtest/gtest.h>

namespace gpt2 {
namespace {

TEST(StatsTest, MedianMinMaxSpread) {
  const Stats s = summarize_samples({3, 1, 2, 10});
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 4);
  EXPECT_NEAR(s.stddev, 4.082483, 1e-6);  // sqrt(50 / 3)
  EXPECT_DOUBLE_EQ(summarize_samples({5, 1, 3}).median, 3);
  EXPECT_EQ(summarize_samples({}).count, 0);
}

}  // namespace
}  // namespace gpt2
