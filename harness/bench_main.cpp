// gpt2-bench: speedup sweeps and the equality gate.
//   gpt2-bench --backend openmp --threads 1..4          (the speedup sweep)
//   gpt2-bench verify --backend all --threads 1..4 --mode all
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "backends/registry.h"
#include "harness/bench.h"
#include "harness/golden_run.h"
#include "harness/model_source.h"
#include "harness/progress.h"
#include "harness/report.h"
#include "harness/thread_list.h"
#include "harness/verify.h"

namespace gpt2 {
namespace {

struct CommonOptions {
  std::string model = "default";
  std::string backends;
  std::string threads;
  std::string modes = "recompute";
  std::string precisions = "float32";
  std::string rule = "median";
  std::filesystem::path prompts = datasets_dir() / "prompts.txt";
  std::filesystem::path out = std::filesystem::path(GPT2_REPORTS_DIR) / "runs";
  bool quiet = false;
};

void add_common(CLI::App& app, CommonOptions& o, const std::string& backend_default) {
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
                 "float32, bfloat16 (or bf16), both comma-separated, or all: each backend runs at "
                 "each of these it offers (bfloat16: not float32, see README)")
      ->capture_default_str();
  app.add_option("--model", o.model, "Checkpoint, synthetic:<preset>[:seed=N], or default")
      ->capture_default_str();
  app.add_option("--prompts", o.prompts, "Prompt set file")->capture_default_str();
  app.add_option("--out", o.out, "Folder for the report files")->capture_default_str();
  app.add_flag("-q,--quiet", o.quiet, "No progress on stderr");
}

std::vector<Precision> parse_precisions(const std::string& text) {
  if (text == "all") return {Precision::kFloat32, Precision::kBFloat16};
  std::vector<Precision> out;
  std::stringstream in(text);
  for (std::string name; std::getline(in, name, ',');) {
    const auto p = parse_precision(name);
    if (!p) {
      throw std::invalid_argument("Unknown precision '" + name +
                                  "' (known: float32, bfloat16, bf16, all).");
    }
    if (std::find(out.begin(), out.end(), *p) == out.end()) out.push_back(*p);
  }
  if (out.empty()) throw std::invalid_argument("No precision given.");
  return out;
}

bool offers_any(const BackendEntry& e, const std::vector<Precision>& precisions) {
  return std::any_of(precisions.begin(), precisions.end(),
                     [&](Precision p) { return offers_precision(e, p); });
}

// Backends by name, or all of those that compute and offer one of `precisions`.
std::vector<std::string> parse_backends(const std::string& text,
                                        const std::vector<Precision>& precisions) {
  std::vector<std::string> out;
  if (text == "all") {
    for (const BackendEntry& e : backend_entries()) {
      if (e.numerics != Numerics::kNone && offers_any(e, precisions)) out.emplace_back(e.name);
    }
    if (out.empty()) {
      throw std::invalid_argument(std::string("No backend built here offers ") +
                                  precision_name(precisions.front()) + ".");
    }
    return out;
  }
  std::stringstream in(text);
  for (std::string name; std::getline(in, name, ',');) {
    const BackendEntry& e = find_backend(name);  // throws for an unknown name
    if (!offers_any(e, precisions)) {
      throw std::invalid_argument("Backend " + name + " runs float32 only, not " +
                                  precision_name(precisions.front()) + ".");
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  if (out.empty()) throw std::invalid_argument("No backend given.");
  return out;
}

std::vector<Mode> parse_modes(const std::string& text) {
  if (text == "all") return {Mode::kRecompute, Mode::kKvCache};
  std::vector<Mode> out;
  std::stringstream in(text);
  for (std::string m; std::getline(in, m, ',');) {
    const auto mode = parse_mode(m);
    if (!mode)
      throw std::invalid_argument("Unknown mode '" + m + "' (known: recompute, kv-cache, all).");
    out.push_back(*mode);
  }
  return out;
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; i++) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

std::string report_stem(const std::filesystem::path& dir, const std::string& kind,
                        const std::vector<std::string>& backends) {
  std::string stamp = utc_timestamp();
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  std::string stem = stamp + "-" + kind;
  for (std::size_t i = 0; i < backends.size() && i < 4; i++) stem += "-" + backends[i];
  if (backends.size() > 4) stem += "-etc";
  std::string unique = stem;
  for (int k = 2; std::filesystem::exists(dir / (unique + ".json")); k++) {
    unique = stem + "-" + std::to_string(k);
  }
  return unique;
}

// The goldens of the model for a rule, or nullopt when it has none.
std::optional<GoldenFile> load_goldens(const Model& model, Rule rule) {
  const auto path = golden_path(datasets_dir() / "goldens", model.name(), rule);
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
      const bool is_long = p.tokens.size() > 9;
      if (which == "all" || (which == "long") == is_long) out.push_back(p);
    }
    return out;
  }
  std::stringstream in(which);
  for (std::string id; std::getline(in, id, ',');) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Prompt& p) { return p.id == id; });
    if (it == all.end()) {
      std::string known;
      for (const Prompt& p : all) known += (known.empty() ? "" : ", ") + p.id;
      throw std::invalid_argument("Unknown prompt '" + id + "' (known: short, long, all, " + known +
                                  ").");
    }
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

}  // namespace
}  // namespace gpt2

