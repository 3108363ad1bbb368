// A load run's report (gpt2-bench serve): JSON (kind "serve"), a Markdown
// table with the machine, a CSV row per run, and an SVG plot of the latency
// percentiles (TTFT and TPOT, p50 and p99) against the offered load.
#pragma once

#include <filesystem>
#include <string>

#include "harness/load.h"
#include "harness/report.h"

namespace gpt2 {

struct LoadReportInfo {
  LoadOptions options;
  std::string workload;  // "prompt-set+64", "synthetic-128+64"
  std::string label;     // what the user calls the servers (--label), e.g. "gpt2-serve pthreads 16"
};

ReportFiles write_load_report(const std::filesystem::path& dir, const std::string& stem,
                              const ReportContext& ctx, const LoadReportInfo& info,
                              const LoadResult& result);
std::string load_table(const LoadReportInfo& info, const LoadResult& result);
std::string load_svg(const LoadReportInfo& info, const LoadResult& result);

}  // namespace gpt2
