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

void softmax_row(float* probs, const float* logits, int V, float* partial_max, const Kernels& k,
                 Executor& ex) {
  std::fill(partial_max, partial_max + ex.threads(), -INFINITY);
  ex.parallel_for(V, [&](int begin, int end, int worker) {
    // A worker may get several chunks; max is exact, so any grouping gives the same value.
    partial_max[worker] = std::max(partial_max[worker], k.max(logits + begin, end - begin));
  });
  float maxval = -INFINITY;
  for (int w = 0; w < ex.threads(); w++) maxval = std::max(maxval, partial_max[w]);
  ex.parallel_for(V, [&](int begin, int end, int) {
    k.exp_shifted(probs + begin, logits + begin, maxval, end - begin);
  });
  float sum = 0.0f;
  for (int i = 0; i < V; i++) sum += probs[i];
  ex.parallel_for(V, [&](int begin, int end, int) { k.divide(probs + begin, sum, end - begin); });
}

}  // namespace gpt2::cpu