int main(int argc, char** argv) {
  using namespace gpt2;
  CLI::App app{
      "gpt2-bench: run GPT-2 on interchangeable backends, prove they match the frozen "
      "reference, and measure how they scale.\n\n"
      "  gpt2-bench --backend openmp --threads 1..4   speedup sweep of the default workload\n"
      "  gpt2-bench verify --backend all --threads 1..4 --mode all   the equality gate\n\n"
      "The default workload is the lab's: prompt lab-hello (5 tokens) completed to 10 tokens,\n"
      "recompute mode, median rule. Reports (JSON, Markdown, SVG plot) go to reports/runs/.",
      "gpt2-bench"};
  CommonOptions common;
  add_common(app, common, "openmp");
  std::string prompt_ids = "lab-hello";
  std::string tokens_text;
  int n = 0, new_tokens = 0, reps = 5, warmup = 1, reference_reps = -1;
  bool no_reference = false, no_overhead = false, interleave = false;
  app.add_option("--rule", common.rule, "median, greedy, or sample[-t<T>][-k<K>][-p<P>][-seed<S>]")
      ->capture_default_str();
  app.add_option("--prompt", prompt_ids,
                 "Prompt ids from the prompt set (comma-separated), or short, long, all")
      ->capture_default_str();
  app.add_option("--tokens", tokens_text,
                 "A prompt of your own: token ids, e.g. \"464 2068\" (with -n)");
  app.add_option("-n", n, "With --tokens: complete until the sequence holds n tokens");
  app.add_option("--new", new_tokens, "New tokens per prompt (overrides the prompt set's n)");
  app.add_option("--reps", reps, "Timed runs per configuration")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed runs before them")->capture_default_str();
  app.add_option("--reference-reps", reference_reps,
                 "Timed runs of the serial reference (default: --reps)");
  app.add_flag("--no-reference", no_reference, "Do not time the serial reference baseline");
  app.add_flag("--no-overhead", no_overhead, "Do not measure the harness overhead (null backend)");
  app.add_flag("--interleave", interleave,
               "Take each backend's thread counts in turns, one timed run each (1..k, k..1, ...), "
               "so that a machine's drift reaches all alike (keeps one copy of the weights per "
               "thread count)");

  CLI::App* verify = app.add_subcommand(
      "verify",
      "Run every golden prompt on every backend, thread count and mode; fail on any token that "
      "differs from the goldens, any bit-exact backend whose logits differ, or a reordering "
      "backend whose logits drift past --max-logit-diff");
  CommonOptions vcommon;
  add_common(*verify, vcommon, "all");
  std::string vrules = "all";
  int jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  double max_diff = 1e-3;
  verify
      ->add_option("--rule", vrules,
                   "all (the goldens' rules: median, greedy, three sampling settings), or "
                   "rule names separated by commas")
      ->capture_default_str();
  verify->add_option("--jobs", jobs, "Prompts at once for single-threaded configurations")
      ->capture_default_str();
  verify
      ->add_option("--max-logit-diff", max_diff,
                   "Bound on |logit - reference logit| for reordering backends")
      ->capture_default_str();
  std::vector<std::filesystem::path> render_files;
  CLI::App* render = app.add_subcommand(
      "render", "Write a sweep report's Markdown table and SVG plot again from its JSON");
  render->add_option("json", render_files, "Sweep report JSON files")->required();
  CLI11_PARSE(app, argc, argv);
  if (render->parsed()) {
    try {
      for (const auto& f : render_files) {
        for (const auto& out :
             render_sweep_report(f.parent_path(), f.stem().string(), read_sweep_report(f))) {
          std::cout << "wrote " << out.string() << "\n";
        }
      }
      return 0;
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return 1;
    }
  }

  try {
    const bool is_verify = verify->parsed();
    CommonOptions& o = is_verify ? vcommon : common;
    const std::vector<Precision> precisions = parse_precisions(o.precisions);
    std::vector<std::string> backends = parse_backends(o.backends, precisions);
    const std::vector<int> threads = parse_thread_list(o.threads);
    const std::vector<Mode> modes = parse_modes(o.modes);
    warn_oversubscription(threads);
    Progress progress(!o.quiet);
    auto on_progress = [&](const std::string& s) { progress.update(s); };

    std::shared_ptr<const Model> model = open_model(o.model, &std::cerr);
    ReportContext ctx;
    ctx.command = command_line(argc, argv);
    ctx.timestamp = utc_timestamp();
    ctx.machine = machine_info();
    ctx.model = model_facts(*model);
    std::vector<Prompt> all_prompts = read_prompts(o.prompts);

    if (is_verify) {
      if (jobs < 1) throw std::invalid_argument("--jobs must be at least 1.");
      const std::vector<Rule> rules = parse_rule_list(vrules);
      check_model_fits(*model, all_prompts);
      std::vector<GoldenFile> goldens;
      VerifyResult result;
      std::vector<std::string> notes;
      for (Rule rule : rules) {
        if (auto g = load_goldens(*model, rule)) {
          goldens.push_back(std::move(*g));
        } else {
          on_progress(std::string("no committed goldens: computing the reference's (") +
                      rule_name(rule) + ")");
          auto ref = make_backend("reference", model, {});
          goldens.push_back(
              run_prompts(*ref, golden_prompts(all_prompts, rule), rule, Mode::kKvCache, jobs));
          notes.push_back(std::string("No committed goldens for this model and rule ") +
                          rule_name(rule) + ": compared with the reference, computed now.");
        }
      }
      VerifyOptions vo;
      vo.backends = backends;
      vo.threads = threads;
      vo.modes = modes;
      vo.precisions = precisions;
      vo.jobs = jobs;
      vo.max_logit_diff = max_diff;
      result = run_verify(model, all_prompts, goldens, vo, on_progress);
      result.notes.insert(result.notes.begin(), notes.begin(), notes.end());
      progress.done();
      for (const VerifyRow& row : result.rows) {
        for (const std::string& d : row.differences) std::cout << "DIFFERENCE " << d << "\n";
      }
      std::cout << verify_table(result);
      for (const std::string& note : result.notes) std::cout << note << "\n";
      const auto files =
          write_verify_report(o.out, report_stem(o.out, "verify", backends), ctx, result);
      std::cout << (result.passed ? "verify: every configuration matches the reference\n"
                                  : "verify: FAILED\n");
      std::cerr << "report: " << files[1].string() << "\n";
      return result.passed ? 0 : 1;
    }

    // The sweep.
    Workload w;
    const std::vector<Rule> rule = parse_rule_list(o.rule);
    if (rule.size() != 1) throw std::invalid_argument("A sweep takes one --rule.");
    w.rule = rule[0];
    if (reps < 1 || warmup < 0)
      throw std::invalid_argument("--reps must be at least 1 and --warmup at least 0.");
    w.reps = reps;
    w.warmup = warmup;
    w.reference_reps = reference_reps < 0 ? reps : std::max(1, reference_reps);
    w.interleave = interleave;
    if (!tokens_text.empty()) {
      Prompt p;
      p.id = "custom";
      std::stringstream in(tokens_text);
      for (std::string t; in >> t;) {
        std::size_t used = 0;
        int v = -1;
        try {
          v = std::stoi(t, &used);
        } catch (const std::exception&) {
        }
        if (used != t.size() || v < 0)
          throw std::invalid_argument("Token '" + t + "' is not a token id.");
        p.tokens.push_back(v);
      }
      if (p.tokens.empty()) throw std::invalid_argument("--tokens holds no token.");
      p.n = n > 0 ? n : int(p.tokens.size()) + 5;
      if (int(p.tokens.size()) >= p.n) throw std::invalid_argument("Too many tokens for -n.");
      w.prompts = {p};
    } else {
      w.prompts = select_prompts(all_prompts, prompt_ids);
    }
    if (new_tokens > 0) {
      for (Prompt& p : w.prompts) p.n = int(p.tokens.size()) + new_tokens;
    }
    check_model_fits(*model, w.prompts);
    std::optional<GoldenFile> goldens = load_goldens(*model, w.rule);
    SweepOptions so;
    so.backends = backends;
    so.threads = threads;
    so.modes = modes;
    so.precisions = precisions;
    so.measure_reference = !no_reference;
    so.measure_overhead = !no_overhead;
    so.goldens = goldens ? &*goldens : nullptr;
    const SweepResult result = run_sweep(model, w, so, on_progress);
    progress.done();
    std::cout << sweep_table(w, result);
    const auto files =
        write_sweep_report(o.out, report_stem(o.out, "sweep", backends), ctx, w, result);
    std::cerr << "report: " << files[1].string() << " (also .json, .svg)\n";
    if (result.failures > 0) {
      std::cout << result.failures
                << " configuration(s) did not reproduce the expected tokens or logits\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
