// gpt2-bench: speedup sweeps and the equality gate.
//   gpt2-bench --backend openmp --threads 1..4          (the speedup sweep)
//   gpt2-bench verify --backend all --threads 1..4 --mode all
//   gpt2-bench render REPORT.json                       (the table and plot again)
//
// main() reads the command line, checks every option before any work (a bad
// one is one line on stderr, nothing on stdout, exit 1), then runs one of the
// three commands below; each loads the model, runs, prints its table and
// writes its report files.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "backends/registry.h"
#include "harness/agreement_report.h"
#include "harness/beam_goldens.h"
#include "harness/bench.h"
#include "harness/golden_run.h"
#include "harness/load.h"
#include "harness/load_report.h"
#include "harness/machine.h"
#include "harness/sweep_report.h"
#include "harness/verify_report.h"
#include "reference/random.h"
#include "runtime/backend_specs.h"
#include "runtime/cli.h"
#include "runtime/lists.h"
#include "runtime/model_source.h"
#include "runtime/token_list.h"
#include "tools/progress.h"

namespace gpt2 {
namespace {

// ---------------------------------------------------------------------------
// The command line.

// Options that sweeps and verify share.
struct CommonOptions {
  std::string model = "default";
  std::string backends;
  std::string threads;
  std::string modes = "recompute";
  std::string precisions = "float32";
  std::string batches = "1";
  std::string devices = "1";
  bool one_gpu = false;
  std::filesystem::path prompts = datasets_dir() / "prompts.txt";
  std::filesystem::path out = reports_dir() / "runs";
  bool quiet = false;
};

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

struct VerifyCli {
  CommonOptions common;
  std::string rules = "all";
  std::string beams = "none";
  int jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  double max_logit_diff = 1e-3;
  std::string goldens = goldens_policy_name(default_goldens_policy(std::getenv("CI")));
};

struct AgreementCli {
  std::string model = "default";
  std::string backends = "all";
  std::string precisions = "bf16w,int8w,bfloat16";
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  std::string rule = "greedy";
  std::string prompt_ids = "all";
  int jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  std::filesystem::path prompts = datasets_dir() / "prompts.txt";
  std::filesystem::path out = reports_dir() / "runs";
  bool quiet = false;
};

void add_common_options(CLI::App& app, CommonOptions& o, const std::string& backend_default) {
  o.backends = backend_default;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  o.threads = "1.." + std::to_string(hw);
  app.add_option("--backend", o.backends,
                 "Backends, comma-separated, or all (" + backend_names_joined() + ")")
      ->capture_default_str();
  app.add_option("--threads", o.threads,
                 "Thread counts: 4, 1..4, 1,2,4,8, 1..16:2 (default: 1..cores)")
      ->capture_default_str();
  app.add_option("--mode", o.modes, "recompute, kv-cache, or all")->capture_default_str();
  app.add_option("--precision", o.precisions,
                 "float32, bfloat16 (or bf16), bf16w, int8w, several comma-separated, or all: "
                 "each backend runs at each of these it offers (bfloat16: not float32; bf16w, "
                 "int8w: weight-only, with their own goldens; see README)")
      ->capture_default_str();
  app.add_option("--batch", o.batches,
                 "Sequences per step: 1, 8, 1,8,32, 1..64:8 (each row runs the workload's prompts "
                 "in turn, at least that many, at most that many in flight)")
      ->capture_default_str();
  app.add_option("--devices", o.devices,
                 "GPU counts of a multi-GPU backend (cuda-tp): 2, 1..2, 1,2,4; N means GPUs "
                 "0..N-1 (under mpirun -n N: one process each)")
      ->capture_default_str();
  app.add_flag("--one-gpu", o.one_gpu,
               "Run a multi-GPU backend's N ranks all on GPU 0, their partial results summed "
               "there (the sharded math checked on a one-GPU machine; no NCCL)");
  app.add_option("--model", o.model, "Checkpoint, synthetic:<preset>[:seed=N], or default")
      ->capture_default_str();
  app.add_option("--prompts", o.prompts, "Prompt set file")->capture_default_str();
  app.add_option("--out", o.out, "Folder for the report files (JSON, Markdown, CSV, SVG)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", o.quiet, "No progress on stderr");
}

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

std::string beam_names() {
  std::string out;
  for (const BeamOptions& o : golden_beam_settings()) {
    out += (out.empty() ? "" : ", ") + beam_settings_name(o);
  }
  return out;
}

CLI::App* add_verify_command(CLI::App& app, VerifyCli& v) {
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Run every golden prompt on every backend, thread count and mode; fail on any token that "
      "differs from the goldens, any bit-exact backend whose logits differ, or a reordering "
      "backend whose logits drift past --max-logit-diff");
  add_common_options(*verify, v.common, "all");
  verify
      ->add_option("--rule", v.rules,
                   "all (the goldens' rules: median, greedy, three sampling settings), or "
                   "rule names separated by commas")
      ->capture_default_str();
  verify->add_option("--jobs", v.jobs, "Prompts at once for single-threaded configurations")
      ->capture_default_str();
  verify
      ->add_option("--beams", v.beams,
                   "Beam search too: all (the beam goldens' settings: " + beam_names() +
                       "), none, or some of them separated by commas; each configuration's "
                       "beams of the short prompts against the reference's")
      ->capture_default_str();
  verify
      ->add_option("--goldens", v.goldens,
                   "A golden file that is not committed: required fails verify (the default "
                   "when the environment has CI=true), auto computes the reference's in the run "
                   "and says so")
      ->capture_default_str();
  verify
      ->add_option("--max-logit-diff", v.max_logit_diff,
                   "Bound on |logit - reference logit| for reordering backends")
      ->capture_default_str();
  return verify;
}

CLI::App* add_agreement_command(CLI::App& app, AgreementCli& a) {
  CLI::App* agreement = app.add_subcommand(
      "agreement",
      "Measure how far precisions other than float32 move the outputs: along the float32 "
      "goldens, top-1 agreement, KL divergence and logit differences against the float32 "
      "reference, and each row's own continuations against the goldens' tokens");
  agreement
      ->add_option("--backend", a.backends,
                   "Backends, comma-separated, or all (every one that runs here and offers one "
                   "of the precisions)")
      ->capture_default_str();
  agreement
      ->add_option("--precision", a.precisions,
                   "Precisions other than float32, comma-separated: bf16w, int8w, bfloat16; "
                   "each backend at each it offers")
      ->capture_default_str();
  agreement->add_option("--threads", a.threads, "Threads of each backend")->capture_default_str();
  agreement->add_option("--rule", a.rule, "The goldens' rule to follow")->capture_default_str();
  agreement
      ->add_option("--prompt", a.prompt_ids,
                   "Prompt ids from the prompt set (comma-separated), or short, long, all")
      ->capture_default_str();
  agreement->add_option("--jobs", a.jobs, "Prompts at once for single-threaded configurations")
      ->capture_default_str();
  agreement->add_option("--model", a.model, "Checkpoint, synthetic:<preset>[:seed=N], or default")
      ->capture_default_str();
  agreement->add_option("--prompts", a.prompts, "Prompt set file")->capture_default_str();
  agreement->add_option("--out", a.out, "Folder for the report files (JSON, Markdown)")
      ->capture_default_str();
  agreement->add_flag("-q,--quiet", a.quiet, "No progress on stderr");
  return agreement;
}

struct ServeCli {
  std::vector<std::string> urls = {"http://127.0.0.1:8080"};
  std::string api_key;
  std::string scenario = "poisson";
  std::string rates = "1,2,4,8";
  std::string concurrency = "1,4,16";
  int requests = 64;
  double duration_s = 0;
  std::string prompts = "synthetic";
  int input_len = 128, output_len = 64;
  std::uint64_t seed = 0;
  std::string rule = "greedy";
  double slo_ttft_ms = 0, slo_tpot_ms = 0;
  bool search = false;
  double search_max = 1024;
  int search_steps = 6;
  double timeout_s = 300;
  std::string label;
  std::filesystem::path out = reports_dir() / "runs";
};

CLI::App* add_serve_command(CLI::App& app, ServeCli& s) {
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Load scenarios against running servers (gpt2-serve, llama-server, any OpenAI-compatible "
      "completions server that streams): offline (every request at once), poisson (seeded "
      "arrivals at each --rate) or concurrency (a fixed number in flight); TTFT, TPOT, ITL and "
      "E2E percentiles, throughput, goodput under the SLOs, and with --search the highest "
      "rate meeting them");
  serve
      ->add_option("--url", s.urls,
                   "Server URL http://host:port (repeat, or commas: requests "
                   "go to each in turn)")
      ->delimiter(',')
      ->capture_default_str();
  serve->add_option("--api-key", s.api_key, "Sent as Authorization: Bearer <key>");
  serve->add_option("--scenario", s.scenario, "offline, poisson or concurrency")
      ->capture_default_str();
  serve->add_option("--rate", s.rates, "Poisson: requests/s, comma-separated, a run each")
      ->capture_default_str();
  serve->add_option("--concurrency", s.concurrency, "Concurrency: in flight, comma-separated")
      ->capture_default_str();
  serve->add_option("--requests", s.requests, "Requests per run")->capture_default_str();
  serve
      ->add_option("--duration", s.duration_s,
                   "Poisson: seconds per run (rate x duration requests, at least 8; 0: "
                   "--requests)")
      ->capture_default_str();
  serve
      ->add_option("--prompts", s.prompts,
                   "synthetic (--input-len random token ids) or set (datasets/prompts.txt)")
      ->capture_default_str();
  serve->add_option("--input-len", s.input_len, "Synthetic prompts' tokens")->capture_default_str();
  serve
      ->add_option("--output-len", s.output_len,
                   "New tokens per request (max_tokens, with ignore_eos)")
      ->capture_default_str();
  serve->add_option("--seed", s.seed, "Arrivals' and prompts' seed")->capture_default_str();
  serve
      ->add_option("--rule", s.rule,
                   "Each request's rule (greedy, median, sample-...; sample: "
                   "seed + request index)")
      ->capture_default_str();
  serve->add_option("--slo-ttft", s.slo_ttft_ms, "SLO on TTFT, ms (goodput, --search)");
  serve->add_option("--slo-tpot", s.slo_tpot_ms, "SLO on TPOT, ms (goodput, --search)");
  serve->add_flag("--search", s.search,
                  "Find the highest Poisson rate whose p99 TTFT and TPOT meet the SLOs");
  serve->add_option("--search-max", s.search_max, "The search's highest rate (requests/s)")
      ->capture_default_str();
  serve->add_option("--search-steps", s.search_steps, "Bisections after the bracket")
      ->capture_default_str();
  serve->add_option("--timeout", s.timeout_s, "Seconds per request")->capture_default_str();
  serve->add_option("--label", s.label, "What the report calls the servers");
  serve->add_option("--out", s.out, "Folder for the report files")->capture_default_str();
  return serve;
}

struct BackendsCli {
  std::string numerics;            // bit-exact, reordered, or any
  std::string precisions = "all";  // those that run one of these here
  std::string except;              // names left out
  bool list = false;               // one comma list of names, for scripts
  bool kernels_isa = false;        // the bit-exact CPU kernels' instruction set here
};

CLI::App* add_backends_command(CLI::App& app, BackendsCli& b) {
  CLI::App* backends = app.add_subcommand(
      "backends",
      "The backends built into this binary, what they offer and which of them this machine "
      "runs (and why not); with --list, the names of those that run here, for scripts "
      "(the CI's equality gate)");
  backends->add_option("--numerics", b.numerics, "Only these: bit-exact or reordered");
  backends
      ->add_option("--precision", b.precisions,
                   "Only those that run one of these here (a precision list, or all)")
      ->capture_default_str();
  backends->add_option("--except", b.except, "Leave these out (a backend list)");
  backends->add_flag("--list", b.list,
                     "Print only their names, comma-separated, on one line (nothing when none)");
  backends->add_flag("--kernels-isa", b.kernels_isa,
                     "Print only the instruction set the bit-exact CPU kernels use here "
                     "(avx512, avx2 or generic; GPT2_MAX_CPU_ISA caps it)");
  return backends;
}

CLI::App* add_render_command(CLI::App& app, std::vector<std::filesystem::path>& files) {
  CLI::App* render = app.add_subcommand(
      "render", "Write a sweep report's Markdown table, CSV and SVG plot again from its JSON");
  render->add_option("json", files, "Sweep report JSON files")->required();
  return render;
}

// ---------------------------------------------------------------------------
// Checks of the options, before any work.

std::vector<Mode> parse_modes(const std::string& text) {
  return parse_value_list<Mode>(text, "mode", [](std::string_view m) { return parse_mode(m); },
                                "recompute, kv-cache, all", {Mode::kRecompute, Mode::kKvCache});
}

// The backends' specs, with a note on stderr for each configuration this
// machine cannot run that "all" reached.
BackendPlan plan_backends(const std::string& backends, const std::string& precisions,
                          const std::string& threads, const std::string& batches = "1",
                          const std::string& devices = "1", bool one_gpu = false) {
  BackendPlan plan =
      expand_backend_specs({backends, precisions, threads, batches, devices, one_gpu});
  for (const std::string& line : plan.skipped) std::cerr << "note: " << line << "\n";
  return plan;
}

// The report folder exists (or is made) and takes a file: checked before any
// work, so that a sweep never runs for minutes and then fails to save.
void check_output_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw std::invalid_argument("Cannot write reports to " + dir.string() + ": " +
                                (ec ? ec.message() : std::string("not a folder")) +
                                " (choose another --out).");
  }
  const std::filesystem::path probe = dir / ".gpt2-bench-write-test";
  {
    std::ofstream out(probe);
    if (!(out << "ok") || !out.flush()) {
      throw std::invalid_argument("Cannot write reports to " + dir.string() +
                                  ": the folder is not writable (choose another --out).");
    }
  }
  std::filesystem::remove(probe, ec);
}

