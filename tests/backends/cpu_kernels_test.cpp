// The shared SIMD kernels against the reference's ops, bit for bit, for every
// instruction set this CPU runs, through both executors at 1 to 4 threads.
#include "backends/cpu/kernels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <tuple>

#include "backends/cpu/layers.h"
#include "backends/cpu/packed.h"
#include "backends/cpu/packed_linear.h"
#include "backends/openmp/openmp_backend.h"
#include "backends/pthreads/thread_pool.h"
#include "reference/kernels.h"
#include "reference/mathfn.h"
#include "reference/synthetic.h"
#include "tests/test_util.h"

namespace gpt2::cpu {
namespace {

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

std::string isa_label(const ::testing::TestParamInfo<Isa>& info) {
  return isa_name(info.param);
}

void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); i++) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i]))
        << what << " at " << i << ": " << got[i] << " vs " << want[i];
  }
}

class KernelsTest : public ::testing::TestWithParam<Isa> {
 protected:
  const Kernels& k() { return kernels(GetParam()); }
};

TEST_P(KernelsTest, ExpMatchesTheReferenceEverywhere) {
  // A sweep through the range and its edges; vector lanes and scalar tails.
  std::vector<float> x;
  for (float v = -90.0f; v <= 90.0f; v += 0.01371f) x.push_back(v);
  for (float v :
       {0.0f, -0.0f, -87.0f, 88.0f, -87.0001f, 88.0001f, -1e-30f, 1e-30f, -INFINITY, INFINITY}) {
    x.push_back(v);
  }
  std::vector<float> got(x.size()), want(x.size());
  k().exp_shifted(got.data(), x.data(), 0.0f, int(x.size()));
  for (std::size_t i = 0; i < x.size(); i++) want[i] = exp_ref(x[i]);
  expect_same_bits(got, want, "exp");
  // Every float bit pattern of [-87, 0] in steps of 997 ulps.
  std::vector<float> all;
  for (std::uint32_t b = 0x80000000u; b <= std::bit_cast<std::uint32_t>(-87.0f); b += 997) {
    all.push_back(std::bit_cast<float>(b));
  }
  got.resize(all.size());
  want.resize(all.size());
  k().exp_shifted(got.data(), all.data(), 0.0f, int(all.size()));
  for (std::size_t i = 0; i < all.size(); i++) want[i] = exp_ref(all[i]);
  expect_same_bits(got, want, "exp over [-87, 0]");
}

TEST_P(KernelsTest, GeluMatchesTheReference) {
  std::vector<float> x = test::random_values(10007, 3, 4.0f);
  for (float v : {0.0f, -0.0f, 20.0f, -20.0f, 1e-20f}) x.push_back(v);
  std::vector<float> got(x.size()), want(x.size());
  k().gelu(got.data(), x.data(), int(x.size()));
  ref::gelu_forward(want.data(), x.data(), int(x.size()));
  expect_same_bits(got, want, "gelu");
}

TEST_P(KernelsTest, MaxDivideAndSoftmaxPieces) {
  const std::vector<float> x = test::random_values(50257, 4, 10.0f);
  float m = -INFINITY;
  for (float v : x) m = std::max(m, v);
  EXPECT_EQ(k().max(x.data(), int(x.size())), m);
  EXPECT_EQ(k().max(x.data(), 0), -INFINITY);
  // exp, in-order sum, divide == ref::softmax_forward
  std::vector<float> got(x.size()), want(x.size());
  k().exp_shifted(got.data(), x.data(), m, int(x.size()));
  float sum = 0.0f;
  for (float e : got) sum += e;
  k().divide(got.data(), sum, int(x.size()));
  ref::softmax_forward(want.data(), x.data(), int(x.size()));
  expect_same_bits(got, want, "softmax");
}

