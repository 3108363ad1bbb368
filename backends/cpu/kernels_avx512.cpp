// The CPU kernels compiled for avx512 (flags in backends/CMakeLists.txt).
#define GPT2_ISA avx512
#define GPT2_ISA_ENUM ::gpt2::cpu::Isa::kAvx512
#include "backends/cpu/kernels_impl.h"

namespace gpt2::cpu {
const Kernels& kernels_avx512() {
  return avx512::kTable;
}
}  // namespace gpt2::cpu
