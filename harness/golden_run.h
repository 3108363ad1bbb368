// Runs a prompt set through a backend and collects every step as GoldenStep
// rows; summarizes how decisive and diverse the continuations are.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/goldens.h"
#include "runtime/generate.h"

namespace gpt2 {

// Calls each_prompt(i) for i in [0, count) on `jobs` threads at once (the
// calling thread one of them), each index once, taken in order from a shared
// counter. The first exception thrown stops the others taking more and is
// rethrown here, once every thread is done.
void for_each_prompt(std::size_t count, int jobs,
                     const std::function<void(std::size_t)>& each_prompt);

// Each prompt's continuation with `rule` in `mode`; `jobs` prompts run at once,
// each in its own session (results do not depend on jobs). `progress`, if set,
// is called after each prompt with (done, total, prompt id).
GoldenFile run_prompts(const Backend& backend, const std::vector<Prompt>& prompts, Rule rule,
                       Mode mode, int jobs,
                       const std::function<void(int, int, const std::string&)>& progress = {});

// Runs prompt p along the golden tokens of g (teacher forcing) in `mode`: at
// each step the backend's logits and its own decision (g's rule) go to
// on_step, and the golden token is appended whatever the decision. Runs until
// the sequence holds p.n tokens or g lacks the step (generate() with `forced`).
void run_teacher_forced(const Backend& backend, Session& session, const Prompt& p,
                        const GoldenFile& g, Mode mode, const StepCallback& on_step);

// A backend's logits at every golden step, computed along the golden tokens
// (run_teacher_forced in kv-cache mode), keyed by (prompt id, step). `jobs`
// prompts at once (the backend must allow that: info().threads == 1).
using StepLogits = std::map<std::pair<std::string, int>, std::vector<float>>;
StepLogits teacher_forced_logits(const Backend& backend, const std::vector<Prompt>& prompts,
                                 const GoldenFile& goldens, int jobs);

// The reference's logits along the goldens g (at g's precision) for the
// prompts it covers. The bit-exact pthreads backend computes them on every
// core and each step's logits are checked against the goldens' XXH3 hash of
// the reference's, so they are the reference's bits; the reference itself
// redoes any prompt where a hash differs (tens of times slower: on the 124M
// model it would take minutes), and a line saying so goes to notes.
StepLogits reference_logits_along(const std::shared_ptr<const Model>& model,
                                  const std::vector<Prompt>& prompts, const GoldenFile& g, int jobs,
                                  std::vector<std::string>& notes);

struct GoldenSummary {
  int steps = 0;
  float min_gap = 0.0f;     // smallest top-1 minus top-2 logit
  std::string min_gap_at;   // "prompt/step"
  float min_margin = 0.0f;  // smallest margin of the rule
  std::string min_margin_at;
  // The largest share of a continuation (of 4 or more new tokens) taken by its
  // most frequent token.
  float max_repeat_share = 0.0f;
  std::string max_repeat_at;
  int distinct_tokens = 0;                 // over the whole set
  std::vector<std::string> lines() const;  // for printing and file headers
};
GoldenSummary summarize(const GoldenFile& goldens);

}  // namespace gpt2
