// gpt2 --beams K: beam search (runtime/beam_search.h) of one prompt (token
// ids or --prompt) or of every line of --prompts at once; the returned
// sequences, best first, once the search is done.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>

#include "backends/registry.h"
#include "runtime/model_source.h"
#include "runtime/token_list.h"
#include "tools/gpt2/commands.h"
#include "tools/gpt2/common.h"

namespace gpt2::tool {
namespace {

// gpt2 --beams K: one prompt's beam search (runtime/beam_search.h); the
// returned sequences, best first, once the search is done.
int run_beams(const Options& o, const Settings& s) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::shared_ptr<const Model> model;
  if (o.text_mode() || !o.prompts_file.empty()) model = open_model(o.model_spec, &std::cerr);
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
        if (o.text_mode()) e["text"] = text_of(h);
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
        if (o.text_mode()) {
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

}  // namespace

std::optional<BeamOptions> check_beam_options(const Options& o) {
  if (!o.beam_search()) {
    if (o.beam_flags()) {
      throw UsageError(
          "--length-penalty, --early-stopping, --num-return, --eos and --json go "
          "with --beams.");
    }
    return std::nullopt;
  }
  if (!o.rule_text.empty() || o.sampling_flags()) {
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

Command register_beams(CLI::App& app, Options& o) {
  o.beams_opt = app.add_option(
      "--beams", o.beams,
      "Beam search with K beams (as Hugging Face transformers' generate(num_beams=K)): prints "
      "the returned sequences, best first, each as '<rank> <score>: <new tokens or text>'");
  o.beam_opts = {
      app.add_option(
          "--length-penalty", o.length_penalty,
          "With --beams: a finished sequence scores sum_logprobs / length^A (default 1)"),
      app.add_option(
          "--early-stopping", o.early_stopping,
          "With --beams: true (stop once K sequences are finished), false (default: once the "
          "best running beam cannot beat them at its current length) or never (... at any "
          "length)"),
      app.add_option("--num-return", o.num_return,
                     "With --beams: sequences returned, 1 to K (default 1)"),
      app.add_option("--eos", o.eos,
                     "With --beams: the end-of-text token that finishes a beam (default 50256; "
                     "--ignore-eos: none)"),
      app.add_flag("--json", o.json,
                   "With --beams: print one JSON object (tokens, scores, steps) instead")};
  return {[&o] { return o.beam_search(); }, [&o] { return run_beams(o, check_settings(o)); }};
}

}  // namespace gpt2::tool
