// Every cuda-naive kernel against the frozen reference's op, bit for bit, at
// odd shapes: T = 1, 7, 129; C = 36 (hs = 12), 80 (hs = 16) and 768; output
// widths off every tile (97, 1000, 3C); softmax over 1 to 50257 logits.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "backends/cuda/naive_kernels.h"
#include "reference/kernels.h"
#include "tests/backends/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using test::poisoned;
using test::random_values;
using test::to_device;
using test::to_host;

// Bit for bit, with the first difference named.
void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); i++) {
    ASSERT_EQ(std::memcmp(&got[i], &want[i], sizeof(float)), 0)
        << what << ": element " << i << " is " << got[i] << ", the reference's " << want[i];
  }
}

std::string shape(int T, int C, int OC = 0) {
  return "T=" + std::to_string(T) + " C=" + std::to_string(C) +
         (OC ? " OC=" + std::to_string(OC) : "");
}

TEST(NaiveKernelsTest, EncoderIsBitExact) {
  const int V = 97, maxT = 140, C = 36;
  const auto wte = random_values(std::size_t(V) * C, 1),
             wpe = random_values(std::size_t(maxT) * C, 2);
  for (int T : {1, 7, 129}) {
    for (int pos : {0, 5}) {
      std::vector<int> tokens(T);
      for (int t = 0; t < T; t++) tokens[t] = (t * 31 + 7) % V;
      std::vector<float> want(std::size_t(T) * C);
      ref::encoder_forward(want.data(), tokens.data(), wte.data(), wpe.data(), pos, T, C);
      auto d_tokens = to_device(tokens);
      auto d_wte = to_device(wte), d_wpe = to_device(wpe);
      auto out = poisoned(want.size());
      cuda::naive::encoder_forward(out.get(), d_tokens.get(), d_wte.get(), d_wpe.get(), pos, T, C,
                                   nullptr);
      expect_same_bits(to_host(out, want.size()), want, "encoder " + shape(T, C));
    }
  }
}

TEST(NaiveKernelsTest, LayernormIsBitExact) {
  for (int C : {36, 80, 768}) {
    for (int T : {1, 7, 129}) {
      const auto inp = random_values(std::size_t(T) * C, 3, 2.0f);
      const auto w = random_values(C, 4), b = random_values(C, 5);
      std::vector<float> want(inp.size());
      ref::layernorm_forward(want.data(), inp.data(), w.data(), b.data(), T, C);
      auto d_inp = to_device(inp), d_w = to_device(w), d_b = to_device(b);
      auto out = poisoned(want.size()), stats = poisoned(2 * T);
      cuda::naive::layernorm_forward(out.get(), stats.get(), d_inp.get(), d_w.get(), d_b.get(), T,
                                     C, nullptr);
      expect_same_bits(to_host(out, want.size()), want, "layernorm " + shape(T, C));
    }
  }
}

TEST(NaiveKernelsTest, MatmulIsBitExactWithAndWithoutBias) {
  for (auto [C, OC] :
       {std::pair{36, 108}, std::pair{36, 97}, std::pair{80, 1000}, std::pair{768, 2304}}) {
    for (int T : {1, 7, 129}) {
      const auto inp = random_values(std::size_t(T) * C, 6);
      const auto w = random_values(std::size_t(OC) * C, 7, 0.1f), b = random_values(OC, 8);
      auto d_inp = to_device(inp), d_w = to_device(w), d_b = to_device(b);
      for (bool bias : {true, false}) {
        std::vector<float> want(std::size_t(T) * OC);
        ref::matmul_forward(want.data(), inp.data(), w.data(), bias ? b.data() : nullptr, T, C, OC);
        auto out = poisoned(want.size());
        cuda::naive::matmul_forward(out.get(), d_inp.get(), d_w.get(), bias ? d_b.get() : nullptr,
                                    T, C, OC, nullptr);
        expect_same_bits(to_host(out, want.size()), want,
                         "matmul " + shape(T, C, OC) + (bias ? " with bias" : ""));
      }
    }
  }
}

