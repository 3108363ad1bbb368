#include "runtime/paths.h"

#include <cstdlib>

#if !defined(GPT2_DATASETS_DIR) || !defined(GPT2_REPORTS_DIR)
#error "GPT2_DATASETS_DIR and GPT2_REPORTS_DIR must be defined by the build"
#endif

namespace gpt2 {

namespace {

std::filesystem::path from_env_or(const char* variable, const char* configured) {
  if (const char* env = std::getenv(variable); env != nullptr && *env != '\0') return env;
  return configured;
}

}  // namespace

std::filesystem::path datasets_dir() {
  return from_env_or("GPT2_DATASETS_DIR", GPT2_DATASETS_DIR);
}

std::filesystem::path reports_dir() {
  return from_env_or("GPT2_REPORTS_DIR", GPT2_REPORTS_DIR);
}

}  // namespace gpt2