TEST_P(KernelsTest, AttentionRowsMatchTheReference) {
  // R consecutive query rows; row r attends to the first n0 + r keys.
  for (auto [n0, hs] : {std::pair{1, 64},
                        {5, 64},
                        {16, 16},
                        {17, 16},
                        {64, 64},
                        {100, 20},
                        {300, 64},
                        {1021, 64},
                        {33, 4},
                        {48, 80}}) {
    for (int R = 1; R <= kAttentionRows; R++) {
      const int n = n0 + R - 1, stride = n + 3;  // the cache is wider than the keys in use
      const auto q = test::random_values(std::size_t(R) * hs, 10 + n0, 2.0f);     // (R, hs)
      const auto keys = test::random_values(std::size_t(n) * hs, 20 + n0, 2.0f);  // (n, hs)
      const auto values = test::random_values(std::size_t(n) * hs, 30 + n0);
      std::vector<float> keys_t(std::size_t(hs) * stride, NAN);  // (hs, stride)
      for (int j = 0; j < n; j++) {
        for (int i = 0; i < hs; i++)
          keys_t[std::size_t(i) * stride + j] = keys[std::size_t(j) * hs + i];
      }
      std::vector<float> got(std::size_t(R) * hs, NAN), att(std::size_t(R) * (n0 + R), NAN);
      k().attention_rows(got.data(), hs, q.data(), hs, R, n0, keys_t.data(), stride, values.data(),
                         hs, att.data(), hs);
      for (int r = 0; r < R; r++) {
        std::vector<float> want(hs), att_ref(n0 + r);
        ref::attention_head_forward(want.data(), q.data() + r * hs, keys.data(), values.data(),
                                    att_ref.data(), n0 + r, hs, hs);
        expect_same_bits(std::vector<float>(got.begin() + r * hs, got.begin() + (r + 1) * hs), want,
                         "attention n0=" + std::to_string(n0) + " hs=" + std::to_string(hs) +
                             " R=" + std::to_string(R) + " row " + std::to_string(r));
      }
    }
  }
}

TEST_P(KernelsTest, MatmulEpiloguesMatchTheReference) {
  for (auto [T, C, OC] : {std::tuple{1, 64, 64},
                          {7, 33, 100},
                          {13, 128, 1000},
                          {129, 64, 192},
                          {6, 768, 64},
                          {2, 5, 3}}) {
    const auto inp = test::random_values(std::size_t(T) * C, 1);
    const auto w = test::random_values(std::size_t(OC) * C, 2, 0.2f);
    const auto bias = test::random_values(OC, 3);
    SerialExecutor serial;
    const PackedMatrix packed = pack_matrix(w.data(), OC, C, serial);
    std::vector<float> want(std::size_t(T) * OC);
    ref::matmul_forward(want.data(), inp.data(), w.data(), bias.data(), T, C, OC);
    const std::string shape =
        std::to_string(T) + "x" + std::to_string(C) + "x" + std::to_string(OC);

    std::vector<float> got(std::size_t(T) * OC, NAN);
    k().matmul(packed.view(), bias.data(), OC, C, inp.data(), 0, T, 0, packed.groups(),
               {Epilogue::kStore, got.data(), OC});
    expect_same_bits(got, want, "store " + shape);

    // No bias: starts from 0.
    std::vector<float> nobias_want(std::size_t(T) * OC);
    ref::matmul_forward(nobias_want.data(), inp.data(), w.data(), nullptr, T, C, OC);
    k().matmul(packed.view(), nullptr, OC, C, inp.data(), 0, T, 0, packed.groups(),
               {Epilogue::kStore, got.data(), OC});
    expect_same_bits(got, nobias_want, "no bias " + shape);

    // Residual add: out = out + v, as ref::residual_forward(x, x, proj).
    const auto resid = test::random_values(std::size_t(T) * OC, 4);
    std::vector<float> add_got = resid, add_want(resid.size());
    ref::residual_forward(add_want.data(), resid.data(), want.data(), T * OC);
    k().matmul(packed.view(), bias.data(), OC, C, inp.data(), 0, T, 0, packed.groups(),
               {Epilogue::kAdd, add_got.data(), OC});
    expect_same_bits(add_got, add_want, "add " + shape);

    // GELU of the outputs.
    std::vector<float> gelu_want(want.size());
    ref::gelu_forward(gelu_want.data(), want.data(), T * OC);
    k().matmul(packed.view(), bias.data(), OC, C, inp.data(), 0, T, 0, packed.groups(),
               {Epilogue::kGelu, got.data(), OC});
    expect_same_bits(got, gelu_want, "gelu " + shape);

    // Split row and group ranges give the same bits as one call.
    std::vector<float> pieces(std::size_t(T) * OC, NAN);
    for (int g = 0; g < packed.groups(); g++) {
      for (int t = 0; t < T; t += 5) {
        k().matmul(packed.view(), bias.data(), OC, C, inp.data(), t, std::min(T, t + 5), g, g + 1,
                   {Epilogue::kStore, pieces.data(), OC});
      }
    }
    expect_same_bits(pieces, want, "pieces " + shape);
  }
}

