// gpt2 [options] TOKEN... or --prompt TEXT: one completion.
//   gpt2 31373 612 338 635 281        the OS lab's `gpt`: each new token id on its own
//                                     line until the sequence holds n tokens
//   gpt2 --prompt "Ladies and" -n 40  text in, the continuation out as it comes
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "backends/registry.h"
#include "runtime/model_source.h"
#include "runtime/stop_strings.h"
#include "tools/gpt2/commands.h"
#include "tools/gpt2/common.h"

namespace gpt2::tool {
namespace {

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

// gpt2 [options] TOKEN... or --prompt TEXT: check, read the prompt, load,
// generate, and with -v say how long each part took.
int run_complete(const Options& o) {
  using Clock = std::chrono::steady_clock;
  const Settings settings = check_settings(o);
  const auto t0 = Clock::now();
  // Text: the model first, so that the prompt is read only as far as its context can hold.
  std::shared_ptr<const Model> model;
  if (o.text_mode()) model = open_model(o.model_spec, &std::cerr);
  const PromptInput prompt = read_prompt(o, model ? model->config().max_seq_len : 0);
  Loaded loaded = load(o, settings, prompt.tokens, model);
  const auto t1 = Clock::now();
  if (o.verbose) print_setup(loaded, settings, prompt.tokens.size());
  if (o.text_mode() && !o.n_given() && long(prompt.tokens.size()) + o.max_new > loaded.n) {
    // Said before the run, so that a continuation cut by the context never looks complete.
    std::fprintf(stderr,
                 "gpt2: the model's context (%d tokens) leaves room for %ld new tokens after the "
                 "%zu of the prompt, not --max-new %ld.\n",
                 loaded.n, long(loaded.n) - long(prompt.tokens.size()), prompt.tokens.size(),
                 long(o.max_new));
  }
  const int generated = o.text_mode() ? complete_text(loaded, settings, o, prompt)
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

Command register_complete(CLI::App& app, Options& o) {
  app.add_option("tokens", o.token_texts, "Prompt token ids, each in [0, vocab size)");
  o.prompt_opt =
      app.add_option("--prompt", o.prompt_text, "Prompt text, or - to read it from stdin");
  return {[] { return true; }, [&o] { return run_complete(o); }};
}

}  // namespace gpt2::tool
