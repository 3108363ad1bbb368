// Which model a command runs: a checkpoint file, or a synthetic one by preset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "reference/model.h"
#include "runtime/paths.h"

namespace gpt2 {

struct SyntheticSpec {
  std::string preset;
  std::uint64_t seed = 0;
};
// "synthetic:<preset>" or "synthetic:<preset>:seed=<N>"; nullopt when `spec`
// does not start with "synthetic:". Throws std::invalid_argument when it does
// but is malformed or names an unknown preset.
std::optional<SyntheticSpec> parse_synthetic_spec(std::string_view spec);

// The model names the commands accept:
//   "default" (or ""): datasets/models/gpt2_124M.bin if that file exists, else
//                      the built-in synthetic:124M
//   "synthetic:<preset>[:seed=N]": generated once into datasets/cache/ and
//                      memory-mapped from there afterwards
//   a folder, a *.safetensors file, or a file that starts like one: a Hugging
//                      Face GPT-2 (reference/safetensors.h), config.json beside it
//   anything else:     an llm.c checkpoint file
// Throws CheckpointError or std::invalid_argument with a one-line message. A
// note goes to `log` (if set) when a synthetic checkpoint is generated.
std::shared_ptr<const Model> open_model(std::string_view spec, std::ostream* log = nullptr);

// What "default" means right now (a path, or synthetic:124M:seed=1).
std::string default_model_spec();

}  // namespace gpt2
