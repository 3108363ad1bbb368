// The batched CUDA kernels (backends/cuda/batch.h's rows and sequences):
//   cuda's products, decode attention and softmax give each row the bits it
//   gets alone, at every row count (M = 1, 2, 7, 64, 256): batch invariance;
//   cuda-tiled's kernels give the frozen reference's bits, at odd shapes and
//   over several sequences at once.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backends/cuda/batch.h"
#include "backends/cuda/fast_kernels.h"
#include "backends/cuda/tiled_kernels.h"
#include "reference/kernels.h"
#include "tests/backends/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using cuda::BatchRow;
using cuda::BatchSeq;
using test::poisoned;
using test::random_values;
using test::to_device;
using test::to_host;

std::vector<__nv_bfloat16> bf16_of(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (std::size_t i = 0; i < v.size(); i++) out[i] = __float2bfloat16_rn(v[i]);
  return out;
}

// Equal bits, element for element (NaN included: an unwritten output shows).
void expect_same_bits(const float* got, const float* want, std::size_t n, const std::string& what) {
  for (std::size_t k = 0; k < n; k++) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[k]), std::bit_cast<std::uint32_t>(want[k]))
        << what << " at " << k << ": " << got[k] << " vs " << want[k];
  }
}

constexpr int kRowCounts[] = {1, 2, 7, 64, 256};

// ---------------------------------------------------------------------------
// cuda: batch invariance.

// The product of M rows (with the layernorm fused, each epilogue) gives each
// row the bits the same row gets alone.
template <typename W>
void check_rows_invariant(const std::vector<W>& w, int C, int OC) {
  const int M = 256;
  const auto x = random_values(std::size_t(M) * C, 31, 2.0f);
  const auto lw = random_values(C, 32), lb = random_values(C, 33), b = random_values(OC, 34);
  const auto res = random_values(std::size_t(M) * OC, 35);
  auto d_x = to_device(x), d_lw = to_device(lw), d_lb = to_device(lb), d_b = to_device(b);
  auto d_res = to_device(res), d_w = to_device(w);
  using cuda::fast::Epilogue;
  for (Epilogue e :
       {Epilogue::kNone, Epilogue::kBias, Epilogue::kBiasGelu, Epilogue::kBiasResidual}) {
    for (bool ln : {false, true}) {
      // Row r alone, then all rows at each count.
      auto run = [&](int first, int rows) {
        auto out = poisoned(std::size_t(rows) * OC);
        if (e == Epilogue::kBiasResidual) {
          GPT2_CUDA(cudaMemcpy(out.get(), d_res.get() + std::size_t(first) * OC,
                               std::size_t(rows) * OC * 4, cudaMemcpyDeviceToDevice));
        }
        cuda::fast::Matvec a;
        a.out = out.get(), a.inp = d_x.get() + std::size_t(first) * C, a.bias = d_b.get();
        a.ln_weight = ln ? d_lw.get() : nullptr, a.ln_bias = ln ? d_lb.get() : nullptr;
        a.residual = e == Epilogue::kBiasResidual ? out.get() : nullptr;
        a.epilogue = e, a.T = rows, a.C = C, a.OC = OC;
        cuda::fast::matvec_forward(a, d_w.get(), nullptr);
        return to_host(out, std::size_t(rows) * OC);
      };
      std::vector<float> alone(std::size_t(M) * OC);
      for (int r = 0; r < M; r++) {
        const auto one = run(r, 1);
        std::copy(one.begin(), one.end(), alone.begin() + std::size_t(r) * OC);
      }
      for (int rows : kRowCounts) {
        const auto got = run(0, rows);
        expect_same_bits(got.data(), alone.data(), got.size(),
                         "C=" + std::to_string(C) + " OC=" + std::to_string(OC) +
                             " M=" + std::to_string(rows) + " epilogue " + std::to_string(int(e)) +
                             (ln ? " with layernorm" : ""));
      }
    }
  }
}

TEST(BatchKernelsTest, ProductRowsGetTheirBitsAloneFloat32) {
  for (auto [C, OC] : {std::pair{36, 97}, std::pair{768, 2304}, std::pair{3072, 768}}) {
    check_rows_invariant(random_values(std::size_t(OC) * C, 36, 0.1f), C, OC);
  }
}

TEST(BatchKernelsTest, ProductRowsGetTheirBitsAloneBFloat16Weights) {
  for (auto [C, OC] : {std::pair{36, 97}, std::pair{768, 2304}, std::pair{3072, 768}}) {
    check_rows_invariant(bf16_of(random_values(std::size_t(OC) * C, 37, 0.1f)), C, OC);
  }
}

