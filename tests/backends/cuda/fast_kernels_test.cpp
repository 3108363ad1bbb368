// Every kernel of the cuda backend against the frozen reference's op, at odd
// shapes, with a tolerance per kernel (their sums are reordered):
//   encoder                 exact (one add)
//   layernorm               3e-5 of the row's largest |output|
//   matrix-vector           1e-5 of the sum of |products| (+ |bias|) per output
//                           (2e-5 with the layernorm fused in front);
//                           bfloat16 weights against the reference on the same
//                           rounded weights
//   attention (both)        2e-5 of the largest |value|
//   softmax                 1e-4 relative per probability (the reference's own
//                           serial float32 sum of 50257 terms is off by ~1e-5)
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backends/cuda/fast_kernels.h"
#include "reference/kernels.h"
#include "tests/backends/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using cuda::fast::Epilogue;
using test::poisoned;
using test::random_values;
using test::to_device;
using test::to_host;

// Round to the nearest bfloat16, ties to even (finite inputs).
float round_bf16(float x) {
  std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  u += 0x7fffu + ((u >> 16) & 1u);
  return std::bit_cast<float>(u & 0xffff0000u);
}

std::vector<__nv_bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (std::size_t i = 0; i < v.size(); i++) {
    __nv_bfloat16_raw raw;
    raw.x = std::uint16_t(std::bit_cast<std::uint32_t>(round_bf16(v[i])) >> 16);
    out[i] = raw;
  }
  return out;
}

TEST(FastKernelsTest, EncoderIsExact) {
  const int V = 97, C = 36, T = 7;
  const auto wte = random_values(std::size_t(V) * C, 1),
             wpe = random_values(std::size_t(40) * C, 2);
  std::vector<int> tokens(T);
  for (int t = 0; t < T; t++) tokens[t] = (t * 13 + 5) % V;
  const std::vector<int> pos = {9};
  std::vector<float> want(std::size_t(T) * C);
  ref::encoder_forward(want.data(), tokens.data(), wte.data(), wpe.data(), pos[0], T, C);
  auto d_tokens = to_device(tokens), d_pos = to_device(pos);
  auto d_wte = to_device(wte), d_wpe = to_device(wpe);
  auto out = poisoned(want.size());
  cuda::fast::encoder_forward(out.get(), d_tokens.get(), d_wte.get(), d_wpe.get(), d_pos.get(), T,
                              C, nullptr);
  EXPECT_EQ(to_host(out, want.size()), want);
  // bfloat16 wte: the row is dequantized, then added.
  std::vector<float> wte_r(wte.size());
  std::transform(wte.begin(), wte.end(), wte_r.begin(), round_bf16);
  ref::encoder_forward(want.data(), tokens.data(), wte_r.data(), wpe.data(), pos[0], T, C);
  auto d_wte_bf = to_device(to_bf16(wte));
  cuda::fast::encoder_forward(out.get(), d_tokens.get(), d_wte_bf.get(), d_wpe.get(), d_pos.get(),
                              T, C, nullptr);
  EXPECT_EQ(to_host(out, want.size()), want);
}

TEST(FastKernelsTest, LayernormWithin3e5OfTheRowScale) {
  for (int C : {36, 80, 768}) {
    for (int T : {1, 7, 129}) {
      const auto inp = random_values(std::size_t(T) * C, 3, 2.0f);
      const auto w = random_values(C, 4), b = random_values(C, 5);
      std::vector<float> want(inp.size());
      ref::layernorm_forward(want.data(), inp.data(), w.data(), b.data(), T, C);
      auto d_inp = to_device(inp), d_w = to_device(w), d_b = to_device(b);
      auto out = poisoned(want.size());
      cuda::fast::layernorm_forward(out.get(), d_inp.get(), d_w.get(), d_b.get(), T, C, nullptr);
      const auto got = to_host(out, want.size());
      for (int t = 0; t < T; t++) {
        float scale = 0;
        for (int i = 0; i < C; i++) scale = std::max(scale, std::fabs(want[t * C + i]));
        for (int i = 0; i < C; i++) {
          ASSERT_NEAR(got[t * C + i], want[t * C + i], 3e-5 * scale)
              << "C=" << C << " T=" << T << " row " << t << " element " << i;
        }
      }
    }
  }
}

// The reference's matmul with each epilogue, and the size of its terms.
void reference_linear(std::vector<float>& out, std::vector<float>& terms,
                      const std::vector<float>& inp, const std::vector<float>& w,
                      const std::vector<float>& b, const std::vector<float>& residual, Epilogue e,
                      int T, int C, int OC) {
  ref::matmul_forward(out.data(), inp.data(), w.data(), e == Epilogue::kNone ? nullptr : b.data(),
                      T, C, OC);
  for (int t = 0; t < T; t++) {
    for (int o = 0; o < OC; o++) {
      double s = e == Epilogue::kNone ? 0 : std::fabs(b[o]);
      for (int i = 0; i < C; i++)
        s += std::fabs(double(inp[t * C + i]) * w[std::size_t(o) * C + i]);
      float& v = out[std::size_t(t) * OC + o];
      if (e == Epilogue::kBiasGelu) ref::gelu_forward(&v, &v, 1);
      if (e == Epilogue::kBiasResidual) {
        v += residual[std::size_t(t) * OC + o];
        s += std::fabs(residual[std::size_t(t) * OC + o]);
      }
      terms[std::size_t(t) * OC + o] = float(s);
    }
  }
}

