#include "harness/verify_report.h"

#include <algorithm>
#include <sstream>

#include "harness/goldens.h"
#include "harness/report_json.h"

namespace gpt2 {

using report::csv_line;
using report::fmt;
using report::json;
using report::num;

namespace {

// "yes", "no: 3 of 40 steps" (a reordering backend's steps whose bits moved
// from its own run alone), or "-" at batch 1.
std::string batch_invariance_cell(const VerifyRow& row) {
  if (row.batch == 1) return "-";
  if (row.bit_exact) return row.logits_mismatches == 0 ? "yes" : "no";
  if (row.batch_variant == 0) return "yes (" + std::to_string(row.batch_compared) + " steps)";
  return "no: " + std::to_string(row.batch_variant) + " of " + std::to_string(row.batch_compared) +
         " steps";
}

}  // namespace

std::string verify_table(const VerifyResult& r) {
  std::ostringstream out;
  // With batched rows: their batch, and whether each sequence kept the bits it
  // gets alone (bit-exact rows: their logits bits against the goldens say so).
  const bool batched =
      std::any_of(r.rows.begin(), r.rows.end(), [](const VerifyRow& row) { return row.batch > 1; });
  out << "| backend | threads or GPUs | " << (batched ? "batch | " : "")
      << "mode | rule | numerics | steps | token mismatches | near ties | "
         "tokens agree | logits bits differ | max abs logit diff | mean abs logit diff | "
      << (batched ? "batch-invariant | " : "") << "result |\n";
  out << "|---|---:|" << (batched ? "---:|" : "")
      << "---|---|---|---:|---:|---:|---:|---:|---:|---:|" << (batched ? "---|" : "") << "---|\n";
  bool bf16 = false;
  for (const VerifyRow& row : r.rows) {
    bf16 = bf16 || !row.gates_tokens();
    out << "| " << backend_label(row.backend, row.precision) << " | "
        << (row.workers.empty() ? std::to_string(row.threads) : row.workers) << " | "
        << (batched ? std::to_string(row.batch) + " | " : "") << mode_name(row.mode) << " | "
        << row.rule_label() << " | " << (row.bit_exact ? "bit-exact" : "reordered") << " | "
        << row.steps << " | " << row.token_mismatches << " | " << row.near_ties << " | "
        << fmt("%.1f%%", 100.0 * row.token_agreement()) << " | "
        << (row.bit_exact ? std::to_string(row.logits_mismatches) : std::string("-")) << " | "
        << fmt("%.3g", row.max_diff) << " | " << fmt("%.3g", row.mean_diff) << " | "
        << (batched ? batch_invariance_cell(row) + " | " : "") << (row.passed ? "pass" : "FAIL")
        << " |\n";
  }
  if (bf16) {
    out << "\nRows marked bfloat16 (not float32) follow the golden tokens and report the share of "
           "steps whose own choice agrees and their logit error; they fail below bfloat16's "
           "documented agreement, above its logit error bound, or on a logit that is not "
           "finite.\n";
  }
  // What the beam rows of reordering backends leave unchecked: the hypotheses
  // whose golden margin is under their near-tie bound.
  bool beams_heading = false;
  for (const VerifyRow& row : r.rows) {
    if (row.search.empty() || row.bit_exact || !row.gates_tokens()) continue;
    if (!beams_heading) {
      out << "\nBeam rows of reordering backends waive the tokens of a hypothesis whose golden "
             "margin is under "
          << fmt("%g", kNearTieFactor)
          << " x the sum over its search's steps of each step's largest error of a candidate's "
             "log-probability (measured along the prompt's best golden hypothesis; the row's "
             "largest is shown):\n";
      beams_heading = true;
    }
    out << "- " << backend_label(row.backend, row.precision) << " "
        << (row.workers.empty() ? threads_text(row.threads) : row.workers) << " "
        << mode_name(row.mode) << " " << row.search << ": " << row.waived << " of " << row.steps
        << " waived (log-probability error " << fmt("%.3g", row.beam_logprob_error)
        << ", logit error " << fmt("%.3g", row.beam_logit_error) << "), " << row.near_ties
        << " of them with other tokens\n";
  }
  return out.str();
}

ReportFiles write_verify_report(const std::filesystem::path& dir, const std::string& stem,
                                const ReportContext& ctx, const VerifyResult& r) {
  std::filesystem::create_directories(dir);
  json j = report::context_json(ctx);
  j["kind"] = "verify";
  json rows = json::array();
  for (const VerifyRow& row : r.rows) {
    rows.push_back({{"backend", row.backend},
                    {"precision", precision_name(row.precision)},
                    {"label", backend_label(row.backend, row.precision)},
                    {"float32", row.precision == Precision::kFloat32},
                    {"token_agreement", row.token_agreement()},
                    {"nonfinite_steps", row.nonfinite},
                    {"threads", row.threads},
                    {"workers", row.workers},
                    {"batch", row.batch},
                    {"batch_compared_steps", row.batch_compared},
                    {"batch_variant_steps", row.batch_variant},
                    {"mode", mode_name(row.mode)},
                    {"rule", row.rule_label()},
                    {"bit_exact", row.bit_exact},
                    {"steps", row.steps},
                    {"token_mismatches", row.token_mismatches},
                    {"near_ties", row.near_ties},
                    {"missed_steps", row.missed_steps},
                    {"batch_invariant", row.batch_invariant},
                    {"beam_logit_error", row.beam_logit_error},
                    {"beam_logprob_error", row.beam_logprob_error},
                    {"waived", row.waived},
                    {"logits_mismatches", row.logits_mismatches},
                    {"max_abs_logit_diff", row.max_diff},
                    {"mean_abs_logit_diff", row.mean_diff},
                    {"passed", row.passed},
                    {"differences", row.differences}});
  }
  j["rows"] = rows;
  j["notes"] = r.notes;
  j["passed"] = r.passed;
  ReportFiles files;
  const auto base = dir / stem;
  files.json = base.string() + ".json";
  write_file_atomically(files.json, j.dump(2) + "\n");
  std::string md =
      "# gpt2-bench verify\n\n" + report::context_markdown(ctx) + "\n" + verify_table(r);
  for (const std::string& n : r.notes) md += "\n" + n + "\n";
  for (const VerifyRow& row : r.rows) {
    for (const std::string& d : row.differences) md += "\n- " + d;
  }
  md += std::string("\n\nResult: ") + (r.passed ? "every configuration passed." : "FAILED.") + "\n";
  files.md = base.string() + ".md";
  write_file_atomically(files.md, md);
  files.csv = base.string() + ".csv";
  write_file_atomically(files.csv, verify_csv(ctx, r));
  return files;
}

std::string verify_csv(const ReportContext& ctx, const VerifyResult& r) {
  std::string out = csv_line({"timestamp",
                              "git_commit",
                              "cpu_model",
                              "logical_cpus",
                              "model",
                              "backend",
                              "precision",
                              "numerics",
                              "threads",
                              "mode",
                              "rule",
                              "steps",
                              "token_mismatches",
                              "near_ties",
                              "token_agreement",
                              "logits_mismatches",
                              "max_abs_logit_diff",
                              "mean_abs_logit_diff",
                              "passed",
                              "batch",
                              "batch_compared_steps",
                              "batch_variant_steps",
                              "missed_steps",
                              "beam_logit_error",
                              "beam_logprob_error",
                              "waived"});
  for (const VerifyRow& row : r.rows) {
    out += csv_line({ctx.timestamp,
                     ctx.machine.git_commit,
                     ctx.machine.cpu_model,
                     std::to_string(ctx.machine.logical_cpus),
                     ctx.model ? ctx.model->name : "",
                     row.backend,
                     precision_name(row.precision),
                     row.bit_exact ? "bit-exact" : "reordered",
                     std::to_string(row.threads),
                     mode_name(row.mode),
                     row.rule_label(),
                     std::to_string(row.steps),
                     std::to_string(row.token_mismatches),
                     std::to_string(row.near_ties),
                     num(row.token_agreement()),
                     std::to_string(row.logits_mismatches),
                     num(row.max_diff),
                     num(row.mean_diff),
                     row.passed ? "yes" : "no",
                     std::to_string(row.batch),
                     std::to_string(row.batch_compared),
                     std::to_string(row.batch_variant),
                     std::to_string(row.missed_steps),
                     num(row.beam_logit_error),
                     num(row.beam_logprob_error),
                     std::to_string(row.waived)});
  }
  return out;
}

}  // namespace gpt2
