// The sweep report: data first (JSON), then the table and the plot from it,
// and back again from the JSON.
#include "harness/sweep_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "harness/stats.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using test::slurp;

Measurement measurement(const std::string& backend, int threads, std::vector<double> samples) {
  Measurement m;
  m.backend = backend;
  m.threads = threads;
  m.info.name = backend;
  m.samples = samples;
  m.stats = summarize_samples(samples);
  m.threaded = backend != "reference";
  m.tokens = Check::kYes;
  m.logits = Check::kYes;
  return m;
}

TEST(SweepReportTest, SweepFilesHoldTheMachineTheSamplesAndThePlot) {
  Workload w;
  w.prompts = {{"p", 10, {1, 2, 3, 4, 5}}};
  SweepResult r;
  r.measurements = {measurement("reference", 1, {4.0, 4.2, 3.9}),
                    measurement("openmp", 1, {1.0, 1.1, 0.9}),
                    measurement("openmp", 2, {0.52, 0.5, 0.55})};
  r.measurements[1].speedup_vs_1thread = 1.0;
  r.measurements[2].speedup_vs_1thread = 2.0;
  r.measurements[2].speedup_vs_reference = 8.0;
  r.measurements.push_back(measurement("onednn", 2, {0.25, 0.26, 0.24}));
  r.measurements[3].precision = Precision::kBFloat16;
  r.measurements[3].speedup_vs_1thread = 1.9;
  r.measurements[3].weights_gb_per_second = 1.5;
  ReportContext ctx;
  ctx.command = "gpt2-bench --backend openmp --threads 1..2";
  ctx.timestamp = "2026-11-21T00:00:00Z";
  ctx.machine = machine_info();
  auto model = test::tiny_model();
  ctx.model = model_facts(*model);
  const auto dir = test::temp_dir();
  const ReportFiles files = write_sweep_report(dir, "run", ctx, w, r);
  ASSERT_EQ(files.all().size(), 4u);
  EXPECT_EQ(files.json, dir / "run.json");
  EXPECT_EQ(files.md, dir / "run.md");
  EXPECT_EQ(files.svg, dir / "run.svg");
  EXPECT_EQ(files.csv, dir / "run.csv");
  for (const auto& f : files.all()) EXPECT_TRUE(std::filesystem::exists(f)) << f;
  // No temporary file is left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) (void)e, entries++;
  EXPECT_EQ(entries, 4);

  const auto j = nlohmann::json::parse(slurp(dir / "run.json"));
  EXPECT_EQ(j["kind"], "sweep");
  EXPECT_EQ(j["command"], ctx.command);
  EXPECT_FALSE(j["machine"]["cpu_model"].get<std::string>().empty());
  EXPECT_GE(j["machine"]["logical_cpus"].get<int>(), 1);
  EXPECT_GT(j["machine"]["memory_gib"].get<double>(), 0.1);
  EXPECT_FALSE(j["build"]["compiler"].get<std::string>().empty());
  EXPECT_NE(j["build"]["flags"].get<std::string>().find("-ffp-contract=off"), std::string::npos);
  EXPECT_EQ(j["model"]["checksum_xxh3"], model->checksum());
  ASSERT_EQ(j["measurements"].size(), 4u);
  EXPECT_EQ(j["measurements"][3]["precision"], "bfloat16");
  EXPECT_EQ(j["measurements"][3]["label"], "onednn bfloat16 (not float32)");
  EXPECT_FALSE(j["measurements"][3]["float32"].get<bool>());
  EXPECT_TRUE(j["measurements"][2]["float32"].get<bool>());
  EXPECT_DOUBLE_EQ(j["measurements"][3]["weights_gb_per_s"].get<double>(), 1.5);
  EXPECT_EQ(j["measurements"][2]["samples_s"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["measurements"][2]["median_s"].get<double>(), 0.52);
  EXPECT_EQ(j["workload"]["prompts"][0]["id"], "p");

  const std::string md = slurp(dir / "run.md");
  EXPECT_NE(md.find("| openmp | recompute | 2 | 0.5200 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| onednn bfloat16 (not float32) | recompute | 2 | 0.2500 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("weights GB/s"), std::string::npos);
  EXPECT_NE(md.find("Rows marked bfloat16 (not float32)"), std::string::npos);
  EXPECT_NE(md.find(ctx.machine.cpu_model), std::string::npos);
  const std::string svg = slurp(dir / "run.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("openmp (recompute)"), std::string::npos);
  EXPECT_NE(svg.find("onednn bfloat16 (not float32) (recompute)"), std::string::npos);
  EXPECT_NE(svg.find("ideal"), std::string::npos);
  // Without ceilings the table says so, and the column is there, empty.
  EXPECT_TRUE(j["ceilings"].is_null());
  EXPECT_NE(md.find("% of ceiling"), std::string::npos);
  EXPECT_NE(md.find("Ceilings: not measured"), std::string::npos);
  EXPECT_EQ(svg.find("the machine's scaling"), std::string::npos);
  EXPECT_TRUE(j["gpu_ceilings"].is_null());  // no GPU: no GPU ceilings, no table
  EXPECT_EQ(md.find("GPUs' ceilings"), std::string::npos);
  // The CSV: a header and one row per configuration.
  const std::string csv = slurp(dir / "run.csv");
  EXPECT_EQ(csv.rfind("timestamp,git_commit,cpu_model,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_NE(csv.find(",onednn,bfloat16,"), std::string::npos) << csv;
}

// A sweep with ceilings: every row's share of the ceiling that bounds it, the
// ceilings' table, their scaling in the plot, the JSON, the CSV and a render.
TEST(SweepReportTest, CeilingsGoIntoEveryFile) {
  Workload w;
  w.prompts = {{"p", 10, {1, 2, 3, 4, 5}}};
  SweepResult r;
  r.measurements = {measurement("openmp", 1, {1.0}), measurement("openmp", 2, {0.5})};
  r.measurements[0].speedup_vs_1thread = 1.0;
  r.measurements[1].speedup_vs_1thread = 2.0;
  Ceilings c;
  c.isa = "avx2";
  c.read_buffer_bytes = std::size_t(512) << 20;
  c.seconds = 1.25;
  c.points = {{1, 10.0, 100.0, 50.0, 0.0}, {2, 15.0, 200.0, 100.0, 0.0}};
  r.ceilings = c;
  auto model = test::tiny_model();
  apply_ceilings(c, {}, model->config(), w, r.measurements);
  ASSERT_TRUE(r.measurements[1].ceiling.known());
  ReportContext ctx;
  ctx.command = "gpt2-bench";
  ctx.timestamp = "2026-11-24T00:00:00Z";
  ctx.machine = machine_info();
  ctx.model = model_facts(*model);
  const auto dir = test::temp_dir();
  write_sweep_report(dir, "c", ctx, w, r);
  const auto j = nlohmann::json::parse(slurp(dir / "c.json"));
  EXPECT_EQ(j["schema"], 2);
  ASSERT_EQ(j["ceilings"]["points"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["ceilings"]["points"][1]["read_gb_s"].get<double>(), 15.0);
  EXPECT_DOUBLE_EQ(j["ceilings"]["points"][1]["fp32_mul_add_gflops"].get<double>(), 100.0);
  const auto& row = j["measurements"][1]["ceiling"];
  EXPECT_EQ(row["bound"], r.measurements[1].ceiling.bound);
  EXPECT_DOUBLE_EQ(row["percent"].get<double>(), r.measurements[1].ceiling.percent);
  const std::string md = slurp(dir / "c.md");
  EXPECT_NE(md.find("| threads | read GB/s | fp32 FMA GFLOP/s | fp32 mul+add GFLOP/s |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 2 | 15.0 | 200 | 100 |"), std::string::npos) << md;
  const std::string cell = " | " +
                           std::to_string(int(std::lround(r.measurements[1].ceiling.percent))) +
                           "% " + r.measurements[1].ceiling.short_name() + " | ";
  EXPECT_NE(md.find(cell), std::string::npos) << cell << "\n" << md;
  EXPECT_NE(slurp(dir / "c.svg").find(r.measurements[1].ceiling.name + " (the machine's scaling)"),
            std::string::npos);
  EXPECT_NE(slurp(dir / "c.csv").find(r.measurements[1].ceiling.name), std::string::npos);
  // Rendered again from the JSON: the same table and plot.
  const SweepReport back = read_sweep_report(dir / "c.json");
  ASSERT_TRUE(back.result.ceilings.has_value());
  EXPECT_EQ(back.result.ceilings->points.size(), 2u);
  render_sweep_report(dir, "d", back);
  std::string a = slurp(dir / "c.md");
  a.replace(a.find("c.svg"), 5, "d.svg");
  EXPECT_EQ(a, slurp(dir / "d.md"));
  EXPECT_EQ(slurp(dir / "c.svg"), slurp(dir / "d.svg"));
  EXPECT_EQ(slurp(dir / "c.csv"), slurp(dir / "d.csv"));
}

// A sweep with a GPU row: the GPU's ceilings in the JSON and their own table,
// the row's share of its GPU's ceiling, and the same files rendered again.
TEST(SweepReportTest, GpuCeilingsGoIntoTheJsonAndTheTable) {
  Workload w;
  w.prompts = {{"p", 10, {1, 2, 3, 4, 5}}};
  SweepResult r;
  r.measurements = {measurement("openmp", 1, {1.0}), measurement("cuda", 1, {0.001})};
  r.measurements[1].info.device = Device::kCuda;
  r.measurements[1].info.numerics = Numerics::kReordered;
  Ceilings c;
  c.isa = "avx2";
  c.points = {{1, 10.0, 100.0, 50.0, 0.0}};
  r.ceilings = c;
  GpuCeilings g;
  g.device = 0;
  g.name = "NVIDIA H100 80GB HBM3";
  g.copy_bytes = std::size_t(1) << 30;
  g.copy_gb_s = 2900.5;
  g.gemm_n = 8192;
  g.fp32_gflops = 51234.4;
  g.bf16_gflops = 612345.6;
  g.seconds = 0.75;
  r.gpu_ceilings = {g};
  auto model = test::tiny_model();
  apply_ceilings(c, r.gpu_ceilings, model->config(), w, r.measurements);
  ASSERT_TRUE(r.measurements[1].ceiling.known());
  EXPECT_EQ(r.measurements[1].ceiling.name, "GPU copy bandwidth");  // tiny model, decode
  EXPECT_EQ(r.measurements[0].ceiling.name, "read bandwidth");
  ReportContext ctx;
  ctx.command = "gpt2-bench --backend cuda";
  ctx.timestamp = "2026-11-24T00:00:00Z";
  ctx.machine = machine_info();
  ctx.model = model_facts(*model);
  const auto dir = test::temp_dir();
  write_sweep_report(dir, "g", ctx, w, r);
  const auto j = nlohmann::json::parse(slurp(dir / "g.json"));
  EXPECT_EQ(j["schema"], 2);
  ASSERT_EQ(j["gpu_ceilings"].size(), 1u);
  EXPECT_EQ(j["gpu_ceilings"][0]["device"], 0);
  EXPECT_EQ(j["gpu_ceilings"][0]["name"], g.name);
  EXPECT_DOUBLE_EQ(j["gpu_ceilings"][0]["copy_gb_s"].get<double>(), 2900.5);
  EXPECT_DOUBLE_EQ(j["gpu_ceilings"][0]["fp32_gflops"].get<double>(), 51234.4);
  EXPECT_DOUBLE_EQ(j["gpu_ceilings"][0]["bf16_gflops"].get<double>(), 612345.6);
  EXPECT_EQ(j["gpu_ceilings"][0]["gemm_n"], 8192);
  EXPECT_EQ(j["measurements"][1]["ceiling"]["name"], "GPU copy bandwidth");
  const std::string md = slurp(dir / "g.md");
  EXPECT_NE(md.find("| GPU | copy GB/s | fp32 GFLOP/s | bf16 GFLOP/s |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0: NVIDIA H100 80GB HBM3 (copy of 1024 MiB, n = 8192) | 2900.5 | 51234 | "
                    "612346 |"),
            std::string::npos)
      << md;
  const std::string cell =
      " | " + std::to_string(int(std::lround(r.measurements[1].ceiling.percent))) + "% copy | ";
  EXPECT_NE(md.find(cell), std::string::npos) << cell << "\n" << md;
  // Read back: the same ceilings, the same files.
  const SweepReport back = read_sweep_report(dir / "g.json");
  ASSERT_EQ(back.result.gpu_ceilings.size(), 1u);
  const GpuCeilings& b = back.result.gpu_ceilings[0];
  EXPECT_EQ(b.device, 0);
  EXPECT_EQ(b.name, g.name);
  EXPECT_EQ(b.copy_bytes, g.copy_bytes);
  EXPECT_DOUBLE_EQ(b.copy_gb_s, g.copy_gb_s);
  EXPECT_EQ(b.gemm_n, g.gemm_n);
  EXPECT_DOUBLE_EQ(b.fp32_gflops, g.fp32_gflops);
  EXPECT_DOUBLE_EQ(b.bf16_gflops, g.bf16_gflops);
  EXPECT_DOUBLE_EQ(b.seconds, g.seconds);
  EXPECT_EQ(back.result.measurements[1].info.device, Device::kCuda);
  render_sweep_report(dir, "h", back);
  std::string a = slurp(dir / "g.md");
  a.replace(a.find("g.svg"), 5, "h.svg");
  EXPECT_EQ(a, slurp(dir / "h.md"));
  EXPECT_EQ(slurp(dir / "g.csv"), slurp(dir / "h.csv"));
}

// A report written before schema 2 (no ceilings, no GFLOP/s) renders without
// error, its ceiling cells empty.
TEST(SweepReportTest, OldReportsWithoutCeilingsRenderAgain) {
  const auto dir = test::temp_dir();
  std::ofstream(dir / "old.json") << R"({
    "kind": "sweep", "command": "gpt2-bench", "timestamp": "2026-11-21T00:00:00Z",
    "machine": {"cpu_model": "x", "logical_cpus": 2, "physical_cores": 2, "sockets": 1,
                "isa_flags": [], "memory_gib": 1.0, "os": "o", "kernel": "k",
                "hostname": "h", "kernel_isa": "avx2"},
    "build": {"compiler": "g++", "build_type": "Release", "flags": "", "git_commit": "abc"},
    "workload": {"prompts": [{"id": "lab-hello", "n": 10, "prompt_tokens": 5}],
                 "rule": "median", "reps": 1, "warmup": 1, "reference_reps": 1},
    "measurements": [{"backend": "openmp", "mode": "recompute", "threads": 1,
                      "precision": "float32", "samples_s": [0.5],
                      "tokens_equal_goldens": "yes", "logits_bit_exact": "yes"}],
    "failures": 0})";
  const SweepReport back = read_sweep_report(dir / "old.json");
  EXPECT_FALSE(back.result.ceilings.has_value());
  EXPECT_TRUE(back.result.gpu_ceilings.empty());
  const ReportFiles files = render_sweep_report(dir, "old", back);
  EXPECT_EQ(files.all().size(), 3u);
  const std::string md = slurp(dir / "old.md");
  EXPECT_NE(md.find("| openmp | recompute | 1 | 0.5000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Ceilings: not measured"), std::string::npos);
}

TEST(SweepReportTest, ASweepRendersAgainFromItsJson) {
  Workload w;
  w.prompts = {{"p", 10, {1, 2, 3, 4, 5}}};
  w.rule = Rule::sample(0.8f, 40, 1.0f, 2);
  SweepResult r;
  r.measurements = {measurement("openmp", 1, {1.0, 1.1, 0.9}),
                    measurement("openmp", 2, {0.52, 0.5, 0.55})};
  r.measurements[0].speedup_vs_1thread = 1.0;
  r.measurements[1].speedup_vs_1thread = 2.0;
  r.measurements[1].tokens_per_second = 9.6;
  ReportContext ctx;
  ctx.command = "gpt2-bench";
  ctx.timestamp = "2026-11-21T00:00:00Z";
  ctx.machine = machine_info();
  ctx.model = model_facts(*test::tiny_model());
  const auto dir = test::temp_dir();
  write_sweep_report(dir, "a", ctx, w, r);
  const SweepReport back = read_sweep_report(dir / "a.json");
  EXPECT_EQ(back.workload.rule, w.rule);
  EXPECT_FALSE(back.workload.interleave);
  EXPECT_EQ(back.result.measurements.size(), 2u);
  EXPECT_EQ(back.context.model->checksum, test::tiny_model()->checksum());
  render_sweep_report(dir, "b", back);
  std::string a = slurp(dir / "a.md"), b = slurp(dir / "b.md");
  a.replace(a.find("a.svg"), 5, "b.svg");
  EXPECT_EQ(a, b);
  EXPECT_EQ(slurp(dir / "a.svg"), slurp(dir / "b.svg"));
  // An interleaved sweep says so in its JSON and its table, and renders again.
  w.interleave = true;
  write_sweep_report(dir, "c", ctx, w, r);
  EXPECT_TRUE(nlohmann::json::parse(slurp(dir / "c.json"))["workload"]["interleaved"].get<bool>());
  EXPECT_NE(slurp(dir / "c.md").find("thread counts taken in turns"), std::string::npos);
  EXPECT_EQ(slurp(dir / "a.md").find("taken in turns"), std::string::npos);
  EXPECT_TRUE(read_sweep_report(dir / "c.json").workload.interleave);
  EXPECT_THROW(read_sweep_report(dir / "nope.json"), std::runtime_error);
  std::ofstream(dir / "bad.json") << "{\"kind\": \"verify\"}";
  EXPECT_THROW(read_sweep_report(dir / "bad.json"), std::runtime_error);
}

// `render` needs nothing of the build: a committed report whose backends this
// binary does not have (a backend of another build, a GPU one in a CPU-only
// build) renders, its threaded rows plotted, from what the JSON says; a report
// from before rows said whether they are threaded plots the backends it
// measured at more than one thread count.
TEST(SweepReportTest, AReportOfBackendsThisBuildLacksRendersAgain) {
  const auto dir = test::temp_dir();
  const std::string head = R"({
    "kind": "sweep", "command": "gpt2-bench", "timestamp": "2026-11-21T00:00:00Z",
    "machine": {"cpu_model": "x", "logical_cpus": 2, "physical_cores": 2, "sockets": 1,
                "isa_flags": [], "memory_gib": 1.0, "os": "o", "kernel": "k",
                "hostname": "h", "kernel_isa": "avx2"},
    "build": {"compiler": "g++", "build_type": "Release", "flags": "", "git_commit": "abc"},
    "workload": {"prompts": [{"id": "lab-hello", "n": 10, "prompt_tokens": 5}],
                 "rule": "median", "reps": 1, "warmup": 1, "reference_reps": 1},
    "failures": 0, "measurements": [)";
  auto row = [](const std::string& backend, int threads, double s, double speedup,
                const std::string& extra) {
    return R"({"backend": ")" + backend + R"(", "mode": "recompute", "threads": )" +
           std::to_string(threads) + R"(, "precision": "float32", "samples_s": [)" +
           std::to_string(s) + R"(], "speedup_vs_1thread": )" + std::to_string(speedup) +
           R"(, "tokens_equal_goldens": "yes", "logits_bit_exact": "n/a")" + extra + "}";
  };
  std::ofstream(dir / "new.json") << head
                                  << row("cuda-tp", 1, 0.1, 1.0,
                                         R"(, "device": "cuda", "threaded": false)")
                                  << "," << row("npu-pool", 1, 0.8, 1.0, R"(, "threaded": true)")
                                  << "," << row("npu-pool", 2, 0.4, 2.0, R"(, "threaded": true)")
                                  << "]}";
  std::ofstream(dir / "old.json") << head << row("npu-pool", 1, 0.8, 1.0, "") << ","
                                  << row("npu-pool", 2, 0.4, 2.0, "") << ","
                                  << row("serial-thing", 1, 1.0, 1.0, "") << "]}";
  for (const char* stem : {"new", "old"}) {
    const SweepReport back = read_sweep_report(dir / (std::string(stem) + ".json"));
    const ReportFiles files = render_sweep_report(dir, stem, back);
    EXPECT_EQ(files.all().size(), 3u) << stem;
    const std::string svg = slurp(dir / (std::string(stem) + ".svg"));
    EXPECT_NE(svg.find("npu-pool (recompute)"), std::string::npos) << stem << "\n" << svg;
    EXPECT_EQ(svg.find("cuda-tp (recompute)"), std::string::npos) << "not threaded: no line";
    EXPECT_EQ(svg.find("serial-thing (recompute)"), std::string::npos) << "one thread count";
    EXPECT_NE(slurp(dir / (std::string(stem) + ".md")).find("| npu-pool | recompute | 2 |"),
              std::string::npos);
  }
  EXPECT_EQ(read_sweep_report(dir / "new.json").result.measurements[0].info.device, Device::kCuda);
}

// A sweep over batch sizes: the batch column, each row's step time and rate
// per sequence, and the throughput plot beside the speedup plot; all read back.
TEST(SweepReportTest, BatchSizesGoIntoEveryFileAndThePlot) {
  Workload w;
  w.prompts = {{"p", 10, {1, 2, 3, 4, 5}}};
  SweepResult r;
  r.measurements = {measurement("pthreads", 2, {1.0, 1.1}), measurement("pthreads", 2, {1.6, 1.7})};
  Measurement& batched = r.measurements[1];
  batched.batch = 8;
  batched.sequences = 8;
  batched.steps = 5;
  batched.tokens_per_second = 25.0;
  batched.tokens_per_second_per_sequence = 3.125;
  batched.ms_per_step = 330.0;
  r.measurements[0].tokens_per_second = 5.0;
  ReportContext ctx;
  ctx.machine = machine_info();
  ctx.model = model_facts(*test::tiny_model());
  const auto dir = test::temp_dir();
  const ReportFiles files = write_sweep_report(dir, "b", ctx, w, r);
  EXPECT_EQ(files.batch_svg, dir / "b-batch.svg");
  EXPECT_EQ(files.all().size(), 5u);
  const std::string md = slurp(dir / "b.md");
  EXPECT_NE(md.find("| backend | mode | threads | batch |"), std::string::npos) << md;
  EXPECT_NE(md.find("| pthreads | recompute | 2 | 8 | 1.6500 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 25.00 | 3.12 | 330.000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("![throughput against batch size](b-batch.svg)"), std::string::npos);
  const std::string svg = slurp(dir / "b-batch.svg");
  EXPECT_NE(svg.find("batch (sequences per step)"), std::string::npos);
  EXPECT_NE(svg.find("pthreads (recompute) 2 threads: batch 8, 25.00 tokens/s"), std::string::npos)
      << svg;
  const SweepReport back = read_sweep_report(dir / "b.json");
  EXPECT_EQ(back.result.measurements[1].batch, 8);
  EXPECT_EQ(back.result.measurements[1].steps, 5);
  EXPECT_DOUBLE_EQ(back.result.measurements[1].ms_per_step, 330.0);
  render_sweep_report(dir, "c", back);
  EXPECT_EQ(slurp(dir / "b-batch.svg"), slurp(dir / "c-batch.svg"));
  EXPECT_NE(slurp(dir / "b.csv").find(",8,5,330,3.125,0,1,threads\n"), std::string::npos)
      << slurp(dir / "b.csv");
}

}  // namespace
}  // namespace gpt2
