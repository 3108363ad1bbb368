#include "reference/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "reference/model.h"
#include "tests/safetensors_writer.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

// A small model with V < Vp, so padding rows exist.
const ModelConfig kCheckpointConfig{16, 10, 16, 2, 2, 8};

std::vector<float> small_params() {
  std::vector<float> p = test::random_values(num_parameters(kCheckpointConfig), 7);
  // llm.c writes zeros into the padding rows.
  const std::size_t C = kCheckpointConfig.channels;
  for (std::size_t i = kCheckpointConfig.vocab_size * C;
       i < kCheckpointConfig.padded_vocab_size * C; i++)
    p[i] = 0;
  return p;
}

std::vector<std::int32_t> header_of(const ModelConfig& c, int version) {
  std::vector<std::int32_t> h(256, 0);
  h[0] = kCheckpointMagic;
  h[1] = version;
  h[2] = c.max_seq_len;
  h[3] = c.vocab_size;
  h[4] = c.num_layers;
  h[5] = c.num_heads;
  h[6] = c.channels;
  h[7] = c.padded_vocab_size;
  return h;
}

std::filesystem::path write_raw(const std::vector<std::int32_t>& header, std::size_t payload_bytes,
                                std::size_t header_bytes = 1024) {
  const std::filesystem::path path = test::temp_dir() / "model.bin";
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header_bytes));
  std::vector<char> zeros(payload_bytes, 0);
  out.write(zeros.data(), std::streamsize(zeros.size()));
  return path;
}

