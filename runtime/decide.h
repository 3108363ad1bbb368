// Decision rules: how the next token is chosen from one step's output.
//
//   median  the lab's rule: the first token (in id order) whose cumulative
//           probability exceeds 0.5 (llm.c's sample_mult with a coin of 0.5)
//   greedy  the argmax of the logits, the lowest id on a tie
//   sample  seeded sampling with temperature, top-k and top-p (below)
//
// Sampling, step by step, from the logits alone (so every backend that gives
// the same logits gives the same tokens for a seed):
//   1. Candidates: tokens in order of decreasing logit, ties by lower id
//      (with top-p off and top-k off: all tokens in id order).
//   2. top-k > 0 keeps the first k candidates.
//   3. Weights w = exp_ref((logit - max logit) / temperature), float32 (the
//      reference's exp: the same bits everywhere); their total summed in
//      candidate order.
//   4. top-p < 1 keeps the shortest prefix whose summed weight reaches
//      top_p * total.
//   5. One draw per step from SplitMix64(seed): u = (draw >> 40) * 2^-24 in
//      [0, 1); the chosen token is the first candidate whose running sum of
//      weights exceeds u * (the kept weight).
// A name states the settings: sample-t0.8-k40-p0.95-seed7 (defaults t1, k0 =
// off, p1 = off, seed 0; parse_rule accepts any subset in that order).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/random.h"

namespace gpt2 {

struct Rule {
  enum Kind { kMedian, kGreedy, kSample };
  Rule(Kind k = kMedian) : kind(k) {}  // NOLINT: Rule r = Rule::kGreedy reads well
  static Rule sample(float temperature, int top_k, float top_p, std::uint64_t seed);

  Kind kind = kMedian;
  float temperature = 1.0f;  // > 0
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // in (0, 1]; 1: off
  std::uint64_t seed = 0;

  bool operator==(const Rule&) const = default;
};
// "median", "greedy", "sample-t0.8-k40-p0.95-seed7" (settings at their defaults
// are left out).
std::string rule_name(const Rule& rule);
// Parses what rule_name writes; nullopt for anything else.
std::optional<Rule> parse_rule(std::string_view name);
// Empty when the settings are valid, else what is wrong ("temperature must be > 0").
std::string rule_problem(const Rule& rule);

struct Decision {
  int token = -1;
  // How far the decision is from flipping. Median and sample: the distance of
  // the coin from the cumulative sums on either side of the chosen token, as a
  // probability. Greedy: the top-1 minus the top-2 logit.
  float margin = 0.0f;
};

// The lab's rule on probs (V). Falls back to the last token when rounding
// leaves the whole sum at or below 0.5 (margin 0 then).
Decision decide_median(std::span<const float> probs);
// Argmax of logits (V), lowest id on a tie (margin 0 then).
Decision decide_greedy(std::span<const float> logits);

// Makes the decisions of one generation: a sampling rule's generator starts at
// its seed here and advances one draw per step.
class Decider {
 public:
  explicit Decider(const Rule& rule);
  Decision next(std::span<const float> logits, std::span<const float> probs);

 private:
  Decision sample(std::span<const float> logits);
  Rule rule_;
  SplitMix64 rng_;
  std::vector<int> order_;
  std::vector<float> weights_;
};

// Top-1 minus top-2 logit: how decisive a step is, whatever the rule.
float top2_gap(std::span<const float> logits);

}  // namespace gpt2
