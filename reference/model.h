// A loaded GPT-2: its configuration and its 16 parameter tensors, read-only.
// Loaded once (memory-mapped when the file holds float32) and shared through
// std::shared_ptr<const Model> by everything that runs it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/config.h"

namespace gpt2 {

// A bad or unreadable checkpoint. what() is one line: "<file>: <what is wrong>".
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Pointers to the tensors, shapes as in config.h. wte has Vp rows; rows V..Vp-1
// are padding that nothing reads.
struct ParameterTensors {
  const float* wte;       // (Vp, C)
  const float* wpe;       // (maxT, C)
  const float* ln1w;      // (L, C)
  const float* ln1b;      // (L, C)
  const float* qkvw;      // (L, 3C, C)
  const float* qkvb;      // (L, 3C)
  const float* attprojw;  // (L, C, C)
  const float* attprojb;  // (L, C)
  const float* ln2w;      // (L, C)
  const float* ln2b;      // (L, C)
  const float* fcw;       // (L, 4C, C)
  const float* fcb;       // (L, 4C)
  const float* fcprojw;   // (L, C, 4C)
  const float* fcprojb;   // (L, C)
  const float* lnfw;      // (C)
  const float* lnfb;      // (C)
};

struct CheckpointLayout;  // checkpoint.h

class Model {
 public:
  // Loads an llm.c checkpoint (version 1, 3 or 5). Throws CheckpointError.
  // `name` is what name() reports (default: the path).
  static std::shared_ptr<const Model> load(const std::filesystem::path& path,
                                           std::string name = "");
  // The same checks on a whole file's bytes in memory (copied; `path` is only
  // named in errors).
  static std::shared_ptr<const Model> load_from_memory(std::span<const unsigned char> bytes,
                                                       const std::filesystem::path& path,
                                                       std::string name = "");
  // A model over parameters already in memory, laid out as in a version-3 file
  // (num_parameters(config) floats). Throws std::invalid_argument when they do not fit.
  static std::shared_ptr<const Model> from_parameters(const ModelConfig& config,
                                                      std::vector<float> parameters,
                                                      std::string name);

  const ModelConfig& config() const { return config_; }
  const ParameterTensors& params() const { return params_; }
  // All parameters in llm.c's order, wte with its Vp rows.
  std::span<const float> parameters() const { return {data_, count_}; }
  std::span<const float> tensor(int t) const;
  // The file it came from, or a description such as "synthetic:tiny:seed=1".
  const std::string& name() const { return name_; }
  // The checkpoint version it was loaded from (3 for in-memory models).
  int file_version() const { return file_version_; }
  // XXH3-64 of the float32 parameters (wte's padding rows included), as 16 hex
  // digits; computed on first use.
  const std::string& checksum() const;

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

 private:
  Model() = default;
  void point_tensors();
  // Takes the parameters of a checked llm.c file: `file` its bytes, or null for
  // the float32 file mapped at map_. Throws CheckpointError for a non-finite weight.
  void adopt(const CheckpointLayout& layout, const unsigned char* file,
             const std::filesystem::path& path, std::string name);

  ModelConfig config_;
  ParameterTensors params_{};
  const float* data_ = nullptr;
  std::size_t count_ = 0;
  std::string name_;
  int file_version_ = 3;
  void* map_ = nullptr;  // the file's mapping, when memory-mapped
  std::size_t map_size_ = 0;
  std::vector<float> owned_;  // the parameters, when not memory-mapped
  mutable std::once_flag checksum_once_;
  mutable std::string checksum_;
};

}  // namespace gpt2
