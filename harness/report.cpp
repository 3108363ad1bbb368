#include "harness/report.h"

#include <nlohmann/json.hpp>

#include "backends/registry.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace gpt2 {

namespace {

using nlohmann::json;

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

json machine_json(const ReportContext& ctx) {
  const MachineInfo& m = ctx.machine;
  return {{"cpu_model", m.cpu_model},
          {"logical_cpus", m.logical_cpus},
          {"physical_cores", m.physical_cores},
          {"sockets", m.sockets},
          {"isa_flags", m.isa_flags},
          {"memory_gib", m.memory_gib},
          {"os", m.os},
          {"kernel", m.kernel},
          {"hostname", m.hostname},
          {"kernel_isa", m.kernel_isa}};
}

json gpu_json(const GpuInfo& g) {
  return {{"index", g.index},
          {"name", g.name},
          {"compute_capability", g.compute_capability},
          {"sm_count", g.sm_count},
          {"memory_bytes", g.memory_bytes},
          {"l2_bytes", g.l2_bytes},
          {"memory_bus_bits", g.memory_bus_bits},
          {"sm_clock_mhz", g.sm_clock_mhz},
          {"memory_clock_mhz", g.memory_clock_mhz},
          {"driver_cuda_version", g.driver_cuda_version},
          {"runtime_version", g.runtime_version}};
}

GpuInfo gpu_from_json(const json& j) {
  GpuInfo g;
  g.index = j.value("index", 0);
  g.name = j.value("name", "");
  g.compute_capability = j.value("compute_capability", "");
  g.sm_count = j.value("sm_count", 0);
  g.memory_bytes = j.value("memory_bytes", std::size_t(0));
  g.l2_bytes = j.value("l2_bytes", std::size_t(0));
  g.memory_bus_bits = j.value("memory_bus_bits", 0);
  g.sm_clock_mhz = j.value("sm_clock_mhz", 0);
  g.memory_clock_mhz = j.value("memory_clock_mhz", 0);
  g.driver_cuda_version = j.value("driver_cuda_version", "");
  g.runtime_version = j.value("runtime_version", "");
  return g;
}

json context_json(const ReportContext& ctx) {
  json j;
  j["command"] = ctx.command;
  j["timestamp"] = ctx.timestamp;
  j["machine"] = machine_json(ctx);
  if (!ctx.gpus.empty()) {
    json gpus = json::array();
    for (const GpuInfo& g : ctx.gpus) gpus.push_back(gpu_json(g));
    j["gpus"] = gpus;
  }
  j["build"] = {{"compiler", ctx.machine.compiler},
                {"build_type", ctx.machine.build_type},
                {"flags", ctx.machine.build_flags},
                {"git_commit", ctx.machine.git_commit}};
  if (ctx.model) {
    const ModelConfig& c = ctx.model->config;
    j["model"] = {{"name", ctx.model->name},
                  {"checksum_xxh3", ctx.model->checksum},
                  {"file_version", ctx.model->file_version},
                  {"parameters", ctx.model->parameters},
                  {"config",
                   {{"max_seq_len", c.max_seq_len},
                    {"vocab_size", c.vocab_size},
                    {"padded_vocab_size", c.padded_vocab_size},
                    {"num_layers", c.num_layers},
                    {"num_heads", c.num_heads},
                    {"channels", c.channels}}}};
  }
  return j;
}

std::string context_markdown(const ReportContext& ctx) {
  std::ostringstream out;
  const MachineInfo& m = ctx.machine;
  out << "- command: `" << ctx.command << "`\n";
  out << "- when: " << ctx.timestamp << ", commit " << m.git_commit << "\n";
  out << "- machine: " << m.cpu_model << ", " << m.logical_cpus << " logical CPUs ("
      << m.physical_cores << " cores, " << m.sockets << " socket" << (m.sockets == 1 ? "" : "s")
      << "), " << fmt("%.1f", m.memory_gib) << " GiB, " << m.os << ", " << m.kernel << "\n";
  out << "- ISA: ";
  for (std::size_t i = 0; i < m.isa_flags.size(); i++) out << (i ? " " : "") << m.isa_flags[i];
  out << "; kernels used: " << m.kernel_isa << "\n";
  for (const GpuInfo& g : ctx.gpus) {
    out << "- GPU " << g.index << ": " << g.name << " (compute capability " << g.compute_capability
        << ", " << g.sm_count << " SMs, " << fmt("%.1f", double(g.memory_bytes) / (1 << 30))
        << " GiB, " << (g.l2_bytes >> 20) << " MiB L2, " << g.memory_bus_bits << "-bit memory bus, "
        << g.sm_clock_mhz << " MHz SM and " << g.memory_clock_mhz
        << " MHz memory peak clocks, driver for CUDA " << g.driver_cuda_version << ", runtime "
        << g.runtime_version << ")\n";
  }
  out << "- build: " << m.compiler << ", " << m.build_type << ", `" << m.build_flags << "`\n";
  if (ctx.model) {
    out << "- model: " << ctx.model->name << " (" << ctx.model->parameters << " parameters, xxh3 "
        << ctx.model->checksum << ")\n";
  }
  return out.str();
}

std::string label_of(const Measurement& m) {
  return backend_label(m.backend, m.precision) + " (" + mode_name(m.mode) + ")";
}

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

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); i++) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\n";
}