// bf16w and int8w: the packed narrow weights, dequantized in registers, give
// the reference's product over the dequantized matrix bit for bit, a row of
// zeros included (int8: scale 0, q 0, the output its bias); and unpack_row
// gives each row's dequantized values.
TEST_P(KernelsTest, NarrowWeightsMatchTheReferenceOverTheirDequantizedValues) {
  for (WeightFormat f : {WeightFormat::kBF16, WeightFormat::kInt8}) {
    for (auto [T, C, OC] : {std::tuple{1, 64, 64}, {7, 33, 100}, {13, 128, 200}, {2, 5, 3}}) {
      const auto inp = test::random_values(std::size_t(T) * C, 1);
      auto w = test::random_values(std::size_t(OC) * C, 2, 0.2f);
      std::fill_n(w.begin() + std::size_t(OC / 2) * C, C, 0.0f);  // row OC/2: zeros
      const auto bias = test::random_values(OC, 3);
      SerialExecutor serial;
      const PackedMatrix packed = pack_matrix(w.data(), OC, C, f, serial);
      std::vector<float> dequantized = w;
      dequantize_matrix_in_place(dequantized, OC, C, f);
      std::vector<float> want(std::size_t(T) * OC), got(want.size(), NAN);
      ref::matmul_forward(want.data(), inp.data(), dequantized.data(), bias.data(), T, C, OC);
      k().matmul(packed.view(), bias.data(), OC, C, inp.data(), 0, T, 0, packed.groups(),
                 {Epilogue::kStore, got.data(), OC});
      const std::string what = std::string(weight_format_name(f)) + " " + std::to_string(T) + "x" +
                               std::to_string(C) + "x" + std::to_string(OC);
      expect_same_bits(got, want, what);
      for (int t = 0; t < T; t++) EXPECT_EQ(got[std::size_t(t) * OC + OC / 2], bias[OC / 2]);
      if (f == WeightFormat::kInt8) {
        EXPECT_EQ(packed.scales.data()[OC / 2], 0.0f);
      }
      for (int r = 0; r < OC; r++) {
        std::vector<float> row(C, NAN);
        unpack_row(packed, r, row.data());
        expect_same_bits(row,
                         {dequantized.begin() + std::size_t(r) * C,
                          dequantized.begin() + std::size_t(r + 1) * C},
                         what + " row " + std::to_string(r));
      }
    }
  }
}

TEST_P(KernelsTest, QkvEpilogueFillsTheCache) {
  const int T = 3, C = 32, hs = 16, pos = 5, stride = 12;  // 2 heads
  const auto inp = test::random_values(T * C, 5);
  const auto w = test::random_values(3 * C * C, 6, 0.2f);
  const auto bias = test::random_values(3 * C, 7);
  SerialExecutor serial;
  const PackedMatrix packed = pack_matrix(w.data(), 3 * C, C, serial);
  std::vector<float> want(T * 3 * C);
  ref::matmul_forward(want.data(), inp.data(), w.data(), bias.data(), T, C, 3 * C);
  std::vector<float> q(T * C, NAN), keys_t(C * stride, NAN), values(stride * C, NAN);
  const Epilogue ep = Epilogue::qkv(q.data(), keys_t.data(), values.data(), pos, stride, C, hs);
  k().matmul(packed.view(), bias.data(), 3 * C, C, inp.data(), 0, T, 0, packed.groups(), ep);
  for (int t = 0; t < T; t++) {
    for (int c = 0; c < C; c++) {
      EXPECT_EQ(q[t * C + c], want[t * 3 * C + c]);
      EXPECT_EQ(keys_t[c * stride + pos + t], want[t * 3 * C + C + c]);
      EXPECT_EQ(values[(pos + t) * C + c], want[t * 3 * C + 2 * C + c]);
    }
  }
  EXPECT_TRUE(std::isnan(keys_t[0 * stride + pos - 1]));  // nothing else written
  EXPECT_TRUE(std::isnan(values[(pos + T) * C]));
}

INSTANTIATE_TEST_SUITE_P(Isas, KernelsTest, ::testing::ValuesIn(supported_isas()), isa_label);

