// Decision rules: how the next token is chosen from one step's output.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gpt2 {

enum class Rule {
  kMedian,  // the lab's rule: the first token (in id order) whose cumulative
            // probability exceeds 0.5 (llm.c's sample_mult with coin 0.5)
  kGreedy,  // argmax of the logits, the lowest id on a tie
};
const char* rule_name(Rule rule);
std::optional<Rule> parse_rule(std::string_view name);

struct Decision {
  int token = -1;
  // How far the decision is from flipping. Median: the distance of 0.5 from the
  // cumulative sums on either side of the chosen token (a probability). Greedy:
  // the top-1 minus the top-2 logit.
  float margin = 0.0f;
};

// The lab's rule on probs (V). Falls back to the last token when rounding
// leaves the whole sum at or below 0.5 (margin 0 then).
Decision decide_median(std::span<const float> probs);
// Argmax of logits (V), lowest id on a tie (margin 0 then).
Decision decide_greedy(std::span<const float> logits);
Decision decide(Rule rule, std::span<const float> logits, std::span<const float> probs);

// Top-1 minus top-2 logit: how decisive a step is, whatever the rule.
float top2_gap(std::span<const float> logits);

}  // namespace gpt2