std::string num(double v) {
  return fmt("%.6g", v);
}

}  // namespace

std::vector<std::filesystem::path> ReportFiles::all() const {
  std::vector<std::filesystem::path> out;
  for (const auto* p : {&json, &md, &svg, &csv}) {
    if (!p->empty()) out.push_back(*p);
  }
  return out;
}

std::vector<GpuInfo> gpus_used(const std::vector<BackendInfo>& infos) {
  std::map<int, GpuInfo> by_index;
  for (const BackendInfo& info : infos) {
    for (const GpuInfo& g : info.gpus) by_index.emplace(g.index, g);
  }
  std::vector<GpuInfo> out;
  for (auto& [index, g] : by_index) out.push_back(g);
  return out;
}

ModelFacts model_facts(const Model& model) {
  ModelFacts f;
  f.name = model.name();
  f.checksum = model.checksum();
  f.file_version = model.file_version();
  f.parameters = num_real_parameters(model.config());
  f.config = model.config();
  return f;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string sweep_table(const Workload& w, const SweepResult& r) {
  std::ostringstream out;
  out << "| backend | mode | threads | median s/run | min | max | tokens/s | positions/s | "
         "weights GB/s | GFLOP/s | % of ceiling | speedup vs 1 thread | speedup vs reference | "
         "efficiency | tokens = golden | logits bit-exact |\n";
  out << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  auto opt = [](double v, const char* f) { return v > 0 ? fmt(f, v) : std::string("-"); };
  bool bf16 = false;
  for (const Measurement& m : r.measurements) {
    bf16 = bf16 || m.precision == Precision::kBFloat16;
    std::string tokens = check_name(m.tokens);
    if (m.precision == Precision::kBFloat16 && m.tokens == Check::kNo) tokens = "no (bfloat16)";
    out << "| " << backend_label(m.backend, m.precision) << " | " << mode_name(m.mode) << " | "
        << m.threads << " | " << fmt("%.4f", m.stats.median) << " | " << fmt("%.4f", m.stats.min)
        << " | " << fmt("%.4f", m.stats.max) << " | " << fmt("%.2f", m.tokens_per_second) << " | "
        << fmt("%.1f", m.positions_per_second) << " | " << fmt("%.2f", m.weights_gb_per_second)
        << " | " << opt(m.gflop_per_second, "%.1f") << " | " << ceiling_cell(m.ceiling) << " | "
        << opt(m.speedup_vs_1thread, "%.2f") << " | " << opt(m.speedup_vs_reference, "%.2f")
        << " | " << opt(m.efficiency, "%.2f") << " | " << tokens << " | " << check_name(m.logits)
        << " |\n";
  }
  out << "\npositions/s: positions run through the model per second (recompute runs the whole "
         "sequence at every step; kv-cache the prompt once, so with one new token it is the "
         "prefill rate). weights GB/s: new tokens x the weight bytes one forward pass reads / "
         "time (every forward reads every weight once). GFLOP/s: the matrix products' and "
         "attention's multiplies and adds per second.\n";
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

std::string speedup_svg(const SweepResult& r, const std::string& title) {
  // Series: backend + mode, points (threads, speedup over 1 thread).
  std::map<std::string, std::vector<std::pair<int, double>>> series;
  int max_threads = 1;
  double max_speedup = 1;
  for (const Measurement& m : r.measurements) {
    if (m.speedup_vs_1thread <= 0 || !find_backend(m.backend).threaded) continue;
    series[label_of(m)].push_back({m.threads, m.speedup_vs_1thread});
    max_threads = std::max(max_threads, m.threads);
    max_speedup = std::max(max_speedup, m.speedup_vs_1thread);
  }
  // Each ceiling that bounds a plotted line, as its own scaling over 1 thread.
  std::map<std::string, std::vector<std::pair<int, double>>> ceiling_curves;
  if (r.ceilings && r.ceilings->at(1) != nullptr) {
    std::set<std::string> names;
    for (const Measurement& m : r.measurements) {
      if (m.ceiling.known() && series.count(label_of(m))) names.insert(m.ceiling.name);
    }
    auto value = [](const CeilingPoint& p, const std::string& name) {
      return name == "read bandwidth"      ? p.read_gb_s
             : name == "fp32 FMA peak"     ? p.fp32_fma_gflops
             : name == "fp32 mul+add peak" ? p.fp32_mul_add_gflops
                                           : p.bf16_gflops;
    };
    for (const std::string& name : names) {
      const double base = value(*r.ceilings->at(1), name);
      if (base <= 0) continue;
      for (const CeilingPoint& p : r.ceilings->points) {
        if (p.threads > max_threads) continue;
        ceiling_curves[name].push_back({p.threads, value(p, name) / base});
        max_speedup = std::max(max_speedup, value(p, name) / base);
      }
    }
  }
  const double W = 820, H = 460, left = 60, right = 320, top = 40, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  const double xmax = std::max(2, max_threads), ymax = std::max(xmax, max_speedup * 1.05);
  auto X = [&](double t) { return left + (t - 1) / (xmax - 1) * pw; };
  auto Y = [&](double s) { return top + ph - s / ymax * ph; };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << title
    << "</text>\n";
  // Axes, grid and ticks.
  const int xstep = xmax <= 16 ? 1 : int(xmax / 16) + 1;
  for (int t = 1; t <= int(xmax); t += xstep) {
    o << "<line x1=\"" << X(t) << "\" y1=\"" << top << "\" x2=\"" << X(t) << "\" y2=\"" << top + ph
      << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << X(t) << "\" y=\"" << top + ph + 16 << "\" text-anchor=\"middle\">" << t
      << "</text>\n";
  }
  const double ystep = ymax <= 8 ? 1 : ymax <= 20 ? 2 : 4;
  for (double s = 0; s <= ymax + 1e-9; s += ystep) {
    o << "<line x1=\"" << left << "\" y1=\"" << Y(s) << "\" x2=\"" << left + pw << "\" y2=\""
      << Y(s) << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << left - 8 << "\" y=\"" << Y(s) + 4 << "\" text-anchor=\"end\">" << s
      << "</text>\n";
  }
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#333\"/>\n";
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 12
    << "\" text-anchor=\"middle\">threads</text>\n";
  o << "<text x=\"16\" y=\"" << top + ph / 2
    << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << top + ph / 2
    << ")\">speedup over 1 thread</text>\n";
  // The ideal line.
  o << "<line x1=\"" << X(1) << "\" y1=\"" << Y(1) << "\" x2=\"" << X(xmax) << "\" y2=\""
    << Y(std::min(xmax, ymax)) << "\" stroke=\"#999\" stroke-dasharray=\"6,4\"/>\n";
  // The ceilings' own scaling: what the machine allows each line.
  const char* ceiling_dashes[] = {"2,3", "8,3,2,3", "1,2"};
  int ci = 0;
  double ly = top + 10;
  o << "<line x1=\"" << W - right + 15 << "\" y1=\"" << ly << "\" x2=\"" << W - right + 40
    << "\" y2=\"" << ly << "\" stroke=\"#999\" stroke-dasharray=\"6,4\"/><text x=\""
    << W - right + 46 << "\" y=\"" << ly + 4 << "\">ideal</text>\n";
  for (const auto& [name, pts] : ceiling_curves) {
    const char* dash = ceiling_dashes[ci++ % 3];
    o << "<polyline fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"" << dash
      << "\" points=\"";
    for (auto [t, s] : pts) o << X(t) << "," << Y(s) << " ";
    o << "\"><title>" << name << " at N threads over 1 thread</title></polyline>\n";
    ly += 20;
    o << "<line x1=\"" << W - right + 15 << "\" y1=\"" << ly << "\" x2=\"" << W - right + 40
      << "\" y2=\"" << ly << "\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"" << dash
      << "\"/><text x=\"" << W - right + 46 << "\" y=\"" << ly + 4 << "\">" << name
      << " (the machine's scaling)</text>\n";
  }
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  int i = 0;
  for (auto& [name, pts] : series) {
    std::sort(pts.begin(), pts.end());
    const char* color = colors[i++ % 10];
    o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (auto [t, s] : pts) o << X(t) << "," << Y(s) << " ";
    o << "\"/>\n";
    for (auto [t, s] : pts) {
      o << "<circle cx=\"" << X(t) << "\" cy=\"" << Y(s) << "\" r=\"3\" fill=\"" << color
        << "\"><title>" << name << ": " << t << " threads, " << fmt("%.2f", s)
        << "x</title></circle>\n";
    }
    ly += 20;
    o << "<line x1=\"" << W - right + 15 << "\" y1=\"" << ly << "\" x2=\"" << W - right + 40
      << "\" y2=\"" << ly << "\" stroke=\"" << color << "\" stroke-width=\"2\"/><text x=\""
      << W - right + 46 << "\" y=\"" << ly + 4 << "\">" << name << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

ReportFiles write_sweep_report(const std::filesystem::path& dir, const std::string& stem,
                               const ReportContext& ctx, const Workload& w, const SweepResult& r) {
  std::filesystem::create_directories(dir);
  json j = context_json(ctx);
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
        {"numerics", numerics_name(m.info.numerics)},
        {"device", device_name(m.info.device)},
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
  const std::string md = "# gpt2-bench sweep\n\n" + context_markdown(ctx) + "\n" +
                         sweep_table(w, r) + "\n![speedup](" + stem + ".svg)\n";
  write_file_atomically(base + ".md", md);
  const std::string which =
      w.prompts.size() == 1 ? w.prompts[0].id + " (" + std::to_string(w.prompts[0].tokens.size()) +
                                  " -> " + std::to_string(w.prompts[0].n) + ")"
                            : std::to_string(w.prompts.size()) + " prompts";
  const std::string title =
      "Speedup over 1 thread: " + (ctx.model ? ctx.model->name + ", " : std::string()) + which +
      ", rule " + rule_name(w.rule);
  write_file_atomically(base + ".svg", speedup_svg(r, title));
  write_file_atomically(base + ".csv", sweep_csv(ctx, w, r));
  ReportFiles files;
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
                              "percent_of_ceiling"});
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
                     c.known() ? num(c.percent) : ""});
  }
  return out;
}

