#include "harness/decide.h"

#include <algorithm>
#include <cmath>

namespace gpt2 {

const char* rule_name(Rule rule) { return rule == Rule::kMedian ? "median" : "greedy"; }

std::optional<Rule> parse_rule(std::string_view name) {
  if (name == "median") return Rule::kMedian;
  if (name == "greedy") return Rule::kGreedy;
  return std::nullopt;
}

Decision decide_median(std::span<const float> probs) {
  const float coin = 0.5f;
  float cdf = 0.0f;
  for (std::size_t i = 0; i < probs.size(); i++) {
    const float before = cdf;
    cdf += probs[i];
    if (coin < cdf) return {int(i), std::min(cdf - coin, coin - before)};
  }
  return {int(probs.size()) - 1, 0.0f};
}

Decision decide_greedy(std::span<const float> logits) {
  int best = 0;
  float second = -INFINITY;
  for (std::size_t i = 1; i < logits.size(); i++) {
    if (logits[i] > logits[best]) {
      second = logits[best];
      best = int(i);
    } else {
      second = std::max(second, logits[i]);
    }
  }
  return {best, logits.size() > 1 ? logits[best] - second : 0.0f};
}

Decision decide(Rule rule, std::span<const float> logits, std::span<const float> probs) {
  return rule == Rule::kMedian ? decide_median(probs) : decide_greedy(logits);
}

float top2_gap(std::span<const float> logits) { return decide_greedy(logits).margin; }

}  // namespace gpt2
