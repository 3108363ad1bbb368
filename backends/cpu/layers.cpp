#include "backends/cpu/layers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "reference/kernels.h"

namespace gpt2::cpu {

void encoder_rows(float* x, const int* tokens, const WteRow& wte_row, const float* wpe, int pos,
                  int T, int C, Executor& ex) {
  ex.parallel_for(T, [&](int begin, int end, int) {
    for (int t = begin; t < end; t++) {
      float* out = x + long(t) * C;
      const float* position = wpe + long(pos + t) * C;
      wte_row(tokens[t], out);
      for (int i = 0; i < C; i++) out[i] = out[i] + position[i];
    }
  });
}

void layernorm_rows(float* ln, const float* x, const float* w, const float* b, int T, int C,
                    Executor& ex) {
  ex.parallel_for(T, [&](int begin, int end, int) {
    ref::layernorm_forward(ln + long(begin) * C, x + long(begin) * C, w, b, end - begin, C);
  });
}

void attention_sequences(std::span<const AttentionRows> seqs, int NH, int C, float* att,
                         std::size_t scratch, const Kernels& k, Executor& ex) {
  const int hs = C / NH;
  const long lC = C;
  // first[s]: the first work item of sequence s; blocks of kAttentionRows rows.
  std::vector<int> first(seqs.size() + 1, 0);
  for (std::size_t s = 0; s < seqs.size(); s++) {
    first[s + 1] = first[s] + NH * ((seqs[s].T + kAttentionRows - 1) / kAttentionRows);
  }
  ex.parallel_for(first.back(), [&](int begin, int end, int worker) {
    float* mine = att + worker * scratch;
    std::size_t s = std::upper_bound(first.begin(), first.end(), begin) - first.begin() - 1;
    for (int item = begin; item < end; item++) {
      while (item >= first[s + 1]) s++;
      const AttentionRows& a = seqs[s];
      const int blocks = (a.T + kAttentionRows - 1) / kAttentionRows, local = item - first[s];
      const int h = local / blocks, t0 = zigzag_row(local % blocks, blocks) * kAttentionRows;
      const int rows = std::min(kAttentionRows, a.T - t0);
      k.attention_rows(a.atty + t0 * lC + h * hs, C, a.q + t0 * lC + h * hs, C, rows,
                       a.pos + t0 + 1, a.keys_t + long(h) * hs * a.cap, a.cap, a.values + h * hs, C,
                       mine, hs);
    }
  });
}

void attention_layer(float* atty, const float* q, const float* keys_t, const float* values, int cap,
                     int pos, int T, int NH, int C, float* att, const Kernels& k, Executor& ex) {
  const AttentionRows one{atty, q, keys_t, values, cap, pos, T};
  attention_sequences({&one, 1}, NH, C, att, attention_scratch(cap), k, ex);
}

void softmax_rows(std::span<const SoftmaxRow> rows, int V, std::vector<float>& scratch,
                  const Kernels& k, Executor& ex) {
  constexpr int kChunk = 4096;
  const int chunks = (V + kChunk - 1) / kChunk, n = int(rows.size());
  scratch.resize(std::size_t(n) * (chunks + 1));
  float* chunk_max = scratch.data();  // n x chunks
  float* sums = chunk_max + std::size_t(n) * chunks;
  const auto each_chunk = [&](auto fn) {
    ex.parallel_for(n * chunks, [&](int begin, int end, int) {
      for (int item = begin; item < end; item++) {
        const int r = item / chunks, i0 = (item % chunks) * kChunk;
        fn(r, item, i0, std::min(V, i0 + kChunk) - i0);
      }
    });
  };
  each_chunk([&](int r, int item, int i0, int len) {
    if (rows[r].copy != nullptr) std::copy_n(rows[r].logits + i0, len, rows[r].copy + i0);
    chunk_max[item] = k.max(rows[r].logits + i0, len);
  });
  // max is exact: the chunks' maxima in any grouping give the row's.
  each_chunk([&](int r, int, int i0, int len) {
    const float* m = chunk_max + std::size_t(r) * chunks;
    const float maxval = *std::max_element(m, m + chunks);
    k.exp_shifted(rows[r].probs + i0, rows[r].logits + i0, maxval, len);
  });
  ex.parallel_for(n, [&](int begin, int end, int) {
    for (int r = begin; r < end; r++) {
      float sum = 0.0f;
      for (int i = 0; i < V; i++) sum += rows[r].probs[i];
      sums[r] = sum;
    }
  });
  each_chunk([&](int r, int, int i0, int len) { k.divide(rows[r].probs + i0, sums[r], len); });
}

}  // namespace gpt2::cpu