// Three sequences' caches; `rows` rows spread over them at their positions.
struct Batch {
  int C, capacity;
  std::vector<BatchRow> rows;
  std::vector<BatchSeq> seqs;
  cuda::DeviceBuffer<float> keys, values;  // 3 sequences x layers x (capacity, C)
  cuda::DeviceBuffer<BatchRow> d_rows;
  cuda::DeviceBuffer<BatchSeq> d_seqs;

  Batch(int C_, int capacity_, int layers, const std::vector<int>& pos_of_row,
        const std::vector<int>& seq_of_row, bool random_caches)
      : C(C_), capacity(capacity_) {
    const std::size_t per = std::size_t(layers) * capacity * C;
    keys = random_caches ? to_device(random_values(3 * per, 41)) : poisoned(3 * per);
    values = random_caches ? to_device(random_values(3 * per, 42)) : poisoned(3 * per);
    for (int s = 0; s < 3; s++) {
      BatchSeq q;
      q.keys = keys.get() + s * per;
      q.values = values.get() + s * per;
      q.layer_floats = long(capacity) * C;
      q.n = 1;
      seqs.push_back(q);
    }
    for (std::size_t r = 0; r < pos_of_row.size(); r++) {
      rows.push_back({int(r % 50000), pos_of_row[r], seq_of_row[r], 0});
    }
    d_rows = to_device(rows);
    d_seqs = to_device(seqs);
  }
};

// The qkv product's fused store through the batch's rows, and the logits'
// input rows through inp_rows: each row's values land where its sequence and
// position say, with the bits of the product.
TEST(BatchKernelsTest, ProductStoresEachRowsKeysAndValuesInItsSequence) {
  const int C = 64, OC = 3 * C, capacity = 40, layers = 2, layer = 1;
  const std::vector<int> pos = {3, 0, 17, 39, 5}, seq = {0, 1, 2, 0, 1};
  const int R = int(pos.size());
  Batch batch(C, capacity, layers, pos, seq, false);
  const auto x = random_values(std::size_t(R) * C, 43), w = random_values(std::size_t(OC) * C, 44);
  const auto b = random_values(OC, 45);
  auto d_x = to_device(x), d_w = to_device(w), d_b = to_device(b);
  auto out = poisoned(std::size_t(R) * OC);
  cuda::fast::Matvec a;
  a.out = out.get(), a.inp = d_x.get(), a.bias = d_b.get(),
  a.epilogue = cuda::fast::Epilogue::kBias;
  a.T = R, a.C = C, a.OC = OC, a.rows = batch.d_rows.get(), a.seqs = batch.d_seqs.get();
  a.layer = layer;
  cuda::fast::matvec_forward(a, d_w.get(), nullptr);
  const auto got = to_host(out, std::size_t(R) * OC);
  const std::size_t per = std::size_t(layers) * capacity * C;
  const auto k = to_host(batch.keys, 3 * per), v = to_host(batch.values, 3 * per);
  for (int r = 0; r < R; r++) {
    const std::size_t at =
        seq[r] * per + std::size_t(layer) * capacity * C + std::size_t(pos[r]) * C;
    expect_same_bits(k.data() + at, got.data() + std::size_t(r) * OC + C, C, "keys");
    expect_same_bits(v.data() + at, got.data() + std::size_t(r) * OC + 2 * C, C, "values");
  }
  // The same rows gathered in another order through inp_rows.
  const std::vector<int> order = {4, 1, 3};
  auto d_order = to_device(order);
  auto gathered = poisoned(order.size() * OC);
  cuda::fast::Matvec g = a;
  g.out = gathered.get(), g.inp_rows = d_order.get(), g.T = int(order.size());
  g.rows = nullptr, g.seqs = nullptr;
  cuda::fast::matvec_forward(g, d_w.get(), nullptr);
  const auto got_g = to_host(gathered, order.size() * OC);
  for (std::size_t i = 0; i < order.size(); i++) {
    expect_same_bits(got_g.data() + i * OC, got.data() + std::size_t(order[i]) * OC, OC,
                     "gathered row " + std::to_string(i));
  }
}

