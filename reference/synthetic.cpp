#include "reference/synthetic.h"

#include <cmath>
#include <optional>
#include <stdexcept>

namespace gpt2 {

SyntheticScales default_synthetic_scales() {
  SyntheticScales s;
  s.wte = 0.02f;
  s.wpe = 0.02f;
  s.ln_gain = 0.1f;
  s.ln_bias = 0.05f;
  s.qkv = 1.5f;
  s.attproj = 2.0f;
  s.fc = 2.0f;
  s.fcproj = 3.0f;
  s.bias = 0.05f;
  s.logit_std = 10.0f;
  return s;
}

namespace {

// Subtracts from each row of m (rows, cols) its mean (summed in index order).
// GELU's output has a positive mean, which fcprojw would turn into one fixed
// direction added to every position's residual stream; after the final
// layernorm that direction favours a few "hub" tokens at every step. Rows that
// sum to zero cancel it.
void center_rows(float* m, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; r++) {
    float* row = m + r * cols;
    float sum = 0.0f;
    for (std::size_t c = 0; c < cols; c++) sum += row[c];
    const float mean = sum / float(cols);
    for (std::size_t c = 0; c < cols; c++) row[c] -= mean;
  }
}

}  // namespace

std::string synthetic_name(std::string_view preset, std::uint64_t seed) {
  return "synthetic:" + std::string(preset) + ":seed=" + std::to_string(seed);
}

std::vector<float> synthetic_parameters(const ModelConfig& config, std::uint64_t seed,
                                        const SyntheticScales& sc) {
  if (std::string problem = config_problem(config); !problem.empty()) {
    throw std::invalid_argument("synthetic model: " + problem);
  }
  const auto sizes = tensor_sizes(config);
  std::vector<float> params(num_parameters(config));
  const float C = float(config.channels);
  const float inv_sqrt_c = 1.0f / std::sqrt(C);
  const float inv_sqrt_4c = 1.0f / std::sqrt(4.0f * C);
  // A logit is lnf(x) . wte[v]: about sqrt(C) * wte std * lnfw.
  const float lnf_gain = sc.logit_std / (std::sqrt(C) * sc.wte);
  // (mean, std) of each tensor.
  const std::pair<float, float> dist[kNumTensors] = {
      {0.0f, sc.wte},                     // wte
      {0.0f, sc.wpe},                     // wpe
      {1.0f, sc.ln_gain},                 // ln1w
      {0.0f, sc.ln_bias},                 // ln1b
      {0.0f, sc.qkv * inv_sqrt_c},        // qkvw
      {0.0f, sc.bias},                    // qkvb
      {0.0f, sc.attproj * inv_sqrt_c},    // attprojw
      {0.0f, sc.bias},                    // attprojb
      {1.0f, sc.ln_gain},                 // ln2w
      {0.0f, sc.ln_bias},                 // ln2b
      {0.0f, sc.fc * inv_sqrt_c},         // fcw
      {0.0f, sc.bias},                    // fcb
      {0.0f, sc.fcproj * inv_sqrt_4c},    // fcprojw
      {0.0f, sc.bias},                    // fcprojb
      {lnf_gain, lnf_gain * sc.ln_gain},  // lnfw
      {0.0f, sc.ln_bias},                 // lnfb
  };
  float* p = params.data();
  for (int t = 0; t < kNumTensors; t++) {
    std::size_t count = sizes[t];
    if (t == kWte) count = std::size_t(config.vocab_size) * config.channels;  // padding stays 0
    SplitMix64 rng(seed * 0x100000001b3ull + std::uint64_t(t) * 0x9e3779b97f4a7c15ull + 1);
    const auto [mean, std] = dist[t];
    for (std::size_t i = 0; i < count; i++) p[i] = mean + std * bell_from_bits(rng.next());
    if (t == kFcprojw) center_rows(p, count / (4 * config.channels), 4 * config.channels);
    p += sizes[t];
  }
  return params;
}

std::shared_ptr<const Model> make_synthetic_model(std::string_view preset, std::uint64_t seed) {
  std::optional<ModelConfig> config = find_preset(preset);
  if (!config) {
    throw std::invalid_argument("unknown model preset '" + std::string(preset) +
                                "' (known: " + preset_names() + ")");
  }
  return Model::from_parameters(*config, synthetic_parameters(*config, seed),
                                synthetic_name(preset, seed));
}

}  // namespace gpt2
