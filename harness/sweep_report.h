// The sweep's report (gpt2-bench): written, read back and rendered again here.
// The JSON holds all that the table, the CSV and the plot are made from (each
// row's numerics, device and whether its backend is threaded among them), so
// that `gpt2-bench render` redraws any committed report in any build, one
// without the report's backends included.
#pragma once

#include <filesystem>
#include <string>

#include "harness/bench.h"
#include "harness/report.h"

namespace gpt2 {

// Writes <dir>/<stem>.json, .md, .csv and .svg.
ReportFiles write_sweep_report(const std::filesystem::path& dir, const std::string& stem,
                               const ReportContext& ctx, const Workload& workload,
                               const SweepResult& result);

// The Markdown table of a sweep (also printed by gpt2-bench).
std::string sweep_table(const Workload& workload, const SweepResult& result);
// One row per configuration, with a header (like llama-bench's -o csv).
std::string sweep_csv(const ReportContext& ctx, const Workload& workload,
                      const SweepResult& result);

// A sweep report read back from its JSON, to render again.
struct SweepReport {
  ReportContext context;
  Workload workload;
  SweepResult result;
};
// Throws std::runtime_error naming the file for a file that is not a sweep report.
SweepReport read_sweep_report(const std::filesystem::path& json_path);
// Writes <stem>.md, .svg and .csv from the data (the JSON is left as it is).
ReportFiles render_sweep_report(const std::filesystem::path& dir, const std::string& stem,
                                const SweepReport& report);

}  // namespace gpt2