// Decode attention over a batch's rows: each row the bits of the one-sequence
// kernel on its own cache at its position.
TEST(BatchKernelsTest, DecodeAttentionRowsGetTheirBitsAlone) {
  const int C = 768, NH = 12, capacity = 300, layers = 1;
  const std::vector<int> pos = {0, 63, 64, 299, 130, 1, 200}, seq = {0, 1, 2, 0, 1, 2, 0};
  const int R = int(pos.size());
  Batch batch(C, capacity, layers, pos, seq, true);
  const auto qkv = random_values(std::size_t(R) * 3 * C, 46);
  auto d_qkv = to_device(qkv);
  // Every row decodes; the decoding rows listed out of order.
  std::vector<int> decode_rows(R);
  for (int r = 0; r < R; r++) decode_rows[r] = (r * 3) % R;
  auto d_decode_rows = to_device(decode_rows);
  const long per_row = cuda::fast::attention_decode_scratch(C, NH, 1024);
  cuda::DeviceBuffer<float> partial(std::size_t(R) * per_row, "scratch");
  cuda::fast::attention_decode_rows_init(partial.get(), R, C, NH, 1024, nullptr);
  auto out = poisoned(std::size_t(R) * C);
  cuda::fast::attention_decode_rows(out.get(), d_qkv.get(), batch.d_rows.get(), batch.d_seqs.get(),
                                    d_decode_rows.get(), 0, partial.get(), R, C, NH, 1024,
                                    nullptr);
  const auto got = to_host(out, std::size_t(R) * C);
  for (int r = 0; r < R; r++) {
    const long single = cuda::fast::attention_decode_scratch(C, NH, capacity);
    cuda::DeviceBuffer<float> p1(single, "scratch");
    cuda::fast::attention_decode_init(p1.get(), C, NH, capacity, nullptr);
    auto d_pos = to_device(std::vector<int>{pos[r]});
    auto one = poisoned(C);
    cuda::fast::attention_decode(one.get(), d_qkv.get() + std::size_t(r) * 3 * C,
                                 batch.seqs[seq[r]].keys, batch.seqs[seq[r]].values, p1.get(),
                                 d_pos.get(), C, NH, capacity, nullptr);
    const auto want = to_host(one, C);
    expect_same_bits(got.data() + std::size_t(r) * C, want.data(), C, "row " + std::to_string(r));
  }
}

TEST(BatchKernelsTest, SoftmaxRowsGetTheirBitsAlone) {
  const int V = 50257, R = 7;
  const auto logits = random_values(std::size_t(R) * V, 47, 8.0f);
  auto d_logits = to_device(logits);
  auto scratch = poisoned(std::size_t(cuda::fast::softmax_scratch(R, V)));
  auto out = poisoned(std::size_t(R) * V);
  cuda::fast::softmax_forward(out.get(), scratch.get(), d_logits.get(), R, V, nullptr);
  const auto got = to_host(out, std::size_t(R) * V);
  for (int r = 0; r < R; r++) {
    auto one = poisoned(V);
    cuda::fast::softmax_forward(one.get(), scratch.get(), d_logits.get() + std::size_t(r) * V, 1, V,
                                nullptr);
    const auto want = to_host(one, V);
    expect_same_bits(got.data() + std::size_t(r) * V, want.data(), V, "row " + std::to_string(r));
  }
}

// ---------------------------------------------------------------------------
// cuda-tiled: the reference's bits.

TEST(TiledKernelsTest, MatmulIsTheReferenceBitForBit) {
  using cuda::tiled::Epilogue;
  for (auto [C, OC] : {std::pair{67, 131}, std::pair{768, 2304}, std::pair{3072, 768}}) {
    for (int T : {1, 2, 7, 17, 64, 130}) {
      const auto x = random_values(std::size_t(T) * C, 51);
      const auto w = random_values(std::size_t(OC) * C, 52, 0.1f), b = random_values(OC, 53);
      const auto res = random_values(std::size_t(T) * OC, 54);
      auto d_x = to_device(x), d_w = to_device(w), d_b = to_device(b);
      std::vector<float> plain(std::size_t(T) * OC);
      ref::matmul_forward(plain.data(), x.data(), w.data(), b.data(), T, C, OC);
      for (Epilogue e : {Epilogue::kStore, Epilogue::kGelu, Epilogue::kResidual}) {
        std::vector<float> want = plain;
        if (e == Epilogue::kGelu) ref::gelu_forward(want.data(), plain.data(), int(want.size()));
        if (e == Epilogue::kResidual) {
          ref::residual_forward(want.data(), res.data(), plain.data(), int(want.size()));
        }
        auto out = e == Epilogue::kResidual ? to_device(res) : poisoned(want.size());
        cuda::tiled::matmul_forward(out.get(), d_x.get(), d_w.get(), d_b.get(),
                                    e == Epilogue::kResidual ? out.get() : nullptr, e, T, C, OC,
                                    nullptr);
        const auto got = to_host(out, want.size());
        expect_same_bits(got.data(), want.data(), want.size(),
                         "C=" + std::to_string(C) + " OC=" + std::to_string(OC) +
                             " T=" + std::to_string(T) + " epilogue " + std::to_string(int(e)));
      }
    }
  }
  // No bias (the logits).
  const int T = 5, C = 67, OC = 300;
  const auto x = random_values(std::size_t(T) * C, 55), w = random_values(std::size_t(OC) * C, 56);
  std::vector<float> want(std::size_t(T) * OC);
  ref::matmul_forward(want.data(), x.data(), w.data(), nullptr, T, C, OC);
  auto d_x = to_device(x), d_w = to_device(w);
  auto out = poisoned(want.size());
  cuda::tiled::matmul_forward(out.get(), d_x.get(), d_w.get(), nullptr, nullptr, Epilogue::kStore,
                              T, C, OC, nullptr);
  const auto got = to_host(out, want.size());
  expect_same_bits(got.data(), want.data(), want.size(), "no bias");
}

