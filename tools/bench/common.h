// What gpt2-bench's commands share: the options of the sweep and verify, and
// the checks and steps several commands take (prompts, goldens, the report
// folder).
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness/goldens.h"
#include "reference/model.h"
#include "runtime/backend_specs.h"
#include "runtime/decide.h"
#include "runtime/generate.h"
#include "runtime/paths.h"

namespace gpt2::bench {

// Options that the sweep and verify share.
struct CommonOptions {
  std::string model = "default";
  std::string backends;
  std::string threads;
  std::string modes = "recompute";
  std::string precisions = "float32";
  std::string batches = "1";
  std::string devices = "1";
  bool one_gpu = false;
  std::filesystem::path prompts = datasets_dir() / "prompts.txt";
  std::filesystem::path out = reports_dir() / "runs";
  bool quiet = false;
};

void add_common_options(CLI::App& app, CommonOptions& o, const std::string& backend_default);

// Everything a command needs that the common options say, checked.
struct CommonPlan {
  BackendPlan backends;
  std::vector<Mode> modes;
};

CommonPlan check_common(const CommonOptions& o);

// The backends' specs, with a note on stderr for each configuration this
// machine cannot run that "all" reached.
BackendPlan plan_backends(const std::string& backends, const std::string& precisions,
                          const std::string& threads, const std::string& batches = "1",
                          const std::string& devices = "1", bool one_gpu = false);

// The report folder exists (or is made) and takes a file: checked before any
// work, so that a sweep never runs for minutes and then fails to save.
void check_output_folder(const std::filesystem::path& dir);

// argv joined with spaces, for the reports.
std::string command_line(int argc, char** argv);

// The precisions whose goldens rows at `precisions` are checked against: each
// one the reference defines, and float32 for bfloat16 and for the reference's
// float32 baseline.
std::vector<Precision> golden_precisions_for(const std::vector<Precision>& precisions);

// The goldens of the model for a rule and precision, or nullopt when it has none.
std::optional<GoldenFile> load_goldens(const Model& model, Rule rule, Precision precision);

// Prompts chosen by ids (comma-separated) or short, long, all.
std::vector<Prompt> select_prompts(const std::vector<Prompt>& all, const std::string& which);

// Each prompt's n and tokens fit the model.
void check_model_fits(const Model& model, const std::vector<Prompt>& prompts);

// A note on stderr when the largest thread count exceeds the logical CPUs.
void warn_oversubscription(const std::vector<int>& threads);

}  // namespace gpt2::bench
