#include "backends/registry.h"

#include "backends/null/null_backend.h"
#include "backends/openmp/openmp_backend.h"
#include "backends/pthreads/pthreads_backend.h"
#include "backends/reference/reference_backend.h"

namespace gpt2 {

const std::vector<BackendEntry>& backend_entries() {
  static const std::vector<BackendEntry> kEntries = {
      {"reference", "the frozen serial reference (llm.c's loops, one thread)",
       Numerics::kBitExact, false, &make_reference_backend},
      {"pthreads", "bit-exact SIMD kernels on a static pool of pthreads", Numerics::kBitExact,
       true, &make_pthreads_backend},
      {"openmp", "the same bit-exact kernels with OpenMP parallel loops", Numerics::kBitExact,
       true, &make_openmp_backend},
      {"null", "fixed logits, no computation (measures the harness's overhead)",
       Numerics::kNone, false, &make_null_backend},
  };
  return kEntries;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const BackendEntry& e : backend_entries()) names.emplace_back(e.name);
  return names;
}

std::string backend_names_joined(std::string_view sep) {
  std::string out;
  for (const BackendEntry& e : backend_entries()) {
    if (!out.empty()) out += sep;
    out += e.name;
  }
  return out;
}

const BackendEntry& find_backend(std::string_view name) {
  for (const BackendEntry& e : backend_entries()) {
    if (e.name == name) return e;
  }
  throw UnknownBackend("Unknown backend '" + std::string(name) +
                       "' (known: " + backend_names_joined() + ").");
}

std::unique_ptr<Backend> make_backend(std::string_view name, std::shared_ptr<const Model> model,
                                      const BackendConfig& config) {
  const BackendEntry& entry = find_backend(name);
  if (config.threads < 1) {
    throw std::invalid_argument("backend " + std::string(name) + ": threads must be at least 1");
  }
  return entry.make(std::move(model), config);
}

}  // namespace gpt2
