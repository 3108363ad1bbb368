// Beam search, defined once here, step for step what Hugging Face transformers'
// GenerationMixin._beam_search does (transformers 5.17, generation/utils.py)
// for one prompt with do_sample=False and no logits processors:
//
//  1. Each running beam's log-probabilities: log-softmax of its float32 logits,
//     lp_i = (x_i - max) - log(sum_j e^(x_j - max)), the sum in double in id
//     order over the reference's exp (exp_ref), the log in double from + - * /
//     alone: the same bits on every machine.
//  2. A candidate (beam b, token t) scores running[b] + lp_t in float32. At the
//     first step the K beams are the prompt K times and only beam 0 is live:
//     running = (0, -1e9, ..., -1e9), as transformers starts.
//  3. The 2K best candidates over beams x vocabulary, by score, ties broken by
//     the lower flat index b * V + t (torch.topk leaves ties unspecified).
//  4. A candidate finishes when its token is end-of-text (options.eos) or the
//     sequence then holds max_length tokens. Among the 2K, the K best by
//     score + (finished ? -1e9 : 0) (ties: lower rank) run on.
//  5. A finished candidate among the first K of the 2K is a hypothesis with
//     score sum_logprobs / L^length_penalty, L = its new tokens (the
//     end-of-text included), the divisor rounded to float32 as torch does;
//     the K best of the kept hypotheses and the new ones stay (ties: the kept
//     ones, then the lower rank), added -1e9 when they may not enter (the
//     kept are all finished and early_stopping is true, or the heuristic
//     below said no improvement is possible).
//  6. Stop when no continuation is left (every candidate of the step
//     finished), or early_stopping true and all K hypotheses finished, or the
//     best running beam cannot beat the worst hypothesis: running[0] /
//     L'^length_penalty <= that score, with L' the new tokens so far, or with
//     early_stopping "never" and length_penalty > 0 the most new tokens
//     possible (max_length - prompt).
// The num_return best hypotheses are returned, best first.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "runtime/generate.h"

namespace gpt2 {

// transformers' early_stopping: true, false (its default) or "never".
enum class EarlyStopping { kFalse, kTrue, kNever };
const char* early_stopping_name(EarlyStopping e);  // "false", "true", "never"
std::optional<EarlyStopping> parse_early_stopping(std::string_view text);

struct BeamOptions {
  int beams = 4;  // K >= 1
  float length_penalty = 1.0f;
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  int num_return = 1;  // hypotheses returned, in [1, K]
  int eos = 50256;     // end-of-text; -1: none (only the length limit finishes)
};
// "beams 4, length penalty 1, early stopping false, 1 returned".
std::string beam_options_label(const BeamOptions& o);
// Empty when the options are valid for a model of vocab_size tokens, else
// what is wrong ("--num-return 5 is more than --beams 4").
std::string beam_options_problem(const BeamOptions& o, int vocab_size);

// Step 1's log-probabilities of a beam's logits (V) into out (V).
void beam_log_softmax(std::span<const float> logits, std::span<float> out);

// A finished (or, had the search run out, running) beam.
struct Hypothesis {
  std::vector<int> tokens;  // the new tokens, end-of-text included where it ended
  float score = 0;          // transformers' sequences_scores (a running beam's: its running score)
  // The beam's running sum of log-probabilities after each of its tokens
  // (float32): the last is its sum_logprobs.
  std::vector<float> path;
  bool finished = false;
};

// One prompt's search as a state machine over the logits its beams get: the
// driver (beam_search below, or a test's toy model) runs the beams, hands
// their logits to score(), then calls advance().
class BeamSearch {
 public:
  // A prompt of prompt_len tokens completed until it holds max_length tokens
  // (transformers' max_length), over vocab_size tokens. Throws
  // std::invalid_argument for bad options (beam_options_problem) or lengths.
  BeamSearch(const BeamOptions& options, int prompt_len, int max_length, int vocab_size);

  int beams() const { return options_.beams; }
  bool done() const { return done_; }
  int steps() const { return steps_; }
  // Beam b's candidates from its logits (V). The beams of one step may be
  // scored at once, from several threads (each writes only its own).
  void score(int beam, std::span<const float> logits);
  // With every beam scored: the next running beams and hypotheses (1-6 above).
  void advance();
  // After advance(): running beam j continues beam parent(j) of the step
  // before, by one token (at the first step every parent is beam 0).
  int parent(int beam) const { return parents_.at(std::size_t(beam)); }
  // Running beam j's new tokens so far.
  const std::vector<int>& tokens(int beam) const { return running_.at(std::size_t(beam)).tokens; }
  // The num_return best hypotheses, best first (once done()).
  std::vector<Hypothesis> results() const;
  // The smallest gap seen between the scores on either side of a choice
  // (the 2K-th and next candidate, the K-th and next, the K-th and next
  // hypothesis): how close the search came to a different outcome, for
  // comparing a reordering backend's beams with the reference's.
  float margin() const { return margin_; }

 private:
  struct Candidate {
    float score;
    int beam;
    int token;
  };
  BeamOptions options_;
  int prompt_len_, max_length_, vocab_;
  int cur_len_;  // tokens of the running beams (prompt included)
  int steps_ = 0;
  bool done_ = false;
  bool heuristic_unsatisfied_ = true;
  float margin_;
  std::vector<Hypothesis> running_;           // the running beams: scores, tokens and paths
  std::vector<Hypothesis> slots_;             // the K hypotheses, best first
  std::vector<std::vector<Candidate>> best_;  // per beam: its 2K + 1 best, best first
  std::vector<std::vector<float>> scratch_;   // per beam: its candidate scores
  std::vector<int> parents_;
};

// One prompt of a beam search run: complete it until it holds n tokens.
struct BeamPrompt {
  std::vector<int> tokens;
  int n = 0;
};

struct BeamResult {
  std::vector<Hypothesis> hypotheses;  // num_return, best first
  int steps = 0;                       // forward steps
  float margin = 0;                    // BeamSearch::margin()
};

// Where a run's time went, for the benchmark (seconds, summed over steps).
struct BeamTimes {
  double forward = 0;  // Backend::forward_batch
  double search = 0;   // log-softmax, top-k and the bookkeeping on the host
  double copy = 0;     // Backend::copy_caches (forking beams)
  long steps = 0;      // forward_batch calls
  long tokens = 0;     // new tokens: K a step for each prompt still searching
  long copies = 0;     // caches copied
};

// The bytes of key/value caches a run of these prompts holds at once.
std::size_t beam_cache_bytes(const ModelConfig& config, std::span<const BeamPrompt> prompts,
                             int beams);

// Every prompt's beam search on the backend, the K beams of each prompt (and
// every prompt) sequences of one batch: one forward_batch call per step for
// them all. In kv-cache mode a beam's cache is forked from its parent's: the
// first child of a parent takes over the parent's session, each other child
// gets a free session and a copy of the parent's cache (Backend::copy_caches);
// in recompute mode every beam runs its whole sequence each step. Throws
// std::invalid_argument (options, prompts: named) or std::runtime_error (the
// caches do not fit in memory, the Scheduler's message) before any work.
std::vector<BeamResult> beam_search(const Backend& backend, std::span<const BeamPrompt> prompts,
                                    const BeamOptions& options, Mode mode,
                                    BeamTimes* times = nullptr);

}  // namespace gpt2
