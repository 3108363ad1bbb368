#include "tests/safetensors_writer.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "reference/checkpoint.h"
#include "tests/test_util.h"

namespace gpt2::test {

std::uint16_t float_to_f16(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint16_t sign = std::uint16_t((bits >> 16) & 0x8000u);
  const std::uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // 65520 and up round to infinity
  if (abs < 0x38800000u) {
    // Below 2^-14: a subnormal half, a whole number of 2^-24. Scaling by 2^24 is exact, and
    // nearbyint rounds to nearest even.
    return sign | std::uint16_t(std::nearbyint(std::bit_cast<float>(abs) * 16777216.0f));
  }
  // Rebias the exponent (127 -> 15), then round the 23-bit mantissa to 10 bits, ties to even.
  const std::uint32_t rebiased = abs - ((127u - 15u) << 23);
  return sign | std::uint16_t((rebiased + 0xfffu + ((rebiased >> 13) & 1u)) >> 13);
}

std::string encode_floats(std::span<const float> values, std::string_view dtype) {
  std::string out;
  if (dtype == "F32") {
    out.resize(values.size() * 4);
    std::memcpy(out.data(), values.data(), out.size());
    return out;
  }
  if (dtype != "F16" && dtype != "BF16") throw std::invalid_argument("encode_floats: bad dtype");
  out.resize(values.size() * 2);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint16_t v = dtype == "F16" ? float_to_f16(values[i]) : float_to_bf16(values[i]);
    std::memcpy(out.data() + 2 * i, &v, 2);
  }
  return out;
}

float stored_value(float x, std::string_view dtype) {
  if (dtype == "BF16") return bf16_to_float(float_to_bf16(x));
  if (dtype == "F16") {
    // Decoded here independently of the loader: sign, exponent, mantissa.
    const std::uint16_t h = float_to_f16(x);
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exponent == 0) return sign * std::ldexp(float(mantissa), -24);
    if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
    return sign * std::ldexp(float(1024 + mantissa), exponent - 25);
  }
  return x;
}

std::string raw_safetensors_bytes(std::string_view header, std::string_view data) {
  const std::uint64_t n = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  out += header;
  out += data;
  return out;
}

std::string safetensors_bytes(const std::vector<StTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  std::string data;
  for (const StTensor& t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
    data += t.data;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';
  return raw_safetensors_bytes(text, data);
}

void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<StTensor> hf_gpt2_tensors(const ModelConfig& c, std::span<const float> params,
                                      const HfLayout& layout) {
  const std::uint64_t V = c.vocab_size, C = c.channels, maxT = c.max_seq_len;
  const auto sizes = tensor_sizes(c);
  std::vector<const float*> at(kNumTensors);
  const float* p = params.data();
  for (int t = 0; t < kNumTensors; ++t) {
    at[t] = p;
    p += sizes[t];
  }
  std::vector<StTensor> out;
  auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, const float* src) {
    std::size_t n = 1;
    for (std::uint64_t d : shape) n *= d;
    out.push_back({layout.prefix + name, layout.dtype, shape,
                   encode_floats(std::span<const float>(src, n), layout.dtype)});
  };
  // llm.c's (out, in) weight -> HF's Conv1D (in, out).
  auto add_conv1d = [&](const std::string& name, std::uint64_t in, std::uint64_t outs,
                        const float* src) {
    std::vector<float> t(in * outs);
    for (std::uint64_t o = 0; o < outs; ++o) {
      for (std::uint64_t i = 0; i < in; ++i) t[i * outs + o] = src[o * in + i];
    }
    add(name, {in, outs}, t.data());
  };
  add("wte.weight", {V, C}, at[kWte]);
  add("wpe.weight", {maxT, C}, at[kWpe]);
  for (std::uint64_t l = 0; l < std::uint64_t(c.num_layers); ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C}, at[kLn1w] + l * C);
    add(h + "ln_1.bias", {C}, at[kLn1b] + l * C);
    add_conv1d(h + "attn.c_attn.weight", C, 3 * C, at[kQkvw] + l * 3 * C * C);
    add(h + "attn.c_attn.bias", {3 * C}, at[kQkvb] + l * 3 * C);
    add_conv1d(h + "attn.c_proj.weight", C, C, at[kAttprojw] + l * C * C);
    add(h + "attn.c_proj.bias", {C}, at[kAttprojb] + l * C);
    add(h + "ln_2.weight", {C}, at[kLn2w] + l * C);
    add(h + "ln_2.bias", {C}, at[kLn2b] + l * C);
    add_conv1d(h + "mlp.c_fc.weight", C, 4 * C, at[kFcw] + l * 4 * C * C);
    add(h + "mlp.c_fc.bias", {4 * C}, at[kFcb] + l * 4 * C);
    add_conv1d(h + "mlp.c_proj.weight", 4 * C, C, at[kFcprojw] + l * 4 * C * C);
    add(h + "mlp.c_proj.bias", {C}, at[kFcprojb] + l * C);
    if (layout.mask_buffers) {
      // As old GPT-2 files hold them: the causal mask (1, 1, maxT, maxT) and a scalar.
      std::string mask(maxT * maxT, '\0');
      for (std::uint64_t r = 0; r < maxT; ++r) {
        for (std::uint64_t k = 0; k <= r; ++k) mask[r * maxT + k] = 1;
      }
      out.push_back({layout.prefix + h + "attn.bias", "U8", {1, 1, maxT, maxT}, mask});
      const float masked = -1e4f;
      out.push_back(
          {layout.prefix + h + "attn.masked_bias", "F32", {}, encode_floats({&masked, 1}, "F32")});
    }
  }
  add("ln_f.weight", {C}, at[kLnfw]);
  add("ln_f.bias", {C}, at[kLnfb]);
  if (layout.lm_head) {
    out.push_back({"lm_head.weight",
                   layout.dtype,
                   {V, C},
                   encode_floats(std::span<const float>(at[kWte], V * C), layout.dtype)});
  }
  return out;
}

nlohmann::json hf_config_json(const ModelConfig& c) {
  return {{"activation_function", "gelu_new"},
          {"architectures", {"GPT2LMHeadModel"}},
          {"layer_norm_epsilon", 1e-05},
          {"model_type", "gpt2"},
          {"n_ctx", c.max_seq_len},
          {"n_embd", c.channels},
          {"n_head", c.num_heads},
          {"n_inner", nullptr},
          {"n_layer", c.num_layers},
          {"n_positions", c.max_seq_len},
          {"scale_attn_by_inverse_layer_idx", false},
          {"scale_attn_weights", true},
          {"tie_word_embeddings", true},
          {"vocab_size", c.vocab_size}};
}

void write_config_json(const std::filesystem::path& dir, const nlohmann::json& config_json) {
  write_bytes(dir / "config.json", config_json.dump(2));
}

std::filesystem::path write_hf_model(const std::filesystem::path& dir, const ModelConfig& config,
                                     std::span<const float> params, const HfLayout& layout,
                                     bool with_config) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "model.safetensors";
  write_bytes(file, safetensors_bytes(hf_gpt2_tensors(config, params, layout), {{"format", "pt"}}));
  if (with_config) write_config_json(dir, hf_config_json(config));
  return file;
}

std::vector<float> random_parameters(const ModelConfig& config, std::uint64_t seed) {
  std::vector<float> p = random_values(num_parameters(config), seed);
  const std::size_t C = config.channels;
  for (std::size_t i = std::size_t(config.vocab_size) * C;
       i < std::size_t(config.padded_vocab_size) * C; ++i) {
    p[i] = 0.0f;
  }
  return p;
}

}  // namespace gpt2::test
