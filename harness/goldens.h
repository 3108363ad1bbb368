// The committed prompt set and golden continuations (datasets/), in plain text
// a person can read and diff.
//
// prompts.txt: one prompt a line, "<id> <n> <token> <token> ...": complete the
// prompt until the sequence holds n tokens. '#' starts a comment line.
//
// goldens/<model>[.<precision>].<rule>.txt: "key: value" lines (model, checksum,
// rule, and precision when it is not float32), then a tab-separated row per
// generated token:
//   <prompt id> <step> <token> <margin> <top1-top2 logit gap> <XXH3-64 of the logits>
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "runtime/decide.h"

namespace gpt2 {

// A malformed prompt or golden file: "<file>:<line>: <what>".
class DataFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Prompt {
  std::string id;
  int n = 0;  // total tokens after completion
  std::vector<int> tokens;
};
// Short prompts (1 to 9 tokens: the lab's) complete to n = 10 and carry the
// sampling rules' goldens; long ones (100 to 900 tokens) get a few new tokens.
inline constexpr std::size_t kShortPromptTokens = 9;
inline bool is_short_prompt(const Prompt& p) {
  return p.tokens.size() <= kShortPromptTokens;
}

std::vector<Prompt> read_prompts(const std::filesystem::path& path);
// The same from the file's bytes in memory; `path` is only named in errors.
std::vector<Prompt> parse_prompts(std::string_view text, const std::filesystem::path& path);

struct GoldenStep {
  std::string prompt_id;
  int step = 0;
  int token = 0;
  float margin = 0.0f;     // of the file's rule (decide.h)
  float logit_gap = 0.0f;  // top-1 minus top-2 logit
  std::string logits_hash;
};

struct GoldenFile {
  std::string model;     // e.g. synthetic:124M:seed=1
  std::string checksum;  // Model::checksum() of that model
  Rule rule = Rule::kMedian;
  // The precision whose reference wrote them: float32, bf16w or int8w
  // (reference_precision()); the file's "precision" key, float32 without one.
  Precision precision = Precision::kFloat32;
  std::vector<GoldenStep> steps;  // grouped by prompt, in step order

  // The golden continuation of one prompt (empty when the file lacks it).
  std::vector<int> continuation(const std::string& prompt_id) const;
  const GoldenStep* find(const std::string& prompt_id, int step) const;
};
GoldenFile read_goldens(const std::filesystem::path& path);
// The same from the file's bytes in memory; `path` is only named in errors.
GoldenFile parse_goldens(std::string_view text, const std::filesystem::path& path);
// Writes atomically (a temporary file, then a rename). `header` lines become
// '#' comments at the top.
void write_goldens(const std::filesystem::path& path, const GoldenFile& goldens,
                   const std::vector<std::string>& header);

// The golden file of a model, rule and precision: <dir>/<tag>.<rule>.txt for
// float32, <dir>/<tag>.<precision>.<rule>.txt for the others, where the tag is
// the model name with ':' and '=' made file-friendly (synthetic-124M-seed1).
std::filesystem::path golden_path(const std::filesystem::path& goldens_dir,
                                  const std::string& model_name, Rule rule,
                                  Precision precision = Precision::kFloat32);
// The precisions with goldens: those the reference defines (float32, bf16w, int8w).
std::vector<Precision> golden_precisions();
// The goldens a row at precision p is held to: p's own when the reference
// defines p, float32's otherwise (bfloat16).
Precision golden_precision_of(Precision p);
// "all" for golden_precisions(), or their names separated by commas. Throws
// std::invalid_argument naming one that has no goldens.
std::vector<Precision> parse_golden_precision_list(std::string_view text);

// The rules the committed goldens cover: median and greedy on every prompt, and
// three sampling settings on the short prompts (is_short_prompt(); sampling on
// the long ones would add minutes of serial reference time to every check).
const std::vector<Rule>& golden_rules();
// The prompts whose goldens a rule has.
std::vector<Prompt> golden_prompts(const std::vector<Prompt>& all, const Rule& rule);
// "all" for golden_rules(), "none", or rule names separated by commas. Throws
// std::invalid_argument naming an unknown or invalid rule.
std::vector<Rule> parse_rule_list(std::string_view text);

// What verify does when a golden file it needs is not committed (--goldens).
enum class GoldensPolicy {
  kAuto,      // compute the reference's in the run, with a note saying so
  kRequired,  // fail: the gate proves backends against the committed goldens
};
const char* goldens_policy_name(GoldensPolicy p);  // "auto", "required"
// "auto" or "required". Throws std::invalid_argument "Unknown --goldens 'x'
// (known: auto, required)."
GoldensPolicy parse_goldens_policy(std::string_view name);
// --goldens's default: required under CI (`ci`, the environment's CI, is
// "true" or "1"), auto otherwise.
GoldensPolicy default_goldens_policy(const char* ci);
// For a golden file that is not there (`what`: "float32 greedy", "float32
// beams-k4"): under kRequired throws std::runtime_error, one line naming the
// file; under kAuto returns (the caller computes the reference's).
void on_missing_goldens(GoldensPolicy policy, const std::filesystem::path& path,
                        const std::string& model_name, const std::string& what);

// XXH3-64 of V float32 logits as 16 hex digits: equal hashes mean equal bits.
std::string logits_hash(std::span<const float> logits);

// Writes `text` to `path` through a temporary file and a rename, so the file is
// never seen half-written. Throws std::runtime_error naming the file.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace gpt2