// Everything a command needs that the command line says, checked.
struct CommonPlan {
  BackendPlan backends;
  std::vector<Mode> modes;
};

CommonPlan check_common(const CommonOptions& o) {
  CommonPlan plan;
  plan.backends =
      plan_backends(o.backends, o.precisions, o.threads, o.batches, o.devices, o.one_gpu);
  plan.modes = parse_modes(o.modes);
  if (!std::filesystem::is_regular_file(o.prompts)) {
    throw std::invalid_argument("Prompt set " + o.prompts.string() + ": no such file.");
  }
  check_output_folder(o.out);
  return plan;
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

void check_verify_options(const VerifyCli& v) {
  if (v.jobs < 1) throw std::invalid_argument("--jobs must be at least 1.");
  if (!(v.max_logit_diff >= 0) || !std::isfinite(v.max_logit_diff)) {
    throw std::invalid_argument("--max-logit-diff must be a finite number, 0 or more.");
  }
}

// ---------------------------------------------------------------------------
// Shared steps.

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; i++) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// The precisions whose goldens rows at `precisions` are checked against: each
// one the reference defines, and float32 for bfloat16 and for the reference's
// float32 baseline.
std::vector<Precision> golden_precisions_for(const std::vector<Precision>& precisions) {
  std::vector<Precision> out = {Precision::kFloat32};
  for (Precision p : precisions) {
    const Precision g = golden_precision_of(p);
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return out;
}

// The goldens of the model for a rule and precision, or nullopt when it has none.
std::optional<GoldenFile> load_goldens(const Model& model, Rule rule, Precision precision) {
  const auto path = golden_path(datasets_dir() / "goldens", model.name(), rule, precision);
  if (!std::filesystem::exists(path)) return std::nullopt;
  GoldenFile g = read_goldens(path);
  if (g.checksum != model.checksum()) {
    throw std::runtime_error(path.string() + ": made for a model with checksum " + g.checksum +
                             ", this one has " + model.checksum());
  }
  return g;
}

// Prompts chosen by ids (comma-separated) or short, long, all.
std::vector<Prompt> select_prompts(const std::vector<Prompt>& all, const std::string& which) {
  std::vector<Prompt> out;
  if (which == "all" || which == "short" || which == "long") {
    for (const Prompt& p : all) {
      if (which == "all" || (which == "short") == is_short_prompt(p)) out.push_back(p);
    }
    return out;
  }
  std::string known = "short, long, all";
  for (const Prompt& p : all) known += ", " + p.id;
  for (const std::string& id : parse_list(which, "prompt")) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Prompt& p) { return p.id == id; });
    if (it == all.end()) throw_unknown_item("prompt", id, known);
    out.push_back(*it);
  }
  return out;
}