// Two prompts and a decode in one step: the keys and values stored through
// the rows, then each row's attention the reference's over its own sequence.
TEST(TiledKernelsTest, AttentionOverEachRowsOwnSequenceIsTheReference) {
  const int C = 96, NH = 4, capacity = 50, layers = 2, layer = 1;
  // Sequence 0: 3 new rows at 10..12; sequence 1: one row at 0; sequence 2: 2 rows at 47..48.
  const std::vector<int> pos = {10, 11, 12, 0, 47, 48}, seq = {0, 0, 0, 1, 2, 2};
  const int R = int(pos.size());
  Batch batch(C, capacity, layers, pos, seq, true);
  const auto qkv = random_values(std::size_t(R) * 3 * C, 57);
  auto d_qkv = to_device(qkv);
  cuda::tiled::store_kv(batch.d_rows.get(), batch.d_seqs.get(), d_qkv.get(), layer, R, C, nullptr);
  auto out = poisoned(std::size_t(R) * C);
  cuda::tiled::attention_forward(out.get(), d_qkv.get(), batch.d_rows.get(), batch.d_seqs.get(),
                                 layer, R, C, NH, 49, nullptr);
  const auto got = to_host(out, std::size_t(R) * C);
  const std::size_t per = std::size_t(layers) * capacity * C;
  const auto keys = to_host(batch.keys, 3 * per), values = to_host(batch.values, 3 * per);
  for (int r = 0; r < R; r++) {
    // The reference over this row's sequence's cache of `layer`, one query at pos[r].
    const float* k = keys.data() + seq[r] * per + std::size_t(layer) * capacity * C;
    const float* v = values.data() + seq[r] * per + std::size_t(layer) * capacity * C;
    for (int i = 0; i < C; i++) {  // the stores
      ASSERT_EQ(k[std::size_t(pos[r]) * C + i], qkv[std::size_t(r) * 3 * C + C + i]);
      ASSERT_EQ(v[std::size_t(pos[r]) * C + i], qkv[std::size_t(r) * 3 * C + 2 * C + i]);
    }
    std::vector<float> want(C), att(pos[r] + 1);
    ref::attention_forward(want.data(), qkv.data() + std::size_t(r) * 3 * C, k, v, att.data(),
                           pos[r], 1, C, NH);
    expect_same_bits(got.data() + std::size_t(r) * C, want.data(), C, "row " + std::to_string(r));
  }
}

TEST(TiledKernelsTest, SoftmaxAndEncoderAreTheReference) {
  const int V = 50257, R = 3, C = 96;
  const auto logits = random_values(std::size_t(R) * V, 58, 8.0f);
  auto d_logits = to_device(logits);
  auto out = poisoned(std::size_t(R) * V);
  cuda::tiled::softmax_forward(out.get(), d_logits.get(), R, V, nullptr);
  const auto got = to_host(out, std::size_t(R) * V);
  for (int r = 0; r < R; r++) {
    std::vector<float> want(V);
    ref::softmax_forward(want.data(), logits.data() + std::size_t(r) * V, V);
    expect_same_bits(got.data() + std::size_t(r) * V, want.data(), V, "row " + std::to_string(r));
  }
  const auto wte = random_values(std::size_t(100) * C, 59),
             wpe = random_values(std::size_t(20) * C, 60);
  const std::vector<BatchRow> rows = {{7, 3, 0, 0}, {99, 19, 1, 0}, {0, 0, 2, 0}};
  auto d_rows = to_device(rows);
  auto d_wte = to_device(wte), d_wpe = to_device(wpe);
  auto enc = poisoned(rows.size() * C);
  cuda::tiled::encoder_forward(enc.get(), d_rows.get(), d_wte.get(), d_wpe.get(), int(rows.size()),
                               C, nullptr);
  const auto got_e = to_host(enc, rows.size() * C);
  for (std::size_t r = 0; r < rows.size(); r++) {
    std::vector<float> want(C);
    ref::encoder_forward(want.data(), &rows[r].token, wte.data(), wpe.data(), rows[r].pos, 1, C);
    expect_same_bits(got_e.data() + r * C, want.data(), C, "encoder row " + std::to_string(r));
  }
}

}  // namespace
}  // namespace gpt2
