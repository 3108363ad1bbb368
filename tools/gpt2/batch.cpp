// gpt2 --prompts FILE or --prompt-file FILE: every line of the file
// completed, in one batch (at most --batch sequences in flight), each line's
// output what gpt2 prints for it alone, in the file's order.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "backends/registry.h"
#include "runtime/model_source.h"
#include "runtime/scheduler.h"
#include "runtime/stop_strings.h"
#include "runtime/token_list.h"
#include "tools/gpt2/commands.h"
#include "tools/gpt2/common.h"

namespace gpt2::tool {
namespace {

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
    if (text && !o.n_given() && long(l.prompt.size()) + o.max_new > l.n) cut.push_back(i + 1);
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

}  // namespace

void check_batch_options(const Options& o) {
  if (!o.prompts_file.empty() && (o.text_mode() || !o.token_texts.empty())) {
    throw UsageError("--prompts takes the place of the token ids, --prompt and --prompt-file.");
  }
  if (!o.prompt_file.empty() && !o.prompt_text.empty()) {
    throw UsageError("Give either --prompt or --prompt-file, not both.");
  }
  const bool batched = !o.prompts_file.empty() || !o.prompt_file.empty();
  if (o.batch_given() && !batched)
    throw UsageError("--batch goes with --prompts or --prompt-file.");
  if (o.batch < 1 || o.batch > kMaxBatch) {
    throw UsageError("--batch " + std::to_string(o.batch) + " is outside [1, " +
                     std::to_string(kMaxBatch) + "].");
  }
}

Command register_batch(CLI::App& app, Options& o) {
  app.add_option("--prompts", o.prompts_file,
                 "Complete several prompts in one batch: a file of one prompt a line, its token "
                 "ids as the positional arguments take them; prints '<line>: <new ids>' per "
                 "prompt, in the file's order");
  o.prompt_file_opt = app.add_option(
      "--prompt-file", o.prompt_file,
      "Complete several texts in one batch: a file of one text a line; prints '<line>: "
      "<continuation>' per text, in order, with \\, newline and carriage return written as "
      "\\\\, \\n and \\r");
  o.batch_opt =
      app.add_option("--batch", o.batch,
                     "With --prompts or --prompt-file: sequences in flight at once (1 to " +
                         std::to_string(kMaxBatch) + ")")
          ->capture_default_str();
  return {[&o] { return !o.prompts_file.empty() || !o.prompt_file.empty(); },
          [&o] { return run_batch(o); }};
}

}  // namespace gpt2::tool