void check_model_fits(const Model& model, const std::vector<Prompt>& prompts) {
  const ModelConfig& c = model.config();
  for (const Prompt& p : prompts) {
    if (p.n > c.max_seq_len) {
      throw std::invalid_argument("Prompt " + p.id + " needs n = " + std::to_string(p.n) +
                                  " positions; the model has " + std::to_string(c.max_seq_len) +
                                  ".");
    }
    for (int t : p.tokens) {
      if (t >= c.vocab_size) {
        throw std::invalid_argument("Prompt " + p.id + " has token " + std::to_string(t) +
                                    ", outside the model's vocabulary of " +
                                    std::to_string(c.vocab_size) + ".");
      }
    }
  }
}

void warn_oversubscription(const std::vector<int>& threads) {
  const int hw = int(std::thread::hardware_concurrency());
  if (hw > 0 && threads.back() > hw) {
    std::cerr << "note: " << threads.back() << " threads on " << hw
              << " logical CPUs: the larger counts oversubscribe the machine\n";
  }
}

// ---------------------------------------------------------------------------
// gpt2-bench (the sweep).

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

// ---------------------------------------------------------------------------
// gpt2-bench verify.

// The committed goldens for each rule and precision the rows need, or the
// reference's, computed now (with a note saying so) where the model has none.
std::vector<GoldenFile> goldens_for_rules(const std::shared_ptr<const Model>& model,
                                          const std::vector<Prompt>& prompts,
                                          const std::vector<Rule>& rules,
                                          const std::vector<Precision>& precisions, int jobs,
                                          GoldensPolicy policy, const ProgressFn& progress,
                                          std::vector<std::string>& notes) {
  std::vector<GoldenFile> goldens;
  for (Precision precision : golden_precisions_for(precisions)) {
    for (Rule rule : rules) {
      if (auto g = load_goldens(*model, rule, precision)) {
        goldens.push_back(std::move(*g));
        continue;
      }
      const std::string what = std::string(precision_name(precision)) + " " + rule_name(rule);
      on_missing_goldens(policy,
                         golden_path(datasets_dir() / "goldens", model->name(), rule, precision),
                         model->name(), what);
      progress("no committed goldens: computing the reference's (" + what + ")");
      auto reference = make_backend(model, backend_spec("reference", precision));
      goldens.push_back(
          run_prompts(*reference, golden_prompts(prompts, rule), rule, Mode::kKvCache, jobs));
      notes.push_back("No committed goldens for this model and " + what +
                      ": compared with the reference, computed now.");
    }
  }
  return goldens;
}

