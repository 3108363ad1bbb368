#include "harness/sweep_report.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "backends/registry.h"
#include "harness/plot.h"
#include "harness/report_json.h"

namespace gpt2 {

namespace {

using report::csv_line;
using report::fmt;
using report::json;
using report::num;

json ceilings_json(const std::optional<Ceilings>& c) {
  if (!c) return nullptr;
  json points = json::array();
  for (const CeilingPoint& p : c->points) {
    points.push_back({{"threads", p.threads},
                      {"read_gb_s", p.read_gb_s},
                      {"fp32_fma_gflops", p.fp32_fma_gflops},
                      {"fp32_mul_add_gflops", p.fp32_mul_add_gflops},
                      {"bf16_gflops", p.bf16_gflops}});
  }
  return {{"seconds", c->seconds},
          {"isa", c->isa},
          {"bf16_kind", c->bf16_kind},
          {"read_buffer_bytes", c->read_buffer_bytes},
          {"points", points}};
}

std::optional<Ceilings> ceilings_from_json(const json& j) {
  if (j.is_null()) return std::nullopt;
  Ceilings c;
  c.seconds = j.value("seconds", 0.0);
  c.isa = j.value("isa", "");
  c.bf16_kind = j.value("bf16_kind", "");
  c.read_buffer_bytes = j.value("read_buffer_bytes", std::size_t(0));
  for (const json& p : j.at("points")) {
    c.points.push_back({p.at("threads"), p.value("read_gb_s", 0.0), p.value("fp32_fma_gflops", 0.0),
                        p.value("fp32_mul_add_gflops", 0.0), p.value("bf16_gflops", 0.0)});
  }
  return c;
}

json gpu_ceilings_json(const std::vector<GpuCeilings>& gpus) {
  if (gpus.empty()) return nullptr;
  json out = json::array();
  for (const GpuCeilings& g : gpus) {
    out.push_back({{"device", g.device},
                   {"name", g.name},
                   {"copy_bytes", g.copy_bytes},
                   {"copy_gb_s", g.copy_gb_s},
                   {"gemm_n", g.gemm_n},
                   {"fp32_gflops", g.fp32_gflops},
                   {"bf16_gflops", g.bf16_gflops},
                   {"seconds", g.seconds}});
  }
  return out;
}

std::vector<GpuCeilings> gpu_ceilings_from_json(const json& j) {
  std::vector<GpuCeilings> out;
  if (j.is_null()) return out;
  for (const json& x : j) {
    GpuCeilings g;
    g.device = x.at("device");
    g.name = x.value("name", "");
    g.copy_bytes = x.value("copy_bytes", std::size_t(0));
    g.copy_gb_s = x.value("copy_gb_s", 0.0);
    g.gemm_n = x.value("gemm_n", 0);
    g.fp32_gflops = x.value("fp32_gflops", 0.0);
    g.bf16_gflops = x.value("bf16_gflops", 0.0);
    g.seconds = x.value("seconds", 0.0);
    out.push_back(g);
  }
  return out;
}

json row_ceiling_json(const RowCeiling& c) {
  if (!c.known()) return nullptr;
  return {{"bound", c.bound}, {"name", c.name},         {"unit", c.unit},
          {"value", c.value}, {"achieved", c.achieved}, {"percent", c.percent}};
}

RowCeiling row_ceiling_from_json(const json& j) {
  RowCeiling c;
  if (j.is_null()) return c;
  c.bound = j.at("bound");
  c.name = j.at("name");
  c.unit = j.at("unit");
  c.value = j.at("value");
  c.achieved = j.at("achieved");
  c.percent = j.at("percent");
  return c;
}

// "83% bw": the share of the row's ceiling, or "-".
std::string ceiling_cell(const RowCeiling& c) {
  return c.known() ? fmt("%.0f%% ", c.percent) + c.short_name() : std::string("-");
}

std::string ceilings_markdown(const std::optional<Ceilings>& c) {
  std::ostringstream out;
  if (!c || c->empty()) {
    out << "\nCeilings: not measured (--no-ceilings, or a report from before gpt2-bench measured "
           "them).\n";
    return out.str();
  }
  out << "\nThe machine's ceilings, measured in this run before the backends ("
      << fmt("%.1f", c->seconds) << " s): read bandwidth over " << (c->read_buffer_bytes >> 20)
      << " MiB (at least 4x the last-level cache), and register-only " << c->isa
      << " loops; best of 4 each.\n\n";
  const bool bf16 = !c->bf16_kind.empty();
  out << "| threads | read GB/s | fp32 FMA GFLOP/s | fp32 mul+add GFLOP/s |"
      << (bf16 ? " bf16 (" + c->bf16_kind + ") GFLOP/s |" : "") << "\n";
  out << "|---:|---:|---:|---:|" << (bf16 ? "---:|" : "") << "\n";
  for (const CeilingPoint& p : c->points) {
    out << "| " << p.threads << " | " << fmt("%.1f", p.read_gb_s) << " | "
        << fmt("%.0f", p.fp32_fma_gflops) << " | " << fmt("%.0f", p.fp32_mul_add_gflops) << " |"
        << (bf16 ? " " + fmt("%.0f", p.bf16_gflops) + " |" : "") << "\n";
  }
  out << "\n% of ceiling: each row on the roofline at its thread count. bw: weights GB/s over "
         "the read bandwidth (rows whose weight bytes take longer to read than their FLOPs take "
         "to compute: decode, the lab's workload); mul+add, fma, bf16: GFLOP/s over the peak "
         "the row's numerics can use (the bit-exact float32 kernels multiply and add "
         "separately; reordering backends may fuse; bfloat16 rows: the bfloat16 peak).\n";
  return out.str();
}

std::string gpu_ceilings_markdown(const std::vector<GpuCeilings>& gpus) {
  if (gpus.empty()) return "";
  std::ostringstream out;
  double seconds = 0;
  for (const GpuCeilings& g : gpus) seconds += g.seconds;
  out << "\nThe GPUs' ceilings, measured in this run before the backends (" << fmt("%.1f", seconds)
      << " s): a device-to-device copy (bytes read plus bytes written), cuBLAS n x n x n "
         "products in float32 (TF32 off) and in bfloat16 with float32 accumulation (tensor "
         "cores); best of 5 each after a warm-up.\n\n";
  out << "| GPU | copy GB/s | fp32 GFLOP/s | bf16 GFLOP/s |\n";
  out << "|---|---:|---:|---:|\n";
  for (const GpuCeilings& g : gpus) {
    out << "| " << g.device << ": " << g.name << " (copy of " << (g.copy_bytes >> 20)
        << " MiB, n = " << g.gemm_n << ") | " << fmt("%.1f", g.copy_gb_s) << " | "
        << fmt("%.0f", g.fp32_gflops) << " | " << fmt("%.0f", g.bf16_gflops) << " |\n";
  }
  out << "\n% of ceiling of a GPU row: on its GPU's roofline. copy: weights GB/s over the copy "
         "bandwidth; fp32, bf16: GFLOP/s over cuBLAS's peak at the row's precision. The time of "
         "a GPU row counts the host's side too (launches, copying the logits back).\n";
  return out.str();
}

Workload workload_from_json(const json& wj) {
  Workload w;
  for (const json& p : wj.at("prompts")) {
    Prompt prompt;
    prompt.id = p.at("id");
    prompt.n = p.at("n");
    prompt.tokens.assign(p.at("prompt_tokens").get<std::size_t>(), 0);  // only the count is kept
    w.prompts.push_back(prompt);
  }
  const auto rule = parse_rule(wj.at("rule").get<std::string>());
  if (!rule) throw std::runtime_error("unknown rule in the workload");
  w.rule = *rule;
  w.reps = wj.at("reps");
  w.warmup = wj.at("warmup");
  w.reference_reps = wj.at("reference_reps");
  w.interleave = wj.value("interleaved", false);  // absent in reports before it existed
  return w;
}

Check check_from_json(const std::string& s) {
  return s == "yes" ? Check::kYes : s == "n/a" ? Check::kNotApplicable : Check::kNo;
}

Measurement measurement_from_json(const json& x) {
  Measurement me;
  me.backend = x.at("backend");
  me.precision =
      parse_precision(x.at("precision").get<std::string>()).value_or(Precision::kFloat32);
  me.mode = parse_mode(x.at("mode").get<std::string>()).value_or(Mode::kRecompute);
  me.threads = x.at("threads");
  me.gpus = x.value("gpus", 1);  // absent before the GPU axis
  me.multi_gpu = x.value("scaling_axis", "threads") == "gpus";
  me.workers_label = x.value("workers", threads_text(me.threads));
  me.batch = x.value("batch", 1);  // absent before the batch axis
  me.sequences = x.value("sequences", 0);
  me.steps = x.value("steps_per_run", 0L);
  me.ms_per_step = x.value("ms_per_step", 0.0);
  me.tokens_per_second_per_sequence = x.value("tokens_per_s_per_sequence", 0.0);
  me.decode_tokens_per_second = x.value("decode_tokens_per_s", 0.0);
  me.decode_samples = x.value("decode_samples_s", std::vector<double>{});
  me.info.name = me.backend;
  me.info.precision = me.precision;
  me.info.threads = me.threads;
  me.info.details = x.value("details", "");
  me.info.device = x.value("device", "cpu") == "cuda" ? Device::kCuda : Device::kCpu;
  me.threaded = x.value("threaded", false);  // absent before it was stored: infer_threaded()
  const std::string numerics = x.value("numerics", "bit-exact");
  me.info.numerics = numerics == "reordered" ? Numerics::kReordered
                     : numerics == "none"    ? Numerics::kNone
                                             : Numerics::kBitExact;
  me.samples = x.at("samples_s").get<std::vector<double>>();
  me.stats = summarize_samples(me.samples);
  me.tokens = check_from_json(x.at("tokens_equal_goldens"));
  me.logits = check_from_json(x.at("logits_bit_exact"));
  me.pack_seconds = x.value("prepare_s", 0.0);
  me.tokens_per_second = x.value("tokens_per_s", 0.0);
  me.positions_per_second = x.value("positions_per_s", 0.0);
  me.weights_gb_per_second = x.value("weights_gb_per_s", 0.0);
  me.speedup_vs_1thread = x.value("speedup_vs_1thread", 0.0);
  me.speedup_vs_reference = x.value("speedup_vs_reference", 0.0);
  me.efficiency = x.value("efficiency", 0.0);
  // Absent in reports from before schema 2.
  me.flops_per_run = x.value("flops_per_run", 0.0);
  me.gflop_per_second = x.value("gflop_per_s", 0.0);
  me.ceiling = row_ceiling_from_json(x.value("ceiling", json(nullptr)));
  return me;
}

// Reports from before rows said whether their backend is threaded: a backend
// measured at more than one thread count is (one that is not runs at 1 only).
void infer_threaded(std::vector<Measurement>& rows) {
  for (Measurement& m : rows) {
    for (const Measurement& other : rows) {
      if (other.backend == m.backend && other.threads > 1) m.threaded = true;
    }
  }
}

}  // namespace

std::string sweep_table(const Workload& w, const SweepResult& r) {
  std::ostringstream out;
  // A sweep over batch sizes: a batch column, and each row's step time and
  // tokens/s per sequence.
  const bool batched = std::any_of(r.measurements.begin(), r.measurements.end(),
                                   [](const Measurement& m) { return m.batch > 1; });
  // A multi-GPU backend's rows scale with GPUs: the axis column says which.
  const bool gpus = std::any_of(r.measurements.begin(), r.measurements.end(),
                                [](const Measurement& m) { return m.multi_gpu; });
  out << "| backend | mode | " << (gpus ? "threads or GPUs" : "threads") << " | "
      << (batched ? "batch | " : "") << "median s/run | min | max | tokens/s | "
      << (batched ? "per sequence | ms/step | decode tokens/s | " : "")
      << "positions/s | weights GB/s | GFLOP/s | % of ceiling | speedup vs 1 "
      << (gpus ? "thread or GPU" : "thread")
      << " | speedup vs reference | efficiency | tokens = golden | logits bit-exact |\n";
  out << "|---|---|---:|" << (batched ? "---:|" : "") << "---:|---:|---:|---:|"
      << (batched ? "---:|---:|---:|" : "") << "---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  auto opt = [](double v, const char* f) { return v > 0 ? fmt(f, v) : std::string("-"); };
  bool bf16 = false;
  for (const Measurement& m : r.measurements) {
    bf16 = bf16 || m.precision == Precision::kBFloat16;
    std::string tokens = check_name(m.tokens);
    if (m.precision == Precision::kBFloat16 && m.tokens == Check::kNo) tokens = "no (bfloat16)";
    out << "| " << backend_label(m.backend, m.precision) << " | " << mode_name(m.mode) << " | "
        << (m.multi_gpu ? m.workers_label : std::to_string(m.threads)) << " | "
        << (batched ? std::to_string(m.batch) + " | " : "") << fmt("%.4f", m.stats.median) << " | "
        << fmt("%.4f", m.stats.min) << " | " << fmt("%.4f", m.stats.max) << " | "
        << fmt("%.2f", m.tokens_per_second) << " | "
        << (batched ? opt(m.tokens_per_second_per_sequence, "%.2f") + " | " +
                          opt(m.ms_per_step, "%.3f") + " | " +
                          opt(m.decode_tokens_per_second, "%.2f") + " | "
                    : "")
        << fmt("%.1f", m.positions_per_second) << " | " << fmt("%.2f", m.weights_gb_per_second)
        << " | " << opt(m.gflop_per_second, "%.1f") << " | " << ceiling_cell(m.ceiling) << " | "
        << opt(m.speedup_vs_1thread, "%.2f") << " | " << opt(m.speedup_vs_reference, "%.2f")
        << " | " << opt(m.efficiency, "%.2f") << " | " << tokens << " | " << check_name(m.logits)
        << " |\n";
  }
  out << "\npositions/s: positions run through the model per second (recompute runs the whole "
         "sequence at every step; kv-cache the prompt once, so with one new token it is the "
         "prefill rate). weights GB/s: steps x the weight bytes one forward pass reads / "
         "time (every step reads every weight once, for all its sequences). GFLOP/s: the matrix "
         "products' and attention's multiplies and adds per second.\n";
  if (batched) {
    out << "\nbatch: sequences per step (the workload's prompts in turn, at least that many, "
           "at most that many in flight; finished ones leave and waiting ones join). tokens/s: "
           "all sequences' new tokens; per sequence: that over the sequences in flight; "
           "ms/step: one batched step; decode tokens/s: the new tokens after each sequence's "
           "first over the time after the first step, when every sequence starts in it "
           "(llama-batched-bench's S_TG).\n";
  }
  if (bf16) {
    out << "\nRows marked bfloat16 (not float32) run their matrix products on bfloat16 weights "
           "and inputs: their tokens are shown, not required to equal the goldens.\n";
  }
  if (r.overhead) {
    out << "\nHarness overhead (null backend, same workload): "
        << fmt("%.2f", r.overhead_per_step_us) << " us per step, "
        << fmt("%.3f", 100.0 * r.overhead_per_step_us / std::max(r.fastest_step_us, 1e-9))
        << "% of the fastest real configuration's " << fmt("%.1f", r.fastest_step_us)
        << " us per step.\n";
  }
  out << ceilings_markdown(r.ceilings);
  out << gpu_ceilings_markdown(r.gpu_ceilings);
  out << "\nWorkload: " << w.describe() << "; " << w.reps << " timed runs after " << w.warmup
      << " warm-up (reference: " << w.reference_reps << ")"
      << (w.interleave ? ", each backend's thread counts taken in turns" : "")
      << "; model loading and weight packing are not timed.\n";
  return out.str();
}

ReportFiles write_sweep_report(const std::filesystem::path& dir, const std::string& stem,
                               const ReportContext& ctx, const Workload& w, const SweepResult& r) {
  std::filesystem::create_directories(dir);
  json j = report::context_json(ctx);
  j["kind"] = "sweep";
  // 2: ceilings, GFLOP/s and % of ceiling; gpu_ceilings (null or absent when none) came later.
  j["schema"] = 2;
  json prompts = json::array();
  for (const Prompt& p : w.prompts) {
    prompts.push_back({{"id", p.id}, {"n", p.n}, {"prompt_tokens", p.tokens.size()}});
  }
  j["workload"] = {
      {"prompts", prompts},
      {"rule", rule_name(w.rule)},
      {"new_tokens_per_run", w.new_tokens()},
      {"positions_per_run",
       {{"recompute", w.positions(Mode::kRecompute)}, {"kv-cache", w.positions(Mode::kKvCache)}}},
      {"reps", w.reps},
      {"warmup", w.warmup},
      {"reference_reps", w.reference_reps},
      {"interleaved", w.interleave}};
  auto measurement = [&](const Measurement& m) {
    return json{
        {"backend", m.backend},
        {"mode", mode_name(m.mode)},
        {"threads", m.threads},
        {"gpus", m.gpus},
        {"scaling_axis", m.multi_gpu ? "gpus" : "threads"},
        {"workers", m.workers_label},
        {"batch", m.batch},
        {"sequences", m.sequences},
        {"steps_per_run", m.steps},
        {"ms_per_step", m.ms_per_step},
        {"tokens_per_s_per_sequence", m.tokens_per_second_per_sequence},
        {"decode_tokens_per_s", m.decode_tokens_per_second},
        {"decode_samples_s", m.decode_samples},
        {"numerics", numerics_name(m.info.numerics)},
        {"device", device_name(m.info.device)},
        {"threaded", m.threaded},
        {"precision", precision_name(m.precision)},
        {"label", backend_label(m.backend, m.precision)},
        {"float32", m.precision == Precision::kFloat32},
        {"details", m.info.details},
        {"samples_s", m.samples},
        {"median_s", m.stats.median},
        {"min_s", m.stats.min},
        {"max_s", m.stats.max},
        {"mean_s", m.stats.mean},
        {"stddev_s", m.stats.stddev},
        {"tokens_per_s", m.tokens_per_second},
        {"positions_per_s", m.positions_per_second},
        {"weights_gb_per_s", m.weights_gb_per_second},
        {"flops_per_run", m.flops_per_run},
        {"weight_bytes_per_run",
         ctx.model ? w.new_tokens() * weight_bytes_per_forward(ctx.model->config, m.precision)
                   : 0.0},
        {"gflop_per_s", m.gflop_per_second},
        {"ceiling", row_ceiling_json(m.ceiling)},
        {"speedup_vs_1thread", m.speedup_vs_1thread},
        {"speedup_vs_reference", m.speedup_vs_reference},
        {"efficiency", m.efficiency},
        {"prepare_s", m.pack_seconds},
        {"tokens_equal_goldens", check_name(m.tokens)},
        {"logits_bit_exact", check_name(m.logits)}};
  };
  json ms = json::array();
  for (const Measurement& m : r.measurements) ms.push_back(measurement(m));
  j["measurements"] = ms;
  if (r.overhead) {
    j["harness_overhead"] = {{"null_backend", measurement(*r.overhead)},
                             {"per_step_us", r.overhead_per_step_us},
                             {"fastest_real_step_us", r.fastest_step_us}};
  }
  j["failures"] = r.failures;
  j["ceilings"] = ceilings_json(r.ceilings);
  j["gpu_ceilings"] = gpu_ceilings_json(r.gpu_ceilings);

  ReportFiles files = render_sweep_report(dir, stem, {ctx, w, r});
  files.json = (dir / stem).string() + ".json";
  write_file_atomically(files.json, j.dump(2) + "\n");
  return files;
}

ReportFiles render_sweep_report(const std::filesystem::path& dir, const std::string& stem,
                                const SweepReport& report) {
  const ReportContext& ctx = report.context;
  const Workload& w = report.workload;
  const SweepResult& r = report.result;
  const auto base = (dir / stem).string();
  const std::string md =
      "# gpt2-bench sweep\n\n" + report::context_markdown(ctx) + "\n" + sweep_table(w, r) +
      "\n![speedup](" + stem + ".svg)\n" +
      (has_batch_axis(r) ? "\n![throughput against batch size](" + stem + "-batch.svg)\n" : "");
  write_file_atomically(base + ".md", md);
  const std::string which =
      w.prompts.size() == 1 ? w.prompts[0].id + " (" + std::to_string(w.prompts[0].tokens.size()) +
                                  " -> " + std::to_string(w.prompts[0].n) + ")"
                            : std::to_string(w.prompts.size()) + " prompts";
  const std::string title =
      "Speedup over 1 thread: " + (ctx.model ? ctx.model->name + ", " : std::string()) + which +
      ", rule " + rule_name(w.rule);
  write_file_atomically(base + ".svg", speedup_svg(r, title));
  ReportFiles files;
  if (has_batch_axis(r)) {  // throughput against batch size, beside the speedup plot
    files.batch_svg = base + "-batch.svg";
    write_file_atomically(files.batch_svg,
                          batch_svg(r, "Throughput against batch size: " +
                                           (ctx.model ? ctx.model->name + ", " : std::string()) +
                                           which + ", rule " + rule_name(w.rule)));
  }
  write_file_atomically(base + ".csv", sweep_csv(ctx, w, r));
  files.md = base + ".md";
  files.svg = base + ".svg";
  files.csv = base + ".csv";
  return files;
}

std::string sweep_csv(const ReportContext& ctx, const Workload& w, const SweepResult& r) {
  std::string out = csv_line({"timestamp",
                              "git_commit",
                              "cpu_model",
                              "logical_cpus",
                              "model",
                              "backend",
                              "precision",
                              "numerics",
                              "mode",
                              "threads",
                              "prompts",
                              "prompt_tokens",
                              "new_tokens",
                              "rule",
                              "reps",
                              "median_s",
                              "min_s",
                              "max_s",
                              "mean_s",
                              "stddev_s",
                              "tokens_per_s",
                              "positions_per_s",
                              "weights_gb_per_s",
                              "gflop_per_s",
                              "speedup_vs_1thread",
                              "speedup_vs_reference",
                              "efficiency",
                              "tokens_equal_goldens",
                              "logits_bit_exact",
                              "ceiling_bound",
                              "ceiling_name",
                              "ceiling_value",
                              "ceiling_unit",
                              "percent_of_ceiling",
                              "batch",
                              "steps_per_run",
                              "ms_per_step",
                              "tokens_per_s_per_sequence",
                              "decode_tokens_per_s",
                              "gpus",
                              "scaling_axis"});
  std::string ids;
  long prompt_tokens = 0;
  for (const Prompt& p : w.prompts) {
    ids += (ids.empty() ? "" : " ") + p.id;
    prompt_tokens += long(p.tokens.size());
  }
  for (const Measurement& m : r.measurements) {
    const RowCeiling& c = m.ceiling;
    out += csv_line({ctx.timestamp,
                     ctx.machine.git_commit,
                     ctx.machine.cpu_model,
                     std::to_string(ctx.machine.logical_cpus),
                     ctx.model ? ctx.model->name : "",
                     m.backend,
                     precision_name(m.precision),
                     numerics_name(m.info.numerics),
                     mode_name(m.mode),
                     std::to_string(m.threads),
                     ids,
                     std::to_string(prompt_tokens),
                     std::to_string(w.new_tokens()),
                     rule_name(w.rule),
                     std::to_string(m.samples.size()),
                     num(m.stats.median),
                     num(m.stats.min),
                     num(m.stats.max),
                     num(m.stats.mean),
                     num(m.stats.stddev),
                     num(m.tokens_per_second),
                     num(m.positions_per_second),
                     num(m.weights_gb_per_second),
                     num(m.gflop_per_second),
                     num(m.speedup_vs_1thread),
                     num(m.speedup_vs_reference),
                     num(m.efficiency),
                     check_name(m.tokens),
                     check_name(m.logits),
                     c.bound,
                     c.name,
                     c.known() ? num(c.value) : "",
                     c.unit,
                     c.known() ? num(c.percent) : "",
                     std::to_string(m.batch),
                     std::to_string(m.steps),
                     num(m.ms_per_step),
                     num(m.tokens_per_second_per_sequence),
                     num(m.decode_tokens_per_second),
                     std::to_string(m.gpus),
                     m.multi_gpu ? "gpus" : "threads"});
  }
  return out;
}

SweepReport read_sweep_report(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  json j;
  try {
    j = json::parse(in);
    if (j.value("kind", "") != "sweep") {
      throw std::runtime_error("not a sweep report (kind '" + j.value("kind", "") + "')");
    }
    SweepReport rep;
    rep.context = report::context_from_json(j);
    rep.workload = workload_from_json(j.at("workload"));
    for (const json& x : j.at("measurements"))
      rep.result.measurements.push_back(measurement_from_json(x));
    if (j.contains("harness_overhead")) {
      const json& o = j.at("harness_overhead");
      rep.result.overhead = measurement_from_json(o.at("null_backend"));
      rep.result.overhead_per_step_us = o.at("per_step_us");
      rep.result.fastest_step_us = o.at("fastest_real_step_us");
    }
    rep.result.failures = j.value("failures", 0);
    rep.result.ceilings = ceilings_from_json(j.value("ceilings", json(nullptr)));
    rep.result.gpu_ceilings = gpu_ceilings_from_json(j.value("gpu_ceilings", json(nullptr)));
    infer_threaded(rep.result.measurements);
    return rep;
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not a readable sweep report: " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
}

}  // namespace gpt2
