#include "reference/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reference/mathfn.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

double gelu_exact(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST(KernelsTest, EncoderAddsTokenAndPositionRows) {
  const float wte[3 * 2] = {1, 2, 3, 4, 5, 6};                // (V=3, C=2)
  const float wpe[4 * 2] = {10, 20, 30, 40, 50, 60, 70, 80};  // (maxT=4, C=2)
  const int tokens[2] = {2, 0};
  float out[4];
  ref::encoder_forward(out, tokens, wte, wpe, /*pos=*/1, /*T=*/2, /*C=*/2);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{35, 46, 51, 62}));
}

TEST(KernelsTest, LayernormByHand) {
  const float x[4] = {1, 2, 3, 4};  // mean 2.5, variance 1.25
  const float w[4] = {1, 2, 1, 1}, b[4] = {0, 0, 1, 0};
  float out[4];
  ref::layernorm_forward(out, x, w, b, 1, 4);
  const double s = 1.0 / std::sqrt(1.25 + 1e-5);
  const double want[4] = {-1.5 * s, -0.5 * s * 2, 0.5 * s + 1, 1.5 * s};
  for (int i = 0; i < 4; i++) EXPECT_NEAR(out[i], want[i], 1e-6) << i;
}

TEST(KernelsTest, LayernormRowsAreIndependent) {
  const std::vector<float> x = test::random_values(3 * 8, 1);
  const std::vector<float> w = test::random_values(8, 2), b = test::random_values(8, 3);
  std::vector<float> all(3 * 8), one(8);
  ref::layernorm_forward(all.data(), x.data(), w.data(), b.data(), 3, 8);
  ref::layernorm_forward(one.data(), x.data() + 16, w.data(), b.data(), 1, 8);
  EXPECT_EQ(std::vector<float>(all.begin() + 16, all.end()), one);
}

TEST(KernelsTest, MatmulByHand) {
  const float inp[2 * 3] = {1, 2, 3, 4, 5, 6};  // (T=2, C=3)
  const float w[2 * 3] = {1, 0, -1, 2, 1, 0};   // (OC=2, C=3)
  const float bias[2] = {10, 20};
  float out[4];
  ref::matmul_forward(out, inp, w, bias, 2, 3, 2);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{8, 24, 8, 33}));
  ref::matmul_forward(out, inp, w, nullptr, 2, 3, 2);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{-2, 4, -2, 13}));
}

TEST(KernelsTest, MatmulStartsFromTheBiasAndAddsInIndexOrder) {
  // ((1 + 1e8) - 1e8) is 0 in float; any other order gives 1.
  const float inp[2] = {1e8f, -1e8f};
  const float w[2] = {1, 1};
  const float bias[1] = {1};
  float out[1];
  ref::matmul_forward(out, inp, w, bias, 1, 2, 1);
  EXPECT_EQ(out[0], 0.0f);
}

TEST(KernelsTest, MatmulTilesAgreeWithTheNaiveLoop) {
  // Shapes that exercise full and partial tiles of rows and columns.
  for (auto [T, C, OC] : {std::tuple{1, 7, 5}, {4, 16, 8}, {7, 9, 13}, {9, 33, 3}}) {
    const auto inp = test::random_values(T * C, 11), w = test::random_values(OC * C, 12),
               b = test::random_values(OC, 13);
    std::vector<float> out(T * OC);
    ref::matmul_forward(out.data(), inp.data(), w.data(), b.data(), T, C, OC);
    for (int t = 0; t < T; t++) {
      for (int o = 0; o < OC; o++) {
        float val = b[o];
        for (int i = 0; i < C; i++) val += inp[t * C + i] * w[o * C + i];
        ASSERT_EQ(out[t * OC + o], val) << T << "x" << C << "x" << OC << " at " << t << "," << o;
      }
    }
  }
}

TEST(KernelsTest, AttentionHeadByHand) {
  // One query against two keys: scores 0 and 2/sqrt(2); values pick out the weights.
  const float q[2] = {1, 0};
  const float keys[2 * 2] = {0, 0, 2, 0};
  const float values[2 * 2] = {1, 0, 0, 1};
  float att[2], out[2];
  ref::attention_head_forward(out, q, keys, values, att, 2, 2, 2);
  const double e = std::exp(2.0 / std::sqrt(2.0));
  EXPECT_NEAR(out[0], 1 / (1 + e), 1e-6);
  EXPECT_NEAR(out[1], e / (1 + e), 1e-6);
  EXPECT_NEAR(att[0] + att[1], 1.0, 1e-6);
}

TEST(KernelsTest, AttentionHeadWithOneKeyReturnsItsValue) {
  const float q[3] = {5, -1, 2}, k[3] = {1, 1, 1}, v[3] = {0.25f, -3, 7};
  float att[1], out[3];
  ref::attention_head_forward(out, q, k, v, att, 1, 3, 3);
  EXPECT_EQ(att[0], 1.0f);
  EXPECT_EQ(std::vector<float>(out, out + 3), (std::vector<float>{0.25f, -3, 7}));
}

