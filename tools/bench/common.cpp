// What gpt2-bench's commands share (common.h).
#include "tools/bench/common.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "backends/registry.h"
#include "runtime/lists.h"

namespace gpt2::bench {
namespace {

std::vector<Mode> parse_modes(const std::string& text) {
  return parse_value_list<Mode>(text, "mode", [](std::string_view m) { return parse_mode(m); },
                                "recompute, kv-cache, all", {Mode::kRecompute, Mode::kKvCache});
}

}  // namespace

void add_common_options(CLI::App& app, CommonOptions& o, const std::string& backend_default) {
  o.backends = backend_default;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  o.threads = "1.." + std::to_string(hw);
  app.add_option("--backend", o.backends,
                 "Backends, comma-separated, or all (" + backend_names_joined() + ")")
      ->capture_default_str();
  app.add_option("--threads", o.threads,
                 "Thread counts: 4, 1..4, 1,2,4,8, 1..16:2 (default: 1..cores)")
      ->capture_default_str();
  app.add_option("--mode", o.modes, "recompute, kv-cache, or all")->capture_default_str();
  app.add_option("--precision", o.precisions,
                 "float32, bfloat16 (or bf16), bf16w, int8w, several comma-separated, or all: "
                 "each backend runs at each of these it offers (bfloat16: not float32; bf16w, "
                 "int8w: weight-only, with their own goldens; see README)")
      ->capture_default_str();
  app.add_option("--batch", o.batches,
                 "Sequences per step: 1, 8, 1,8,32, 1..64:8 (each row runs the workload's prompts "
                 "in turn, at least that many, at most that many in flight)")
      ->capture_default_str();
  app.add_option("--devices", o.devices,
                 "GPU counts of a multi-GPU backend (cuda-tp): 2, 1..2, 1,2,4; N means GPUs "
                 "0..N-1 (under mpirun -n N: one process each)")
      ->capture_default_str();
  app.add_flag("--one-gpu", o.one_gpu,
               "Run a multi-GPU backend's N ranks all on GPU 0, their partial results summed "
               "there (the sharded math checked on a one-GPU machine; no NCCL)");
  app.add_option("--model", o.model, "Checkpoint, synthetic:<preset>[:seed=N], or default")
      ->capture_default_str();
  app.add_option("--prompts", o.prompts, "Prompt set file")->capture_default_str();
  app.add_option("--out", o.out, "Folder for the report files (JSON, Markdown, CSV, SVG)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", o.quiet, "No progress on stderr");
}

BackendPlan plan_backends(const std::string& backends, const std::string& precisions,
                          const std::string& threads, const std::string& batches,
                          const std::string& devices, bool one_gpu) {
  BackendPlan plan =
      expand_backend_specs({backends, precisions, threads, batches, devices, one_gpu});
  for (const std::string& line : plan.skipped) std::cerr << "note: " << line << "\n";
  return plan;
}

void check_output_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw std::invalid_argument("Cannot write reports to " + dir.string() + ": " +
                                (ec ? ec.message() : std::string("not a folder")) +
                                " (choose another --out).");
  }
  const std::filesystem::path probe = dir / ".gpt2-bench-write-test";
  {
    std::ofstream out(probe);
    if (!(out << "ok") || !out.flush()) {
      throw std::invalid_argument("Cannot write reports to " + dir.string() +
                                  ": the folder is not writable (choose another --out).");
    }
  }
  std::filesystem::remove(probe, ec);
}

CommonPlan check_common(const CommonOptions& o) {
  CommonPlan plan;
  plan.backends =
      plan_backends(o.backends, o.precisions, o.threads, o.batches, o.devices, o.one_gpu);
  plan.modes = parse_modes(o.modes);
  if (!std::filesystem::is_regular_file(o.prompts)) {
    throw std::invalid_argument("Prompt set " + o.prompts.string() + ": no such file.");
  }
  check_output_folder(o.out);
  return plan;
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; i++) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

std::vector<Precision> golden_precisions_for(const std::vector<Precision>& precisions) {
  std::vector<Precision> out = {Precision::kFloat32};
  for (Precision p : precisions) {
    const Precision g = golden_precision_of(p);
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return out;
}

std::optional<GoldenFile> load_goldens(const Model& model, Rule rule, Precision precision) {
  const auto path = golden_path(datasets_dir() / "goldens", model.name(), rule, precision);
  if (!std::filesystem::exists(path)) return std::nullopt;
  GoldenFile g = read_goldens(path);
  if (g.checksum != model.checksum()) {
    throw std::runtime_error(path.string() + ": made for a model with checksum " + g.checksum +
                             ", this one has " + model.checksum());
  }
  return g;
}

std::vector<Prompt> select_prompts(const std::vector<Prompt>& all, const std::string& which) {
  std::vector<Prompt> out;
  if (which == "all" || which == "short" || which == "long") {
    for (const Prompt& p : all) {
      if (which == "all" || (which == "short") == is_short_prompt(p)) out.push_back(p);
    }
    return out;
  }
  std::string known = "short, long, all";
  for (const Prompt& p : all) known += ", " + p.id;
  for (const std::string& id : parse_list(which, "prompt")) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Prompt& p) { return p.id == id; });
    if (it == all.end()) throw_unknown_item("prompt", id, known);
    out.push_back(*it);
  }
  return out;
}

void check_model_fits(const Model& model, const std::vector<Prompt>& prompts) {
  const ModelConfig& c = model.config();
  for (const Prompt& p : prompts) {
    if (p.n > c.max_seq_len) {
      throw std::invalid_argument("Prompt " + p.id + " needs n = " + std::to_string(p.n) +
                                  " positions; the model has " + std::to_string(c.max_seq_len) +
                                  ".");
    }
    for (int t : p.tokens) {
      if (t >= c.vocab_size) {
        throw std::invalid_argument("Prompt " + p.id + " has token " + std::to_string(t) +
                                    ", outside the model's vocabulary of " +
                                    std::to_string(c.vocab_size) + ".");
      }
    }
  }
}

void warn_oversubscription(const std::vector<int>& threads) {
  const int hw = int(std::thread::hardware_concurrency());
  if (hw > 0 && threads.back() > hw) {
    std::cerr << "note: " << threads.back() << " threads on " << hw
              << " logical CPUs: the larger counts oversubscribe the machine\n";
  }
}

}  // namespace gpt2::bench
