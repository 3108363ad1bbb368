#include "reference/random.h"

#include <gtest/gtest.h>

#include <cmath>

namespace gpt2 {
namespace {

TEST(RandomTest, SplitMix64MatchesItsPublishedSequence) {
  // Vigna's reference implementation seeded with 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(rng.next(), 0x06c45d188009454full);
}

TEST(RandomTest, BellValuesAreExactAndBounded) {
  EXPECT_EQ(bell_from_bits(0), float(-4 * 65535) * float(1.0 / 75674.00770270476));
  EXPECT_EQ(bell_from_bits(~0ull), -bell_from_bits(0));
  EXPECT_LT(std::fabs(bell_from_bits(0)), 3.47f);
  SplitMix64 rng(9);
  double sum = 0, sum2 = 0;
  const int n = 1 << 20;
  for (int i = 0; i < n; i++) {
    const double z = bell_from_bits(rng.next());
    sum += z;
    sum2 += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.005);
  EXPECT_NEAR(sum2 / n, 1.0, 0.005);
}

}  // namespace
}  // namespace gpt2
