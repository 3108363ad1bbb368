// gpt2: GPT-2 completion with any backend, a drop-in for the OS lab's `gpt`.
//
//   gpt2 [options] TOKEN...          the lab's: prints each new token id on its
//                                    own line until the sequence holds n tokens
//   gpt2 [options] --prompt TEXT     text in, the continuation out as it comes
//   gpt2 encode                      stdin's text -> its token ids
//   gpt2 decode ID...                ids -> the text's exact bytes
// Everything but the output goes to stderr.
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "runtime/backend_specs.h"
#include "runtime/beam_search.h"
#include "runtime/cli.h"
#include "runtime/decide.h"
#include "runtime/generate.h"
#include "runtime/model_source.h"
#include "runtime/scheduler.h"
#include "runtime/stop_strings.h"
#include "runtime/token_list.h"
#include "runtime/tokenizer/tokenizer.h"

namespace gpt2 {
namespace {

// A command-line mistake: the message is printed as it is, then exit 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// All of f, or its first `limit` bytes and one more when it holds more.
std::string read_all(std::FILE* f, std::size_t limit = std::string::npos - 1) {
  std::string out;
  char buf[1 << 16];
  for (std::size_t got; out.size() <= limit && (got = std::fread(buf, 1, sizeof buf, f)) > 0;) {
    out.append(buf, got);
  }
  if (out.size() > limit) out.resize(limit + 1);
  return out;
}

void write_out(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

// The command line as given, before any check (check_settings() and
// read_prompt() check it).
struct Options {
  enum class Command { kGenerate, kEncode, kDecode } command = Command::kGenerate;
  std::vector<std::string> token_texts;  // the prompt's token ids
  std::vector<std::string> decode_ids;   // decode's token ids
  bool text_mode = false;                // --prompt or --prompt-file given
  std::string prompt_text;
  std::string prompts_file;  // --prompts: token ids, a prompt a line
  std::string prompt_file;   // --prompt-file: text, a prompt a line
  bool batch_given = false;
  int batch = 16;
  std::string model_spec = "default";
  bool n_given = false;
  int n = 0;
  int max_new = 50;
  std::string rule_text;
  bool sampling_flags = false;  // any of --temperature, --top-k, --top-p, --seed given
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
  // Beam search (--beams K): off when beams == 0.
  int beams = 0;
  float length_penalty = 1.0f;
  std::string early_stopping = "false";
  int num_return = 1;
  int eos = kEndOfTextToken;
  bool json = false;
  bool beam_flags =
      false;  // any of --length-penalty, --early-stopping, --num-return, --eos, --json
};

// The backends that offer precision p, for --help.
std::string backends_offering(Precision p) {
  std::string out;
  for (const BackendEntry& e : backend_entries()) {
    if (offers_precision(e, p)) out += (out.empty() ? "" : ", ") + std::string(e.name);
  }
  return out.empty() ? std::string("none built") : out;
}

// Reads argv into o. Returns CLI11's exit status when the command line asks
// for help or cannot be parsed (CLI11 has printed why), nullopt otherwise.
std::optional<int> parse_command_line(int argc, char** argv, Options& o) {
  CLI::App app{
      "GPT-2 completion with any backend.\n\n"
      "  gpt2 [options] TOKEN...        complete token ids: each new id on its own line until the\n"
      "                                 sequence holds n tokens (the OS lab's `gpt`)\n"
      "  gpt2 [options] --prompt TEXT   complete text (TEXT '-' reads stdin); the continuation is\n"
      "                                 printed as it is generated\n"
      "  gpt2 encode                    print the token ids of stdin's text\n"
      "  gpt2 decode ID...              write the exact bytes of token ids\n\n"
      "Example: gpt2 31373 612 338 635 281     gpt2 --prompt \"Ladies and\" -n 40",
      "gpt2"};
  app.add_option("tokens", o.token_texts, "Prompt token ids, each in [0, vocab size)");
  CLI::Option* prompt_opt =
      app.add_option("--prompt", o.prompt_text, "Prompt text, or - to read it from stdin");
  app.add_option("--prompts", o.prompts_file,
                 "Complete several prompts in one batch: a file of one prompt a line, its token "
                 "ids as the positional arguments take them; prints '<line>: <new ids>' per "
                 "prompt, in the file's order");
  CLI::Option* prompt_file_opt = app.add_option(
      "--prompt-file", o.prompt_file,
      "Complete several texts in one batch: a file of one text a line; prints '<line>: "
      "<continuation>' per text, in order, with \\, newline and carriage return written as "
      "\\\\, \\n and \\r");
  CLI::Option* batch_opt =
      app.add_option("--batch", o.batch,
                     "With --prompts or --prompt-file: sequences in flight at once (1 to " +
                         std::to_string(kMaxBatch) + ")")
          ->capture_default_str();
  app.add_option("--model", o.model_spec,
                 "Checkpoint (llm.c .bin, Hugging Face .safetensors or a folder with "
                 "model.safetensors), synthetic:<preset>[:seed=N], or default: "
                 "datasets/models/gpt2_124M.bin if present, else synthetic:124M")
      ->capture_default_str();
  CLI::Option* n_opt = app.add_option(
      "-n", o.n,
      "Complete until the sequence holds n tokens, 2 <= n <= max_seq_len (default 10; "
      "with --prompt: the prompt's tokens + --max-new)");
  app.add_option("--max-new", o.max_new, "With --prompt and no -n: new tokens at most")
      ->capture_default_str();
  app.add_option("--rule", o.rule_text,
                 "median (default): the lab's rule, the first token whose cumulative probability "
                 "exceeds 0.5; greedy: argmax; sample (or sample-t0.8-k40-p0.95-seed7)");
  CLI::Option* t_opt = app.add_option("--temperature", o.temperature, "Sampling temperature (> 0)");
  CLI::Option* k_opt = app.add_option("--top-k", o.top_k, "Sample among the k most likely tokens");
  CLI::Option* p_opt = app.add_option("--top-p", o.top_p, "Sample within probability mass p");
  CLI::Option* s_opt = app.add_option("--seed", o.seed, "Seed of the sampler's generator");
  app.add_option("--backend", o.backend_name, "Backend: " + backend_names_joined())
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Threads for the backend (the reference is serial)")
      ->capture_default_str();
  app.add_option("--devices", o.devices,
                 "GPUs of a multi-GPU backend (cuda-tp): N means GPUs 0..N-1 (under mpirun -n N: "
                 "one process each)")
      ->capture_default_str();
  app.add_flag("--one-gpu", o.one_gpu,
               "With --devices N: all N ranks on GPU 0, summed there (no NCCL)");
  app.add_option("--mode", o.mode_text,
                 "recompute: the whole sequence at every step (the lab's); kv-cache: the "
                 "prompt once, then one token per step")
      ->capture_default_str();
  app.add_option("--stop", o.stops, "With --prompt: stop when the text contains this (repeatable)");
  app.add_flag("--ignore-eos", o.ignore_eos, "With --prompt: go on past <|endoftext|>");
  app.add_flag("--echo", o.echo, "With --prompt: print the prompt before the continuation");
  app.add_flag("--allow-special", o.allow_special,
               "Read the text <|endoftext|> as the special token 50256 (--prompt, encode)");
  app.add_option("--precision", o.precision_text,
                 "float32; bf16w or int8w (weight-only bfloat16 or int8, defined by the "
                 "reference, bit-exact; backends: " +
                     backends_offering(Precision::kInt8Weights) +
                     "); or bfloat16 (bf16: matrix products in bfloat16, not float32; backends: " +
                     backends_offering(Precision::kBFloat16) + ")")
      ->capture_default_str();
  app.add_flag("-v,--verbose", o.verbose, "Print the model, backend and timing to stderr");
  CLI::Option* beams_opt = app.add_option(
      "--beams", o.beams,
      "Beam search with K beams (as Hugging Face transformers' generate(num_beams=K)): prints "
      "the returned sequences, best first, each as '<rank> <score>: <new tokens or text>'");
  CLI::Option* lp_opt = app.add_option(
      "--length-penalty", o.length_penalty,
      "With --beams: a finished sequence scores sum_logprobs / length^A (default 1)");
  CLI::Option* es_opt = app.add_option(
      "--early-stopping", o.early_stopping,
      "With --beams: true (stop once K sequences are finished), false (default: once the best "
      "running beam cannot beat them at its current length) or never (... at any length)");
  CLI::Option* nr_opt = app.add_option("--num-return", o.num_return,
                                       "With --beams: sequences returned, 1 to K (default 1)");
  CLI::Option* eos_opt = app.add_option(
      "--eos", o.eos,
      "With --beams: the end-of-text token that finishes a beam (default 50256; --ignore-eos: "
      "none)");
  CLI::Option* json_opt = app.add_flag(
      "--json", o.json, "With --beams: print one JSON object (tokens, scores, steps) instead");

  CLI::App* encode = app.add_subcommand("encode", "Print the token ids of stdin's text");
  encode->add_flag("--allow-special", o.allow_special,
                   "Read the text <|endoftext|> as the special token 50256");
  CLI::App* decode = app.add_subcommand("decode", "Write the exact bytes of token ids");
  decode->add_option("ids", o.decode_ids, "Token ids")->required();

  if (const std::optional<int> status = parse_arguments(app, argc, argv)) return *status;
  o.command = encode->parsed()   ? Options::Command::kEncode
              : decode->parsed() ? Options::Command::kDecode
                                 : Options::Command::kGenerate;
  o.text_mode = prompt_opt->count() > 0 || prompt_file_opt->count() > 0;
  o.batch_given = batch_opt->count() > 0;
  o.n_given = n_opt->count() > 0;
  o.sampling_flags = t_opt->count() || k_opt->count() || p_opt->count() || s_opt->count();
  o.beam_flags = lp_opt->count() || es_opt->count() || nr_opt->count() || eos_opt->count() ||
                 json_opt->count();
  if (beams_opt->count() > 0 && o.beams == 0) o.beams = -1;  // --beams 0: refused as K < 1
  return std::nullopt;
}

SpecialTokens special_tokens(const Options& o) {
  return o.allow_special ? SpecialTokens::kAllowed : SpecialTokens::kAsText;
}

// gpt2 encode reads at most this much: 10 MB of text encodes in a second or
// two, and an endless stdin (or one long run of a letter, whose merges take
// about 40 bytes of memory a byte) must not take the machine.
constexpr std::size_t kMaxEncodeBytes = std::size_t(1) << 24;  // 16 MiB

// gpt2 encode: stdin's text -> its token ids on one line.
int run_encode(const Options& o) {
  const Tokenizer tok = Tokenizer::load_default();
  const std::string text = read_all(stdin, kMaxEncodeBytes);
  if (text.size() > kMaxEncodeBytes) {
    throw UsageError("gpt2 encode reads at most " + std::to_string(kMaxEncodeBytes) +
                     " bytes (16 MiB); stdin holds more: split the text.");
  }
  const std::vector<int> ids = tok.encode(text, special_tokens(o));
  std::string line;
  for (std::size_t i = 0; i < ids.size(); i++) line += (i ? " " : "") + std::to_string(ids[i]);
  write_out(line + "\n");
  return 0;
}

// gpt2 decode: token ids -> the exact bytes of their text.
int run_decode(const Options& o) {
  std::vector<int> ids;
  for (const std::string& t : o.decode_ids) {
    const int id = parse_token_id(t);
    if (id < 0 || id >= kTokenizerVocabSize) {
      throw UsageError("Token " + t + " is out of range [0, " +
                       std::to_string(kTokenizerVocabSize) + ").");
    }
    ids.push_back(id);
  }
  write_out(Tokenizer::load_default().decode(ids));
  return 0;
}

// The decision rule: --rule, or the sampling flags alone (which imply sample).
Rule choose_rule(const Options& o) {
  Rule rule = Rule::kMedian;
  if (!o.rule_text.empty() && o.rule_text != "sample") {
    const std::optional<Rule> r = parse_rule(o.rule_text);
    if (!r) {
      throw UsageError("Unknown rule '" + o.rule_text +
                       "' (known: median, greedy, sample[-t<T>][-k<K>][-p<P>][-seed<S>]).");
    }
    if (o.sampling_flags && r->kind != Rule::kSample) {
      throw UsageError("--temperature, --top-k, --top-p and --seed go with --rule sample.");
    }
    rule = *r;
  }
  if (o.rule_text == "sample" || (o.rule_text.empty() && o.sampling_flags)) {
    rule = Rule::sample(o.temperature, o.top_k, o.top_p, o.seed);
  }
  if (std::string problem = rule_problem(rule); !problem.empty()) {
    throw UsageError("Bad sampling settings: " + problem + ".");
  }
  return rule;
}

// What a generation runs with, checked before anything is loaded.
struct Settings {
  Rule rule = Rule::kMedian;
  Mode mode = Mode::kRecompute;
  BackendSpec spec;
  std::optional<BeamOptions> beams;
};

// --beams and its options, checked before anything loads (the vocabulary
// check of --eos comes with the model).
std::optional<BeamOptions> check_beam_options(const Options& o) {
  if (o.beams == 0) {
    if (o.beam_flags) {
      throw UsageError(
          "--length-penalty, --early-stopping, --num-return, --eos and --json go "
          "with --beams.");
    }
    return std::nullopt;
  }
  if (!o.rule_text.empty() || o.sampling_flags) {
    throw UsageError(
        "--beams chooses the tokens itself: leave out --rule and the sampling flags "
        "(beam search with sampling is not supported).");
  }
  if (!o.prompt_file.empty()) {
    throw UsageError("--beams takes token ids, --prompt or --prompts, not --prompt-file.");
  }
  if (!o.stops.empty()) throw UsageError("--stop does not go with --beams.");
  BeamOptions b;
  b.beams = o.beams;
  b.length_penalty = o.length_penalty;
  const std::optional<EarlyStopping> es = parse_early_stopping(o.early_stopping);
  if (!es) {
    throw UsageError("Unknown --early-stopping '" + o.early_stopping +
                     "' (known: true, false, never).");
  }
  b.early_stopping = *es;
  b.num_return = o.num_return;
  b.eos = o.ignore_eos ? -1 : o.eos;
  if (!o.ignore_eos && o.eos < 0) throw UsageError("--eos must be a token id (0 or more).");
  if (std::string problem = beam_options_problem(b, std::numeric_limits<int>::max());
      !problem.empty()) {
    throw UsageError(problem + ".");
  }
  return b;
}

Settings check_settings(const Options& o) {
  Settings s;
  s.beams = check_beam_options(o);
  s.rule = choose_rule(o);
  const std::optional<Mode> mode = parse_mode(o.mode_text);
  if (!mode) throw UsageError("Unknown mode '" + o.mode_text + "' (known: recompute, kv-cache).");
  s.mode = *mode;
  find_backend(o.backend_name);  // an unknown one fails before the precision is read
  if (o.threads < 1) throw UsageError("--threads must be at least 1.");
  const std::optional<Precision> precision = parse_precision(o.precision_text);
  if (!precision) {
    throw UsageError("Unknown precision '" + o.precision_text +
                     "' (known: " + precision_names_joined() + ", bf16).");
  }
  // Fails before the model loads for a precision the backend does not offer;
  // make_backend() says so for one this machine cannot run.
  s.spec = backend_spec(o.backend_name, *precision, o.threads);
  if (o.devices < 1 || o.devices > kMaxGpus) {
    throw UsageError("--devices must be in [1, " + std::to_string(kMaxGpus) + "].");
  }
  if (find_backend(o.backend_name).multi_gpu) {
    s.spec.devices = gpu_devices(o.devices, o.one_gpu);
  } else if (o.devices != 1 || o.one_gpu) {
    throw UsageError("--devices and --one-gpu are for a multi-GPU backend (cuda-tp), not " +
                     o.backend_name + ".");
  }
  if (o.text_mode && !o.token_texts.empty()) {
    throw UsageError("Give either token ids or --prompt, not both.");
  }
  if (!o.prompts_file.empty() && (o.text_mode || !o.token_texts.empty())) {
    throw UsageError("--prompts takes the place of the token ids, --prompt and --prompt-file.");
  }
  if (!o.prompt_file.empty() && !o.prompt_text.empty()) {
    throw UsageError("Give either --prompt or --prompt-file, not both.");
  }
  const bool batched = !o.prompts_file.empty() || !o.prompt_file.empty();
  if (o.batch_given && !batched) throw UsageError("--batch goes with --prompts or --prompt-file.");
  if (o.batch < 1 || o.batch > kMaxBatch) {
    throw UsageError("--batch " + std::to_string(o.batch) + " is outside [1, " +
                     std::to_string(kMaxBatch) + "].");
  }
  if (!o.text_mode && (!o.stops.empty() || (o.ignore_eos && !s.beams) || o.echo)) {
    throw UsageError("--stop, --ignore-eos and --echo go with --prompt.");
  }
  if (o.max_new < 1) throw UsageError("--max-new must be at least 1.");
  return s;
}

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
PromptInput read_prompt(const Options& o, int context) {
  PromptInput p;
  if (o.text_mode) {
    p.tokenizer = Tokenizer::load_default();
    std::size_t longest = 0;
    for (int id = 0; id < kTokenizerVocabSize; ++id) {
      longest = std::max(longest, p.tokenizer->token_bytes(id).size());
    }
    const std::size_t limit = longest * std::size_t(context);
    p.bytes = o.prompt_text == "-" ? read_all(stdin, limit) : o.prompt_text;
    if (p.bytes.size() > limit) {
      throw UsageError("The prompt is more than " + std::to_string(limit) +
                       " bytes long: more than the model's context of " + std::to_string(context) +
                       " tokens can hold (a token is at most " + std::to_string(longest) +
                       " bytes).");
    }
    p.tokens = p.tokenizer->encode(p.bytes, special_tokens(o));
    // GPT-2 starts unconditional text after <|endoftext|>.
    if (p.tokens.empty()) p.tokens = {kEndOfTextToken};
  } else {
    if (o.token_texts.empty()) throw UsageError("Provide at least one token.");
    for (const std::string& t : o.token_texts) p.tokens.push_back(parse_token_id(t));
  }
  return p;
}

// n (the sequence's length at the end), checked with the prompt against the
// model: -n, or 10 (token ids), or the prompt's tokens + --max-new (text).
int sequence_length(const Options& o, const ModelConfig& cfg, const std::vector<int>& prompt) {
  int n = o.n;
  if (!o.n_given) {
    n = o.text_mode ? std::min<long>(long(prompt.size()) + o.max_new, cfg.max_seq_len) : 10;
  }
  if (o.text_mode && !o.n_given && long(prompt.size()) >= cfg.max_seq_len) {
    throw UsageError("The prompt is " + std::to_string(prompt.size()) +
                     " tokens long, and the model's context holds " +
                     std::to_string(cfg.max_seq_len) + ": no room for a new token.");
  }
  if (n < 2 || n > cfg.max_seq_len) {
    throw UsageError("n = " + std::to_string(n) + " is outside [2, " +
                     std::to_string(cfg.max_seq_len) + "].");
  }
  if (int(prompt.size()) >= n) {
    throw UsageError(o.text_mode
                         ? "Too many tokens: the prompt has " + std::to_string(prompt.size()) +
                               " tokens, n is " + std::to_string(n) + "."
                         : std::string("Too many tokens."));
  }
  for (int t : prompt) {
    if (t < 0 || t >= cfg.vocab_size) {
      throw UsageError("Token " + std::to_string(t) + " is out of range [0, " +
                       std::to_string(cfg.vocab_size) + ")" +
                       (o.text_mode ? " of this model's vocabulary." : "."));
    }
  }
  return n;
}

// The model, the backend made for it and a session for n - 1 positions.
struct Loaded {
  std::shared_ptr<const Model> model;
  int n = 0;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Session> session;
};

Loaded load(const Options& o, const Settings& s, const std::vector<int>& prompt,
            std::shared_ptr<const Model> model) {
  Loaded l;
  l.model = model ? std::move(model) : open_model(o.model_spec, &std::cerr);
  l.n = sequence_length(o, l.model->config(), prompt);
  l.backend = make_backend(l.model, s.spec);
  l.session = l.backend->open_session(l.n - 1);
  return l;
}

// -v: the model, the backend and the run's settings, on stderr.
void print_setup(const Loaded& l, const Settings& s, std::size_t prompt_tokens) {
  const BackendInfo& info = l.backend->info();
  std::cerr << "model " << l.model->name() << " (" << num_real_parameters(l.model->config())
            << " parameters, checksum " << l.model->checksum() << ")\n"
            << "backend " << info.name << " (" << numerics_name(info.numerics) << ", "
            << (info.precision == Precision::kBFloat16 ? "bfloat16, not float32"
                                                       : precision_name(info.precision))
            << ", " << threads_text(info.threads) << ", " << info.details << "), mode "
            << mode_name(s.mode) << ", rule " << rule_name(s.rule) << ", " << prompt_tokens
            << " prompt tokens, n = " << l.n << "\n";
}

// -v with a batch: the model, the backend and the batch, on stderr.
void print_batch_setup(const Backend& b, const Model& model, const Settings& s, std::size_t prompts,
                       int batch) {
  const BackendInfo& info = b.info();
  std::cerr << "model " << model.name() << ", backend " << info.name << " ("
            << numerics_name(info.numerics) << ", " << precision_name(info.precision) << ", "
            << threads_text(info.threads) << "), mode " << mode_name(s.mode) << ", rule "
            << rule_name(s.rule) << ", " << prompts << " prompts, at most " << batch
            << " at once\n";
}

// The lab's output: each new token id on its own line as soon as it is chosen.
// Returns the number of new tokens.
int complete_token_ids(Loaded& l, const Settings& s, const std::vector<int>& prompt) {
  int generated = 0;
  generate(*l.backend, *l.session, prompt, l.n, s.mode, s.rule, [&](const StepView& step) {
    generated++;
    std::printf("%d\n", step.decision.token);
    std::fflush(stdout);
    return Next::kContinue;
  });
  return generated;
}

// Text out: the continuation as it is generated (never splitting a UTF-8
// character), ending at <|endoftext|> (unless --ignore-eos) or before a --stop
// string. Returns the number of new tokens.
int complete_text(Loaded& l, const Settings& s, const Options& o, const PromptInput& prompt) {
  if (o.echo) write_out(prompt.bytes);
  DecodeStream stream(*prompt.tokenizer);
  StopStrings stops(o.stops);
  int generated = 0;
  generate(*l.backend, *l.session, prompt.tokens, l.n, s.mode, s.rule, [&](const StepView& step) {
    generated++;
    const int token = step.decision.token;
    if (token == kEndOfTextToken && !o.ignore_eos) return Next::kStop;
    write_out(stops.add(stream.push(token)));
    return stops.stopped() ? Next::kStop : Next::kContinue;
  });
  write_out(stops.add(stream.flush()));
  write_out(stops.finish());
  if (::isatty(1)) write_out("\n");
  return generated;
}

// --prompts and --prompt-file: the file's lines (a last empty one, after the
// final newline, is not a line), at most 16 MiB of it.
std::vector<std::string> read_lines(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw UsageError(path + ": cannot open: " + std::strerror(errno) + ".");
  const std::string text = read_all(f, kMaxEncodeBytes);
  std::fclose(f);
  if (text.size() > kMaxEncodeBytes) {
    throw UsageError(path + " holds more than 16 MiB: split it into several files.");
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (lines.empty()) throw UsageError(path + " holds no prompt.");
  return lines;
}

// A text on one line: backslash, newline and carriage return as \\, \n, \r.
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

// One line of a batch: its prompt, its length, and what it prints.
struct BatchLine {
  std::vector<int> prompt;
  int n = 0;
  std::string out;  // the text, or the new token ids
  std::optional<DecodeStream> stream;
  std::optional<StopStrings> stops;
};

// gpt2 --prompts FILE or --prompt-file FILE: every line checked and encoded
// before any work, then all of them through one scheduler (at most --batch at
// once), each line printed as '<line>: ...' once it and every line before it
// are complete, in the file's order: each what gpt2 prints for it alone.
int run_batch(const Options& o) {
  const Settings settings = check_settings(o);
  const bool text = !o.prompt_file.empty();
  const std::string& path = text ? o.prompt_file : o.prompts_file;
  const std::vector<std::string> raw = read_lines(path);
  std::shared_ptr<const Model> model = open_model(o.model_spec, &std::cerr);
  const ModelConfig& cfg = model->config();
  std::optional<Tokenizer> tokenizer;
  if (text) tokenizer = Tokenizer::load_default();
  std::vector<BatchLine> lines(raw.size());
  std::vector<std::size_t> cut;  // lines whose --max-new the context cuts
  for (std::size_t i = 0; i < raw.size(); i++) {
    BatchLine& l = lines[i];
    try {
      if (text) {
        l.prompt = tokenizer->encode(raw[i], special_tokens(o));
        if (l.prompt.empty()) l.prompt = {kEndOfTextToken};
      } else {
        l.prompt = parse_token_ids(raw[i]);
        if (l.prompt.empty()) throw UsageError("no token.");
      }
      l.n = sequence_length(o, cfg, l.prompt);
    } catch (const std::exception& e) {  // a bad line: named, before any work
      throw UsageError(path + ":" + std::to_string(i + 1) + ": " + e.what());
    }
    if (text && !o.n_given && long(l.prompt.size()) + o.max_new > l.n) cut.push_back(i + 1);
    if (text) {
      l.stream.emplace(*tokenizer);
      l.stops.emplace(o.stops);
      if (o.echo) l.out = raw[i];
    }
  }
  auto backend = make_backend(model, settings.spec);
  Scheduler scheduler(*backend, o.batch, settings.mode);
  for (BatchLine& l : lines) {
    Request r;
    r.prompt = l.prompt;
    r.n = l.n;
    r.rule = settings.rule;
    r.on_step = [&l, text, &o](const StepView& step) {
      const int token = step.decision.token;
      if (!text) {
        l.out += (l.out.empty() ? "" : " ") + std::to_string(token);
        return Next::kContinue;
      }
      if (token == kEndOfTextToken && !o.ignore_eos) return Next::kStop;
      l.out += l.stops->add(l.stream->push(token));
      return l.stops->stopped() ? Next::kStop : Next::kContinue;
    };
    scheduler.submit(std::move(r));
  }
  scheduler.check_memory();
  if (!cut.empty()) {
    std::string which;
    for (std::size_t i = 0; i < cut.size() && i < 8; i++)
      which += (i ? ", " : "") + std::to_string(cut[i]);
    std::fprintf(stderr,
                 "gpt2: the model's context (%d tokens) leaves room for fewer than --max-new %d "
                 "new tokens after the prompt of line%s %s%s.\n",
                 cfg.max_seq_len, o.max_new, cut.size() > 1 ? "s" : "", which.c_str(),
                 cut.size() > 8 ? ", ..." : "");
  }
  if (o.verbose) print_batch_setup(*backend, *model, settings, lines.size(), o.batch);
  const auto start = std::chrono::steady_clock::now();
  std::size_t printed = 0;
  while (!scheduler.done()) {
    scheduler.step();
    for (; printed < lines.size() && scheduler.finished(int(printed)); printed++) {
      BatchLine& l = lines[printed];
      if (text) {
        l.out += l.stops->add(l.stream->flush());
        l.out += l.stops->finish();
      }
      write_out(std::to_string(printed + 1) + ": " + (text ? one_line(l.out) : l.out) + "\n");
    }
  }
  if (o.verbose) {
    const double run_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long tokens = 0;
    for (std::size_t i = 0; i < lines.size(); i++)
      tokens += long(scheduler.generated(int(i)).size());
    std::fprintf(stderr, "generation %.3f s: %ld steps, %ld tokens (%.2f tokens/s)\n", run_s,
                 scheduler.steps(), tokens, tokens / run_s);
  }
  return 0;
}

// gpt2 --beams K: one prompt's beam search (runtime/beam_search.h); the
// returned sequences, best first, once the search is done.
int run_beams(const Options& o, const Settings& s) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::shared_ptr<const Model> model;
  if (o.text_mode || !o.prompts_file.empty()) model = open_model(o.model_spec, &std::cerr);
  // --prompts: every line a prompt of token ids, all searched at once.
  std::vector<PromptInput> inputs;
  if (!o.prompts_file.empty()) {
    const std::vector<std::string> raw = read_lines(o.prompts_file);
    for (std::size_t i = 0; i < raw.size(); i++) {
      PromptInput p;
      try {
        p.tokens = parse_token_ids(raw[i]);
        if (p.tokens.empty()) throw UsageError("no token.");
        sequence_length(o, model->config(), p.tokens);
      } catch (const std::exception& e) {
        throw UsageError(o.prompts_file + ":" + std::to_string(i + 1) + ": " + e.what());
      }
      inputs.push_back(std::move(p));
    }
  } else {
    inputs.push_back(read_prompt(o, model ? model->config().max_seq_len : 0));
  }
  if (!model) model = open_model(o.model_spec, &std::cerr);
  const ModelConfig& cfg = model->config();
  std::vector<BeamPrompt> prompts;
  for (const PromptInput& p : inputs)
    prompts.push_back({p.tokens, sequence_length(o, cfg, p.tokens)});
  const PromptInput& prompt = inputs.front();
  const int n = prompts.front().n;
  const BeamOptions& b = *s.beams;
  if (std::string problem = beam_options_problem(b, cfg.vocab_size); !problem.empty()) {
    throw UsageError(problem + ".");
  }
  auto backend = make_backend(model, s.spec);
  const auto t1 = Clock::now();
  if (o.verbose) {
    const BackendInfo& info = backend->info();
    std::cerr << "model " << model->name() << ", backend " << info.name << " ("
              << numerics_name(info.numerics) << ", " << precision_name(info.precision) << ", "
              << threads_text(info.threads) << "), mode " << mode_name(s.mode) << ", "
              << beam_options_label(b) << ", " << prompts.size() << " prompt(s), the first of "
              << prompt.tokens.size() << " tokens, n = " << n << "\n";
  }
  BeamTimes times;
  const std::vector<BeamResult> results = beam_search(*backend, prompts, b, s.mode, &times);
  auto text_of = [&](const Hypothesis& h) {
    std::string text = o.echo ? prompt.bytes : std::string();
    std::vector<int> ids = h.tokens;
    if (!o.ignore_eos && !ids.empty() && ids.back() == b.eos) ids.pop_back();
    return text + prompt.tokenizer->decode(ids);
  };
  std::string out;
  for (std::size_t line = 0; line < results.size(); line++) {
    const BeamResult& result = results[line];
    const std::string prefix =
        o.prompts_file.empty() ? std::string() : std::to_string(line + 1) + ": ";
    if (o.json) {
      nlohmann::json j;
      if (!o.prompts_file.empty()) j["line"] = line + 1;
      j["model"] = model->name();
      j["backend"] = backend->info().name;
      j["precision"] = precision_name(backend->info().precision);
      j["mode"] = mode_name(s.mode);
      j["prompt"] = prompts[line].tokens;
      j["n"] = prompts[line].n;
      j["beams"] = b.beams;
      j["length_penalty"] = b.length_penalty;
      j["early_stopping"] = early_stopping_name(b.early_stopping);
      j["num_return"] = b.num_return;
      j["eos"] = b.eos;
      j["steps"] = result.steps;
      j["margin"] = std::isfinite(result.margin) ? nlohmann::json(result.margin) : nlohmann::json();
      for (const Hypothesis& h : result.hypotheses) {
        nlohmann::json e = {{"tokens", h.tokens},
                            {"score", h.score},
                            {"sum_logprobs", h.path.empty() ? 0.0f : h.path.back()},
                            {"finished", h.finished}};
        if (o.text_mode) e["text"] = text_of(h);
        j["sequences"].push_back(e);
      }
      out += j.dump();
      out += '\n';
    } else {
      for (std::size_t k = 0; k < result.hypotheses.size(); k++) {
        const Hypothesis& h = result.hypotheses[k];
        char head[64];
        std::snprintf(head, sizeof head, "%zu %.6f: ", k + 1, double(h.score));
        std::string body;
        if (o.text_mode) {
          body = one_line(text_of(h));
        } else {
          for (std::size_t i = 0; i < h.tokens.size(); i++) {
            if (i) body += ' ';
            body += std::to_string(h.tokens[i]);
          }
        }
        out += prefix;
        out += head;
        out += body;
        out += '\n';
      }
    }
  }
  write_out(out);
  if (o.verbose) {
    const double run_s = std::chrono::duration<double>(Clock::now() - t1).count();
    std::fprintf(stderr,
                 "load %.3f s, beam search %.3f s: %ld steps, %ld beam tokens (%.2f tokens/s); "
                 "forward %.3f s, search %.3f s, cache copies %.3f s (%ld)\n",
                 std::chrono::duration<double>(t1 - t0).count(), run_s, times.steps, times.tokens,
                 times.tokens / run_s, times.forward, times.search, times.copy, times.copies);
  }
  return 0;
}

// gpt2 [options] TOKEN... or --prompt TEXT: check, read the prompt, load,
// generate, and with -v say how long each part took.
int run_generate(const Options& o) {
  using Clock = std::chrono::steady_clock;
  const Settings settings = check_settings(o);
  if (settings.beams) return run_beams(o, settings);
  const auto t0 = Clock::now();
  // Text: the model first, so that the prompt is read only as far as its context can hold.
  std::shared_ptr<const Model> model;
  if (o.text_mode) model = open_model(o.model_spec, &std::cerr);
  const PromptInput prompt = read_prompt(o, model ? model->config().max_seq_len : 0);
  Loaded loaded = load(o, settings, prompt.tokens, model);
  const auto t1 = Clock::now();
  if (o.verbose) print_setup(loaded, settings, prompt.tokens.size());
  if (o.text_mode && !o.n_given && long(prompt.tokens.size()) + o.max_new > loaded.n) {
    // Said before the run, so that a continuation cut by the context never looks complete.
    std::fprintf(stderr,
                 "gpt2: the model's context (%d tokens) leaves room for %ld new tokens after the "
                 "%zu of the prompt, not --max-new %ld.\n",
                 loaded.n, long(loaded.n) - long(prompt.tokens.size()), prompt.tokens.size(),
                 long(o.max_new));
  }
  const int generated = o.text_mode ? complete_text(loaded, settings, o, prompt)
                                    : complete_token_ids(loaded, settings, prompt.tokens);
  if (o.verbose) {
    const auto t2 = Clock::now();
    const double load_s = std::chrono::duration<double>(t1 - t0).count();
    const double run_s = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "load %.3f s, generation %.3f s (%d tokens, %.2f tokens/s)\n", load_s,
                 run_s, generated, generated / run_s);
  }
  return 0;
}

}  // namespace
}  // namespace gpt2

int main(int argc, char** argv) {
  using namespace gpt2;
  // Under mpirun (cuda-tp across processes) ranks past 0 serve rank 0's backends.
  if (const std::optional<int> worker = enter_launcher(argc, argv)) return *worker;
  Options options;
  if (const std::optional<int> status = parse_command_line(argc, argv, options)) return *status;
  try {
    switch (options.command) {
      case Options::Command::kEncode:
        return run_encode(options);
      case Options::Command::kDecode:
        return run_decode(options);
      case Options::Command::kGenerate:
        if (options.beams == 0 && (!options.prompts_file.empty() || !options.prompt_file.empty())) {
          return run_batch(options);
        }
        return run_generate(options);
    }
  } catch (const std::exception& e) {  // UsageError included: its message as it is
    std::cerr << e.what() << "\n";
  }
  return 1;
}