// The committed beam goldens of each setting at each precision the rows
// need, or the reference's, computed now (with a note) where there are none.
std::vector<BeamGoldenFile> beam_goldens_for(const std::shared_ptr<const Model>& model,
                                             const std::vector<Prompt>& prompts,
                                             const std::vector<BeamOptions>& settings,
                                             const std::vector<Precision>& precisions,
                                             GoldensPolicy policy, const ProgressFn& progress,
                                             std::vector<std::string>& notes) {
  std::vector<BeamGoldenFile> out;
  for (Precision precision : golden_precisions_for(precisions)) {
    for (const BeamOptions& o : settings) {
      const auto path = beam_golden_path(datasets_dir() / "goldens", model->name(), o, precision);
      if (std::filesystem::exists(path)) {
        BeamGoldenFile g = read_beam_goldens(path);
        if (g.checksum != model->checksum()) {
          throw std::runtime_error(path.string() + ": made for a model with checksum " +
                                   g.checksum + ", this one has " + model->checksum());
        }
        out.push_back(std::move(g));
        continue;
      }
      const std::string what = std::string(precision_name(precision)) + " " + beam_settings_name(o);
      on_missing_goldens(policy, path, model->name(), what);
      progress("no committed beam goldens: computing the reference's (" + what + ")");
      auto reference = make_backend(model, backend_spec("reference", precision));
      out.push_back(run_beam_prompts(*reference, prompts, o, Mode::kKvCache));
      notes.push_back("No committed beam goldens for this model and " + what +
                      ": compared with the reference, computed now.");
    }
  }
  return out;
}

