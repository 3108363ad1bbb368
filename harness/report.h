// Reports: data first (JSON: the machine, the build, the model, the run, every
// sample), then the Markdown table, CSV and (sweeps) the SVG plot rendered from
// it. Every file is written atomically. What every kind shares is here; each
// kind's writer and reader are side by side in their own file
// (sweep_report.h, verify_report.h, agreement_report.h), the plot in plot.h.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/machine.h"
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
  std::string gpu_topology;   // with more than one: how they are linked (gpu_topology())
  std::optional<ModelFacts> model;
};
// The context of a run of `command` on `model`, now, on this machine (the
// GPUs are added once the backends are known: gpus_used()).
ReportContext report_context(const std::string& command, const Model& model);

// The GPUs these backends ran on, each once, by device number.
std::vector<GpuInfo> gpus_used(const std::vector<BackendInfo>& infos);
// Sets ctx.gpus from the backends, and with more than one GPU their links.
void add_gpus(ReportContext& ctx, const std::vector<BackendInfo>& infos);

// The files of one report, each written atomically (an empty path: not written).
struct ReportFiles {
  std::filesystem::path json;                      // the data
  std::filesystem::path md;                        // the table, with the machine
  std::filesystem::path svg;                       // sweeps: the speedup plot
  std::filesystem::path batch_svg;                 // sweeps over batch sizes: throughput
  std::filesystem::path csv;                       // one row per configuration
  std::vector<std::filesystem::path> all() const;  // those written
};

// "onednn", "onednn bfloat16 (not float32)", "pthreads int8w": how reports
// name a backend at a precision.
std::string backend_label(const std::string& backend, Precision precision);

std::string utc_timestamp();

// <time>-<kind>-<backends>, not yet taken in `dir` (e.g.
// 20261201T120000Z-sweep-openmp-pthreads).
std::string report_stem(const std::filesystem::path& dir, const std::string& kind,
                        const std::vector<std::string>& backends);

}  // namespace gpt2
