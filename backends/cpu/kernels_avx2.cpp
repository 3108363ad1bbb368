// The CPU kernels compiled for avx2 (flags in backends/CMakeLists.txt).
#define GPT2_ISA avx2
#define GPT2_ISA_ENUM ::gpt2::cpu::Isa::kAvx2
#include "backends/cpu/kernels_impl.h"

namespace gpt2::cpu {
const Kernels& kernels_avx2() {
  return avx2::kTable;
}
}  // namespace gpt2::cpu