int run_verify_command(const VerifyCli& v, const std::string& command) {
  check_verify_options(v);
  const GoldensPolicy goldens_policy = parse_goldens_policy(v.goldens);
  const CommonPlan plan = check_common(v.common);
  const std::vector<Rule> rules = parse_rule_list(v.rules);
  const std::vector<BeamOptions> beams = parse_beam_settings_list(v.beams);
  warn_oversubscription(plan.backends.threads);

  Progress progress(!v.common.quiet);
  auto on_progress = [&](const std::string& line) { progress.update(line); };
  std::shared_ptr<const Model> model = open_model(v.common.model, &std::cerr);
  const std::vector<Prompt> prompts = read_prompts(v.common.prompts);
  check_model_fits(*model, prompts);
  ReportContext ctx = report_context(command, *model);

  std::vector<std::string> notes;
  const std::vector<GoldenFile> goldens = goldens_for_rules(
      model, prompts, rules, plan.backends.precisions, v.jobs, goldens_policy, on_progress, notes);
  // Before any row runs, so that a missing one stops verify at once.
  const std::vector<BeamGoldenFile> beam_goldens = beam_goldens_for(
      model, prompts, beams, plan.backends.precisions, goldens_policy, on_progress, notes);
  VerifyOptions vo;
  vo.specs = plan.backends.specs;
  vo.modes = plan.modes;
  vo.jobs = v.jobs;
  vo.max_logit_diff = v.max_logit_diff;
  VerifyResult result = run_verify(model, prompts, goldens, vo, on_progress);
  if (!beams.empty()) {
    for (VerifyRow& row : verify_beams(model, prompts, beam_goldens, vo, on_progress)) {
      result.passed = result.passed && row.passed;
      result.rows.push_back(std::move(row));
    }
  }
  result.notes.insert(result.notes.begin(), notes.begin(), notes.end());
  progress.done();
  add_gpus(ctx, result.backends);

  for (const VerifyRow& row : result.rows) {
    for (const std::string& d : row.differences) std::cout << "DIFFERENCE " << d << "\n";
  }
  std::cout << verify_table(result);
  for (const std::string& note : result.notes) std::cout << note << "\n";
  const ReportFiles files = write_verify_report(
      v.common.out, report_stem(v.common.out, "verify", plan.backends.backends()), ctx, result);
  std::cout << (result.passed ? "verify: every configuration matches the reference\n"
                              : "verify: FAILED\n");
  std::cerr << "report: " << files.md.string() << " (also .json, .csv)\n";
  return result.passed ? 0 : 1;
}

