// gpt2-bench (the default command): the speedup sweep.
//   gpt2-bench --backend openmp --threads 1..4
// Each backend at each thread count, mode, precision and batch on one
// workload, with the serial reference, the harness's overhead and the
// machine's ceilings beside them; the table on stdout, the report files in
// --out.
#include <iostream>
#include <memory>
#include <stdexcept>

#include "harness/bench.h"
#include "harness/report.h"
#include "harness/sweep_report.h"
#include "reference/random.h"
#include "runtime/beam_search.h"
#include "runtime/model_source.h"
#include "runtime/token_list.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/progress.h"

namespace gpt2::bench {
namespace {

struct SweepCli {
  CommonOptions common;
  std::string rule = "median";
  std::string prompt_ids = "lab-hello";
  std::string tokens_text;
  int n = 0, new_tokens = 0, reps = 5, warmup = 1, reference_reps = 0, prompt_len = 0;
  int beams = 0;  // beam search with this many beams in place of the rule (0: off)
  float length_penalty = 1.0f;
  std::string early_stopping = "false";
  bool ignore_eos = false;
  CLI::Option *beams_opt = nullptr, *rule_opt = nullptr;
  bool no_reference = false, no_overhead = false, interleave = false, no_ceilings = false;
  CLI::Option *prompt_opt = nullptr, *tokens_opt = nullptr, *n_opt = nullptr, *new_opt = nullptr,
              *reference_reps_opt = nullptr, *prompt_len_opt = nullptr;
};

void add_sweep_options(CLI::App& app, SweepCli& s) {
  add_common_options(app, s.common, "openmp");
  s.rule_opt =
      app.add_option("--rule", s.rule, "median, greedy, or sample[-t<T>][-k<K>][-p<P>][-seed<S>]")
          ->capture_default_str();
  s.prompt_opt =
      app.add_option("--prompt", s.prompt_ids,
                     "Prompt ids from the prompt set (comma-separated), or short, long, all")
          ->capture_default_str();
  s.tokens_opt = app.add_option("--tokens", s.tokens_text,
                                "A prompt of your own: token ids, e.g. \"464 2068\" (with -n)");
  s.n_opt = app.add_option(
      "-n", s.n, "With --tokens: complete until the sequence holds n tokens (default: 5 new)");
  s.new_opt =
      app.add_option("--new", s.new_tokens, "New tokens per prompt (overrides the prompt set's n)");
  s.prompt_len_opt = app.add_option(
      "--prompt-len", s.prompt_len,
      "A synthetic prompt of this many tokens (with --new; each batch runs copies of it, as "
      "llama-batched-bench's -npp)");
  app.add_option("--reps", s.reps, "Timed runs per configuration")->capture_default_str();
  app.add_option("--warmup", s.warmup, "Untimed runs before them")->capture_default_str();
  s.reference_reps_opt = app.add_option("--reference-reps", s.reference_reps,
                                        "Timed runs of the serial reference (default: --reps)");
  app.add_flag("--no-reference", s.no_reference, "Do not time the serial reference baseline");
  app.add_flag("--no-overhead", s.no_overhead,
               "Do not measure the harness overhead (null backend)");
  app.add_flag("--no-ceilings", s.no_ceilings,
               "Do not measure the machine's ceilings (read bandwidth, float32 and bfloat16 "
               "peaks at each thread count; a GPU backend's GPU: copy bandwidth, cuBLAS float32 "
               "and bfloat16 peaks; a second or two each) nor the % of ceiling column");
  s.beams_opt = app.add_option(
      "--beams", s.beams,
      "Beam search with K beams in place of --rule (gpt2 --beams): each prompt's beams one "
      "batch, a row's --batch B that many prompts' beams at once; tokens/s counts every beam's "
      "token at every step");
  app.add_option("--length-penalty", s.length_penalty, "With --beams: the length penalty")
      ->capture_default_str();
  app.add_option("--early-stopping", s.early_stopping, "With --beams: true, false or never")
      ->capture_default_str();
  app.add_flag("--ignore-eos", s.ignore_eos,
               "With --beams: only the length limit finishes a beam (every run makes the same "
               "steps)");
  app.add_flag("--interleave", s.interleave,
               "Take each backend's thread counts in turns, one timed run each (1..k, k..1, ...), "
               "so that a machine's drift reaches all alike (keeps one copy of the weights per "
               "thread count)");
}

void check_sweep_options(const SweepCli& s) {
  if (s.reps < 1) throw std::invalid_argument("--reps must be at least 1.");
  if (s.warmup < 0) throw std::invalid_argument("--warmup must be at least 0.");
  if (s.reference_reps_opt->count() > 0 && s.reference_reps < 1) {
    throw std::invalid_argument("--reference-reps must be at least 1.");
  }
  if (s.new_opt->count() > 0 && s.new_tokens < 1) {
    throw std::invalid_argument("--new must be at least 1 (new tokens per prompt).");
  }
  if (s.tokens_opt->count() > 0 && s.prompt_opt->count() > 0) {
    throw std::invalid_argument("Give either --tokens or --prompt, not both.");
  }
  if (s.prompt_len_opt->count() > 0) {
    if (s.tokens_opt->count() > 0 || s.prompt_opt->count() > 0) {
      throw std::invalid_argument("Give one of --prompt-len, --tokens and --prompt.");
    }
    if (s.prompt_len < 1) throw std::invalid_argument("--prompt-len must be at least 1.");
    if (s.new_opt->count() == 0) throw std::invalid_argument("--prompt-len goes with --new.");
  }
  if (s.n_opt->count() > 0 && s.tokens_opt->count() == 0) {
    throw std::invalid_argument("-n goes with --tokens (for the prompt set, use --new).");
  }
  if (s.n_opt->count() > 0 && s.new_opt->count() > 0) {
    throw std::invalid_argument("Give either -n or --new, not both.");
  }
}

// The --tokens prompt: ids separated by spaces or commas, completed to -n
// (default: 5 new tokens). Ids outside the vocabulary are found once the model
// is known (check_model_fits).
Prompt custom_prompt(const std::string& text, int n) {
  Prompt p;
  p.id = "custom";
  p.tokens = parse_token_ids(text);
  if (p.tokens.empty()) throw std::invalid_argument("--tokens holds no token.");
  for (int t : p.tokens) {
    if (t < 0) throw std::invalid_argument("Token " + std::to_string(t) + " is negative.");
  }
  p.n = n > 0 ? n : int(p.tokens.size()) + 5;
  if (int(p.tokens.size()) >= p.n) throw std::invalid_argument("Too many tokens for -n.");
  return p;
}

// --prompt-len P: P tokens drawn from SplitMix64(P), below GPT-2's vocabulary
// (checked against the model's once it is known).
Prompt synthetic_prompt(int length) {
  Prompt p;
  p.id = "synthetic-" + std::to_string(length);
  SplitMix64 rng{std::uint64_t(length)};
  for (int i = 0; i < length; i++) p.tokens.push_back(int(rng.next() % 50257));
  p.n = length + 1;
  return p;
}

// The workload the options describe (prompts not yet checked against a model).
Workload sweep_workload(const SweepCli& s) {
  Workload w;
  const std::vector<Rule> rule = parse_rule_list(s.rule);
  if (rule.size() != 1) throw std::invalid_argument("A sweep takes one --rule.");
  w.rule = rule[0];
  w.reps = s.reps;
  w.warmup = s.warmup;
  w.reference_reps = s.reference_reps_opt->count() > 0 ? s.reference_reps : s.reps;
  w.interleave = s.interleave;
  if (s.beams_opt->count() > 0) {
    if (s.rule_opt->count() > 0) {
      throw std::invalid_argument("--beams chooses the tokens itself: leave out --rule.");
    }
    BeamOptions b;
    b.beams = s.beams;
    b.length_penalty = s.length_penalty;
    const std::optional<EarlyStopping> es = parse_early_stopping(s.early_stopping);
    if (!es) {
      throw std::invalid_argument("Unknown --early-stopping '" + s.early_stopping +
                                  "' (known: true, false, never).");
    }
    b.early_stopping = *es;
    if (s.ignore_eos) b.eos = -1;
    if (std::string problem = beam_options_problem(b, 50257); !problem.empty()) {
      throw std::invalid_argument(problem + ".");
    }
    w.beams = b;
  } else if (s.ignore_eos || s.early_stopping != "false" || s.length_penalty != 1.0f) {
    throw std::invalid_argument(
        "--length-penalty, --early-stopping and --ignore-eos go with "
        "--beams.");
  }
  if (s.tokens_opt->count() > 0) {
    w.prompts = {custom_prompt(s.tokens_text, s.n)};
  } else if (s.prompt_len_opt->count() > 0) {
    w.prompts = {synthetic_prompt(s.prompt_len)};
  } else {
    w.prompts = select_prompts(read_prompts(s.common.prompts), s.prompt_ids);
  }
  if (s.new_opt->count() > 0) {
    for (Prompt& p : w.prompts) p.n = int(p.tokens.size()) + s.new_tokens;
  }
  return w;
}

int run_sweep_command(const SweepCli& s, const std::string& command) {
  check_sweep_options(s);
  const CommonPlan plan = check_common(s.common);
  Workload w = sweep_workload(s);
  warn_oversubscription(plan.backends.threads);

  Progress progress(!s.common.quiet);
  auto on_progress = [&](const std::string& line) { progress.update(line); };
  std::shared_ptr<const Model> model = open_model(s.common.model, &std::cerr);
  check_model_fits(*model, w.prompts);
  std::vector<GoldenFile> goldens;
  for (Precision p : golden_precisions_for(plan.backends.precisions)) {
    if (auto g = load_goldens(*model, w.rule, p)) goldens.push_back(std::move(*g));
  }
  ReportContext ctx = report_context(command, *model);

  SweepOptions so;
  so.specs = plan.backends.specs;
  so.threads = plan.backends.threads;
  so.modes = plan.modes;
  so.measure_reference = !s.no_reference;
  so.measure_overhead = !s.no_overhead;
  so.with_ceilings = !s.no_ceilings;
  so.goldens = std::move(goldens);
  const SweepResult result = run_sweep(model, w, so, on_progress);
  progress.done();
  std::vector<BackendInfo> infos;
  for (const Measurement& m : result.measurements) infos.push_back(m.info);
  add_gpus(ctx, infos);

  std::cout << sweep_table(w, result);
  const ReportFiles files = write_sweep_report(
      s.common.out, report_stem(s.common.out, "sweep", plan.backends.backends()), ctx, w, result);
  std::cerr << "report: " << files.md.string() << " (also .json, .csv, .svg)\n";
  if (result.failures > 0) {
    std::cout << result.failures
              << " configuration(s) did not reproduce the expected tokens or logits\n";
    return 1;
  }
  return 0;
}

}  // namespace

Command register_sweep(CLI::App& app) {
  auto s = std::make_shared<SweepCli>();
  add_sweep_options(app, *s);
  return {&app, [s](const std::string& command) { return run_sweep_command(*s, command); }};
}

}  // namespace gpt2::bench
