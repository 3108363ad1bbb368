// The generation loop, shared by every tool: extend a prompt one token at a
// time with any backend's session, in either execution mode.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "harness/decide.h"

namespace gpt2 {

enum class Mode {
  kRecompute,  // the lab's: the whole sequence through the model at every step
  kKvCache,    // the prompt once, then one new token per step from the cache
};
const char* mode_name(Mode mode);
std::optional<Mode> parse_mode(std::string_view name);

struct StepView {
  int step = 0;  // 0 for the first new token
  Decision decision;
  std::span<const float> logits;  // (V) of this step
  std::span<const float> probs;   // (V)
};

// Extends `prompt` until the sequence holds n tokens and returns the new
// tokens. on_step, if set, sees each decision as soon as it is made;
// keep_going, if set, ends the generation early when it returns false (the
// token it saw is kept). The session (one of backend's) must have capacity
// >= n - 1; it is used from position 0, so a session can serve many runs.
std::vector<int> generate(const Backend& backend, Session& session, std::span<const int> prompt,
                          int n, Mode mode, const Rule& rule,
                          const std::function<void(const StepView&)>& on_step = {},
                          const std::function<bool(const StepView&)>& keep_going = {});

}  // namespace gpt2
