// The CPU kernels compiled for generic (flags in backends/CMakeLists.txt).
#define GPT2_ISA generic
#define GPT2_ISA_ENUM ::gpt2::cpu::Isa::kGeneric
#include "backends/cpu/kernels_impl.h"

namespace gpt2::cpu {
const Kernels& kernels_generic() {
  return generic::kTable;
}
}  // namespace gpt2::cpu
