// The machine's ceilings as gpt2-bench measures them: one point per thread
// count (1 always among them), every figure measured. No timing is asserted.
#include "harness/ceilings.h"

#include <gtest/gtest.h>

namespace gpt2 {
namespace {

TEST(CeilingsTest, OnePointPerThreadCountWithEveryFigureMeasured) {
  CeilingOptions o;
  o.threads = {2, 2};
  std::vector<std::string> lines;
  const Ceilings c = measure_ceilings(o, [&](const std::string& s) { lines.push_back(s); });
  ASSERT_EQ(c.points.size(), 2u);
  EXPECT_EQ(c.points[0].threads, 1);
  EXPECT_EQ(c.points[1].threads, 2);
  EXPECT_EQ(c.at(2), &c.points[1]);
  EXPECT_EQ(c.at(3), nullptr);
  EXPECT_EQ(lines.size(), 2u);
  EXPECT_GE(c.read_buffer_bytes, std::size_t(256) << 20);
  EXPECT_GT(c.seconds, 0);
  for (const CeilingPoint& p : c.points) {
    EXPECT_GT(p.read_gb_s, 0) << p.threads;
    if (c.isa != "none") {
      EXPECT_GT(p.fp32_fma_gflops, 0) << p.threads;
      EXPECT_GT(p.fp32_mul_add_gflops, 0) << p.threads;
    }
    EXPECT_EQ(p.bf16_gflops, 0) << "not asked for";
  }
  EXPECT_TRUE(c.bf16_kind.empty());
}

}  // namespace
}  // namespace gpt2
