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

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "harness/decide.h"
#include "harness/generate.h"
#include "harness/model_source.h"
#include "harness/token_list.h"
#include "harness/tokenizer/tokenizer.h"

namespace gpt2 {
namespace {

// A command-line mistake: the message is printed as it is, then exit 1.
struct UsageError {
  std::string message;
};

std::string read_all(std::FILE* f) {
  std::string out;
  char buf[1 << 16];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, got);
  return out;
}

void write_out(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

// Text as it is generated, held back only while it could still become a stop
// string (which is never printed).
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Adds text; prints what is safe. Returns false once a stop string appeared.
  bool add(const std::string& text) {
    held_ += text;
    for (const std::string& stop : stops_) {
      const std::size_t at = held_.find(stop);
      if (at != std::string::npos) {
        write_out(std::string_view(held_).substr(0, at));
        held_.clear();
        return false;
      }
    }
    // Keep the longest tail that is the beginning of a stop string.
    std::size_t keep = 0;
    for (const std::string& stop : stops_) {
      for (std::size_t k = std::min(stop.size() - 1, held_.size()); k > keep; k--) {
        if (held_.compare(held_.size() - k, k, stop, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    write_out(std::string_view(held_).substr(0, held_.size() - keep));
    held_.erase(0, held_.size() - keep);
    return true;
  }
  void finish() {
    write_out(held_);
    held_.clear();
  }

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace
}  // namespace gpt2

int main(int argc, char** argv) {
  using namespace gpt2;
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
  std::vector<std::string> token_texts;
  std::string prompt_text;
  std::string model_spec = "default";
  int n = 0;
  int max_new = 50;
  std::string rule_text;
  float temperature = 1.0f, top_p = 1.0f;
  int top_k = 0;
  std::uint64_t seed = 0;
  std::string backend_name = "reference";
  int threads = 1;
  std::string mode_text = "recompute";
  std::vector<std::string> stops;
  std::string precision_text = "float32";
  bool ignore_eos = false, echo = false, allow_special = false, verbose = false;

  app.add_option("tokens", token_texts, "Prompt token ids, each in [0, vocab size)");
  CLI::Option* prompt_opt =
      app.add_option("--prompt", prompt_text, "Prompt text, or - to read it from stdin");
  app.add_option("--model", model_spec,
                 "Checkpoint (llm.c .bin, Hugging Face .safetensors or a folder with "
                 "model.safetensors), synthetic:<preset>[:seed=N], or default: "
                 "datasets/models/gpt2_124M.bin if present, else synthetic:124M")
      ->capture_default_str();
  CLI::Option* n_opt = app.add_option(
      "-n", n,
      "Complete until the sequence holds n tokens, 2 <= n <= max_seq_len (default 10; "
      "with --prompt: the prompt's tokens + --max-new)");
  app.add_option("--max-new", max_new, "With --prompt and no -n: new tokens at most")
      ->capture_default_str();
  app.add_option("--rule", rule_text,
                 "median (default): the lab's rule, the first token whose cumulative probability "
                 "exceeds 0.5; greedy: argmax; sample (or sample-t0.8-k40-p0.95-seed7)");
  CLI::Option* t_opt = app.add_option("--temperature", temperature, "Sampling temperature (> 0)");
  CLI::Option* k_opt = app.add_option("--top-k", top_k, "Sample among the k most likely tokens");
  CLI::Option* p_opt = app.add_option("--top-p", top_p, "Sample within probability mass p");
  CLI::Option* s_opt = app.add_option("--seed", seed, "Seed of the sampler's generator");
  app.add_option("--backend", backend_name, "Backend: " + backend_names_joined())
      ->capture_default_str();
  app.add_option("--threads", threads, "Threads for the backend (the reference is serial)")
      ->capture_default_str();
  app.add_option("--mode", mode_text,
                 "recompute: the whole sequence at every step (the lab's); kv-cache: the "
                 "prompt once, then one token per step")
      ->capture_default_str();
  app.add_option("--stop", stops, "With --prompt: stop when the text contains this (repeatable)");
  app.add_flag("--ignore-eos", ignore_eos, "With --prompt: go on past <|endoftext|>");
  app.add_flag("--echo", echo, "With --prompt: print the prompt before the continuation");
  app.add_flag("--allow-special", allow_special,
               "Read the text <|endoftext|> as the special token 50256 (--prompt, encode)");
  std::string bf16_backends;
  for (const BackendEntry& e : backend_entries()) {
    if (offers_precision(e, Precision::kBFloat16)) {
      bf16_backends += (bf16_backends.empty() ? "" : ", ") + std::string(e.name);
    }
  }
  app.add_option("--precision", precision_text,
                 "float32, or bfloat16 (bf16: matrix products in bfloat16, not float32; "
                 "backends that offer it: " +
                     (bf16_backends.empty() ? std::string("none built") : bf16_backends) + ")")
      ->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "Print the model, backend and timing to stderr");

  CLI::App* encode = app.add_subcommand("encode", "Print the token ids of stdin's text");
  encode->add_flag("--allow-special", allow_special,
                   "Read the text <|endoftext|> as the special token 50256");
  std::vector<std::string> decode_ids;
  CLI::App* decode = app.add_subcommand("decode", "Write the exact bytes of token ids");
  decode->add_option("ids", decode_ids, "Token ids")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    const SpecialTokens special = allow_special ? SpecialTokens::kAllowed : SpecialTokens::kAsText;
    if (encode->parsed()) {
      const Tokenizer tok = Tokenizer::load_default();
      const std::vector<int> ids = tok.encode(read_all(stdin), special);
      std::string line;
      for (std::size_t i = 0; i < ids.size(); i++) line += (i ? " " : "") + std::to_string(ids[i]);
      write_out(line + "\n");
      return 0;
    }
    if (decode->parsed()) {
      std::vector<int> ids;
      for (const std::string& t : decode_ids) {
        const int id = parse_token_id(t);
        if (id < 0 || id >= kTokenizerVocabSize) {
          throw UsageError{"Token " + t + " is out of range [0, " +
                           std::to_string(kTokenizerVocabSize) + ")."};
        }
        ids.push_back(id);
      }
      write_out(Tokenizer::load_default().decode(ids));
      return 0;
    }

    // Generation: the decision rule.
    const bool sampling_flags =
        t_opt->count() || k_opt->count() || p_opt->count() || s_opt->count();
    Rule rule = Rule::kMedian;
    if (!rule_text.empty() && rule_text != "sample") {
      const std::optional<Rule> r = parse_rule(rule_text);
      if (!r) {
        throw UsageError{"Unknown rule '" + rule_text +
                         "' (known: median, greedy, sample[-t<T>][-k<K>][-p<P>][-seed<S>])."};
      }
      if (sampling_flags && r->kind != Rule::kSample) {
        throw UsageError{"--temperature, --top-k, --top-p and --seed go with --rule sample."};
      }
      rule = *r;
    }
    if (rule_text == "sample" || (rule_text.empty() && sampling_flags)) {
      rule = Rule::sample(temperature, top_k, top_p, seed);
    }
    if (std::string problem = rule_problem(rule); !problem.empty()) {
      throw UsageError{"Bad sampling settings: " + problem + "."};
    }
    const std::optional<Mode> mode = parse_mode(mode_text);
    if (!mode) throw UsageError{"Unknown mode '" + mode_text + "' (known: recompute, kv-cache)."};
    const BackendEntry& entry = find_backend(backend_name);  // fails before the model loads
    if (threads < 1) throw UsageError{"--threads must be at least 1."};
    const std::optional<Precision> precision = parse_precision(precision_text);
    if (!precision) {
      throw UsageError{"Unknown precision '" + precision_text +
                       "' (known: float32, bfloat16, bf16)."};
    }
    if (!offers_precision(entry, *precision)) {
      throw UsageError{"Backend " + backend_name + " runs float32 only, not " +
                       precision_name(*precision) + "."};
    }
    const bool text_mode = prompt_opt->count() > 0;
    if (text_mode && !token_texts.empty()) {
      throw UsageError{"Give either token ids or --prompt, not both."};
    }
    if (!text_mode && (!stops.empty() || ignore_eos || echo)) {
      throw UsageError{"--stop, --ignore-eos and --echo go with --prompt."};
    }
    if (max_new < 1) throw UsageError{"--max-new must be at least 1."};

    std::vector<int> prompt;
    std::optional<Tokenizer> tokenizer;
    std::string prompt_bytes;
    if (text_mode) {
      tokenizer = Tokenizer::load_default();
      prompt_bytes = prompt_text == "-" ? read_all(stdin) : prompt_text;
      prompt = tokenizer->encode(prompt_bytes, special);
      // GPT-2 starts unconditional text after <|endoftext|>.
      if (prompt.empty()) prompt = {kEndOfTextToken};
    } else {
      if (token_texts.empty()) throw UsageError{"Provide at least one token."};
      for (const std::string& t : token_texts) prompt.push_back(parse_token_id(t));
    }

    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const Model> model = open_model(model_spec, &std::cerr);
    const ModelConfig& cfg = model->config();
    if (n_opt->count() == 0) {
      n = text_mode ? std::min<long>(long(prompt.size()) + max_new, cfg.max_seq_len) : 10;
    }
    if (n < 2 || n > cfg.max_seq_len) {
      throw UsageError{"n = " + std::to_string(n) + " is outside [2, " +
                       std::to_string(cfg.max_seq_len) + "]."};
    }
    if (int(prompt.size()) >= n) {
      throw UsageError{text_mode
                           ? "Too many tokens: the prompt has " + std::to_string(prompt.size()) +
                                 " tokens, n is " + std::to_string(n) + "."
                           : std::string("Too many tokens.")};
    }
    for (int t : prompt) {
      if (t < 0 || t >= cfg.vocab_size) {
        throw UsageError{"Token " + std::to_string(t) + " is out of range [0, " +
                         std::to_string(cfg.vocab_size) + ")" +
                         (text_mode ? " of this model's vocabulary." : ".")};
      }
    }
    BackendConfig bc;
    bc.threads = threads;
    bc.precision = *precision;
    std::unique_ptr<Backend> backend = make_backend(backend_name, model, bc);
    std::unique_ptr<Session> session = backend->open_session(n - 1);
    const auto t1 = std::chrono::steady_clock::now();
    if (verbose) {
      const BackendInfo& info = backend->info();
      std::cerr << "model " << model->name() << " (" << num_real_parameters(cfg)
                << " parameters, checksum " << model->checksum() << ")\n"
                << "backend " << info.name << " (" << numerics_name(info.numerics) << ", "
                << (info.precision == Precision::kFloat32 ? "float32" : "bfloat16, not float32")
                << ", " << threads_text(info.threads) << ", " << info.details << "), mode "
                << mode_name(*mode) << ", rule " << rule_name(rule) << ", " << prompt.size()
                << " prompt tokens, n = " << n << "\n";
    }

    int generated = 0;
    if (text_mode) {
      if (echo) write_out(prompt_bytes);
      DecodeStream stream(*tokenizer);
      StopFilter filter(stops);
      bool stopped = false;
      generate(*backend, *session, prompt, n, *mode, rule, [&](const StepView& step) {
        generated++;
        const int token = step.decision.token;
        if (token == kEndOfTextToken && !ignore_eos) return Next::kStop;
        if (!filter.add(stream.push(token))) {
          stopped = true;
          return Next::kStop;
        }
        return Next::kContinue;
      });
      if (!stopped && filter.add(stream.flush())) filter.finish();
      if (::isatty(1)) write_out("\n");
    } else {
      generate(*backend, *session, prompt, n, *mode, rule, [&](const StepView& step) {
        generated++;
        std::printf("%d\n", step.decision.token);
        std::fflush(stdout);
        return Next::kContinue;
      });
    }
    if (verbose) {
      const auto t2 = std::chrono::steady_clock::now();
      const double load = std::chrono::duration<double>(t1 - t0).count();
      const double run = std::chrono::duration<double>(t2 - t1).count();
      std::fprintf(stderr, "load %.3f s, generation %.3f s (%d tokens, %.2f tokens/s)\n", load, run,
                   generated, generated / run);
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << e.message << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
