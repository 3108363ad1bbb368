// agreement's report (gpt2-bench agreement): the table, JSON and Markdown,
// each with the machine and the model it ran on.
#pragma once

#include <filesystem>
#include <string>

#include "harness/agreement.h"
#include "harness/report.h"

namespace gpt2 {

// Writes <dir>/<stem>.json (schema "gpt2-bench agreement 2": the report
// context of every kind, then the rule, rows and notes) and .md.
ReportFiles write_agreement_report(const std::filesystem::path& dir, const std::string& stem,
                                   const ReportContext& ctx, const AgreementResult& result);
// The Markdown table (also printed by gpt2-bench agreement).
std::string agreement_table(const AgreementResult& result);

}  // namespace gpt2