// Expects Model::load(path) to fail with a one-line message naming the file and
// containing `what`.
void expect_load_error(const std::filesystem::path& path, const std::string& what) {
  try {
    Model::load(path);
    FAIL() << "loaded " << path << ", expected an error containing: " << what;
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path.string() + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(CheckpointTest, Version3RoundTripsBitForBit) {
  const std::vector<float> params = small_params();
  const auto path = test::temp_dir() / "v3.bin";
  write_checkpoint(path, kCheckpointConfig, params, 3);
  EXPECT_EQ(std::filesystem::file_size(path), 1024 + params.size() * 4);
  auto model = Model::load(path);
  EXPECT_EQ(model->config(), kCheckpointConfig);
  EXPECT_EQ(model->file_version(), 3);
  ASSERT_EQ(model->parameters().size(), params.size());
  EXPECT_EQ(std::memcmp(model->parameters().data(), params.data(), params.size() * 4), 0);
  EXPECT_EQ(model->params().lnfb, model->parameters().data() + params.size() - 8);
  EXPECT_EQ(model->name(), path.string());
}

TEST(CheckpointTest, Version1HasNoPaddingRows) {
  std::vector<float> params = small_params();
  const auto path = test::temp_dir() / "v1.bin";
  write_checkpoint(path, kCheckpointConfig, params, 1);
  const std::size_t pad = (kCheckpointConfig.padded_vocab_size - kCheckpointConfig.vocab_size) *
                          kCheckpointConfig.channels;
  EXPECT_EQ(std::filesystem::file_size(path), 1024 + (params.size() - pad) * 4);
  auto model = Model::load(path);
  EXPECT_EQ(model->file_version(), 1);
  EXPECT_EQ(model->config().padded_vocab_size, kCheckpointConfig.vocab_size);
  // Everything but the padding rows is the same.
  const std::size_t wte_real = kCheckpointConfig.vocab_size * kCheckpointConfig.channels;
  EXPECT_EQ(std::memcmp(model->parameters().data(), params.data(), wte_real * 4), 0);
  EXPECT_EQ(std::memcmp(model->parameters().data() + wte_real, params.data() + wte_real + pad,
                        (params.size() - wte_real - pad) * 4),
            0);
}

TEST(CheckpointTest, Version5IsBfloat16ConvertedOnLoad) {
  const std::vector<float> params = small_params();
  const auto path = test::temp_dir() / "v5.bin";
  write_checkpoint(path, kCheckpointConfig, params, 5);
  EXPECT_EQ(std::filesystem::file_size(path), 1024 + params.size() * 2);
  auto model = Model::load(path);
  EXPECT_EQ(model->file_version(), 5);
  for (std::size_t i = 0; i < params.size(); i++) {
    const float got = model->parameters()[i];
    ASSERT_EQ(got, bf16_to_float(float_to_bf16(params[i]))) << i;
    ASSERT_NEAR(got, params[i], std::fabs(params[i]) / 256 + 1e-30) << i;
  }
}

TEST(CheckpointTest, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.0.
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  EXPECT_EQ(bf16_to_float(0x3fc0), 1.5f);
}

TEST(CheckpointTest, MissingFile) {
  expect_load_error(test::temp_dir() / "nope.bin", "cannot open: No such file or directory");
}

TEST(CheckpointTest, DirectoryIsNotACheckpoint) {
  expect_load_error(test::temp_dir(), "is a directory");
}

TEST(CheckpointTest, ShortHeader) {
  expect_load_error(write_raw(header_of(kCheckpointConfig, 3), 0, 100),
                    "too short for the 256-int32 header");
  expect_load_error(write_raw(header_of(kCheckpointConfig, 3), 0, 0), "the file holds 0 bytes");
}

TEST(CheckpointTest, BadMagic) {
  auto h = header_of(kCheckpointConfig, 3);
  h[0] = 20240327;
  expect_load_error(write_raw(h, num_parameters(kCheckpointConfig) * 4),
                    "bad magic number 20240327");
}

TEST(CheckpointTest, UnknownVersion) {
  for (int version : {0, 2, 4, 6, -1}) {
    expect_load_error(
        write_raw(header_of(kCheckpointConfig, version), num_parameters(kCheckpointConfig) * 4),
        "unknown checkpoint version " + std::to_string(version));
  }
}

TEST(CheckpointTest, ImpossibleDimensions) {
  struct Case {
    int field;
    int value;
    const char* what;
  };
  const Case cases[] = {
      {6, 0, "channels (0) must be positive"},
      {4, -2, "num_layers (-2) must be positive"},
      {2, 0, "max_seq_len (0) must be positive"},
      {5, 3, "channels (8) is not divisible by num_heads (3)"},
      {7, 9, "padded_vocab_size (9) is smaller than vocab_size (10)"},
      {3, -1, "vocab_size (-1) must be positive"},
  };
  for (const Case& c : cases) {
    auto h = header_of(kCheckpointConfig, 3);
    h[c.field] = c.value;
    expect_load_error(write_raw(h, num_parameters(kCheckpointConfig) * 4),
                      std::string("impossible dimensions in the header: ") + c.what);
  }
}

TEST(CheckpointTest, TruncatedAndTrailingBytes) {
  const std::size_t bytes = num_parameters(kCheckpointConfig) * 4;
  expect_load_error(write_raw(header_of(kCheckpointConfig, 3), bytes - 4),
                    "truncated: the file holds");
  expect_load_error(write_raw(header_of(kCheckpointConfig, 3), 0), "truncated");
  expect_load_error(write_raw(header_of(kCheckpointConfig, 3), bytes + 1),
                    "has 1 trailing byte(s)");
  expect_load_error(write_raw(header_of(kCheckpointConfig, 5), bytes),
                    "trailing byte(s)");  // fp32 sized
  // A real file cut short.
  const auto path = test::temp_dir() / "cut.bin";
  write_checkpoint(path, kCheckpointConfig, small_params(), 3);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 1000);
  expect_load_error(path, "truncated");
}

TEST(CheckpointTest, NonFiniteWeightIsCorrupt) {
  std::vector<float> params = small_params();
  const std::size_t fcw = [&] {
    std::size_t offset = 0;
    const auto sizes = tensor_sizes(kCheckpointConfig);
    for (int t = 0; t < kFcw; t++) offset += sizes[t];
    return offset;
  }();
  params[fcw + 5] = NAN;
  const auto path = test::temp_dir() / "nan.bin";
  write_checkpoint(path, kCheckpointConfig, params, 3);
  expect_load_error(path, "tensor fcw holds a non-finite value (NaN or infinity) at element 5");
}

TEST(CheckpointTest, PaddingRowsAreNotChecked) {
  // Nothing reads the padding rows, so garbage there is accepted.
  std::vector<float> params = small_params();
  params[kCheckpointConfig.vocab_size * kCheckpointConfig.channels + 3] = NAN;
  const auto path = test::temp_dir() / "padnan.bin";
  write_checkpoint(path, kCheckpointConfig, params, 3);
  EXPECT_NO_THROW(Model::load(path));
}

TEST(CheckpointTest, WriterRejectsWrongSizes) {
  const auto path = test::temp_dir() / "w.bin";
  std::vector<float> params = small_params();
  params.pop_back();
  EXPECT_THROW(write_checkpoint(path, kCheckpointConfig, params, 3), CheckpointError);
  EXPECT_THROW(write_checkpoint(path, kCheckpointConfig, small_params(), 4), CheckpointError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(CheckpointTest, ChecksumDependsOnEveryValue) {
  std::vector<float> params = small_params();
  auto a = Model::from_parameters(kCheckpointConfig, params, "a");
  auto b = Model::from_parameters(kCheckpointConfig, params, "b");
  params.back() = std::nextafter(params.back(), 1.0f);
  auto c = Model::from_parameters(kCheckpointConfig, params, "c");
  EXPECT_EQ(a->checksum(), b->checksum());
  EXPECT_NE(a->checksum(), c->checksum());
  EXPECT_EQ(a->checksum().size(), 16u);
}

}  // namespace
}  // namespace gpt2

namespace gpt2 {
namespace {

std::vector<unsigned char> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Expects load_from_memory of `path`'s bytes to fail with the message Model::load gives.
void expect_same_error_from_memory(const std::filesystem::path& path) {
  std::string from_file, from_memory;
  try {
    Model::load(path);
  } catch (const CheckpointError& e) {
    from_file = e.what();
  }
  try {
    Model::load_from_memory(file_bytes(path), path);
  } catch (const CheckpointError& e) {
    from_memory = e.what();
  }
  EXPECT_FALSE(from_file.empty());
  EXPECT_EQ(from_memory, from_file);
}

TEST(CheckpointTest, LoadFromMemoryGivesTheFilesModel) {
  const std::vector<float> params = test::random_parameters(kCheckpointConfig, 9);
  for (int version : {1, 3, 5}) {
    const auto path = test::temp_dir() / "mem.bin";
    write_checkpoint(path, kCheckpointConfig, params, version);
    const auto from_file = Model::load(path);
    const auto from_memory = Model::load_from_memory(file_bytes(path), path);
    EXPECT_EQ(from_memory->config(), from_file->config());
    EXPECT_EQ(from_memory->file_version(), version);
    EXPECT_EQ(from_memory->name(), path.string());
    EXPECT_EQ(from_memory->checksum(), from_file->checksum()) << "version " << version;
  }
}

TEST(CheckpointTest, LoadFromMemoryGivesTheFilesErrors) {
  const std::size_t bytes = num_parameters(kCheckpointConfig) * 4;
  expect_same_error_from_memory(write_raw(header_of(kCheckpointConfig, 3), 0, 100));
  expect_same_error_from_memory(write_raw(header_of(kCheckpointConfig, 3), 0, 0));
  expect_same_error_from_memory(write_raw(header_of(kCheckpointConfig, 4), bytes));
  expect_same_error_from_memory(write_raw(header_of(kCheckpointConfig, 3), bytes - 4));
  expect_same_error_from_memory(write_raw(header_of(kCheckpointConfig, 3), bytes + 1));
  std::vector<float> params = test::random_parameters(kCheckpointConfig, 9);
  params[num_parameters(kCheckpointConfig) - 1] = NAN;  // in lnfb
  for (int version : {3, 5}) {
    const auto path = test::temp_dir() / "nan.bin";
    write_checkpoint(path, kCheckpointConfig, params, version);
    expect_load_error(path, "corrupt: tensor lnfb holds a non-finite value");
    expect_same_error_from_memory(path);
  }
}

}  // namespace
}  // namespace gpt2
