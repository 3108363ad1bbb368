// What gpt2's modes share (common.h).
#include "tools/gpt2/common.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "backends/registry.h"
#include "runtime/token_list.h"

namespace gpt2::tool {
namespace {

bool given(const CLI::Option* o) {
  return o != nullptr && o->count() > 0;
}

bool any_given(const std::vector<const CLI::Option*>& options) {
  return std::any_of(options.begin(), options.end(), given);
}

// The backends that offer precision p, for --help.
std::string backends_offering(Precision p) {
  std::string out;
  for (const BackendEntry& e : backend_entries()) {
    if (offers_precision(e, p)) out += (out.empty() ? "" : ", ") + std::string(e.name);
  }
  return out.empty() ? std::string("none built") : out;
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
    if (o.sampling_flags() && r->kind != Rule::kSample) {
      throw UsageError("--temperature, --top-k, --top-p and --seed go with --rule sample.");
    }
    rule = *r;
  }
  if (o.rule_text == "sample" || (o.rule_text.empty() && o.sampling_flags())) {
    rule = Rule::sample(o.temperature, o.top_k, o.top_p, o.seed);
  }
  if (std::string problem = rule_problem(rule); !problem.empty()) {
    throw UsageError("Bad sampling settings: " + problem + ".");
  }
  return rule;
}

}  // namespace

bool Options::text_mode() const {
  return given(prompt_opt) || given(prompt_file_opt);
}
bool Options::batch_given() const {
  return given(batch_opt);
}
bool Options::n_given() const {
  return given(n_opt);
}
bool Options::sampling_flags() const {
  return any_given(sampling_opts);
}
bool Options::beam_search() const {
  return given(beams_opt);
}
bool Options::beam_flags() const {
  return any_given(beam_opts);
}

void add_shared_options(CLI::App& app, Options& o) {
  app.add_option("--model", o.model_spec,
                 "Checkpoint (llm.c .bin, Hugging Face .safetensors or a folder with "
                 "model.safetensors), synthetic:<preset>[:seed=N], or default: "
                 "datasets/models/gpt2_124M.bin if present, else synthetic:124M")
      ->capture_default_str();
  o.n_opt = app.add_option(
      "-n", o.n,
      "Complete until the sequence holds n tokens, 2 <= n <= max_seq_len (default 10; "
      "with --prompt: the prompt's tokens + --max-new)");
  app.add_option("--max-new", o.max_new, "With --prompt and no -n: new tokens at most")
      ->capture_default_str();
  app.add_option("--rule", o.rule_text,
                 "median (default): the lab's rule, the first token whose cumulative probability "
                 "exceeds 0.5; greedy: argmax; sample (or sample-t0.8-k40-p0.95-seed7)");
  o.sampling_opts = {app.add_option("--temperature", o.temperature, "Sampling temperature (> 0)"),
                     app.add_option("--top-k", o.top_k, "Sample among the k most likely tokens"),
                     app.add_option("--top-p", o.top_p, "Sample within probability mass p"),
                     app.add_option("--seed", o.seed, "Seed of the sampler's generator")};
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
  if (o.text_mode() && !o.token_texts.empty()) {
    throw UsageError("Give either token ids or --prompt, not both.");
  }
  check_batch_options(o);
  if (!o.text_mode() && (!o.stops.empty() || (o.ignore_eos && !s.beams) || o.echo)) {
    throw UsageError("--stop, --ignore-eos and --echo go with --prompt.");
  }
  if (o.max_new < 1) throw UsageError("--max-new must be at least 1.");
  return s;
}

PromptInput read_prompt(const Options& o, int context) {
  PromptInput p;
  if (o.text_mode()) {
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

int sequence_length(const Options& o, const ModelConfig& cfg, const std::vector<int>& prompt) {
  int n = o.n;
  if (!o.n_given()) {
    n = o.text_mode() ? std::min<long>(long(prompt.size()) + o.max_new, cfg.max_seq_len) : 10;
  }
  if (o.text_mode() && !o.n_given() && long(prompt.size()) >= cfg.max_seq_len) {
    throw UsageError("The prompt is " + std::to_string(prompt.size()) +
                     " tokens long, and the model's context holds " +
                     std::to_string(cfg.max_seq_len) + ": no room for a new token.");
  }
  if (n < 2 || n > cfg.max_seq_len) {
    throw UsageError("n = " + std::to_string(n) + " is outside [2, " +
                     std::to_string(cfg.max_seq_len) + "].");
  }
  if (int(prompt.size()) >= n) {
    throw UsageError(o.text_mode()
                         ? "Too many tokens: the prompt has " + std::to_string(prompt.size()) +
                               " tokens, n is " + std::to_string(n) + "."
                         : std::string("Too many tokens."));
  }
  for (int t : prompt) {
    if (t < 0 || t >= cfg.vocab_size) {
      throw UsageError("Token " + std::to_string(t) + " is out of range [0, " +
                       std::to_string(cfg.vocab_size) + ")" +
                       (o.text_mode() ? " of this model's vocabulary." : "."));
    }
  }
  return n;
}

SpecialTokens special_tokens(const Options& o) {
  return o.allow_special ? SpecialTokens::kAllowed : SpecialTokens::kAsText;
}

std::string read_all(std::FILE* f, std::size_t limit) {
  std::string out;
  char buf[1 << 16];
  for (std::size_t got; out.size() <= limit && (got = std::fread(buf, 1, sizeof buf, f)) > 0;) {
    out.append(buf, got);
  }
  if (out.size() > limit) out.resize(limit + 1);
  return out;
}

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

void write_out(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

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

}  // namespace gpt2::tool
