// The frozen serial reference forward pass of GPT-2.
//
// reference_forward() runs n new tokens at positions pos .. pos+n-1 and writes
// the logits and probabilities of the last one. The lab's program recomputes
// the whole prefix at every step: that is a call with pos = 0 and all tokens.
// A later call may continue from the key/value cache the state holds for
// positions < pos; every position's numbers are computed by the same kernels
// from the same inputs either way, so both give the same bits.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "reference/config.h"
#include "reference/model.h"

namespace gpt2 {

// Per-run state of the reference: the key/value cache of every layer for up to
// `capacity` positions, and scratch for the activations of one call.
class ReferenceState {
 public:
  ReferenceState(const ModelConfig& config, int capacity);
  int capacity() const { return capacity_; }
  // Positions whose keys and values the cache holds.
  int cached() const { return cached_; }

 private:
  friend void reference_forward(const Model&, std::span<const int>, int, ReferenceState&,
                                std::span<float>, std::span<float>);
  friend void copy_reference_cache(const ReferenceState&, ReferenceState&, int);
  int capacity_;
  int cached_ = 0;
  int channels_, layers_;
  std::vector<float> x_;       // (capacity, C) the residual stream
  std::vector<float> ln_;      // (capacity, C) layernorm output
  std::vector<float> qkv_;     // (capacity, 3C)
  std::vector<float> atty_;    // (capacity, C) attention output
  std::vector<float> proj_;    // (capacity, C) projections back into the residual
  std::vector<float> fch_;     // (capacity, 4C)
  std::vector<float> gelu_;    // (capacity, 4C)
  std::vector<float> att_;     // (capacity) attention weights of one head
  std::vector<float> keys_;    // (L, capacity, C)
  std::vector<float> values_;  // (L, capacity, C)
};

// Makes `to` hold the keys and values of `from`'s first `positions` positions
// (positions <= from.cached(), <= to.capacity()), to.cached() == positions:
// a beam forked from its parent (runtime/beam_search.h). Throws
// std::invalid_argument for positions out of range.
void copy_reference_cache(const ReferenceState& from, ReferenceState& to, int positions);

// The one check of a session's capacity, for the reference's state and every
// backend's session: 1 <= capacity <= max_seq_len. Throws
// std::invalid_argument "<who>: session capacity 2000 is outside [1, 1024]".
void check_session_capacity(const ModelConfig& config, int capacity, std::string_view who);

// The one check of a forward pass's arguments, for the reference and every
// backend's Session::forward: tokens (n) at positions pos .. pos+n-1 of a cache
// that holds `cached` of `capacity` positions. Requires 1 <= n, 0 <= pos <=
// cached, pos + n <= capacity, logits and probs of at least V floats each, and
// every token in [0, V). Throws std::invalid_argument naming what is wrong, e.g.
// "forward: token 50257 is outside [0, 50257)".
void check_forward_args(const ModelConfig& config, std::span<const int> tokens, int pos, int cached,
                        int capacity, std::span<const float> logits, std::span<const float> probs);

// tokens (n) at positions pos .. pos+n-1; requires 1 <= n, 0 <= pos <= cached(),
// pos + n <= capacity, every token in [0, V). Writes logits (V) and probs (V)
// of position pos+n-1. Throws std::invalid_argument on bad arguments
// (check_forward_args).
void reference_forward(const Model& model, std::span<const int> tokens, int pos,
                       ReferenceState& state, std::span<float> logits, std::span<float> probs);

}  // namespace gpt2
