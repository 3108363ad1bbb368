#include "backends/cpu/kernels.h"

#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace gpt2::cpu {

const Kernels& kernels_avx512();
const Kernels& kernels_avx2();
const Kernels& kernels_generic();

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kGeneric:
      return "generic";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2");
    case Isa::kGeneric:
      return true;
  }
  return false;
}

std::optional<Isa> max_isa() {
  const char* env = std::getenv("GPT2_MAX_CPU_ISA");
  if (env == nullptr || *env == '\0') return std::nullopt;
  std::string name(env);
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kGeneric}) {
    if (name == isa_name(isa)) return isa;
  }
  throw std::invalid_argument("GPT2_MAX_CPU_ISA='" + std::string(env) +
                              "': expected avx512, avx2 or generic.");
}

Isa best_isa() {
  const Isa cap = max_isa().value_or(Isa::kAvx512);
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
    if (isa <= cap && isa_supported(isa)) return isa;
  }
  return Isa::kGeneric;
}

const Kernels& kernels(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("this CPU cannot run the ") + isa_name(isa) +
                                " kernels");
  }
  switch (isa) {
    case Isa::kAvx512:
      return kernels_avx512();
    case Isa::kAvx2:
      return kernels_avx2();
    case Isa::kGeneric:
      break;
  }
  return kernels_generic();
}

const Kernels& best_kernels() {
  return kernels(best_isa());
}

}  // namespace gpt2::cpu