// ---------------------------------------------------------------------------
// gpt2-bench agreement.

int run_agreement_command(const AgreementCli& a, const std::string& command) {
  if (a.threads < 1) throw std::invalid_argument("--threads must be at least 1.");
  const std::vector<Precision> precisions = parse_precision_list(a.precisions);
  if (std::find(precisions.begin(), precisions.end(), Precision::kFloat32) != precisions.end()) {
    throw std::invalid_argument(
        "agreement compares other precisions with float32: leave float32 "
        "out of --precision.");
  }
  const BackendPlan plan = plan_backends(a.backends, a.precisions, std::to_string(a.threads));
  if (a.jobs < 1) throw std::invalid_argument("--jobs must be at least 1.");
  const std::vector<Rule> rules = parse_rule_list(a.rule);
  if (rules.size() != 1) throw std::invalid_argument("agreement follows one rule's goldens.");
  check_output_folder(a.out);
  Progress progress(!a.quiet);
  std::shared_ptr<const Model> model = open_model(a.model, &std::cerr);
  const std::vector<Prompt> all = read_prompts(a.prompts);
  const std::vector<Prompt> chosen = select_prompts(all, a.prompt_ids);
  check_model_fits(*model, chosen);
  const std::optional<GoldenFile> goldens = load_goldens(*model, rules[0], Precision::kFloat32);
  if (!goldens) {
    throw std::invalid_argument("No float32 goldens of this model for rule " + rule_name(rules[0]) +
                                " (write them with gpt2-goldens write).");
  }
  ReportContext ctx = report_context(command, *model);
  const AgreementResult result =
      run_agreement(model, chosen, *goldens, plan.specs, a.jobs,
                    [&](const std::string& line) { progress.update(line); });
  progress.done();
  std::cout << agreement_table(result);
  for (const std::string& note : result.notes) std::cout << note << "\n";
  const ReportFiles files =
      write_agreement_report(a.out, report_stem(a.out, "agreement", plan.backends()), ctx, result);
  std::cerr << "report: " << files.md.string() << " (also .json)\n";
  return 0;
}

// ---------------------------------------------------------------------------
// gpt2-bench serve.

