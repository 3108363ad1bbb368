// Helpers shared by the tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness/goldens.h"
#include "reference/model.h"

namespace gpt2::test {

// The tiny synthetic model (default seed), made once per test binary.
std::shared_ptr<const Model> tiny_model();

// Three prompts for the tiny model (3, 1 and 4 tokens, completed to 8, 6 and
// 12: 5 + 5 + 8 steps), and the reference's goldens of them (recompute mode).
std::vector<Prompt> prompts();
GoldenFile reference_goldens(Rule rule, Precision precision = Precision::kFloat32);

// A fresh empty folder under the system temp dir, removed at exit.
std::filesystem::path temp_dir();

// Runs a shell command; returns its exit status and what it wrote.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& command);

// A small random model configuration's parameters (bell-shaped, seed given).
std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale = 1.0f);

}  // namespace gpt2::test
