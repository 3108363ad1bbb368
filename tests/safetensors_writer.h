// A small safetensors writer for the tests, written from the format's description (JSON header,
// then the data) and sharing no code with the loader. The loader is also held to files written by
// Hugging Face's own writer (datasets/fixtures/hf-tiny, tests/reference/hf_fixture_test.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/config.h"

namespace gpt2::test {

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "U8", ...
  std::vector<std::uint64_t> shape;
  std::string data;  // the raw little-endian bytes
};

// float32 -> IEEE half, round to nearest even (the test's own conversion, not the loader's).
std::uint16_t float_to_f16(float x);
// `values` stored as dtype F32, F16 or BF16.
std::string encode_floats(std::span<const float> values, std::string_view dtype);
// What storing x as `dtype` keeps of it, as float32.
float stored_value(float x, std::string_view dtype);

// A whole file: the 8-byte length, the JSON header (padded with spaces to a multiple of 8, as the
// Python writer does), then the tensors' data in the given order, back to back.
std::string safetensors_bytes(const std::vector<StTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
// A file with a header given verbatim (for damaged files): length, `header`, then `data`.
std::string raw_safetensors_bytes(std::string_view header, std::string_view data);
void write_bytes(const std::filesystem::path& path, std::string_view bytes);

// How a GPT-2 is laid out in Hugging Face's files.
struct HfLayout {
  std::string dtype = "F32";  // of every weight
  std::string prefix;         // "" (openai-community/gpt2) or "transformer." (save_pretrained)
  bool mask_buffers = false;  // add h.i.attn.bias (U8 causal mask) and h.i.attn.masked_bias
  bool lm_head = false;       // add lm_head.weight, a copy of wte
};

// GPT-2's tensors under HF's names, from `params` in llm.c's order (wte with Vp rows: only the V
// real rows are written); Conv1D weights transposed to (in, out).
std::vector<StTensor> hf_gpt2_tensors(const ModelConfig& config, std::span<const float> params,
                                      const HfLayout& layout = {});
// HF's GPT2Config for `config`, as config.json holds it.
nlohmann::json hf_config_json(const ModelConfig& config);
// Writes dir/config.json.
void write_config_json(const std::filesystem::path& dir, const nlohmann::json& config_json);
// Writes dir/model.safetensors (and hf_config_json(config) as dir/config.json when `with_config`)
// and returns the path of model.safetensors.
std::filesystem::path write_hf_model(const std::filesystem::path& dir, const ModelConfig& config,
                                     std::span<const float> params, const HfLayout& layout = {},
                                     bool with_config = true);

// llm.c-order parameters for `config` (random, seeded) with wte's padding rows zero.
std::vector<float> random_parameters(const ModelConfig& config, std::uint64_t seed);

}  // namespace gpt2::test