int run_serve_command(const ServeCli& s, const std::string& command) {
  LoadOptions o;
  o.urls = s.urls;
  for (const std::string& u : o.urls) parse_url(u);
  o.api_key = s.api_key;
  if (s.scenario == "offline") {
    o.scenario = Scenario::kOffline;
  } else if (s.scenario == "poisson") {
    o.scenario = Scenario::kPoisson;
  } else if (s.scenario == "concurrency") {
    o.scenario = Scenario::kConcurrency;
  } else {
    throw_unknown_item("scenario", s.scenario, "offline, poisson, concurrency");
  }
  if (o.scenario == Scenario::kPoisson) {
    o.rates = parse_value_list<double>(
        s.rates, "rate",
        [](const std::string& r) -> std::optional<double> {
          char* end = nullptr;
          const double v = std::strtod(r.c_str(), &end);
          if (*end != '\0' || !(v > 0)) return std::nullopt;
          return v;
        },
        "requests/s above 0, e.g. 0.5,2,8");
  }
  if (o.scenario == Scenario::kConcurrency) {
    static constexpr NumberListKind kConcurrencyList{"concurrency", "concurrency level",
                                                     "requests in flight", 1, 4096};
    o.concurrency = parse_number_list(s.concurrency, kConcurrencyList);
  }
  o.requests = s.requests;
  o.duration_s = s.duration_s;
  o.seed = s.seed;
  o.rule = s.rule;
  if (o.rule != "sample" && !parse_rule(o.rule)) {
    throw std::invalid_argument("Unknown rule '" + o.rule + "'.");
  }
  o.slo_ttft_s = s.slo_ttft_ms / 1e3;
  o.slo_tpot_s = s.slo_tpot_ms / 1e3;
  o.search = s.search;
  o.search_max = s.search_max;
  o.search_steps = s.search_steps;
  o.timeout_s = s.timeout_s;
  if (o.search && o.scenario != Scenario::kPoisson) {
    throw std::invalid_argument("--search goes with --scenario poisson.");
  }
  if (s.output_len < 1 || s.output_len > 1023) {
    throw std::invalid_argument("--output-len must be in [1, 1023].");
  }
  std::vector<LoadRequest> requests;
  std::string workload;
  if (s.prompts == "synthetic") {
    if (s.input_len < 1 || s.input_len + s.output_len > 1024) {
      throw std::invalid_argument(
          "--input-len must be at least 1, and --input-len + "
          "--output-len at most 1024.");
    }
    requests = synthetic_requests(std::max(1, s.requests), s.input_len, s.output_len, s.seed);
    workload = "synthetic-" + std::to_string(s.input_len) + "+" + std::to_string(s.output_len);
  } else if (s.prompts == "set") {
    for (const Prompt& p : read_prompts(datasets_dir() / "prompts.txt")) {
      if (long(p.tokens.size()) + s.output_len <= 1024)
        requests.push_back({p.tokens, s.output_len});
    }
    workload = "prompt-set+" + std::to_string(s.output_len);
  } else {
    throw_unknown_item("prompts", s.prompts, "synthetic, set");
  }
  check_output_folder(s.out);
  ReportContext ctx;
  ctx.command = command;
  ctx.timestamp = utc_timestamp();
  ctx.machine = machine_info();
  const LoadResult result =
      run_load(o, requests, [](const std::string& line) { std::cerr << line << "\n"; });
  LoadReportInfo info{o, workload, s.label.empty() ? result.model : s.label};
  std::cout << load_table(info, result) << "\n";
  const ReportFiles files =
      write_load_report(s.out, report_stem(s.out, "serve", {}), ctx, info, result);
  std::cerr << "report: " << files.md.string() << " (also .json, .csv, .svg)\n";
  int failed = 0;
  for (const LoadRun& r : result.runs) failed += r.failed;
  return failed == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// gpt2-bench backends.

int run_backends_command(const BackendsCli& b) {
  if (b.kernels_isa) {
    std::cout << cpu_kernels_isa() << "\n";
    return 0;
  }
  std::optional<Numerics> numerics;
  if (!b.numerics.empty()) {
    for (Numerics n : {Numerics::kBitExact, Numerics::kReordered}) {
      if (b.numerics == numerics_name(n)) numerics = n;
    }
    if (!numerics) throw_unknown_item("numerics", b.numerics, "bit-exact, reordered");
  }
  std::vector<std::string> except;
  if (!b.except.empty()) {
    for (const std::string& name : parse_list(b.except, "backend")) {
      find_backend(name);  // an unknown name is a mistake
      except.push_back(name);
    }
  }
  const std::vector<Precision> precisions = parse_precision_list(b.precisions);
  std::string names;
  std::ostringstream table;
  table << "| backend | numerics | batch-invariant | device | threaded | offers | runs here | "
           "cannot run here |\n"
        << "|---|---|---|---|---|---|---|---|\n";
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kNone || (numerics && e.numerics != *numerics)) continue;
    if (std::find(except.begin(), except.end(), e.name) != except.end()) continue;
    std::string here, not_here;
    for (Precision p : e.precisions) {
      if (std::find(precisions.begin(), precisions.end(), p) == precisions.end()) continue;
      if (std::string why; !backend_available(e, p, &why)) {
        not_here += std::string(not_here.empty() ? "" : "; ") + precision_name(p) + ": " + why;
      } else {
        here += std::string(here.empty() ? "" : ", ") + precision_name(p);
      }
    }
    if (here.empty() && not_here.empty()) continue;  // offers none of the precisions
    if (!here.empty()) names += (names.empty() ? "" : ",") + std::string(e.name);
    table << "| " << e.name << " | " << numerics_name(e.numerics) << " | "
          << batch_invariance_name(e.batch_invariance) << " | " << device_name(e.device) << " | "
          << (e.threaded ? "yes" : "no") << " | " << offered_precisions(e) << " | "
          << (here.empty() ? "-" : here) << " | " << (not_here.empty() ? "-" : not_here) << " |\n";
  }
  std::cout << (b.list ? names + "\n" : table.str());
  return 0;
}

