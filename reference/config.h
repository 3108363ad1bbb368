// GPT-2 hyperparameters, the GPT-2 family's presets, and the layout of the 16
// parameter tensors in llm.c's order.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

struct ModelConfig {
  int max_seq_len = 0;        // maxT, e.g. 1024
  int vocab_size = 0;         // V, e.g. 50257
  int padded_vocab_size = 0;  // Vp >= V, rows of wte; e.g. 50304 (a multiple of 128)
  int num_layers = 0;         // L
  int num_heads = 0;          // NH
  int channels = 0;           // C, a multiple of NH

  int head_size() const { return channels / num_heads; }
  bool operator==(const ModelConfig&) const = default;
};

// The 16 parameter tensors, in the order llm.c stores them.
inline constexpr int kNumTensors = 16;
enum Tensor : int {
  kWte,       // (Vp, C)
  kWpe,       // (maxT, C)
  kLn1w,      // (L, C)
  kLn1b,      // (L, C)
  kQkvw,      // (L, 3C, C)
  kQkvb,      // (L, 3C)
  kAttprojw,  // (L, C, C)
  kAttprojb,  // (L, C)
  kLn2w,      // (L, C)
  kLn2b,      // (L, C)
  kFcw,       // (L, 4C, C)
  kFcb,       // (L, 4C)
  kFcprojw,   // (L, C, 4C)
  kFcprojb,   // (L, C)
  kLnfw,      // (C)
  kLnfb,      // (C)
};
const char* tensor_name(int tensor);

// Element counts of the 16 tensors for `config` (which must be valid).
std::array<std::size_t, kNumTensors> tensor_sizes(const ModelConfig& config);
// Sum of tensor_sizes(): the parameter count including wte's padding rows.
std::size_t num_parameters(const ModelConfig& config);
// The parameter count of the real model: wte counted with V rows, not Vp.
std::size_t num_real_parameters(const ModelConfig& config);

// Returns "" when `config` is a possible GPT-2, else what is wrong with it
// ("channels (770) is not divisible by num_heads (12)").
std::string config_problem(const ModelConfig& config);

// V rounded up to a multiple of `multiple`, as llm.c pads its vocabulary.
int pad_vocab(int vocab_size, int multiple = 128);

// The GPT-2 family (124M, 355M, 774M, 1558M) and a tiny shape for fast tests.
struct Preset {
  std::string_view name;
  ModelConfig config;
};
const std::vector<Preset>& presets();
std::optional<ModelConfig> find_preset(std::string_view name);
std::string preset_names();  // "124M, 355M, 774M, 1558M, tiny"

}  // namespace gpt2
