// gpt2-bench render: a sweep report's Markdown table, CSV and SVG plot
// written again from its JSON.
//   gpt2-bench render REPORT.json
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "harness/sweep_report.h"
#include "tools/bench/commands.h"

namespace gpt2::bench {
namespace {

CLI::App* add_render_command(CLI::App& app, std::vector<std::filesystem::path>& files) {
  CLI::App* render = app.add_subcommand(
      "render", "Write a sweep report's Markdown table, CSV and SVG plot again from its JSON");
  render->add_option("json", files, "Sweep report JSON files")->required();
  return render;
}

int run_render_command(const std::vector<std::filesystem::path>& files) {
  for (const auto& f : files) {
    const SweepReport report = read_sweep_report(f);
    const ReportFiles written = render_sweep_report(f.parent_path(), f.stem().string(), report);
    for (const auto& path : written.all()) std::cout << "wrote " << path.string() << "\n";
  }
  return 0;
}

}  // namespace

Command register_render(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::filesystem::path>>();
  CLI::App* render = add_render_command(app, *files);
  return {render, [files](const std::string&) { return run_render_command(*files); }};
}

}  // namespace gpt2::bench