template <typename W>
void check_matvec(bool bf16) {
  for (auto [C, OC] :
       {std::pair{36, 97}, std::pair{80, 1000}, std::pair{768, 2304}, std::pair{3072, 768}}) {
    for (int T : {1, 2, 4}) {
      const auto inp = random_values(std::size_t(T) * C, 6);
      auto w = random_values(std::size_t(OC) * C, 7, 0.1f);
      const auto b = random_values(OC, 8), residual = random_values(std::size_t(T) * OC, 9);
      std::vector<float> w_used = w;
      if (bf16) std::transform(w.begin(), w.end(), w_used.begin(), round_bf16);
      auto d_inp = to_device(inp), d_b = to_device(b), d_res = to_device(residual);
      cuda::DeviceBuffer<W> d_w;
      if constexpr (std::is_same_v<W, float>) {
        d_w = to_device(w);
      } else {
        d_w = to_device(to_bf16(w));
      }
      for (Epilogue e :
           {Epilogue::kNone, Epilogue::kBias, Epilogue::kBiasGelu, Epilogue::kBiasResidual}) {
        std::vector<float> want(std::size_t(T) * OC), terms(want.size());
        reference_linear(want, terms, inp, w_used, b, residual, e, T, C, OC);
        auto out = poisoned(want.size());
        if (e == Epilogue::kBiasResidual) {  // in place, as the backend runs it
          GPT2_CUDA(cudaMemcpy(out.get(), d_res.get(), want.size() * 4, cudaMemcpyDeviceToDevice));
        }
        cuda::fast::Matvec args;
        args.out = out.get(), args.inp = d_inp.get(), args.bias = d_b.get();
        args.residual = e == Epilogue::kBiasResidual ? out.get() : nullptr;
        args.epilogue = e, args.T = T, args.C = C, args.OC = OC;
        cuda::fast::matvec_forward(args, d_w.get(), nullptr);
        const auto got = to_host(out, want.size());
        for (std::size_t k = 0; k < want.size(); k++) {
          ASSERT_NEAR(got[k], want[k], 1e-5 * terms[k] + 1e-7)
              << (bf16 ? "bf16 " : "") << "C=" << C << " OC=" << OC << " T=" << T << " epilogue "
              << int(e) << " output " << k;
        }
      }
    }
  }
}

TEST(FastKernelsTest, MatvecWithin1e5OfItsTermsFloat32) {
  check_matvec<float>(false);
}

// The layernorm and the key/value store fused into a qkv product: the same
// as layernorm, then the product, then the store.
TEST(FastKernelsTest, MatvecWithTheLayernormAndTheKeyValueStoreFused) {
  for (int C : {36, 768}) {
    const int T = 3, OC = 3 * C, capacity = 20, pos = 11;
    const auto x = random_values(std::size_t(T) * C, 17, 2.0f);
    const auto lw = random_values(C, 18), lb = random_values(C, 19);
    const auto w = random_values(std::size_t(OC) * C, 20, 0.1f), b = random_values(OC, 21);
    std::vector<float> ln(x.size()), want(std::size_t(T) * OC), terms(want.size());
    ref::layernorm_forward(ln.data(), x.data(), lw.data(), lb.data(), T, C);
    reference_linear(want, terms, ln, w, b, {}, Epilogue::kBias, T, C, OC);
    auto d_x = to_device(x), d_lw = to_device(lw), d_lb = to_device(lb), d_w = to_device(w);
    auto d_b = to_device(b);
    auto d_pos = to_device(std::vector<int>{pos});
    auto out = poisoned(want.size());
    auto keys = poisoned(std::size_t(capacity) * C), values = poisoned(std::size_t(capacity) * C);
    cuda::fast::Matvec args;
    args.out = out.get(), args.inp = d_x.get(), args.ln_weight = d_lw.get();
    args.ln_bias = d_lb.get(), args.bias = d_b.get(), args.epilogue = Epilogue::kBias;
    args.T = T, args.C = C, args.OC = OC, args.keys = keys.get(), args.values = values.get();
    args.pos = d_pos.get();
    cuda::fast::matvec_forward(args, d_w.get(), nullptr);
    const auto got = to_host(out, want.size());
    const auto k = to_host(keys, std::size_t(capacity) * C);
    const auto v = to_host(values, std::size_t(capacity) * C);
    for (int t = 0; t < T; t++) {
      for (int o = 0; o < OC; o++) {
        const std::size_t at = std::size_t(t) * OC + o;
        ASSERT_NEAR(got[at], want[at], 2e-5 * terms[at] + 1e-6)
            << "C=" << C << " row " << t << " output " << o;
        if (o >= C && o < 2 * C) {
          EXPECT_EQ(k[std::size_t(pos + t) * C + o - C], got[at]);
        } else if (o >= 2 * C) {
          EXPECT_EQ(v[std::size_t(pos + t) * C + o - 2 * C], got[at]);
        }
      }
    }
  }
}
TEST(FastKernelsTest, MatvecWithin1e5OfItsTermsBFloat16Weights) {
  check_matvec<__nv_bfloat16>(true);
}

