// config.json beside a safetensors file: the input is its text, checked against
// a small valid GPT-2 (V = 3, C = 4, maxT = 2, one layer) built in memory.
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "reference/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// A safetensors file of GPT-2's 16 tensors (all F32 zeros but the layernorm weights).
std::vector<std::uint8_t> tiny_gpt2() {
  const std::pair<const char*, std::vector<int>> tensors[] = {{"wte.weight", {3, 4}},
                                                              {"wpe.weight", {2, 4}},
                                                              {"h.0.ln_1.weight", {4}},
                                                              {"h.0.ln_1.bias", {4}},
                                                              {"h.0.attn.c_attn.weight", {4, 12}},
                                                              {"h.0.attn.c_attn.bias", {12}},
                                                              {"h.0.attn.c_proj.weight", {4, 4}},
                                                              {"h.0.attn.c_proj.bias", {4}},
                                                              {"h.0.ln_2.weight", {4}},
                                                              {"h.0.ln_2.bias", {4}},
                                                              {"h.0.mlp.c_fc.weight", {4, 16}},
                                                              {"h.0.mlp.c_fc.bias", {16}},
                                                              {"h.0.mlp.c_proj.weight", {16, 4}},
                                                              {"h.0.mlp.c_proj.bias", {4}},
                                                              {"ln_f.weight", {4}},
                                                              {"ln_f.bias", {4}}};
  std::ostringstream json;  // (not string concatenation: g++ 12 warns falsely there, -Wrestrict)
  json << '{';
  std::size_t at = 0;
  for (const auto& [name, shape] : tensors) {
    std::size_t bytes = 4;
    json << (at > 0 ? "," : "") << '"' << name << R"(":{"dtype":"F32","shape":[)";
    for (std::size_t i = 0; i < shape.size(); ++i) {
      bytes *= std::size_t(shape[i]);
      json << (i > 0 ? "," : "") << shape[i];
    }
    json << R"(],"data_offsets":[)" << at << ',' << at + bytes << "]}";
    at += bytes;
  }
  json << '}';
  const std::string header = json.str();
  std::vector<std::uint8_t> file(8 + header.size() + at, 0);
  const std::uint64_t n = header.size();
  std::memcpy(file.data(), &n, 8);
  std::memcpy(file.data() + 8, header.data(), header.size());
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  static const std::vector<std::uint8_t> weights = tiny_gpt2();
  const std::string_view config(reinterpret_cast<const char*>(data), size);
  try {
    const auto model = load_safetensors_from_memory(weights, config, "fuzz/model.safetensors");
    const ModelConfig& c = model->config();
    fuzz::check(c.channels == 4 && c.vocab_size == 3 && c.max_seq_len == 2 && c.num_layers == 1,
                "config.json changed the weights' dimensions");
    fuzz::check(c.num_heads == 1 || c.num_heads == 2 || c.num_heads == 4, "bad head count");
  } catch (const CheckpointError& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
