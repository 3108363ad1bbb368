// gpt2-bench: speedup sweeps and the equality gate.
//   gpt2-bench --backend openmp --threads 1..4          (the speedup sweep)
//   gpt2-bench verify --backend all --threads 1..4 --mode all
//   gpt2-bench render REPORT.json                       (the table and plot again)
//
// main() only registers the commands, each in its own file under
// tools/bench/ (commands.h lists them), reads the command line and runs the
// one it names. Each command checks every option before any work: a bad one
// is one line on stderr, nothing on stdout, exit 1.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "runtime/cli.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"

int main(int argc, char** argv) {
  // Under mpirun (cuda-tp across processes) ranks past 0 serve rank 0's backends.
  if (const std::optional<int> worker = gpt2::enter_launcher(argc, argv)) return *worker;
  using namespace gpt2::bench;
  CLI::App app{
      "gpt2-bench: run GPT-2 on interchangeable backends, prove they match the frozen "
      "reference, and measure how they scale.\n\n"
      "  gpt2-bench --backend openmp --threads 1..4   speedup sweep of the default workload\n"
      "  gpt2-bench verify --backend all --threads 1..4 --mode all   the equality gate\n"
      "  gpt2-bench agreement --precision bf16w,int8w  how far other precisions move the "
      "outputs\n"
      "  gpt2-bench serve --url http://127.0.0.1:8080 --rate 1,2,4   load scenarios against "
      "servers\n"
      "  gpt2-bench render REPORT.json                 the table, CSV and plot again\n"
      "  gpt2-bench backends                           what is built, and what runs here\n\n"
      "The default workload is the lab's: prompt lab-hello (5 tokens) completed to 10 tokens,\n"
      "recompute mode, median rule. Each sweep first measures the machine's ceilings (read\n"
      "bandwidth, float32 peaks) at its thread counts, and its GPU backends' GPU's (copy\n"
      "bandwidth, cuBLAS peaks), and shows every row's % of its ceiling.\n"
      "Reports (JSON, Markdown, CSV, SVG plot) go to reports/runs/.",
      "gpt2-bench"};
  // The sweep's options are the top-level ones: it runs when no subcommand is named.
  const Command sweep = register_sweep(app);
  const std::vector<Command> subcommands = {register_verify(app), register_agreement(app),
                                            register_backends(app), register_serve(app),
                                            register_render(app)};
  if (const std::optional<int> status = gpt2::parse_arguments(app, argc, argv)) return *status;

  try {
    const std::string command = command_line(argc, argv);
    for (const Command& c : subcommands) {
      if (c.app->parsed()) return c.run(command);
    }
    return sweep.run(command);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
