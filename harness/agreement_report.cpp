#include "harness/agreement_report.h"

#include <cstdio>
#include <sstream>

#include "harness/goldens.h"
#include "harness/report_json.h"

namespace gpt2 {

using report::json;

std::string agreement_table(const AgreementResult& r) {
  std::ostringstream out;
  out << "Agreement with float32 along the float32 goldens (rule " << rule_name(r.rule)
      << "): teacher-forced logits against the float32 reference's, and each row's own "
         "continuations against the goldens' tokens.\n\n"
      << "| backend | precision | threads | steps | top-1 agreement | mean KL (nats) | max KL | "
         "max abs logit diff | mean abs logit diff | generated steps equal | prompts identical "
         "|\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  char line[512];
  for (const AgreementRow& row : r.rows) {
    std::snprintf(line, sizeof line,
                  "| %s | %s | %d | %d | %.2f%% | %.3g | %.3g | %.3g | %.3g | %.2f%% (%d) | %d / "
                  "%d |\n",
                  row.spec.backend.c_str(), precision_name(row.spec.precision), row.spec.threads,
                  row.steps, 100 * row.top1_agreement, row.mean_kl, row.max_kl, row.max_abs_diff,
                  row.mean_abs_diff, 100 * row.generated_agreement, row.generated_steps,
                  row.prompts_identical, row.prompts);
    out << line;
  }
  return out.str();
}

ReportFiles write_agreement_report(const std::filesystem::path& dir, const std::string& stem,
                                   const ReportContext& ctx, const AgreementResult& r) {
  std::filesystem::create_directories(dir);
  json j = report::context_json(ctx);
  j["kind"] = "agreement";
  j["schema"] = "gpt2-bench agreement 2";
  j["rule"] = rule_name(r.rule);
  j["rows"] = json::array();
  for (const AgreementRow& row : r.rows) {
    j["rows"].push_back({{"backend", row.spec.backend},
                         {"precision", precision_name(row.spec.precision)},
                         {"threads", row.spec.threads},
                         {"details", row.details},
                         {"steps", row.steps},
                         {"top1_agreement", row.top1_agreement},
                         {"mean_kl", row.mean_kl},
                         {"max_kl", row.max_kl},
                         {"max_abs_logit_diff", row.max_abs_diff},
                         {"mean_abs_logit_diff", row.mean_abs_diff},
                         {"generated_steps", row.generated_steps},
                         {"generated_agreement", row.generated_agreement},
                         {"prompts", row.prompts},
                         {"prompts_identical", row.prompts_identical}});
  }
  j["notes"] = r.notes;
  ReportFiles files;
  const std::string base = (dir / stem).string();
  files.json = base + ".json";
  write_file_atomically(files.json, j.dump(2) + "\n");
  std::string md =
      "# gpt2-bench agreement\n\n" + report::context_markdown(ctx) + "\n" + agreement_table(r);
  for (const std::string& n : r.notes) md += "\n" + n + "\n";
  files.md = base + ".md";
  write_file_atomically(files.md, md);
  return files;
}

}  // namespace gpt2
