#include "reference/config.h"

#include <cstdint>
#include <limits>

namespace gpt2 {

const char* tensor_name(int tensor) {
  static constexpr const char* kNames[kNumTensors] = {
      "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
      "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb"};
  return (tensor >= 0 && tensor < kNumTensors) ? kNames[tensor] : "?";
}

std::array<std::size_t, kNumTensors> tensor_sizes(const ModelConfig& c) {
  const std::size_t maxT = c.max_seq_len, Vp = c.padded_vocab_size, L = c.num_layers,
                    C = c.channels;
  return {Vp * C, maxT * C, L * C,         L * C,     L * 3 * C * C, L * 3 * C, L * C * C, L * C,
          L * C,  L * C,    L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C,     C,         C};
}

std::size_t num_parameters(const ModelConfig& config) {
  std::size_t n = 0;
  for (std::size_t s : tensor_sizes(config)) n += s;
  return n;
}

std::size_t num_real_parameters(const ModelConfig& config) {
  return num_parameters(config) -
         std::size_t(config.padded_vocab_size - config.vocab_size) * config.channels;
}

std::string config_problem(const ModelConfig& c) {
  auto field = [](const char* name, int value) {
    return std::string(name) + " (" + std::to_string(value) + ")";
  };
  const std::pair<const char*, int> fields[] = {{"max_seq_len", c.max_seq_len},
                                                {"vocab_size", c.vocab_size},
                                                {"padded_vocab_size", c.padded_vocab_size},
                                                {"num_layers", c.num_layers},
                                                {"num_heads", c.num_heads},
                                                {"channels", c.channels}};
  for (auto [name, value] : fields) {
    if (value <= 0) return field(name, value) + " must be positive";
  }
  // Upper bounds keep every size computation far from overflow; the largest
  // GPT-2 (1558M) is well inside them.
  const std::pair<const char*, int> limits[] = {{"max_seq_len", 1 << 20},
                                                {"padded_vocab_size", 1 << 24},
                                                {"num_layers", 1 << 12},
                                                {"channels", 1 << 16}};
  const int values[] = {c.max_seq_len, c.padded_vocab_size, c.num_layers, c.channels};
  for (int i = 0; i < 4; ++i) {
    if (values[i] > limits[i].second) {
      return field(limits[i].first, values[i]) + " is larger than " +
             std::to_string(limits[i].second);
    }
  }
  if (c.channels % c.num_heads != 0) {
    return field("channels", c.channels) + " is not divisible by " +
           field("num_heads", c.num_heads);
  }
  if (c.padded_vocab_size < c.vocab_size) {
    return field("padded_vocab_size", c.padded_vocab_size) + " is smaller than " +
           field("vocab_size", c.vocab_size);
  }
  const double params = double(num_parameters(c));
  if (params * 4 > double(std::numeric_limits<std::int64_t>::max() / 2)) {
    return "the model is impossibly large (" + std::to_string(params) + " parameters)";
  }
  return "";
}

int pad_vocab(int vocab_size, int multiple) {
  return (vocab_size + multiple - 1) / multiple * multiple;
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> kPresets = {
      {"124M", {1024, 50257, 50304, 12, 12, 768}},
      {"355M", {1024, 50257, 50304, 24, 16, 1024}},
      {"774M", {1024, 50257, 50304, 36, 20, 1280}},
      {"1558M", {1024, 50257, 50304, 48, 25, 1600}},
      // Full vocabulary and context (so every prompt of the golden set runs on it),
      // but 2 layers of 64 channels: a forward pass costs microseconds.
      {"tiny", {1024, 50257, 50304, 2, 4, 64}},
  };
  return kPresets;
}

std::optional<ModelConfig> find_preset(std::string_view name) {
  for (const Preset& p : presets()) {
    if (p.name == name) return p.config;
  }
  return std::nullopt;
}

std::string preset_names() {
  std::string out;
  for (const Preset& p : presets()) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

}  // namespace gpt2
