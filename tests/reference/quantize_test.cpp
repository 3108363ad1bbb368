// The weight-only precisions' frozen definitions (reference/quantize.h): the
// rounding of each format on chosen values, the all-zero row, and the
// dequantized model that defines each precision's forward pass.
#include "reference/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "reference/forward.h"
#include "reference/synthetic.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

float from_bits(std::uint32_t b) {
  return std::bit_cast<float>(b);
}

TEST(QuantizeTest, BFloat16RoundsToNearestTiesToEven) {
  EXPECT_EQ(bf16_from_float(1.0f), 0x3f80);
  EXPECT_EQ(bf16_from_float(-2.0f), 0xc000);
  EXPECT_EQ(bf16_from_float(0.0f), 0x0000);
  EXPECT_EQ(bf16_from_float(-0.0f), 0x8000);
  EXPECT_EQ(bf16_from_float(from_bits(0x3f807fff)), 0x3f80);  // below half: down
  EXPECT_EQ(bf16_from_float(from_bits(0x3f808001)), 0x3f81);  // above half: up
  EXPECT_EQ(bf16_from_float(from_bits(0x3f808000)), 0x3f80);  // tie, 0x3f80 even: down
  EXPECT_EQ(bf16_from_float(from_bits(0x3f818000)), 0x3f82);  // tie, 0x3f81 odd: up
  EXPECT_EQ(bf16_from_float(from_bits(0xbf818000)), 0xbf82);  // the same for negatives
  EXPECT_EQ(bf16_from_float(from_bits(0x3fff8000)), 0x4000);  // a carry into the exponent
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
  EXPECT_EQ(bf16_from_float(INFINITY), 0x7f80);
  EXPECT_EQ(bf16_from_float(-INFINITY), 0xff80);
  EXPECT_EQ(bf16_from_float(from_bits(0x00000001)), 0x0000);         // the smallest subnormal: 0
  const std::uint16_t nan = bf16_from_float(from_bits(0x7f800001));  // a NaN whose top is inf's
  EXPECT_TRUE(std::isnan(bf16_to_float(nan)));
  EXPECT_EQ(bf16_to_float(0x3f81), from_bits(0x3f810000));
}

TEST(QuantizeTest, Int8IsSymmetricPerRowWithHalvesAwayFromZero) {
  // max|w| = 127: scale 1, so q = round(w) with halves away from zero.
  const std::vector<float> w = {127.0f, 2.5f, -2.5f, 0.49f, -126.5f, 0.5f, -0.5f, 3.5f};
  std::vector<std::int8_t> q(w.size());
  float scale = -1;
  quantize_int8_row(w, q, scale);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(q, (std::vector<std::int8_t>{127, 3, -3, 0, -127, 1, -1, 4}));

  // scale = max|w| / 127 in float32; the maximum maps to +-127 exactly.
  const std::vector<float> v = {0.1f, -0.3f, 0.2f};
  q.resize(v.size());
  quantize_int8_row(v, q, scale);
  EXPECT_EQ(scale, 0.3f / 127.0f);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[0], std::int8_t(std::round(0.1f / scale)));
  EXPECT_EQ(q[2], std::int8_t(std::round(0.2f / scale)));
  EXPECT_EQ(dequantize_int8(q[1], scale), -127.0f * scale);
}

TEST(QuantizeTest, AnAllZeroRowGetsScaleZeroWithoutDividing) {
  const std::vector<float> w(37, 0.0f);
  std::vector<std::int8_t> q(w.size(), 5);
  float scale = -1;
  quantize_int8_row(w, q, scale);
  EXPECT_EQ(scale, 0.0f);
  for (std::int8_t x : q) EXPECT_EQ(x, 0);
  std::vector<float> m = {0, 0, 0, 1, -2, 4};  // (2, 3): a zero row and another
  dequantize_matrix_in_place(m, 2, 3, WeightFormat::kInt8);
  EXPECT_EQ(
      m, (std::vector<float>{0, 0, 0, dequantize_int8(32, 4.0f / 127),
                             dequantize_int8(-64, 4.0f / 127), dequantize_int8(127, 4.0f / 127)}));
  for (float x : m) EXPECT_FALSE(std::isnan(x));
}

