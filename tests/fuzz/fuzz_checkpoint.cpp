// llm.c checkpoints: the header (magic, version, dimensions), the size checks
// and the weights' checks, on a whole file's bytes in memory.
#include <cstdint>
#include <span>

#include "reference/checkpoint.h"
#include "reference/model.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  try {
    const auto model = Model::load_from_memory(std::span(data, size), "fuzz.bin");
    const ModelConfig& c = model->config();
    fuzz::check(config_problem(c).empty(), "a loaded model has impossible dimensions");
    const CheckpointLayout layout =
        parse_checkpoint_header(std::span<const std::int32_t, kCheckpointHeaderInts>(
                                    reinterpret_cast<const std::int32_t*>(data), 256),
                                "fuzz.bin");
    fuzz::check(layout.file_bytes == size, "a loaded file's size is not the header's");
    fuzz::check(model->parameters().size() == num_parameters(c), "wrong parameter count");
  } catch (const CheckpointError& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