// The reference's attention for T queries after pos cached positions.
std::vector<float> reference_attention(const std::vector<float>& qkv,
                                       const std::vector<float>& keys,
                                       const std::vector<float>& values, int pos, int T, int C,
                                       int NH) {
  std::vector<float> out(std::size_t(T) * C), att(pos + T);
  ref::attention_forward(out.data(), qkv.data(), keys.data(), values.data(), att.data(), pos, T, C,
                         NH);
  return out;
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

TEST(FastKernelsTest, PrefillAttentionWithin2e5) {
  for (auto [C, NH] : {std::pair{36, 3}, std::pair{80, 5}, std::pair{768, 12}}) {
    for (int T : {1, 7, 129}) {
      for (int pos : {0, 13}) {
        const int n = pos + T;
        const auto qkv = random_values(std::size_t(T) * 3 * C, 10);
        const auto keys = random_values(std::size_t(n) * C, 11),
                   values = random_values(std::size_t(n) * C, 12);
        const auto want = reference_attention(qkv, keys, values, pos, T, C, NH);
        const std::vector<int> p = {pos};
        auto d_qkv = to_device(qkv), d_k = to_device(keys), d_v = to_device(values);
        auto d_p = to_device(p);
        auto out = poisoned(want.size());
        cuda::fast::attention_prefill(out.get(), d_qkv.get(), d_k.get(), d_v.get(), d_p.get(), T, C,
                                      NH, nullptr);
        const auto got = to_host(out, want.size());
        const float tol = 2e-5f * max_abs(values);
        for (std::size_t k = 0; k < want.size(); k++) {
          ASSERT_NEAR(got[k], want[k], tol)
              << "C=" << C << " T=" << T << " pos=" << pos << " at " << k;
        }
      }
    }
  }
}

TEST(FastKernelsTest, DecodeAttentionWithin2e5) {
  for (auto [C, NH] : {std::pair{36, 3}, std::pair{768, 12}}) {
    const int capacity = 300;
    for (int pos : {0, 1, 63, 64, 65, 299}) {
      const auto qkv = random_values(std::size_t(3) * C, 13);
      const auto keys = random_values(std::size_t(capacity) * C, 14);
      const auto values = random_values(std::size_t(capacity) * C, 15);
      const auto want = reference_attention(qkv, keys, values, pos, 1, C, NH);
      const std::vector<int> p = {pos};
      auto d_qkv = to_device(qkv), d_k = to_device(keys), d_v = to_device(values);
      auto d_p = to_device(p);
      auto out = poisoned(want.size());
      auto scratch = poisoned(std::size_t(cuda::fast::attention_decode_scratch(C, NH, capacity)));
      cuda::fast::attention_decode_init(scratch.get(), C, NH, capacity, nullptr);
      for (int run = 0; run < 2; run++) {  // the second run finds its counters reset
        cuda::fast::attention_decode(out.get(), d_qkv.get(), d_k.get(), d_v.get(), scratch.get(),
                                     d_p.get(), C, NH, capacity, nullptr);
      }
      const auto got = to_host(out, want.size());
      const float tol = 2e-5f * max_abs(values);
      for (std::size_t k = 0; k < want.size(); k++) {
        ASSERT_NEAR(got[k], want[k], tol) << "C=" << C << " pos=" << pos << " at " << k;
      }
    }
  }
}

TEST(FastKernelsTest, SoftmaxWithin1e4Relative) {
  for (int V : {1, 3, 1000, 50257}) {
    const auto logits = random_values(V, 16, 10.0f);
    std::vector<float> want(V);
    ref::softmax_forward(want.data(), logits.data(), V);
    auto d_logits = to_device(logits);
    auto out = poisoned(V);
    auto scratch = poisoned(std::size_t(cuda::fast::softmax_scratch(1, V)));
    cuda::fast::softmax_forward(out.get(), scratch.get(), d_logits.get(), 1, V, nullptr);
    const auto got = to_host(out, V);
    for (int i = 0; i < V; i++) {
      ASSERT_NEAR(got[i], want[i], 1e-4 * want[i] + 1e-12) << "V=" << V << " at " << i;
    }
  }
}

}  // namespace
}  // namespace gpt2
