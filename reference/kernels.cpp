#include "reference/kernels.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "reference/mathfn.h"

namespace gpt2::ref {

void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int pos,
                     int T, int C) {
  for (int t = 0; t < T; t++) {
    const float* wte_ix = wte + long(tokens[t]) * C;
    const float* wpe_t = wpe + long(pos + t) * C;
    float* out_t = out + long(t) * C;
    for (int i = 0; i < C; i++) out_t[i] = wte_ix[i] + wpe_t[i];
  }
}

void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                       int C) {
  for (int t = 0; t < T; t++) {
    const float* x = inp + long(t) * C;
    float m = 0.0f;
    for (int i = 0; i < C; i++) m += x[i];
    m = m / C;
    float v = 0.0f;
    for (int i = 0; i < C; i++) {
      float xshift = x[i] - m;
      v += xshift * xshift;
    }
    v = v / C;
    float s = 1.0f / std::sqrt(v + kLayerNormEps);
    float* out_t = out + long(t) * C;
    for (int i = 0; i < C; i++) {
      float n = s * (x[i] - m);
      out_t[i] = n * weight[i] + bias[i];
    }
  }
}

namespace {

// A tile of kRows x kCols outputs with independent running sums, so that the
// serial adds of different outputs overlap in the CPU (each sum itself stays
// in index order). Templated so full tiles keep their sums in registers.
template <int kRows, int kCols>
void matmul_tile(float* out, const float* inp, const float* weight, const float* bias, int C,
                 int OC, int t0, int o0) {
  float acc[kRows][kCols];
  for (int r = 0; r < kRows; r++) {
    for (int c = 0; c < kCols; c++) acc[r][c] = bias != nullptr ? bias[o0 + c] : 0.0f;
  }
  const float* x[kRows];
  const float* w[kCols];
  for (int r = 0; r < kRows; r++) x[r] = inp + long(t0 + r) * C;
  for (int c = 0; c < kCols; c++) w[c] = weight + long(o0 + c) * C;
  for (int i = 0; i < C; i++) {
    for (int r = 0; r < kRows; r++) {
      for (int c = 0; c < kCols; c++) acc[r][c] += x[r][i] * w[c][i];
    }
  }
  for (int r = 0; r < kRows; r++) {
    for (int c = 0; c < kCols; c++) out[long(t0 + r) * OC + o0 + c] = acc[r][c];
  }
}

template <int kRows>
void matmul_rows(float* out, const float* inp, const float* weight, const float* bias, int C,
                 int OC, int t0) {
  int o = 0;
  for (; o + 4 <= OC; o += 4) matmul_tile<kRows, 4>(out, inp, weight, bias, C, OC, t0, o);
  for (; o < OC; o++) matmul_tile<kRows, 1>(out, inp, weight, bias, C, OC, t0, o);
}

}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                    int C, int OC) {
  int t = 0;
  for (; t + 4 <= T; t += 4) matmul_rows<4>(out, inp, weight, bias, C, OC, t);
  for (; t < T; t++) matmul_rows<1>(out, inp, weight, bias, C, OC, t);
}

void attention_head_forward(float* out, const float* q, const float* keys, const float* values,
                            float* att, int n, int hs, int stride) {
  const float scale = 1.0f / std::sqrt(float(hs));
  // pass 1: scores q . k_j * scale, and their maximum
  float maxval = -INFINITY;
  for (int j = 0; j < n; j++) {
    const float* k = keys + long(j) * stride;
    float val = 0.0f;
    for (int i = 0; i < hs; i++) val += q[i] * k[i];
    val *= scale;
    maxval = std::max(maxval, val);
    att[j] = val;
  }
  // pass 2: e^(score - max) and their sum, in order
  float expsum = 0.0f;
  for (int j = 0; j < n; j++) {
    float e = exp_ref(att[j] - maxval);
    expsum += e;
    att[j] = e;
  }
  // pass 3: normalize (expsum >= 1: the maximum contributes e^0)
  const float expsum_inv = 1.0f / expsum;
  for (int j = 0; j < n; j++) att[j] *= expsum_inv;
  // pass 4: out = sum_j att_j v_j, accumulated in order of j
  for (int i = 0; i < hs; i++) out[i] = 0.0f;
  for (int j = 0; j < n; j++) {
    const float* v = values + long(j) * stride;
    const float a = att[j];
    for (int i = 0; i < hs; i++) out[i] += a * v[i];
  }
}

void attention_forward(float* out, const float* qkv, const float* keys, const float* values,
                       float* att, int pos, int T, int C, int NH) {
  const int hs = C / NH;
  for (int t = 0; t < T; t++) {
    for (int h = 0; h < NH; h++) {
      attention_head_forward(out + long(t) * C + h * hs, qkv + long(t) * 3 * C + h * hs,
                             keys + h * hs, values + h * hs, att, pos + t + 1, hs, C);
    }
  }
}

void gelu_forward(float* out, const float* inp, int N) {
  const float scaling = std::sqrt(float(2.0 / std::numbers::pi));
  for (int i = 0; i < N; i++) {
    float x = inp[i];
    float cube = 0.044715f * x * x * x;
    out[i] = 0.5f * x * (1.0f + tanh_ref(scaling * (x + cube)));
  }
}

void residual_forward(float* out, const float* a, const float* b, int N) {
  for (int i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void softmax_forward(float* probs, const float* logits, int V) {
  float maxval = -INFINITY;
  for (int i = 0; i < V; i++) maxval = std::max(maxval, logits[i]);
  float sum = 0.0f;
  for (int i = 0; i < V; i++) {
    probs[i] = exp_ref(logits[i] - maxval);
    sum += probs[i];
  }
  for (int i = 0; i < V; i++) probs[i] /= sum;
}

}  // namespace gpt2::ref