// The dequantized model changes exactly the five weight matrices; its forward
// pass is the precision's, different from float32's and close to it.
TEST(QuantizeTest, DequantizedModelReplacesTheFiveMatricesOnly) {
  const auto model = test::tiny_model();
  const ModelConfig& c = model->config();
  EXPECT_EQ(dequantized_model(model, WeightFormat::kFloat32), model);
  for (WeightFormat f : {WeightFormat::kBF16, WeightFormat::kInt8}) {
    const auto q = dequantized_model(model, f);
    EXPECT_EQ(q->name(), model->name() + " (" + weight_format_name(f) + ")");
    for (int t = 0; t < kNumTensors; t++) {
      const auto a = model->tensor(t), b = q->tensor(t);
      ASSERT_EQ(a.size(), b.size());
      const bool matrix = t == 0 || t == 4 || t == 6 || t == 10 || t == 12;
      const bool same = std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
      EXPECT_EQ(same, !matrix) << "tensor " << t << " " << weight_format_name(f);
    }
    // Every dequantized value of the five matrices is the format's value of
    // the float32 one, worked out here from the definition (quantize.h):
    // bf16w rounds each weight; int8w scales each output row by its max|w| /
    // 127 and rounds halves away from zero.
    const long C = c.channels, L = c.num_layers;
    const ParameterTensors& p32 = model->params();
    const ParameterTensors& pq = q->params();
    long checked = 0, wrong = 0;
    auto expect_rows = [&](const float* w, const float* d, long rows, long cols, const char* name) {
      for (long r = 0; r < rows; r++) {
        float max_abs = 0;
        for (long i = 0; i < cols; i++) max_abs = std::max(max_abs, std::fabs(w[r * cols + i]));
        const float scale = max_abs / 127.0f;
        for (long i = 0; i < cols; i++) {
          const float x = w[r * cols + i];
          float want;
          if (f == WeightFormat::kBF16) {
            want = bf16_to_float(bf16_from_float(x));
          } else {
            const float q8 = scale == 0 ? 0 : std::clamp(std::round(x / scale), -127.0f, 127.0f);
            want = float(std::int8_t(q8)) * scale;
          }
          checked++;
          if (std::memcmp(&want, &d[r * cols + i], 4) != 0 && wrong++ == 0) {
            ADD_FAILURE() << weight_format_name(f) << " " << name << " row " << r << " column " << i
                          << ": " << d[r * cols + i] << ", want " << want << " (of " << x << ")";
          }
        }
      }
    };
    expect_rows(p32.wte, pq.wte, c.padded_vocab_size, C, "wte");
    expect_rows(p32.qkvw, pq.qkvw, L * 3 * C, C, "qkvw");
    expect_rows(p32.attprojw, pq.attprojw, L * C, C, "attprojw");
    expect_rows(p32.fcw, pq.fcw, L * 4 * C, C, "fcw");
    expect_rows(p32.fcprojw, pq.fcprojw, L * C, 4 * C, "fcprojw");
    EXPECT_EQ(wrong, 0) << "of " << checked;
    EXPECT_EQ(checked, (c.padded_vocab_size + 12 * L * C) * C);
    ReferenceState s32(c, 8), sq(c, 8);
    std::vector<float> l32(c.vocab_size), lq(c.vocab_size), p(c.vocab_size);
    const std::vector<int> tokens = {31373, 612, 338};
    reference_forward(*model, tokens, 0, s32, l32, p);
    reference_forward(*q, tokens, 0, sq, lq, p);
    double max_diff = 0;
    for (int v = 0; v < c.vocab_size; v++)
      max_diff = std::max(max_diff, double(std::fabs(l32[v] - lq[v])));
    EXPECT_GT(max_diff, 0.0) << weight_format_name(f);
    float scale = 0;
    for (float l : l32) scale = std::max(scale, std::fabs(l));
    // On this model (logits up to about 40): bf16w 0.16, int8w 1.07.
    EXPECT_LT(max_diff, 0.05 * scale) << weight_format_name(f);
  }
}

}  // namespace
}  // namespace gpt2
