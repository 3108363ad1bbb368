// The frozen reference kernels: GPT-2's layers as free functions, float32,
// serial, in the summation orders of llm.c's train_gpt2.c (which the OS lab's
// gpt.c was cut from). Built without fast-math and without FMA contraction.
// Shapes are in the comments; T is the number of rows (positions) processed.
#pragma once

namespace gpt2::ref {

inline constexpr float kLayerNormEps = 1e-5f;

// out (T, C) = wte[tokens[t]] + wpe[pos + t]
// tokens (T), wte (V, C), wpe (maxT, C)
void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int pos,
                     int T, int C);

// out (T, C) = (inp - mean) / sqrt(var + 1e-5) * weight + bias, per row.
// inp (T, C), weight (C), bias (C). mean and var are sums in index order / C.
void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                       int C);

// out (T, OC) = inp (T, C) @ weight (OC, C)^T + bias (OC); bias may be null.
// Each output starts from its bias (or 0) and adds its C products in index
// order, each product rounded before the add (no FMA).
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                    int C, int OC);

// One head of causal attention for one query:
// out (hs) = softmax(q . keys[j] / sqrt(hs), j < n) @ values (n rows)
// q (hs); keys, values: n rows of hs floats, `stride` floats apart; att: scratch (n).
void attention_head_forward(float* out, const float* q, const float* keys, const float* values,
                            float* att, int n, int hs, int stride);

// Causal multi-head attention for the T new positions pos .. pos+T-1.
// out (T, C); qkv (T, 3C) of the new positions (query in columns 0..C);
// keys, values (pos+T, C) of every position so far; att: scratch (pos+T).
void attention_forward(float* out, const float* qkv, const float* keys, const float* values,
                       float* att, int pos, int T, int C, int NH);

// out (N) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), x = inp (N).
void gelu_forward(float* out, const float* inp, int N);

// out (N) = a (N) + b (N)
void residual_forward(float* out, const float* a, const float* b, int N);

// probs (V) = softmax(logits (V)): e^(l - max) / their sum (summed in index order).
void softmax_forward(float* probs, const float* logits, int V);

}  // namespace gpt2::ref