// ---------------------------------------------------------------------------
// gpt2-bench render.

int run_render_command(const std::vector<std::filesystem::path>& files) {
  for (const auto& f : files) {
    const SweepReport report = read_sweep_report(f);
    const ReportFiles written = render_sweep_report(f.parent_path(), f.stem().string(), report);
    for (const auto& path : written.all()) std::cout << "wrote " << path.string() << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace gpt2

int main(int argc, char** argv) {
  // Under mpirun (cuda-tp across processes) ranks past 0 serve rank 0's backends.
  if (const std::optional<int> worker = gpt2::enter_launcher(argc, argv)) return *worker;
  using namespace gpt2;
  CLI::App app{
      "gpt2-bench: run GPT-2 on interchangeable backends, prove they match the frozen "
      "reference, and measure how they scale.\n\n"
      "  gpt2-bench --backend openmp --threads 1..4   speedup sweep of the default workload\n"
      "  gpt2-bench verify --backend all --threads 1..4 --mode all   the equality gate\n"
      "  gpt2-bench agreement --precision bf16w,int8w  how far other precisions move the "
      "outputs\n"
      "  gpt2-bench serve --url http://127.0.0.1:8080 --rate 1,2,4   load scenarios against "
      "servers\n"
      "  gpt2-bench render REPORT.json                 the table, CSV and plot again\n"
      "  gpt2-bench backends                           what is built, and what runs here\n\n"
      "The default workload is the lab's: prompt lab-hello (5 tokens) completed to 10 tokens,\n"
      "recompute mode, median rule. Each sweep first measures the machine's ceilings (read\n"
      "bandwidth, float32 peaks) at its thread counts, and its GPU backends' GPU's (copy\n"
      "bandwidth, cuBLAS peaks), and shows every row's % of its ceiling.\n"
      "Reports (JSON, Markdown, CSV, SVG plot) go to reports/runs/.",
      "gpt2-bench"};
  SweepCli sweep;
  add_sweep_options(app, sweep);
  VerifyCli verify;
  CLI::App* verify_command = add_verify_command(app, verify);
  AgreementCli agreement;
  CLI::App* agreement_command = add_agreement_command(app, agreement);
  BackendsCli backends;
  CLI::App* backends_command = add_backends_command(app, backends);
  ServeCli serve;
  CLI::App* serve_command = add_serve_command(app, serve);
  std::vector<std::filesystem::path> render_files;
  CLI::App* render_command = add_render_command(app, render_files);
  if (const std::optional<int> status = parse_arguments(app, argc, argv)) return *status;

  try {
    if (render_command->parsed()) return run_render_command(render_files);
    if (backends_command->parsed()) return run_backends_command(backends);
    const std::string command = command_line(argc, argv);
    if (verify_command->parsed()) return run_verify_command(verify, command);
    if (agreement_command->parsed()) return run_agreement_command(agreement, command);
    if (serve_command->parsed()) return run_serve_command(serve, command);
    return run_sweep_command(sweep, command);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
