// The layers of the shared CPU forward pass other than the matrix products,
// as free functions over an Executor (cpu_backend.cpp runs them; the
// microbenchmarks time them). Each gives the reference's bits: threads split
// independent outputs, never one sum.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "backends/cpu/executor.h"
#include "backends/cpu/kernels.h"

namespace gpt2::cpu {

// x (T, C) = wte_row(tokens[t]) + wpe[pos + t], rows in parallel: each value
// the reference encoder's one add (ref::encoder_forward). wte_row(token, out
// (C)) writes wte's row as the products read it (LinearLayers::wte_row).
// tokens (T), wpe (maxT, C).
using WteRow = std::function<void(int token, float* out)>;
void encoder_rows(float* x, const int* tokens, const WteRow& wte_row, const float* wpe, int pos,
                  int T, int C, Executor& ex);

// ln (T, C) = layernorm(x (T, C)) with weight w (C) and bias b (C), rows in
// parallel (ref::layernorm_forward on each share).
void layernorm_rows(float* ln, const float* x, const float* w, const float* b, int T, int C,
                    Executor& ex);

// One sequence's new rows for attention: positions pos .. pos+T-1 over its
// own cache. atty (T, C) out; q (T, C); keys_t (NH, hs, cap): key j's element
// (h, i) at (h * hs + i) * cap + j; values (cap, C).
struct AttentionRows {
  float* atty = nullptr;
  const float* q = nullptr;
  const float* keys_t = nullptr;
  const float* values = nullptr;
  int cap = 0;
  int pos = 0;
  int T = 0;
};
inline std::size_t attention_scratch(int cap) {
  return std::size_t(kAttentionRows) * (std::size_t(cap) + kAttentionRows);
}
// Causal attention for several sequences at once, each over its own cache, in
// one parallel loop. Work items are blocks of up to kAttentionRows consecutive
// rows of one head of one sequence, handed out sequence by sequence and head
// by head (zigzag_row in cpu_backend.h), so each row's bits are what it gets
// alone. att: scratch, `scratch` floats per thread (at least
// attention_scratch() of the largest cap).
void attention_sequences(std::span<const AttentionRows> seqs, int NH, int C, float* att,
                         std::size_t scratch, const Kernels& k, Executor& ex);
// One sequence: attention_sequences of {atty, q, keys_t, values, cap, pos, T},
// with attention_scratch(cap) per thread.
void attention_layer(float* atty, const float* q, const float* keys_t, const float* values, int cap,
                     int pos, int T, int NH, int C, float* att, const Kernels& k, Executor& ex);

// One row of softmax_rows: probs (V) = softmax(logits (V)); copy (V), when
// not null, gets the logits themselves.
struct SoftmaxRow {
  const float* logits;
  float* probs;
  float* copy;
};
// Every row's softmax, the bits of ref::softmax_forward: the maxima, the
// exponentials (and the copies) in parallel over all rows' chunks, each row's
// sum in index order (the rows' sums in parallel, one thread each). scratch:
// resized as needed.
void softmax_rows(std::span<const SoftmaxRow> rows, int V, std::vector<float>& scratch,
                  const Kernels& k, Executor& ex);

}  // namespace gpt2::cpu