// Tests run through both executors at 1..4 threads: (OpenMP?, threads).
class KernelTasksTest : public ::testing::TestWithParam<std::tuple<bool, int>> {
 protected:
  std::unique_ptr<Executor> executor() {
    const auto [use_openmp, threads] = GetParam();
    if (use_openmp) return std::make_unique<OpenMpExecutor>(threads);
    return std::make_unique<ThreadPool>(threads);
  }
};

std::string executor_label(const ::testing::TestParamInfo<std::tuple<bool, int>>& info) {
  return std::string(std::get<0>(info.param) ? "openmp" : "pthreads") + "_" +
         std::to_string(std::get<1>(info.param)) + "threads";
}

// PackedLinear (the bit-exact LinearLayers) on a real model, through both
// executors and 1..4 threads, against the reference's matmul.
class PackedLinearTest : public KernelTasksTest {};

TEST_P(PackedLinearTest, EveryLinearLayerMatchesTheReference) {
  const auto ex = executor();
  // An odd shape: 3C = 240 and V = 1000 are not multiples of 64.
  const ModelConfig cfg{32, 1000, 1024, 2, 5, 80};
  auto model = Model::from_parameters(cfg, synthetic_parameters(cfg, 5), "odd");
  PackedLinear linear(model, best_kernels(), *ex);
  const ParameterTensors& p = model->params();
  const int C = cfg.channels;
  for (int T : {1, 7, 50, 97}) {
    for (int l = 0; l < cfg.num_layers; l++) {
      struct Case {
        Linear which;
        const float* w;
        const float* b;
        int in, out;
      };
      const Case cases[] = {
          {Linear::kAttProj, p.attprojw + l * C * C, p.attprojb + l * C, C, C},
          {Linear::kFc, p.fcw + l * 4 * C * C, p.fcb + l * 4 * C, C, 4 * C},
          {Linear::kFcProj, p.fcprojw + l * 4 * C * C, p.fcprojb + l * C, 4 * C, C},
          {Linear::kLogits, p.wte, nullptr, C, cfg.vocab_size}};
      for (const Case& c : cases) {
        if (c.which == Linear::kLogits && l > 0) continue;
        const auto inp = test::random_values(std::size_t(T) * c.in, T + l);
        std::vector<float> want(std::size_t(T) * c.out), got(want.size(), NAN);
        ref::matmul_forward(want.data(), inp.data(), c.w, c.b, T, c.in, c.out);
        linear.run(c.which, l, inp.data(), T, {Epilogue::kStore, got.data(), c.out}, *ex);
        expect_same_bits(got, want,
                         "linear " + std::to_string(int(c.which)) + " T=" + std::to_string(T) +
                             " layer " + std::to_string(l));
      }
    }
  }
}

// The other layers (layers.h), through both executors and 1..4 threads, on the
// best kernels, against the reference's ops: shapes with more rows than the
// executors cut into chunks, and ones with fewer rows than threads.
class LayersTest : public KernelTasksTest {};

TEST_P(LayersTest, EncoderAndLayernormMatchTheReference) {
  const auto ex = executor();
  const int C = 80, V = 101, maxT = 400;
  const auto wte = test::random_values(std::size_t(V) * C, 1);
  const auto wpe = test::random_values(std::size_t(maxT) * C, 2);
  const auto w = test::random_values(C, 3), b = test::random_values(C, 4);
  for (auto [pos, T] : {std::pair{0, 1}, {0, 3}, {7, 5}, {0, 257}, {100, 299}}) {
    std::vector<int> tokens(T);
    for (int t = 0; t < T; t++) tokens[t] = (t * 37 + pos) % V;
    const std::string what = " pos=" + std::to_string(pos) + " T=" + std::to_string(T);
    std::vector<float> want(std::size_t(T) * C), got(want.size(), NAN);
    ref::encoder_forward(want.data(), tokens.data(), wte.data(), wpe.data(), pos, T, C);
    const WteRow wte_row = [&](int token, float* out) {
      std::copy_n(wte.data() + std::size_t(token) * C, C, out);
    };
    encoder_rows(got.data(), tokens.data(), wte_row, wpe.data(), pos, T, C, *ex);
    expect_same_bits(got, want, "encoder" + what);

    const auto x = test::random_values(std::size_t(T) * C, 5 + T, 3.0f);
    std::fill(got.begin(), got.end(), NAN);
    ref::layernorm_forward(want.data(), x.data(), w.data(), b.data(), T, C);
    layernorm_rows(got.data(), x.data(), w.data(), b.data(), T, C, *ex);
    expect_same_bits(got, want, "layernorm" + what);
  }
}

