// gpt2-bench verify: the equality gate.
//   gpt2-bench verify --backend all --threads 1..4 --mode all
// Every golden prompt on every backend, thread count, mode, precision and
// batch against the goldens (the reference's, computed now, where none are
// committed); exit 1 on any difference.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/registry.h"
#include "harness/beam_goldens.h"
#include "harness/bench.h"
#include "harness/golden_run.h"
#include "harness/report.h"
#include "harness/verify_report.h"
#include "runtime/model_source.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/progress.h"

namespace gpt2::bench {
namespace {

struct VerifyCli {
  CommonOptions common;
  std::string rules = "all";
  std::string beams = "none";
  int jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  double max_logit_diff = 1e-3;
  std::string goldens = goldens_policy_name(default_goldens_policy(std::getenv("CI")));
};

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

void check_verify_options(const VerifyCli& v) {
  if (v.jobs < 1) throw std::invalid_argument("--jobs must be at least 1.");
  if (!(v.max_logit_diff >= 0) || !std::isfinite(v.max_logit_diff)) {
    throw std::invalid_argument("--max-logit-diff must be a finite number, 0 or more.");
  }
}

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

}  // namespace

Command register_verify(CLI::App& app) {
  auto v = std::make_shared<VerifyCli>();
  CLI::App* verify = add_verify_command(app, *v);
  return {verify, [v](const std::string& command) { return run_verify_command(*v, command); }};
}

}  // namespace gpt2::bench