std::string verify_csv(const ReportContext& ctx, const VerifyResult& r) {
  std::string out =
      csv_line({"timestamp", "git_commit", "cpu_model", "logical_cpus", "model", "backend",
                "precision", "numerics", "threads", "mode", "rule", "steps", "token_mismatches",
                "near_ties", "token_agreement", "logits_mismatches", "max_abs_logit_diff",
                "mean_abs_logit_diff", "passed"});
  for (const VerifyRow& row : r.rows) {
    out += csv_line({ctx.timestamp, ctx.machine.git_commit, ctx.machine.cpu_model,
                     std::to_string(ctx.machine.logical_cpus), ctx.model ? ctx.model->name : "",
                     row.backend, precision_name(row.precision),
                     row.bit_exact ? "bit-exact" : "reordered", std::to_string(row.threads),
                     mode_name(row.mode), rule_name(row.rule), std::to_string(row.steps),
                     std::to_string(row.token_mismatches), std::to_string(row.near_ties),
                     num(row.token_agreement()), std::to_string(row.logits_mismatches),
                     num(row.max_diff), num(row.mean_diff), row.passed ? "yes" : "no"});
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
    ReportContext& ctx = rep.context;
    ctx.command = j.at("command");
    ctx.timestamp = j.at("timestamp");
    const json& m = j.at("machine");
    ctx.machine.cpu_model = m.at("cpu_model");
    ctx.machine.logical_cpus = m.at("logical_cpus");
    ctx.machine.physical_cores = m.at("physical_cores");
    ctx.machine.sockets = m.at("sockets");
    ctx.machine.isa_flags = m.at("isa_flags").get<std::vector<std::string>>();
    ctx.machine.memory_gib = m.at("memory_gib");
    ctx.machine.os = m.at("os");
    ctx.machine.kernel = m.at("kernel");
    ctx.machine.hostname = m.at("hostname");
    ctx.machine.kernel_isa = m.at("kernel_isa");
    const json& b = j.at("build");
    ctx.machine.compiler = b.at("compiler");
    ctx.machine.build_type = b.at("build_type");
    ctx.machine.build_flags = b.at("flags");
    ctx.machine.git_commit = b.at("git_commit");
    for (const json& g : j.value("gpus", json::array())) ctx.gpus.push_back(gpu_from_json(g));
    if (j.contains("model")) {
      const json& mj = j.at("model");
      ModelFacts f;
      f.name = mj.at("name");
      f.checksum = mj.at("checksum_xxh3");
      f.file_version = mj.at("file_version");
      f.parameters = mj.at("parameters");
      const json& c = mj.at("config");
      f.config = {c.at("max_seq_len"), c.at("vocab_size"), c.at("padded_vocab_size"),
                  c.at("num_layers"),  c.at("num_heads"),  c.at("channels")};
      ctx.model = f;
    }
    const json& wj = j.at("workload");
    Workload& w = rep.workload;
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
    auto check = [](const std::string& s) {
      return s == "yes" ? Check::kYes : s == "n/a" ? Check::kNotApplicable : Check::kNo;
    };
    auto measurement = [&](const json& x) {
      Measurement me;
      me.backend = x.at("backend");
      me.precision =
          parse_precision(x.at("precision").get<std::string>()).value_or(Precision::kFloat32);
      me.mode = parse_mode(x.at("mode").get<std::string>()).value_or(Mode::kRecompute);
      me.threads = x.at("threads");
      me.info.name = me.backend;
      me.info.precision = me.precision;
      me.info.threads = me.threads;
      me.info.details = x.value("details", "");
      me.info.device = x.value("device", "cpu") == "cuda" ? Device::kCuda : Device::kCpu;
      const std::string numerics = x.value("numerics", "bit-exact");
      me.info.numerics = numerics == "reordered" ? Numerics::kReordered
                         : numerics == "none"    ? Numerics::kNone
                                                 : Numerics::kBitExact;
      me.samples = x.at("samples_s").get<std::vector<double>>();
      me.stats = summarize_samples(me.samples);
      me.tokens = check(x.at("tokens_equal_goldens"));
      me.logits = check(x.at("logits_bit_exact"));
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
    };
    for (const json& x : j.at("measurements")) rep.result.measurements.push_back(measurement(x));
    if (j.contains("harness_overhead")) {
      const json& o = j.at("harness_overhead");
      rep.result.overhead = measurement(o.at("null_backend"));
      rep.result.overhead_per_step_us = o.at("per_step_us");
      rep.result.fastest_step_us = o.at("fastest_real_step_us");
    }
    rep.result.failures = j.value("failures", 0);
    rep.result.ceilings = ceilings_from_json(j.value("ceilings", json(nullptr)));
    rep.result.gpu_ceilings = gpu_ceilings_from_json(j.value("gpu_ceilings", json(nullptr)));
    return rep;
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not a readable sweep report: " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
}

std::string verify_table(const VerifyResult& r) {
  std::ostringstream out;
  out << "| backend | threads | mode | rule | numerics | steps | token mismatches | near ties | "
         "tokens agree | logits bits differ | max abs logit diff | mean abs logit diff | result "
         "|\n";
  out << "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
  bool bf16 = false;
  for (const VerifyRow& row : r.rows) {
    bf16 = bf16 || !row.gates_tokens();
    out << "| " << backend_label(row.backend, row.precision) << " | " << row.threads << " | "
        << mode_name(row.mode) << " | " << rule_name(row.rule) << " | "
        << (row.bit_exact ? "bit-exact" : "reordered") << " | " << row.steps << " | "
        << row.token_mismatches << " | " << row.near_ties << " | "
        << fmt("%.1f%%", 100.0 * row.token_agreement()) << " | "
        << (row.bit_exact ? std::to_string(row.logits_mismatches) : std::string("-")) << " | "
        << fmt("%.3g", row.max_diff) << " | " << fmt("%.3g", row.mean_diff) << " | "
        << (row.passed ? "pass" : "FAIL") << " |\n";
  }
  if (bf16) {
    out << "\nRows marked bfloat16 (not float32) follow the golden tokens and report the share of "
           "steps whose own choice agrees and their logit error; they fail only on a logit that "
           "is not finite.\n";
  }
  return out.str();
}

ReportFiles write_verify_report(const std::filesystem::path& dir, const std::string& stem,
                                const ReportContext& ctx, const VerifyResult& r) {
  std::filesystem::create_directories(dir);
  json j = context_json(ctx);
  j["kind"] = "verify";
  json rows = json::array();
  for (const VerifyRow& row : r.rows) {
    rows.push_back({{"backend", row.backend},
                    {"precision", precision_name(row.precision)},
                    {"label", backend_label(row.backend, row.precision)},
                    {"float32", row.precision == Precision::kFloat32},
                    {"token_agreement", row.token_agreement()},
                    {"nonfinite_steps", row.nonfinite},
                    {"threads", row.threads},
                    {"mode", mode_name(row.mode)},
                    {"rule", rule_name(row.rule)},
                    {"bit_exact", row.bit_exact},
                    {"steps", row.steps},
                    {"token_mismatches", row.token_mismatches},
                    {"near_ties", row.near_ties},
                    {"logits_mismatches", row.logits_mismatches},
                    {"max_abs_logit_diff", row.max_diff},
                    {"mean_abs_logit_diff", row.mean_diff},
                    {"passed", row.passed},
                    {"differences", row.differences}});
  }
  j["rows"] = rows;
  j["notes"] = r.notes;
  j["passed"] = r.passed;
  ReportFiles files;
  const auto base = dir / stem;
  files.json = base.string() + ".json";
  write_file_atomically(files.json, j.dump(2) + "\n");
  std::string md = "# gpt2-bench verify\n\n" + context_markdown(ctx) + "\n" + verify_table(r);
  for (const std::string& n : r.notes) md += "\n" + n + "\n";
  for (const VerifyRow& row : r.rows) {
    for (const std::string& d : row.differences) md += "\n- " + d;
  }
  md += std::string("\n\nResult: ") + (r.passed ? "every configuration passed." : "FAILED.") + "\n";
  files.md = base.string() + ".md";
  write_file_atomically(files.md, md);
  files.csv = base.string() + ".csv";
  write_file_atomically(files.csv, verify_csv(ctx, r));
  return files;
}

}  // namespace gpt2
