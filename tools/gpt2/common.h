// What gpt2's modes share: the one command line that completion, the prompts
// files and beam search read (each mode's file registers the options only it
// has; add_shared_options() the rest), its checks, the prompt's reading and
// output.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "reference/model.h"
#include "runtime/backend_specs.h"
#include "runtime/beam_search.h"
#include "runtime/decide.h"
#include "runtime/generate.h"
#include "runtime/tokenizer/tokenizer.h"

namespace gpt2::tool {

// A command-line mistake: the message is printed as it is, then exit 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line as given, before any check (check_settings() and
// read_prompt() check it).
struct Options {
  std::vector<std::string> token_texts;  // the prompt's token ids
  std::vector<std::string> decode_ids;   // decode's token ids
  std::string prompt_text;
  std::string prompts_file;  // --prompts: token ids, a prompt a line
  std::string prompt_file;   // --prompt-file: text, a prompt a line
  int batch = 16;
  std::string model_spec = "default";
  int n = 0;
  int max_new = 50;
  std::string rule_text;
  float temperature = 1.0f, top_p = 1.0f;
  int top_k = 0;
  std::uint64_t seed = 0;
  std::string backend_name = "reference";
  int threads = 1;
  int devices = 1;  // a multi-GPU backend's GPU count
  bool one_gpu = false;
  std::string mode_text = "recompute";
  std::vector<std::string> stops;
  std::string precision_text = "float32";
  bool ignore_eos = false, echo = false, allow_special = false, verbose = false;
  // Beam search (--beams K).
  int beams = 0;
  float length_penalty = 1.0f;
  std::string early_stopping = "false";
  int num_return = 1;
  int eos = kEndOfTextToken;
  bool json = false;

  // The options whose presence matters, set where each is registered.
  const CLI::Option* prompt_opt = nullptr;        // --prompt (complete.cpp)
  const CLI::Option* prompt_file_opt = nullptr;   // --prompt-file (batch.cpp)
  const CLI::Option* batch_opt = nullptr;         // --batch (batch.cpp)
  const CLI::Option* n_opt = nullptr;             // -n
  std::vector<const CLI::Option*> sampling_opts;  // --temperature, --top-k, --top-p, --seed
  const CLI::Option* beams_opt = nullptr;         // --beams (beams.cpp)
  // --length-penalty, --early-stopping, --num-return, --eos, --json (beams.cpp)
  std::vector<const CLI::Option*> beam_opts;

  bool text_mode() const;       // --prompt or --prompt-file
  bool batch_given() const;     // --batch
  bool n_given() const;         // -n
  bool sampling_flags() const;  // any of --temperature, --top-k, --top-p, --seed
  bool beam_search() const;     // --beams
  bool beam_flags() const;      // any of beam_opts
};

// The options the modes share: the model, -n, the rule, the backend, the text
// options, the precision and -v, in --help's order.
void add_shared_options(CLI::App& app, Options& o);

// What a generation runs with, checked before anything is loaded.
struct Settings {
  Rule rule = Rule::kMedian;
  Mode mode = Mode::kRecompute;
  BackendSpec spec;
  std::optional<BeamOptions> beams;
};

// Every check of the command line that needs no model, in one order (so the
// first mistake is the one reported, whichever mode runs).
Settings check_settings(const Options& o);
// Its parts that belong to one mode: --beams and its options (beams.cpp; the
// vocabulary check of --eos comes with the model), and the prompts files'
// (batch.cpp).
std::optional<BeamOptions> check_beam_options(const Options& o);
void check_batch_options(const Options& o);

// The prompt's tokens: the ids given, or --prompt's text encoded (its bytes
// and the tokenizer kept for echo and for decoding the continuation).
struct PromptInput {
  std::vector<int> tokens;
  std::string bytes;
  std::optional<Tokenizer> tokenizer;
};

// Text mode: `context` is the model's max_seq_len. A text of more bytes than
// that many of the longest tokens cannot fit: it is rejected after reading
// only that much (so that 10 GB, or an endless stdin, ends in a moment too).
PromptInput read_prompt(const Options& o, int context);

// n (the sequence's length at the end), checked with the prompt against the
// model: -n, or 10 (token ids), or the prompt's tokens + --max-new (text).
int sequence_length(const Options& o, const ModelConfig& cfg, const std::vector<int>& prompt);

SpecialTokens special_tokens(const Options& o);

// gpt2 encode reads at most this much: 10 MB of text encodes in a second or
// two, and an endless stdin (or one long run of a letter, whose merges take
// about 40 bytes of memory a byte) must not take the machine.
constexpr std::size_t kMaxEncodeBytes = std::size_t(1) << 24;  // 16 MiB

// All of f, or its first `limit` bytes and one more when it holds more.
std::string read_all(std::FILE* f, std::size_t limit = std::string::npos - 1);

// --prompts and --prompt-file: the file's lines (a last empty one, after the
// final newline, is not a line), at most 16 MiB of it.
std::vector<std::string> read_lines(const std::string& path);

// The bytes on stdout, flushed.
void write_out(std::string_view bytes);

// A text on one line: backslash, newline and carriage return as \\, \n, \r.
std::string one_line(const std::string& text);

}  // namespace gpt2::tool