TEST_P(LayersTest, AttentionMatchesTheReference) {
  const auto ex = executor();
  const int threads = ex->threads();
  for (auto [C, NH] : {std::pair{64, 4}, {60, 3}}) {
    for (auto [pos, T] : {std::pair{0, 1}, {0, 2}, {5, 1}, {0, 33}, {9, 70}, {0, 130}}) {
      const int n = pos + T, cap = n + 5;  // the cache holds more positions than in use
      const auto qkv = test::random_values(std::size_t(T) * 3 * C, 40 + n, 2.0f);  // (T, 3C)
      const auto keys = test::random_values(std::size_t(n) * C, 50 + n, 2.0f);     // (n, C)
      const auto values = test::random_values(std::size_t(n) * C, 60 + n);         // (n, C)
      std::vector<float> q(std::size_t(T) * C), keys_t(std::size_t(C) * cap, NAN);
      std::vector<float> values_cap(std::size_t(cap) * C, NAN);
      for (int t = 0; t < T; t++) {
        std::copy_n(qkv.begin() + std::size_t(t) * 3 * C, C, q.begin() + std::size_t(t) * C);
      }
      for (int j = 0; j < n; j++) {
        for (int c = 0; c < C; c++) {
          keys_t[std::size_t(c) * cap + j] = keys[std::size_t(j) * C + c];  // (NH, hs, cap)
          values_cap[std::size_t(j) * C + c] = values[std::size_t(j) * C + c];
        }
      }
      std::vector<float> want(std::size_t(T) * C), got(want.size(), NAN), att_ref(n);
      ref::attention_forward(want.data(), qkv.data(), keys.data(), values.data(), att_ref.data(),
                             pos, T, C, NH);
      std::vector<float> att(std::size_t(threads) * attention_scratch(cap), NAN);
      attention_layer(got.data(), q.data(), keys_t.data(), values_cap.data(), cap, pos, T, NH, C,
                      att.data(), best_kernels(), *ex);
      expect_same_bits(got, want,
                       "attention C=" + std::to_string(C) + " NH=" + std::to_string(NH) +
                           " pos=" + std::to_string(pos) + " T=" + std::to_string(T));
    }
  }
}

TEST_P(LayersTest, SoftmaxMatchesTheReference) {
  const auto ex = executor();
  std::vector<float> scratch;
  for (int V : {1, 3, 1000, 4097, 50257}) {
    // 1, 2 and 5 rows at once, each the reference's bits for its own logits;
    // the copies of the logits only where asked for.
    for (int n : {1, 2, 5}) {
      std::vector<std::vector<float>> logits, want, got, copies;
      std::vector<SoftmaxRow> rows;
      for (int r = 0; r < n; r++) {
        logits.push_back(test::random_values(V, 70 + V + 13 * r, 10.0f));
        want.emplace_back(V);
        got.emplace_back(V, NAN);
        copies.emplace_back(V, NAN);
        ref::softmax_forward(want[r].data(), logits[r].data(), V);
      }
      for (int r = 0; r < n; r++) {
        rows.push_back({logits[r].data(), got[r].data(), r % 2 ? nullptr : copies[r].data()});
      }
      softmax_rows(rows, V, scratch, best_kernels(), *ex);
      for (int r = 0; r < n; r++) {
        const std::string what = "softmax V=" + std::to_string(V) + " row " + std::to_string(r) +
                                 " of " + std::to_string(n);
        expect_same_bits(got[r], want[r], what);
        if (r % 2 == 0) {
          expect_same_bits(copies[r], logits[r], what + " (the copy)");
        } else {
          EXPECT_TRUE(std::isnan(copies[r][0])) << what;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ExecutorsAndThreads, PackedLinearTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Range(1, 5)),
                         executor_label);
INSTANTIATE_TEST_SUITE_P(ExecutorsAndThreads, LayersTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Range(1, 5)),
                         executor_label);

}  // namespace
}  // namespace gpt2::cpu
