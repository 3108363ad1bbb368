#include "harness/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include "harness/report_json.h"

namespace gpt2 {

namespace report {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string num(double v) {
  return fmt("%.6g", v);
}

namespace {

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

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

}  // namespace

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); i++) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\n";
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
  if (!ctx.gpu_topology.empty()) j["gpu_topology"] = ctx.gpu_topology;
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

ReportContext context_from_json(const json& j) {
  ReportContext ctx;
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
  ctx.gpu_topology = j.value("gpu_topology", "");
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
  return ctx;
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
  if (!ctx.gpu_topology.empty()) {
    out << "- GPU links (`nvidia-smi topo -m`):\n\n```\n" << ctx.gpu_topology << "```\n\n";
  }
  out << "- build: " << m.compiler << ", " << m.build_type << ", `" << m.build_flags << "`\n";
  if (ctx.model) {
    out << "- model: " << ctx.model->name << " (" << ctx.model->parameters << " parameters, xxh3 "
        << ctx.model->checksum << ")\n";
  }
  return out.str();
}

}  // namespace report

std::vector<std::filesystem::path> ReportFiles::all() const {
  std::vector<std::filesystem::path> out;
  for (const auto* p : {&json, &md, &svg, &batch_svg, &csv}) {
    if (!p->empty()) out.push_back(*p);
  }
  return out;
}

void add_gpus(ReportContext& ctx, const std::vector<BackendInfo>& infos) {
  ctx.gpus = gpus_used(infos);
  if (ctx.gpus.size() > 1) ctx.gpu_topology = gpu_topology();
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

ReportContext report_context(const std::string& command, const Model& model) {
  ReportContext ctx;
  ctx.command = command;
  ctx.timestamp = utc_timestamp();
  ctx.machine = machine_info();
  ctx.model = model_facts(model);
  return ctx;
}

std::string backend_label(const std::string& backend, Precision precision) {
  if (precision == Precision::kFloat32) return backend;
  if (precision == Precision::kBFloat16) return backend + " bfloat16 (not float32)";
  return backend + " " + precision_name(precision);
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string report_stem(const std::filesystem::path& dir, const std::string& kind,
                        const std::vector<std::string>& backends) {
  std::string stamp = utc_timestamp();
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  std::string stem = stamp + "-" + kind;
  for (std::size_t i = 0; i < backends.size() && i < 4; i++) stem += "-" + backends[i];
  if (backends.size() > 4) stem += "-etc";
  std::string unique = stem;
  for (int k = 2; std::filesystem::exists(dir / (unique + ".json")); k++) {
    unique = stem + "-" + std::to_string(k);
  }
  return unique;
}

}  // namespace gpt2
