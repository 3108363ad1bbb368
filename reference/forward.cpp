#include "reference/forward.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "reference/kernels.h"

namespace gpt2 {

void check_session_capacity(const ModelConfig& config, int capacity, std::string_view who) {
  if (capacity < 1 || capacity > config.max_seq_len) {
    throw std::invalid_argument(std::string(who) + ": session capacity " +
                                std::to_string(capacity) + " is outside [1, " +
                                std::to_string(config.max_seq_len) + "]");
  }
}

ReferenceState::ReferenceState(const ModelConfig& config, int capacity)
    : capacity_(capacity), channels_(config.channels), layers_(config.num_layers) {
  check_session_capacity(config, capacity, "reference");
  const std::size_t T = capacity, C = config.channels, L = config.num_layers;
  x_.resize(T * C);
  ln_.resize(T * C);
  qkv_.resize(T * 3 * C);
  atty_.resize(T * C);
  proj_.resize(T * C);
  fch_.resize(T * 4 * C);
  gelu_.resize(T * 4 * C);
  att_.resize(T);
  keys_.resize(L * T * C);
  values_.resize(L * T * C);
}

void copy_reference_cache(const ReferenceState& from, ReferenceState& to, int positions) {
  if (positions < 0 || positions > from.cached_ || positions > to.capacity_) {
    throw std::invalid_argument("copy_reference_cache: " + std::to_string(positions) +
                                " positions do not fit");
  }
  const std::size_t C = std::size_t(to.channels_), n = std::size_t(positions) * C;
  for (std::size_t l = 0; l < std::size_t(to.layers_); l++) {
    const std::size_t src = l * std::size_t(from.capacity_) * C;  // keys_: (L, capacity, C)
    const std::size_t dst = l * std::size_t(to.capacity_) * C;
    std::copy_n(from.keys_.begin() + src, n, to.keys_.begin() + dst);
    std::copy_n(from.values_.begin() + src, n, to.values_.begin() + dst);
  }
  to.cached_ = positions;
}

void check_forward_args(const ModelConfig& config, std::span<const int> tokens, int pos, int cached,
                        int capacity, std::span<const float> logits, std::span<const float> probs) {
  const int n = int(tokens.size());
  if (n < 1 || pos < 0 || pos > cached || pos + n > capacity) {
    throw std::invalid_argument("forward: " + std::to_string(n) + " tokens at position " +
                                std::to_string(pos) + " do not fit (cached " +
                                std::to_string(cached) + ", capacity " + std::to_string(capacity) +
                                ")");
  }
  if (int(logits.size()) < config.vocab_size || int(probs.size()) < config.vocab_size) {
    throw std::invalid_argument("forward: logits and probs need " +
                                std::to_string(config.vocab_size) + " floats each");
  }
  for (int token : tokens) {
    if (token < 0 || token >= config.vocab_size) {
      throw std::invalid_argument("forward: token " + std::to_string(token) + " is outside [0, " +
                                  std::to_string(config.vocab_size) + ")");
    }
  }
}

void reference_forward(const Model& model, std::span<const int> tokens, int pos, ReferenceState& s,
                       std::span<float> logits, std::span<float> probs) {
  const ModelConfig& cfg = model.config();
  const int n = int(tokens.size());
  const int C = cfg.channels, NH = cfg.num_heads, L = cfg.num_layers, V = cfg.vocab_size;
  check_forward_args(cfg, tokens, pos, s.cached_, s.capacity_, logits, probs);
  const ParameterTensors& p = model.params();
  const long lC = C, cap = s.capacity_;
  float* x = s.x_.data();

  ref::encoder_forward(x, tokens.data(), p.wte, p.wpe, pos, n, C);
  for (int l = 0; l < L; l++) {
    float* keys = s.keys_.data() + l * cap * lC;  // (capacity, C)
    float* values = s.values_.data() + l * cap * lC;
    ref::layernorm_forward(s.ln_.data(), x, p.ln1w + l * lC, p.ln1b + l * lC, n, C);
    ref::matmul_forward(s.qkv_.data(), s.ln_.data(), p.qkvw + l * 3 * lC * lC, p.qkvb + l * 3 * lC,
                        n, C, 3 * C);
    for (int t = 0; t < n; t++) {  // keys and values of the new positions into the cache
      const float* row = s.qkv_.data() + t * 3 * lC;
      std::copy(row + C, row + 2 * C, keys + (pos + t) * lC);
      std::copy(row + 2 * C, row + 3 * C, values + (pos + t) * lC);
    }
    ref::attention_forward(s.atty_.data(), s.qkv_.data(), keys, values, s.att_.data(), pos, n, C,
                           NH);
    ref::matmul_forward(s.proj_.data(), s.atty_.data(), p.attprojw + l * lC * lC,
                        p.attprojb + l * lC, n, C, C);
    ref::residual_forward(x, x, s.proj_.data(), n * C);
    ref::layernorm_forward(s.ln_.data(), x, p.ln2w + l * lC, p.ln2b + l * lC, n, C);
    ref::matmul_forward(s.fch_.data(), s.ln_.data(), p.fcw + l * 4 * lC * lC, p.fcb + l * 4 * lC, n,
                        C, 4 * C);
    ref::gelu_forward(s.gelu_.data(), s.fch_.data(), n * 4 * C);
    ref::matmul_forward(s.proj_.data(), s.gelu_.data(), p.fcprojw + l * 4 * lC * lC,
                        p.fcprojb + l * lC, n, 4 * C, C);
    ref::residual_forward(x, x, s.proj_.data(), n * C);
  }
  s.cached_ = pos + n;
  // Only the last position's logits are needed: final layernorm on its row,
  // then the tied wte over the V real tokens (the padding rows are never read).
  float* last = s.ln_.data();
  ref::layernorm_forward(last, x + (n - 1) * lC, p.lnfw, p.lnfb, 1, C);
  ref::matmul_forward(logits.data(), last, p.wte, nullptr, 1, C, V);
  ref::softmax_forward(probs.data(), logits.data(), V);
}

}  // namespace gpt2
