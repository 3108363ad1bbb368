// gpt2: complete a GPT-2 prompt given as token ids, a drop-in for the OS lab's
// `gpt`. Prints each new token id on its own line as soon as it is chosen;
// everything else goes to stderr.
#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "harness/decide.h"
#include "harness/generate.h"
#include "harness/model_source.h"

namespace {

// A command-line mistake: the message is printed as it is, then exit 1.
struct UsageError {
  std::string message;
};

int parse_token(const std::string& text) {
  int value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    throw UsageError{"Token " + text + " is out of range."};
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    throw UsageError{"Token '" + text + "' is not an integer."};
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gpt2;
  CLI::App app{
      "Complete a GPT-2 prompt given as token ids: prints each new token id on its own line "
      "until the sequence holds n tokens (the OS lab's `gpt`). Diagnostics go to stderr.\n\n"
      "Example: gpt2 31373 612 338 635 281   (5 new tokens, to 10 in total)",
      "gpt2"};
  std::vector<std::string> token_texts;
  std::string model_spec = "default";
  int n = 10;
  std::string rule_text = "median";
  std::string backend_name = "reference";
  int threads = 1;
  std::string mode_text = "recompute";
  std::string precision_text = "float32";
  bool verbose = false;

  app.add_option("tokens", token_texts, "Prompt token ids, each in [0, vocab size)");
  app.add_option("--model", model_spec,
                 "Checkpoint: an llm.c file, a Hugging Face model.safetensors (or its folder, "
                 "with config.json), synthetic:<preset>[:seed=N], or default: "
                 "datasets/models/gpt2_124M.bin if present, else synthetic:124M")
      ->capture_default_str();
  app.add_option("-n", n, "Complete until the sequence holds n tokens, 2 <= n <= max_seq_len")
      ->capture_default_str();
  app.add_option("--rule", rule_text,
                 "median: the lab's rule, first token whose cumulative probability exceeds 0.5; "
                 "greedy: argmax")
      ->capture_default_str();
  app.add_option("--backend", backend_name, "Backend: " + backend_names_joined())
      ->capture_default_str();
  app.add_option("--threads", threads, "Threads for the backend (the reference is serial)")
      ->capture_default_str();
  app.add_option("--mode", mode_text,
                 "recompute: the whole sequence at every step (the lab's); kv-cache: the "
                 "prompt once, then one token per step")
      ->capture_default_str();
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
  // Negative numbers are tokens (to be rejected as out of range), not options.
  app.allow_extras(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (token_texts.empty()) throw UsageError{"Provide at least one token."};
    std::vector<int> prompt;
    for (const std::string& t : token_texts) prompt.push_back(parse_token(t));
    const std::optional<Rule> rule = parse_rule(rule_text);
    if (!rule) throw UsageError{"Unknown rule '" + rule_text + "' (known: median, greedy)."};
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

    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const Model> model = open_model(model_spec, &std::cerr);
    const ModelConfig& cfg = model->config();
    if (n < 2 || n > cfg.max_seq_len) {
      throw UsageError{"n = " + std::to_string(n) + " is outside [2, " +
                       std::to_string(cfg.max_seq_len) + "]."};
    }
    if (int(prompt.size()) >= n) throw UsageError{"Too many tokens."};
    for (int t : prompt) {
      if (t < 0 || t >= cfg.vocab_size) {
        throw UsageError{"Token " + std::to_string(t) + " is out of range [0, " +
                         std::to_string(cfg.vocab_size) + ")."};
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
                << ", " << info.threads << " thread" << (info.threads == 1 ? "" : "s") << ", "
                << info.details << "), mode " << mode_name(*mode) << ", rule " << rule_name(*rule)
                << "\n";
    }
    generate(*backend, *session, prompt, n, *mode, *rule, [](const StepView& step) {
      std::printf("%d\n", step.decision.token);
      std::fflush(stdout);
    });
    if (verbose) {
      const auto t2 = std::chrono::steady_clock::now();
      const double load = std::chrono::duration<double>(t1 - t0).count();
      const double run = std::chrono::duration<double>(t2 - t1).count();
      std::fprintf(stderr, "load %.3f s, generation %.3f s (%.2f tokens/s)\n", load, run,
                   (n - int(prompt.size())) / run);
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << e.message << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
