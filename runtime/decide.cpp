#include "runtime/decide.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "reference/mathfn.h"

namespace gpt2 {

Rule Rule::sample(float temperature, int top_k, float top_p, std::uint64_t seed) {
  Rule r(kSample);
  r.temperature = temperature;
  r.top_k = top_k;
  r.top_p = top_p;
  r.seed = seed;
  return r;
}

namespace {

// The shortest decimal that reads back as x, without an exponent (whose '-'
// would split a rule's name): 0.8, 1.2, 0.00001, 0.88888889.
std::string number(float x) {
  char buf[128];  // the longest: about 50 digits for the smallest subnormal
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

}  // namespace

std::string rule_name(const Rule& r) {
  switch (r.kind) {
    case Rule::kMedian:
      return "median";
    case Rule::kGreedy:
      return "greedy";
    case Rule::kSample:
      break;
  }
  std::string name = "sample";
  if (r.temperature != 1.0f) name += "-t" + number(r.temperature);
  if (r.top_k != 0) name += "-k" + std::to_string(r.top_k);
  if (r.top_p != 1.0f) name += "-p" + number(r.top_p);
  if (r.seed != 0) name += "-seed" + std::to_string(r.seed);
  return name;
}

std::optional<Rule> parse_rule(std::string_view name) {
  if (name == "median") return Rule(Rule::kMedian);
  if (name == "greedy") return Rule(Rule::kGreedy);
  if (!name.starts_with("sample")) return std::nullopt;
  Rule r(Rule::kSample);
  std::string_view rest = name.substr(6);
  char last = 0;  // settings must come in the order t, k, p, seed
  while (!rest.empty()) {
    if (rest[0] != '-') return std::nullopt;
    rest.remove_prefix(1);
    const std::size_t dash = std::min(rest.find('-'), rest.size());
    std::string_view item = rest.substr(0, dash);
    rest.remove_prefix(dash);
    char key = 0;
    if (item.starts_with("seed")) {
      key = 's';
      item.remove_prefix(4);
    } else if (!item.empty() && (item[0] == 't' || item[0] == 'k' || item[0] == 'p')) {
      key = item[0];
      item.remove_prefix(1);
    }
    if (key == 0 || item.empty() ||
        (last != 0 && std::string("tkps").find(key) <= std::string("tkps").find(last))) {
      return std::nullopt;
    }
    last = key;
    const char* end = item.data() + item.size();
    if (key == 't' || key == 'p') {
      float v = 0;
      auto [p, ec] = std::from_chars(item.data(), end, v);
      if (ec != std::errc() || p != end) return std::nullopt;
      (key == 't' ? r.temperature : r.top_p) = v;
    } else if (key == 'k') {
      auto [p, ec] = std::from_chars(item.data(), end, r.top_k);
      if (ec != std::errc() || p != end) return std::nullopt;
    } else {
      auto [p, ec] = std::from_chars(item.data(), end, r.seed);
      if (ec != std::errc() || p != end) return std::nullopt;
    }
  }
  return r;
}

std::string rule_problem(const Rule& r) {
  if (r.kind != Rule::kSample) return "";
  if (!(r.temperature > 0.0f) || !std::isfinite(r.temperature)) {
    return "the temperature must be above 0 (use --rule greedy for the argmax)";
  }
  if (r.top_k < 0) return "top-k must be 0 (off) or more";
  if (!(r.top_p > 0.0f && r.top_p <= 1.0f)) return "top-p must be in (0, 1]";
  return "";
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

// The argmax (lowest id on a tie) and the largest of the others, as one scan
// would find them, in three passes of independent maxima (a batch decides
// for every sequence at every step: 50257 logits each).
Decision decide_greedy(std::span<const float> logits) {
  const std::size_t n = logits.size();
  constexpr int kLanes = 8;
  auto max_of = [&](std::size_t begin, std::size_t end) {
    float m[kLanes];
    std::fill(m, m + kLanes, -INFINITY);
    std::size_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      for (int j = 0; j < kLanes; j++) m[j] = logits[i + j] > m[j] ? logits[i + j] : m[j];
    }
    for (; i < end; i++) m[0] = logits[i] > m[0] ? logits[i] : m[0];
    float out = m[0];
    for (int j = 1; j < kLanes; j++) out = m[j] > out ? m[j] : out;
    return out;
  };
  // A NaN first logit: no other compares above it, as in the scan.
  if (std::isnan(logits[0])) return {0, n > 1 ? logits[0] - max_of(1, n) : 0.0f};
  const float top = max_of(0, n);
  std::size_t best = 0;
  while (best + 1 < n && !(logits[best] >= top)) best++;  // the first to reach it
  const float second = std::max(max_of(0, best), max_of(best + 1, n));
  return {int(best), n > 1 ? logits[best] - second : 0.0f};
}

Decider::Decider(const Rule& rule) : rule_(rule), rng_(rule.seed) {}

Decision Decider::next(std::span<const float> logits, std::span<const float> probs) {
  switch (rule_.kind) {
    case Rule::kMedian:
      return decide_median(probs);
    case Rule::kGreedy:
      return decide_greedy(logits);
    case Rule::kSample:
      break;
  }
  return sample(logits);
}

Decision Decider::sample(std::span<const float> logits) {
  const int V = int(logits.size());
  // 1-2. Candidates.
  order_.resize(V);
  std::iota(order_.begin(), order_.end(), 0);
  auto before = [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  int count = V;
  if (rule_.top_k > 0 && rule_.top_k < V) {
    count = rule_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + count, order_.end(), before);
  } else if (rule_.top_p < 1.0f) {
    std::sort(order_.begin(), order_.end(), before);
  }
  float max_logit = logits[order_[0]];
  if (rule_.top_k == 0 && rule_.top_p >= 1.0f) {  // id order: find the maximum
    for (int i = 0; i < V; i++) max_logit = std::max(max_logit, logits[i]);
  }
  // 3. Weights and their total, in candidate order.
  weights_.resize(count);
  float total = 0.0f;
  for (int i = 0; i < count; i++) {
    weights_[i] = exp_ref((logits[order_[i]] - max_logit) / rule_.temperature);
    total += weights_[i];
  }
  // 4. top-p: the shortest prefix reaching top_p of the total.
  float kept = total;
  if (rule_.top_p < 1.0f) {
    const float need = rule_.top_p * total;
    float sum = 0.0f;
    for (int i = 0; i < count; i++) {
      sum += weights_[i];
      if (sum >= need) {
        count = i + 1;
        break;
      }
    }
    kept = sum;
  }
  // 5. The draw.
  const float u = float(rng_.next() >> 40) * (1.0f / 16777216.0f);
  const float target = u * kept;
  float cdf = 0.0f;
  for (int i = 0; i < count; i++) {
    const float prev = cdf;
    cdf += weights_[i];
    if (target < cdf) return {order_[i], std::min(cdf - target, target - prev) / kept};
  }
  return {order_[count - 1], 0.0f};
}

float top2_gap(std::span<const float> logits) {
  return decide_greedy(logits).margin;
}

}  // namespace gpt2
