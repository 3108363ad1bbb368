#include "backends/cpu/layers.h"

#include <algorithm>
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "reference/kernels.h"

namespace gpt2::cpu {

void layernorm_rows(float* ln, const float* x, const float* w, const float* b, int T, int C,
                    Executor& ex) {
  ex.parallel_for(T, [&](int begin, int end, int) {
    ref::layernorm_forward(ln + long(begin) * C, x + long(begin) * C, w, b, end - begin, C);
  });
}

void attention_rows(float* atty, const float* q, const float* keys_t, const float* values, int cap,
                    int pos, int T, int NH, int C, float* att, const Kernels& k, Executor& ex) {
  const int hs = C / NH;
  const long lC = C;
  ex.parallel_for(T * NH, [&](int begin, int end, int worker) {
    float* scratch = att + long(worker) * cap;
    for (int item = begin; item < end; item++) {
      const int t = zigzag_row(item / NH, T), h = item % NH;
      k.attention_head(atty + t * lC + h * hs, q + t * lC + h * hs, keys_t + long(h) * hs * cap,
                       cap, values + h * hs, C, scratch, pos + t + 1, hs);
    }
  });
}

void softmax_row(float* probs, const float* logits, int V, float* partial_max, const Kernels& k,
                 Executor& ex) {
  std::fill(partial_max, partial_max + ex.threads(), -INFINITY);
  ex.parallel_for(V, [&](int begin, int end, int worker) {
    partial_max[worker] = k.max(logits + begin, end - begin);
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
