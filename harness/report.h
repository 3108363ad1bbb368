// Reports: data first (JSON: the machine, the build, the model, the workload,
// every sample), then the Markdown table and the SVG speedup plot rendered
// from it. Every file is written atomically.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness/bench.h"
#include "harness/machine.h"
#include "harness/verify.h"
#include "reference/model.h"

namespace gpt2 {

// What a report says of the model it ran.
struct ModelFacts {
  std::string name;
  std::string checksum;
  int file_version = 0;
  std::size_t parameters = 0;  // with V real rows of wte
  ModelConfig config;
};
ModelFacts model_facts(const Model& model);

struct ReportContext {
  std::string command;    // the command line as typed
  std::string timestamp;  // UTC, ISO 8601
  MachineInfo machine;
  std::vector<GpuInfo> gpus;  // the GPUs the run's backends used (none: CPU only)
  std::optional<ModelFacts> model;
};

// The GPUs these backends ran on, each once, by device number.
std::vector<GpuInfo> gpus_used(const std::vector<BackendInfo>& infos);

// The files of one report, each written atomically (an empty path: not written).
struct ReportFiles {
  std::filesystem::path json;                      // the data
  std::filesystem::path md;                        // the table, with the machine
  std::filesystem::path svg;                       // sweeps: the speedup plot
  std::filesystem::path csv;                       // one row per configuration
  std::vector<std::filesystem::path> all() const;  // those written
};

// Writes <dir>/<stem>.json, .md, .csv and (sweeps) .svg.
ReportFiles write_sweep_report(const std::filesystem::path& dir, const std::string& stem,
                               const ReportContext& ctx, const Workload& workload,
                               const SweepResult& result);
ReportFiles write_verify_report(const std::filesystem::path& dir, const std::string& stem,
                                const ReportContext& ctx, const VerifyResult& result);

// The Markdown table of a sweep (also printed by gpt2-bench).
std::string sweep_table(const Workload& workload, const SweepResult& result);
std::string verify_table(const VerifyResult& result);
// One row per configuration, with a header (like llama-bench's -o csv).
std::string sweep_csv(const ReportContext& ctx, const Workload& workload,
                      const SweepResult& result);
std::string verify_csv(const ReportContext& ctx, const VerifyResult& result);
// The SVG plot: threads on x, speedup over 1 thread on y, a line per backend
// and mode, the ideal line, and the scaling of each ceiling that bounds a line
// (e.g. the read bandwidth at N threads over that at 1), when measured.
std::string speedup_svg(const SweepResult& result, const std::string& title);

std::string utc_timestamp();

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