TEST(KernelsTest, CausalMaskHidesTheFuture) {
  const int T = 4, C = 8, NH = 2;
  auto qkv = test::random_values(T * 3 * C, 21);
  std::vector<float> keys(T * C), values(T * C), att(T), out(T * C), out2(T * C);
  auto split = [&] {
    for (int t = 0; t < T; t++) {
      for (int i = 0; i < C; i++) {
        keys[t * C + i] = qkv[t * 3 * C + C + i];
        values[t * C + i] = qkv[t * 3 * C + 2 * C + i];
      }
    }
  };
  split();
  ref::attention_forward(out.data(), qkv.data(), keys.data(), values.data(), att.data(), 0, T, C,
                         NH);
  // Change everything about the last position: the earlier outputs stay the same.
  for (int i = 0; i < 3 * C; i++) qkv[(T - 1) * 3 * C + i] += 1.0f;
  split();
  ref::attention_forward(out2.data(), qkv.data(), keys.data(), values.data(), att.data(), 0, T, C,
                         NH);
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + (T - 1) * C),
            std::vector<float>(out2.begin(), out2.begin() + (T - 1) * C));
  EXPECT_NE(std::vector<float>(out.begin() + (T - 1) * C, out.end()),
            std::vector<float>(out2.begin() + (T - 1) * C, out2.end()));
  // The first position attends only to itself: its output is its own value.
  for (int h = 0; h < NH; h++) {
    for (int i = 0; i < C / NH; i++) EXPECT_EQ(out2[h * 4 + i], values[h * 4 + i]);
  }
}

TEST(KernelsTest, AttentionOfNewRowsMatchesTheFullPass) {
  // Rows pos..pos+T-1 computed alone equal the same rows of a pass over all of them.
  const int total = 6, C = 8, NH = 2, pos = 4;
  const auto qkv = test::random_values(total * 3 * C, 31);
  std::vector<float> keys(total * C), values(total * C), att(total);
  for (int t = 0; t < total; t++) {
    for (int i = 0; i < C; i++) {
      keys[t * C + i] = qkv[t * 3 * C + C + i];
      values[t * C + i] = qkv[t * 3 * C + 2 * C + i];
    }
  }
  std::vector<float> full(total * C), tail((total - pos) * C);
  ref::attention_forward(full.data(), qkv.data(), keys.data(), values.data(), att.data(), 0, total,
                         C, NH);
  ref::attention_forward(tail.data(), qkv.data() + pos * 3 * C, keys.data(), values.data(),
                         att.data(), pos, total - pos, C, NH);
  EXPECT_EQ(std::vector<float>(full.begin() + pos * C, full.end()), tail);
}

TEST(KernelsTest, GeluTanhApproximation) {
  const float xs[] = {-6, -3, -1, -0.5f, 0, 1e-6f, 0.5f, 1, 2, 3, 10};
  for (float x : xs) {
    float out;
    ref::gelu_forward(&out, &x, 1);
    EXPECT_NEAR(out, gelu_exact(x), 2e-7 * (1 + std::fabs(x))) << x;
  }
  float one = 1, out;
  ref::gelu_forward(&out, &one, 1);
  EXPECT_NEAR(out, 0.8411920, 1e-6);
}

TEST(KernelsTest, Residual) {
  const float a[3] = {1, 2, 3}, b[3] = {0.5f, -2, 4};
  float out[3];
  ref::residual_forward(out, a, b, 3);
  EXPECT_EQ(std::vector<float>(out, out + 3), (std::vector<float>{1.5f, 0, 7}));
}

TEST(KernelsTest, SoftmaxByHand) {
  const float logits[3] = {1, 2, 3};
  float probs[3];
  ref::softmax_forward(probs, logits, 3);
  EXPECT_NEAR(probs[0], 0.09003057, 1e-7);
  EXPECT_NEAR(probs[1], 0.24472847, 1e-7);
  EXPECT_NEAR(probs[2], 0.66524096, 1e-7);
  // The maximum is subtracted first: huge logits do not overflow.
  const float big[2] = {1000, 1000};
  ref::softmax_forward(probs, big, 2);
  EXPECT_EQ(probs[0], 0.5f);
  EXPECT_EQ(probs[1], 0.5f);
}

TEST(KernelsTest, SoftmaxSumsToOne) {
  const auto logits = test::random_values(50257, 5, 10.0f);
  std::vector<float> probs(logits.size());
  ref::softmax_forward(probs.data(), logits.data(), int(logits.size()));
  double sum = 0;
  for (float p : probs) sum += p;
  // 50257 float adds in index order (as llm.c sums): about 1e-5 relative error.
  EXPECT_NEAR(sum, 1.0, 1e-4);
}

TEST(MathTest, ExpIsWithinTwoUlpsOverItsRange) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0037f) {
    const double want = std::exp(double(x));
    const double ulp = std::nextafter(float(want), INFINITY) - float(want);
    worst = std::max(worst, std::fabs(exp_ref(x) - want) / ulp);
  }
  EXPECT_LT(worst, 2.0);
}

TEST(MathTest, ExpEdges) {
  EXPECT_EQ(exp_ref(0.0f), 1.0f);
  EXPECT_EQ(exp_ref(-0.0f), 1.0f);
  EXPECT_EQ(exp_ref(-88.0f), 0.0f);
  EXPECT_EQ(exp_ref(-INFINITY), 0.0f);
  EXPECT_GT(exp_ref(-87.0f), 0.0f);
  EXPECT_EQ(exp_ref(89.0f), INFINITY);
  EXPECT_TRUE(std::isnan(exp_ref(NAN)));
}

TEST(MathTest, TanhAbsoluteErrorIsTiny) {
  double worst = 0;
  for (float y = -12.0f; y <= 12.0f; y += 0.00093f) {
    worst = std::max(worst, std::fabs(tanh_ref(y) - std::tanh(double(y))));
    ASSERT_EQ(tanh_ref(-y), -tanh_ref(y));
  }
  EXPECT_LT(worst, 2e-7);
  EXPECT_EQ(tanh_ref(100.0f), 1.0f);
  EXPECT_EQ(tanh_ref(-100.0f), -1.0f);
  EXPECT_EQ(tanh_ref(0.0f), 0.0f);
}

}  // namespace
}  // namespace gpt2
