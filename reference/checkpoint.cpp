#include "reference/checkpoint.h"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "reference/model.h"

namespace gpt2 {

static_assert(std::endian::native == std::endian::little,
              "checkpoints are little-endian; this build assumes a little-endian machine");

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw CheckpointError(path.string() + ": " + what);
}

}  // namespace

CheckpointLayout parse_checkpoint_header(std::span<const std::int32_t, kCheckpointHeaderInts> h,
                                         const std::filesystem::path& path) {
  if (h[0] != kCheckpointMagic) {
    fail(path, "bad magic number " + std::to_string(h[0]) + " (expected " +
                   std::to_string(kCheckpointMagic) + "): not an llm.c GPT-2 checkpoint");
  }
  CheckpointLayout layout;
  layout.version = h[1];
  switch (layout.version) {
    case 1:
    case 3:
      layout.bytes_per_value = 4;
      break;
    case 5:
      layout.bytes_per_value = 2;
      break;
    default:
      fail(path, "unknown checkpoint version " + std::to_string(h[1]) +
                     " (supported: 1 and 3 = float32, 5 = bfloat16)");
  }
  ModelConfig& c = layout.config;
  c.max_seq_len = h[2];
  c.vocab_size = h[3];
  c.num_layers = h[4];
  c.num_heads = h[5];
  c.channels = h[6];
  c.padded_vocab_size = layout.version == 1 ? h[3] : h[7];
  if (std::string problem = config_problem(c); !problem.empty()) {
    fail(path, "impossible dimensions in the header: " + problem);
  }
  layout.values = num_parameters(c);
  layout.file_bytes = kCheckpointHeaderBytes + layout.values * layout.bytes_per_value;
  return layout;
}

std::uint16_t float_to_bf16(float x) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return std::uint16_t(bits >> 16);
}

float bf16_to_float(std::uint16_t x) {
  return std::bit_cast<float>(std::uint32_t(x) << 16);
}

void write_checkpoint(const std::filesystem::path& path, const ModelConfig& config,
                      std::span<const float> parameters, int version) {
  if (version != 1 && version != 3 && version != 5) {
    fail(path,
         "cannot write checkpoint version " + std::to_string(version) + " (supported: 1, 3, 5)");
  }
  if (std::string problem = config_problem(config); !problem.empty()) {
    fail(path, "cannot write impossible dimensions: " + problem);
  }
  if (parameters.size() != num_parameters(config)) {
    fail(path, "cannot write " + std::to_string(parameters.size()) + " parameters; the model has " +
                   std::to_string(num_parameters(config)));
  }
  std::int32_t header[kCheckpointHeaderInts] = {};
  header[0] = kCheckpointMagic;
  header[1] = version;
  header[2] = config.max_seq_len;
  header[3] = config.vocab_size;
  header[4] = config.num_layers;
  header[5] = config.num_heads;
  header[6] = config.channels;
  header[7] = version == 1 ? 0 : config.padded_vocab_size;

  // A unique temporary name beside the target, so concurrent writers never clash.
  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) fail(path, std::string("cannot create a file here: ") + std::strerror(errno));
  bool ok = std::fwrite(header, sizeof header, 1, f) == 1;

  const std::size_t C = config.channels;
  // Version 1 stores V rows of wte: its padding rows are skipped.
  const std::size_t skip_begin = std::size_t(config.vocab_size) * C;
  const std::size_t skip_end = std::size_t(config.padded_vocab_size) * C;
  std::vector<std::uint16_t> buffer;
  std::size_t i = 0;
  while (ok && i < parameters.size()) {
    if (version == 1 && i == skip_begin) i = skip_end;
    std::size_t end = std::min(parameters.size(), i + (std::size_t(1) << 20));
    if (version == 1 && i < skip_begin) end = std::min(end, skip_begin);
    if (version == 5) {
      buffer.resize(end - i);
      for (std::size_t j = i; j < end; ++j) buffer[j - i] = float_to_bf16(parameters[j]);
      ok = std::fwrite(buffer.data(), 2, buffer.size(), f) == buffer.size();
    } else {
      ok = std::fwrite(parameters.data() + i, 4, end - i, f) == end - i;
    }
    i = end;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    int err = errno;
    std::filesystem::remove(tmp);
    fail(path, std::string("write failed: ") + std::strerror(err));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    fail(path, "cannot rename the finished file into place: " + ec.message());
  }
}

}  // namespace gpt2
