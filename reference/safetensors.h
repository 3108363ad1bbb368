// Hugging Face safetensors checkpoints of GPT-2 (the openai-community/gpt2 family).
//
// The file format (github.com/huggingface/safetensors, "Format"):
//   8 bytes  N, a little-endian u64: the size of the header
//   N bytes  a UTF-8 JSON object: {"__metadata__": {str: str} (optional),
//            "<name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
//            with offsets in bytes from the start of the data section, end one past the last
//   the rest the data section: every tensor's bytes, little-endian, row-major
// As the format's reference implementation does, the reader requires the tensors to cover the
// data section exactly (sorted by offset: no overlap, no hole, nothing after the last one).
//
// GPT-2's tensors there (HF's GPT2LMHeadModel; names with or without "transformer."):
//   wte.weight (V, C), wpe.weight (maxT, C), ln_f.weight/bias (C), and for each layer i:
//   h.i.ln_1.weight/bias (C), h.i.attn.c_attn.weight (C, 3C) + bias (3C),
//   h.i.attn.c_proj.weight (C, C) + bias (C), h.i.ln_2.weight/bias (C),
//   h.i.mlp.c_fc.weight (C, 4C) + bias (4C), h.i.mlp.c_proj.weight (4C, C) + bias (C);
//   optionally lm_head.weight (V, C), which must equal wte (llm.c's format ties them), and the
//   attention-mask buffers h.i.attn.bias and h.i.attn.masked_bias, which are ignored.
// HF's Conv1D stores its weights (in, out); llm.c stores (out, in): the loader transposes them.
// The number of heads is not in the weights: it comes from config.json beside the file, or, for
// the GPT-2 family's channel counts (768, 1024, 1280, 1600), from the preset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/model.h"

namespace gpt2 {

// The format's cap on the header (the reference implementation's MAX_HEADER_SIZE).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// One tensor of a safetensors header.
struct SafetensorsTensor {
  std::string name;                  // as in the file
  std::string dtype;                 // "F32", "F16", "BF16", "I64", ...
  std::size_t dtype_bytes = 0;       // bytes per element
  std::vector<std::uint64_t> shape;  // row-major
  std::uint64_t begin = 0;           // byte offsets within the data section
  std::uint64_t end = 0;
  std::uint64_t elements() const;
};

// A validated header: every tensor's dtype known, its byte count equal to shape x dtype size,
// and the tensors tiling the data section exactly.
struct SafetensorsHeader {
  std::uint64_t header_bytes = 0;               // N
  std::uint64_t data_start = 0;                 // 8 + N: where the data section starts in the file
  std::uint64_t data_bytes = 0;                 // the file size minus data_start
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::vector<SafetensorsTensor> tensors;       // in the order of their data offsets
  const SafetensorsTensor* find(std::string_view name) const;  // nullptr when absent
};

// Reads and validates the header of the safetensors file `path`. Throws CheckpointError with one
// line, "<path>: <what is wrong>", for a file that is short, damaged or not safetensors.
SafetensorsHeader read_safetensors_header(const std::filesystem::path& path);

// Validates `json`, the N header bytes of a file of `file_bytes` bytes (so the data section holds
// file_bytes - 8 - N). `path` is only named in errors. Throws CheckpointError.
SafetensorsHeader parse_safetensors_header(std::string_view json, std::uint64_t file_bytes,
                                           const std::filesystem::path& path);

// True when `path` is a folder (a Hugging Face snapshot, which must hold model.safetensors), ends
// in ".safetensors", or starts like one (a header length, then '{'). llm.c checkpoints do not.
bool looks_like_safetensors(const std::filesystem::path& path);

// Loads a Hugging Face GPT-2: a model.safetensors file, or a folder holding one. dtypes F32, F16
// and BF16 are converted to float32; wte gets llm.c's zero padding rows up to pad_vocab(V).
// config.json beside the file, when present, gives n_head and is cross-checked against the
// weights. Throws CheckpointError with one line naming the file and what is wrong. `name` is what
// the model's name() reports (default: the path of the .safetensors file).
std::shared_ptr<const Model> load_safetensors(const std::filesystem::path& path,
                                              std::string name = "");

// The same from a whole safetensors file's bytes in memory (copied into the model), with
// `config_json` the text of config.json beside it (nullopt: none). `path` is only named in
// errors, and config.json's errors name the config.json beside it.
std::shared_ptr<const Model> load_safetensors_from_memory(
    std::span<const unsigned char> file, std::optional<std::string_view> config_json,
    const std::filesystem::path& path, std::string name = "");

// IEEE half precision -> float32, exactly (subnormals, infinities and NaN included).
float f16_to_float(std::uint16_t x);

}  // namespace gpt2
