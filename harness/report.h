// Reports: data first (JSON: the machine, the build, the model, the workload,
// every sample), then the Markdown table and the SVG speedup plot rendered
// from it. Every file is written atomically.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "harness/bench.h"
#include "harness/machine.h"
#include "harness/verify.h"
#include "reference/model.h"

namespace gpt2 {

struct ReportContext {
  std::string command;  // the command line as typed
  std::string timestamp;  // UTC, ISO 8601
  MachineInfo machine;
  const Model* model = nullptr;
};

// Writes <dir>/<stem>.json, .md and (sweeps) .svg; returns the paths written.
std::vector<std::filesystem::path> write_sweep_report(const std::filesystem::path& dir,
                                                      const std::string& stem,
                                                      const ReportContext& ctx,
                                                      const Workload& workload,
                                                      const SweepResult& result);
std::vector<std::filesystem::path> write_verify_report(const std::filesystem::path& dir,
                                                       const std::string& stem,
                                                       const ReportContext& ctx,
                                                       const VerifyResult& result);

// The Markdown table of a sweep (also printed by gpt2-bench).
std::string sweep_table(const Workload& workload, const SweepResult& result);
std::string verify_table(const VerifyResult& result);
// The SVG plot: threads on x, speedup over 1 thread on y, a line per backend
// and mode, and the ideal line.
std::string speedup_svg(const SweepResult& result, const std::string& title);

std::string utc_timestamp();

}  // namespace gpt2
