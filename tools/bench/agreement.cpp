// gpt2-bench agreement: how far precisions other than float32 move the
// outputs.
//   gpt2-bench agreement --precision bf16w,int8w
// Along the float32 goldens: top-1 agreement, KL divergence and logit
// differences against the float32 reference, and each row's own
// continuations against the goldens' tokens.
#include <algorithm>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "harness/agreement_report.h"
#include "harness/report.h"
#include "runtime/model_source.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"
#include "tools/progress.h"

namespace gpt2::bench {
namespace {

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

}  // namespace

Command register_agreement(CLI::App& app) {
  auto a = std::make_shared<AgreementCli>();
  CLI::App* agreement = add_agreement_command(app, *a);
  return {agreement,
          [a](const std::string& command) { return run_agreement_command(*a, command); }};
}

}  // namespace gpt2::bench
