#include "runtime/generate.h"

#include <stdexcept>
#include <string>

namespace gpt2 {

const char* mode_name(Mode mode) {
  return mode == Mode::kRecompute ? "recompute" : "kv-cache";
}

std::optional<Mode> parse_mode(std::string_view name) {
  if (name == "recompute") return Mode::kRecompute;
  if (name == "kv-cache") return Mode::kKvCache;
  return std::nullopt;
}

std::vector<int> generate(const Backend& backend, Session& session, std::span<const int> prompt,
                          int n, Mode mode, const Rule& rule, const StepCallback& on_step,
                          std::span<const int> forced) {
  if (prompt.empty() || int(prompt.size()) >= n) {
    throw std::invalid_argument(
        "generate: the prompt must hold 1 to n-1 tokens (n = " + std::to_string(n) + ")");
  }
  const int V = backend.model().config().vocab_size;
  std::vector<float> logits(V), probs(V);
  std::vector<int> tokens(prompt.begin(), prompt.end());
  std::vector<int> generated;
  Decider decider(rule);
  int cached = 0;  // positions already in the session's cache that we rely on
  while (int(tokens.size()) < n) {
    const int pos = mode == Mode::kRecompute ? 0 : cached;
    session.forward(std::span<const int>(tokens).subspan(pos), pos, logits, probs);
    cached = int(tokens.size());
    StepView view;
    view.step = int(generated.size());
    view.decision = decider.next(logits, probs);
    view.logits = logits;
    view.probs = probs;
    const Next next = on_step ? on_step(view) : Next::kContinue;
    const int token =
        std::size_t(view.step) < forced.size() ? forced[view.step] : view.decision.token;
    tokens.push_back(token);
    generated.push_back(token);
    if (next == Next::kStop) break;
  }
  return generated;
}

}  // namespace gpt2
