// verify's report (gpt2-bench verify): the table, JSON, Markdown and CSV.
#pragma once

#include <filesystem>
#include <string>

#include "harness/report.h"
#include "harness/verify.h"

namespace gpt2 {

// Writes <dir>/<stem>.json, .md and .csv.
ReportFiles write_verify_report(const std::filesystem::path& dir, const std::string& stem,
                                const ReportContext& ctx, const VerifyResult& result);
// The Markdown table (also printed by gpt2-bench verify).
std::string verify_table(const VerifyResult& result);
std::string verify_csv(const ReportContext& ctx, const VerifyResult& result);

}  // namespace gpt2
