// llm.c's checkpoint format: a header of 256 little-endian int32, then the 16
// tensors in llm.c's order (config.h).
//   header[0] = 20240326 (magic), header[1] = version,
//   header[2..6] = maxT, V, L, NH, C, header[7] = Vp (versions 3 and 5).
//   version 1: float32, no padding field, wte has V rows (Vp = V).
//   version 3: float32, wte padded to Vp rows.
//   version 5: bfloat16, wte padded to Vp rows (converted to float32 on load).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "reference/config.h"

namespace gpt2 {

inline constexpr std::int32_t kCheckpointMagic = 20240326;
inline constexpr std::size_t kCheckpointHeaderInts = 256;
inline constexpr std::size_t kCheckpointHeaderBytes = kCheckpointHeaderInts * 4;

struct CheckpointLayout {
  int version = 0;
  ModelConfig config;
  std::size_t bytes_per_value = 0;  // 4 (float32) or 2 (bfloat16)
  std::size_t values = 0;           // values stored after the header
  std::size_t file_bytes = 0;       // the size the header implies
};

// Decodes and checks a header read from `path` (only named in errors). Throws
// CheckpointError for a bad magic, an unknown version or impossible dimensions.
CheckpointLayout parse_checkpoint_header(std::span<const std::int32_t, kCheckpointHeaderInts> h,
                                         const std::filesystem::path& path);

// Writes `parameters` (num_parameters(config) floats, wte with Vp rows) as an
// llm.c checkpoint of `version` 1, 3 or 5. Writes a temporary file beside `path`
// and renames it, so `path` is never left half-written. Throws CheckpointError.
void write_checkpoint(const std::filesystem::path& path, const ModelConfig& config,
                      std::span<const float> parameters, int version = 3);

// float32 -> bfloat16 with round-to-nearest-even (NaN stays NaN), and back.
std::uint16_t float_to_bf16(float x);
float bf16_to_float(std::uint16_t x);

}  // namespace gpt2
