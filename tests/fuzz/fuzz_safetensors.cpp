// Hugging Face safetensors files: the header (length, JSON, tensor table) and
// GPT-2's tensors, with or without a config.json beside them, in memory.
// Input: 2 bytes k (little-endian); k = 0: no config.json, else the next k - 1
// bytes (or what is left) are config.json's text; the rest is the file.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "reference/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  std::optional<std::string_view> config;
  std::size_t k = 0;
  if (size >= 2) {
    k = data[0] | std::size_t(data[1]) << 8;
    data += 2;
    size -= 2;
  }
  if (k > 0) {
    const std::size_t n = std::min(k - 1, size);
    config = std::string_view(reinterpret_cast<const char*>(data), n);
    data += n;
    size -= n;
  }
  try {
    const auto model =
        load_safetensors_from_memory(std::span(data, size), config, "fuzz/model.safetensors");
    fuzz::check(config_problem(model->config()).empty(),
                "a loaded model has impossible dimensions");
  } catch (const CheckpointError& e) {
    fuzz::check_one_line(e);
  }
  try {  // the header alone, as gpt2-convert and the tests read it
    if (size >= 8) {
      std::uint64_t n = 0;
      std::copy(data, data + 8, reinterpret_cast<std::uint8_t*>(&n));
      if (n <= size - 8) {
        const SafetensorsHeader h =
            parse_safetensors_header(std::string_view(reinterpret_cast<const char*>(data) + 8, n),
                                     size, "fuzz/model.safetensors");
        std::uint64_t at = 0;  // the tensors tile the data section
        for (const SafetensorsTensor& t : h.tensors) {
          fuzz::check(t.begin == at && t.end >= t.begin, "tensors do not tile the data");
          at = t.end;
        }
        fuzz::check(at == h.data_bytes, "tensors do not end at the data's end");
      }
    }
  } catch (const CheckpointError& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
