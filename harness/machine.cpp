#include "harness/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "backends/registry.h"

#ifndef GPT2_SOURCE_DIR
#define GPT2_SOURCE_DIR "."
#endif
#ifndef GPT2_BUILD_FLAGS
#define GPT2_BUILD_FLAGS "?"
#endif
#ifndef GPT2_BUILD_TYPE
#define GPT2_BUILD_TYPE "?"
#endif

namespace gpt2 {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string command_output(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
  }
  return trim(out);
}

}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::set<std::string> sockets;
  std::string physical_id, line;
  std::set<std::string> flags;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "processor") m.logical_cpus++;
    if (key == "model name" && m.cpu_model.empty()) m.cpu_model = value;
    if (key == "physical id") physical_id = value, sockets.insert(value);
    if (key == "core id") cores.insert({physical_id, value});
    if (key == "flags" && flags.empty()) {
      std::istringstream in(value);
      for (std::string f; in >> f;) flags.insert(f);
    }
  }
  m.physical_cores = cores.empty() ? m.logical_cpus : int(cores.size());
  m.sockets = sockets.empty() ? 1 : int(sockets.size());
  for (const char* f :
       {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"}) {
    if (flags.count(f)) m.isa_flags.emplace_back(f);
  }
  std::ifstream meminfo("/proc/meminfo");
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      m.memory_gib = std::stod(line.substr(9)) / (1024.0 * 1024.0);
      break;
    }
  }
  std::ifstream os("/etc/os-release");
  while (std::getline(os, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      m.os = line.substr(12);
      if (m.os.size() >= 2 && m.os.front() == '"') m.os = m.os.substr(1, m.os.size() - 2);
    }
  }
  struct utsname u {};
  if (::uname(&u) == 0) {
    m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
    m.hostname = u.nodename;
  }
  m.compiler = std::string("g++ ") + __VERSION__;
  m.build_type = GPT2_BUILD_TYPE;
  m.build_flags = GPT2_BUILD_FLAGS;
  m.kernel_isa = cpu_kernels_isa();
  const std::string src = GPT2_SOURCE_DIR;
  // A copy of the tree without .git (another machine) can name its commit.
  if (const char* env = std::getenv("GPT2_GIT_COMMIT"); env != nullptr && *env != '\0') {
    m.git_commit = env;
    return m;
  }
  m.git_commit = command_output("git -C '" + src + "' rev-parse --short=12 HEAD 2>/dev/null");
  if (m.git_commit.empty()) {
    m.git_commit = "unknown";
  } else if (!command_output("git -C '" + src +
                             "' status --porcelain --untracked-files=no 2>/dev/null")
                  .empty()) {
    m.git_commit += "-dirty";
  }
  return m;
}

}  // namespace gpt2

namespace gpt2 {

std::string gpu_topology() {
  FILE* pipe = popen("nvidia-smi topo -m 2>/dev/null", "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  if (pclose(pipe) != 0) return "";
  return out;
}

}  // namespace gpt2
