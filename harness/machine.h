// Facts about the machine and the build, for every report.
#pragma once

#include <string>
#include <vector>

namespace gpt2 {

struct MachineInfo {
  std::string cpu_model;
  int logical_cpus = 0;
  int physical_cores = 0;
  int sockets = 0;
  std::vector<std::string> isa_flags;  // the SIMD/matrix extensions that matter here
  double memory_gib = 0;
  std::string os;
  std::string kernel;
  std::string hostname;
  std::string compiler;
  std::string build_type;
  std::string build_flags;
  std::string git_commit;  // with "-dirty" when the tree has changes
  std::string kernel_isa;  // the CPU kernels this binary chose (avx512, avx2, generic)
};

MachineInfo machine_info();

// How this machine's GPUs are linked, as `nvidia-smi topo -m` prints it
// (NVLink "NV18", PCIe "PIX"/"SYS", ...); empty when nvidia-smi is not there.
std::string gpu_topology();

}  // namespace gpt2