TEST(NaiveKernelsTest, AttentionIsBitExactAfterACachedPrefix) {
  for (auto [C, NH] : {std::pair{36, 3}, std::pair{80, 5}, std::pair{128, 2}}) {
    for (int T : {1, 7, 129}) {
      for (int pos : {0, 13}) {
        const int n = pos + T;
        const auto qkv = random_values(std::size_t(T) * 3 * C, 9);
        const auto keys = random_values(std::size_t(n) * C, 10),
                   values = random_values(std::size_t(n) * C, 11);
        std::vector<float> want(std::size_t(T) * C), att(n);
        ref::attention_forward(want.data(), qkv.data(), keys.data(), values.data(), att.data(), pos,
                               T, C, NH);
        auto d_qkv = to_device(qkv), d_k = to_device(keys), d_v = to_device(values);
        auto out = poisoned(want.size()), scratch = poisoned(std::size_t(T) * NH * n);
        cuda::naive::attention_forward(out.get(), d_qkv.get(), d_k.get(), d_v.get(), scratch.get(),
                                       pos, T, C, NH, nullptr);
        expect_same_bits(to_host(out, want.size()), want,
                         "attention " + shape(T, C) + " NH=" + std::to_string(NH) +
                             " pos=" + std::to_string(pos));
      }
    }
  }
}

TEST(NaiveKernelsTest, GeluResidualAndKvStoreAreBitExact) {
  for (int N : {1, 7, 36 * 129, 3 * 4 * 768}) {
    const auto a = random_values(N, 12, 3.0f), b = random_values(N, 13);
    std::vector<float> gelu(N), sum(N);
    ref::gelu_forward(gelu.data(), a.data(), N);
    ref::residual_forward(sum.data(), a.data(), b.data(), N);
    auto d_a = to_device(a), d_b = to_device(b);
    auto out = poisoned(N);
    cuda::naive::gelu_forward(out.get(), d_a.get(), N, nullptr);
    expect_same_bits(to_host(out, N), gelu, "gelu N=" + std::to_string(N));
    cuda::naive::residual_forward(out.get(), d_a.get(), d_b.get(), N, nullptr);
    expect_same_bits(to_host(out, N), sum, "residual N=" + std::to_string(N));
  }
  const int T = 7, C = 36, pos = 3, cap = 12;
  const auto qkv = random_values(std::size_t(T) * 3 * C, 14);
  auto d_qkv = to_device(qkv);
  auto keys = poisoned(std::size_t(cap) * C), values = poisoned(std::size_t(cap) * C);
  cuda::naive::store_kv(keys.get(), values.get(), d_qkv.get(), pos, T, C, nullptr);
  const auto k = to_host(keys, std::size_t(cap) * C), v = to_host(values, std::size_t(cap) * C);
  for (int t = 0; t < T; t++) {
    for (int c = 0; c < C; c++) {
      EXPECT_EQ(k[(pos + t) * C + c], qkv[t * 3 * C + C + c]);
      EXPECT_EQ(v[(pos + t) * C + c], qkv[t * 3 * C + 2 * C + c]);
    }
  }
}

TEST(NaiveKernelsTest, SoftmaxIsBitExact) {
  for (int V : {1, 3, 1000, 50257}) {
    const auto logits = random_values(V, 15, 10.0f);
    std::vector<float> want(V);
    ref::softmax_forward(want.data(), logits.data(), V);
    auto d_logits = to_device(logits);
    auto out = poisoned(V), stats = poisoned(2);
    cuda::naive::softmax_forward(out.get(), stats.get(), d_logits.get(), V, nullptr);
    expect_same_bits(to_host(out, V), want, "softmax V=" + std::to_string(V));
  }
}

}  // namespace
}  // namespace gpt2
