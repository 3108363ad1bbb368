// The generation loop, shared by every tool: extend a prompt one token at a
// time with any backend's session, in either execution mode.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "runtime/decide.h"

namespace gpt2 {

enum class Mode {
  kRecompute,  // the lab's: the whole sequence through the model at every step
  kKvCache,    // the prompt once, then one new token per step from the cache
};
const char* mode_name(Mode mode);
std::optional<Mode> parse_mode(std::string_view name);

struct StepView {
  int step = 0;                   // 0 for the first new token
  Decision decision;              // the rule's choice at this step
  std::span<const float> logits;  // (V) of this step
  std::span<const float> probs;   // (V); in a Scheduler's batch only for the median rule
};

// What a step callback tells generate() after seeing a step.
enum class Next {
  kContinue,  // go on to the next step (until the sequence holds n tokens)
  kStop,      // end here; this step's token is still kept
};

// Sees each step as soon as its decision is made, then says whether to go on.
using StepCallback = std::function<Next(const StepView&)>;

// Extends `prompt` until the sequence holds n tokens (or on_step says kStop)
// and returns the new tokens. Each step runs the model, makes the rule's
// decision, shows both to on_step (if set), then appends a token: the decision,
// or with `forced`, forced[s] at step s while s < forced.size() (teacher
// forcing: the decision is still computed and shown, the forced token is the
// one appended and returned; entries past n are never used). The session (one
// of backend's) must have capacity >= n - 1; it is used from position 0, so a
// session can serve many runs.
std::vector<int> generate(const Backend& backend, Session& session, std::span<const int> prompt,
                          int n, Mode mode, const Rule& rule, const StepCallback& on_step = {},
                          std::span<const int> forced = {});

}  // namespace gpt2
