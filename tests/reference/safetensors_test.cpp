#include "reference/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>

#include "reference/checkpoint.h"
#include "reference/forward.h"
#include "reference/model.h"
#include "tests/safetensors_writer.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using nlohmann::json;
using test::HfLayout;

// Small, with V < Vp (padding rows), non-square Conv1D weights, and C that is no GPT-2 preset's
// (so the heads must come from config.json).
const ModelConfig kSafetensorsConfig{16, 200, 256, 2, 2, 8};

// Expects `load` to throw CheckpointError with one line that starts with `path` and contains
// `what`.
template <typename Load>
void expect_error(Load load, const std::filesystem::path& path, const std::string& what) {
  try {
    load();
    FAIL() << "no error; expected one containing: " << what;
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path.string() + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}
void expect_safetensors_error(const std::filesystem::path& path, const std::string& what) {
  expect_error([&] { load_safetensors(path); }, path, what);
}

// Logits of the last position after `tokens`, by the frozen reference.
std::vector<float> last_logits(const Model& model, const std::vector<int>& tokens) {
  ReferenceState state(model.config(), int(tokens.size()));
  std::vector<float> logits(model.config().vocab_size), probs(logits.size());
  reference_forward(model, tokens, 0, state, logits, probs);
  return logits;
}

using test::same_bits;

TEST(SafetensorsTest, Float32LoadsTheSameModelAsTheLlmcFile) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 11);
  const auto dir = test::temp_dir();
  const auto file = test::write_hf_model(dir, kSafetensorsConfig, params);
  const auto from_hf = load_safetensors(file);
  EXPECT_EQ(from_hf->config(), kSafetensorsConfig);
  EXPECT_EQ(from_hf->name(), file.string());
  EXPECT_TRUE(same_bits(from_hf->parameters(), params));

  write_checkpoint(dir / "model.bin", kSafetensorsConfig, params, 3);
  const auto from_llmc = Model::load(dir / "model.bin");
  EXPECT_EQ(from_hf->checksum(), from_llmc->checksum());
  const std::vector<int> prompt = {3, 199, 0, 42, 7};
  const std::vector<float> a = last_logits(*from_hf, prompt), b = last_logits(*from_llmc, prompt);
  EXPECT_TRUE(same_bits(a, b));
  EXPECT_NE(a[0], a[1]);  // real logits, not a constant
}

TEST(SafetensorsTest, Float16AndBfloat16AreConvertedOnLoad) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 12);
  for (const char* dtype : {"F16", "BF16"}) {
    HfLayout layout;
    layout.dtype = dtype;
    const auto file = test::write_hf_model(test::temp_dir(), kSafetensorsConfig, params, layout);
    const auto model = load_safetensors(file);
    const std::span<const float> got = model->parameters();
    ASSERT_EQ(got.size(), params.size());
    const std::size_t real_wte =
        std::size_t(kSafetensorsConfig.vocab_size) * kSafetensorsConfig.channels;
    const std::size_t padded_wte =
        std::size_t(kSafetensorsConfig.padded_vocab_size) * kSafetensorsConfig.channels;
    const float precision = std::string(dtype) == "F16" ? 1.0f / 2048 : 1.0f / 256;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (i >= real_wte && i < padded_wte) {
        ASSERT_EQ(got[i], 0.0f) << "padding row element " << i;
        continue;
      }
      ASSERT_EQ(got[i], test::stored_value(params[i], dtype)) << dtype << " element " << i;
      ASSERT_NEAR(got[i], params[i], std::fabs(params[i]) * precision + 1e-7) << dtype << " " << i;
    }
  }
}

TEST(SafetensorsTest, Float16DecodesEveryKindOfValue) {
  EXPECT_EQ(f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_float(0xc000), -2.0f);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x7bff), 65504.0f);               // largest finite
  EXPECT_EQ(f16_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_float(0x83ff), -std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_float(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)));
  EXPECT_EQ(f16_to_float(0x7c00), INFINITY);
  EXPECT_EQ(f16_to_float(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(f16_to_float(0x7e00)));
  // The test writer's rounding agrees with the loader's decoding on every half.
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_float(std::uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(test::float_to_f16(f), h) << h;
  }
  EXPECT_EQ(test::float_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // halfway: ties to even
  EXPECT_EQ(test::float_to_f16(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(test::float_to_f16(65520.0f), 0x7c00);
}

// HF's Conv1D computes y = x W with W stored (in, out); llm.c computes out[o] = sum_i x[i] w[o][i]
// with w stored (out, in). A value written at HF's [i][o] must land at llm.c's [o][i].
TEST(SafetensorsTest, Conv1dWeightsAreTransposedIntoLlmcLayout) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 13);
  std::vector<test::StTensor> tensors = test::hf_gpt2_tensors(kSafetensorsConfig, params);
  const std::uint64_t C = kSafetensorsConfig.channels;
  struct Case {
    std::string name;
    std::uint64_t in, out;
  };
  const Case cases[] = {{"h.1.attn.c_attn.weight", C, 3 * C},
                        {"h.1.attn.c_proj.weight", C, C},
                        {"h.1.mlp.c_fc.weight", C, 4 * C},
                        {"h.1.mlp.c_proj.weight", 4 * C, C}};
  auto pattern = [](std::uint64_t i, std::uint64_t o) { return float(i * 1000 + o); };
  for (const Case& c : cases) {
    std::vector<float> w(c.in * c.out);
    for (std::uint64_t i = 0; i < c.in; ++i) {
      for (std::uint64_t o = 0; o < c.out; ++o) w[i * c.out + o] = pattern(i, o);
    }
    for (test::StTensor& t : tensors) {
      if (t.name == c.name) t.data = test::encode_floats(w, "F32");
    }
  }
  const auto dir = test::temp_dir();
  test::write_bytes(dir / "model.safetensors", test::safetensors_bytes(tensors));
  test::write_config_json(dir, test::hf_config_json(kSafetensorsConfig));
  const auto model = load_safetensors(dir / "model.safetensors");
  const ParameterTensors& p = model->params();
  const float* layer1[] = {p.qkvw + 3 * C * C, p.attprojw + C * C, p.fcw + 4 * C * C,
                           p.fcprojw + 4 * C * C};
  for (int k = 0; k < 4; ++k) {
    const Case& c = cases[k];
    for (std::uint64_t o = 0; o < c.out; ++o) {
      for (std::uint64_t i = 0; i < c.in; ++i) {
        ASSERT_EQ(layer1[k][o * c.in + i], pattern(i, o)) << c.name << " in " << i << " out " << o;
      }
    }
  }
  // Layer 0 is untouched by the pattern: still the random weights, transposed back.
  std::size_t qkvw_offset = 0;
  for (int t = 0; t < kQkvw; ++t) qkvw_offset += tensor_sizes(kSafetensorsConfig)[t];
  EXPECT_TRUE(same_bits(model->tensor(kQkvw).first(3 * C * C),
                        std::span<const float>(params).subspan(qkvw_offset, 3 * C * C)));
}

TEST(SafetensorsTest, NamesWithAndWithoutTheTransformerPrefix) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 14);
  HfLayout layout;
  layout.prefix = "transformer.";
  const auto prefixed =
      load_safetensors(test::write_hf_model(test::temp_dir(), kSafetensorsConfig, params, layout));
  EXPECT_TRUE(same_bits(prefixed->parameters(), params));

  // A mixture is the same model too: the prefix is optional per name.
  std::vector<test::StTensor> tensors = test::hf_gpt2_tensors(kSafetensorsConfig, params);
  for (std::size_t i = 0; i < tensors.size(); i += 2)
    tensors[i].name = "transformer." + tensors[i].name;
  const auto dir = test::temp_dir();
  test::write_bytes(dir / "model.safetensors", test::safetensors_bytes(tensors));
  test::write_config_json(dir, test::hf_config_json(kSafetensorsConfig));
  EXPECT_TRUE(same_bits(load_safetensors(dir / "model.safetensors")->parameters(), params));

  // But not both spellings of one tensor.
  tensors.push_back(tensors[0]);
  tensors.back().name = "wte.weight";
  tensors[0].name = "transformer.wte.weight";
  test::write_bytes(dir / "model.safetensors", test::safetensors_bytes(tensors));
  expect_safetensors_error(
      dir / "model.safetensors",
      "tensor 'wte.weight' appears twice (as 'transformer.wte.weight' and 'wte.weight')");
}

TEST(SafetensorsTest, AttentionMaskBuffersAreIgnored) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 15);
  HfLayout layout;
  layout.mask_buffers = true;
  const auto file = test::write_hf_model(test::temp_dir(), kSafetensorsConfig, params, layout);
  const SafetensorsHeader header = read_safetensors_header(file);
  ASSERT_NE(header.find("h.1.attn.bias"), nullptr);
  EXPECT_EQ(header.find("h.1.attn.bias")->dtype, "U8");
  ASSERT_NE(header.find("h.0.attn.masked_bias"), nullptr);
  EXPECT_TRUE(header.find("h.0.attn.masked_bias")->shape.empty());  // a scalar
  EXPECT_TRUE(same_bits(load_safetensors(file)->parameters(), params));
}

TEST(SafetensorsTest, TiedLmHeadIsAcceptedAnUntiedOneIsNot) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 16);
  HfLayout layout;
  layout.lm_head = true;
  const auto tied = test::write_hf_model(test::temp_dir(), kSafetensorsConfig, params, layout);
  EXPECT_TRUE(same_bits(load_safetensors(tied)->parameters(), params));

  std::vector<test::StTensor> tensors = test::hf_gpt2_tensors(kSafetensorsConfig, params, layout);
  test::StTensor& head = tensors.back();
  ASSERT_EQ(head.name, "lm_head.weight");
  float x;
  std::memcpy(&x, head.data.data() + 4 * 7, 4);
  x = std::nextafter(x, 100.0f);
  std::memcpy(head.data.data() + 4 * 7, &x, 4);
  const auto dir = test::temp_dir();
  test::write_bytes(dir / "model.safetensors", test::safetensors_bytes(tensors));
  test::write_config_json(dir, test::hf_config_json(kSafetensorsConfig));
  expect_safetensors_error(
      dir / "model.safetensors",
      "lm_head.weight differs from wte.weight (first at element 7): llm.c's format "
      "ties the output head to the token embedding");
}

TEST(SafetensorsTest, HeadsComeFromConfigJson) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 17);
  const auto dir = test::temp_dir();
  const auto file = test::write_hf_model(dir, kSafetensorsConfig, params);
  json config = test::hf_config_json(kSafetensorsConfig);
  config["n_head"] = 4;
  test::write_config_json(dir, config);
  EXPECT_EQ(load_safetensors(file)->config().num_heads, 4);
  EXPECT_EQ(load_safetensors(dir)->config().num_heads, 4);  // the folder, as HF lays it out

  // Without config.json, 8 channels is no GPT-2 preset's: the user is told what to do.
  std::filesystem::remove(dir / "config.json");
  expect_safetensors_error(
      file,
      "cannot tell the number of attention heads: no config.json beside it, and 8 "
      "channels is none of the GPT-2 family's (768, 1024, 1280, 1600); put the "
      "model's config.json (with n_head) beside the file");
  config.erase("n_head");
  test::write_config_json(dir, config);
  expect_safetensors_error(file, "config.json beside it has no n_head");
}

TEST(SafetensorsTest, GptTwoFamilyHeadsWithoutConfigJson) {
  // 768 channels (GPT-2 124M's width) with one layer and a small vocabulary: 12 heads, from the
  // preset. BF16 keeps the file at 14 MB.
  const ModelConfig config{4, 10, pad_vocab(10), 1, 12, 768};
  const std::vector<float> params = test::random_parameters(config, 18);
  HfLayout layout;
  layout.dtype = "BF16";
  const auto file = test::write_hf_model(test::temp_dir(), config, params, layout, false);
  const auto model = load_safetensors(file);
  EXPECT_EQ(model->config(), config);
  EXPECT_EQ(model->config().padded_vocab_size, 128);
  EXPECT_EQ(model->parameters()[5000], test::stored_value(params[5000], "BF16"));
}

TEST(SafetensorsTest, ConfigJsonMustAgreeWithTheWeights) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 19);
  const auto dir = test::temp_dir();
  const auto file = test::write_hf_model(dir, kSafetensorsConfig, params);
  const auto config_path = dir / "config.json";
  struct Case {
    const char* key;
    json value;
    std::string what;
  };
  const Case cases[] = {
      {"n_embd", 16,
       "n_embd is 16, but model.safetensors has 8 (channels: wte.weight is [200, 8])"},
      {"vocab_size", 50257, "vocab_size is 50257, but model.safetensors has 200 (tokens: "},
      {"n_layer", 3, "n_layer is 3, but model.safetensors has 2 (layers h.0 to h.1)"},
      {"n_positions", 1024,
       "n_positions is 1024, but model.safetensors has 16 (positions: wpe.weight is [16, 8])"},
      {"n_inner", 64, "n_inner is 64, but model.safetensors has 32 (4 * channels"},
      {"n_head", 3, "n_head is 3, which does not divide the 8 channels of model.safetensors"},
      {"n_head", "two", "n_head is \"two\", expected an integer"},
      {"layer_norm_epsilon", 1e-6,
       "layer_norm_epsilon is 1e-06, but GPT-2 here (as in llm.c) uses 1e-05"},
      {"activation_function", "relu",
       "activation_function is \"relu\", but GPT-2 here computes gelu_new (GELU's tanh "
       "approximation) only"},
      {"model_type", "llama", "model_type is 'llama', not 'gpt2'"},
      {"scale_attn_weights", false, "scale_attn_weights is false"},
      {"scale_attn_by_inverse_layer_idx", true, "scale_attn_by_inverse_layer_idx is true"},
  };
  for (const Case& c : cases) {
    json config = test::hf_config_json(kSafetensorsConfig);
    config[c.key] = c.value;
    test::write_config_json(dir, config);
    expect_error([&] { load_safetensors(file); }, config_path, c.what);
  }
  // gelu_pytorch_tanh is the same function as gelu_new.
  json config = test::hf_config_json(kSafetensorsConfig);
  config["activation_function"] = "gelu_pytorch_tanh";
  test::write_config_json(dir, config);
  EXPECT_NO_THROW(load_safetensors(file));

  test::write_bytes(config_path, "{\"n_head\": 2,");
  expect_error([&] { load_safetensors(file); }, config_path, "not valid JSON: ");
  test::write_bytes(config_path, "[2]");
  expect_error([&] { load_safetensors(file); }, config_path, "is not a JSON object");
}

TEST(SafetensorsTest, HeaderMetadataAndOrder) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 20);
  const auto file = test::temp_dir() / "m.safetensors";
  const auto tensors = test::hf_gpt2_tensors(kSafetensorsConfig, params);
  const std::string bytes = test::safetensors_bytes(tensors, {{"format", "pt"}, {"note", "x"}});
  test::write_bytes(file, bytes);
  const SafetensorsHeader h = read_safetensors_header(file);
  EXPECT_EQ(h.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}}));
  EXPECT_EQ(h.data_start % 8, 0u);  // the writer pads the header, as Python's does
  EXPECT_EQ(h.data_start + h.data_bytes, bytes.size());
  ASSERT_EQ(h.tensors.size(), tensors.size());
  // In order of their offsets, which is the order they were written in.
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(h.tensors[i].name, tensors[i].name);
    EXPECT_EQ(h.tensors[i].end - h.tensors[i].begin, tensors[i].data.size());
  }
  const SafetensorsTensor* qkv = h.find("h.0.attn.c_attn.weight");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->dtype, "F32");
  EXPECT_EQ(qkv->shape, (std::vector<std::uint64_t>{8, 24}));
  EXPECT_EQ(qkv->elements(), 192u);
}

TEST(SafetensorsTest, RecognizesSafetensorsFiles) {
  const auto dir = test::temp_dir();
  const auto file = test::write_hf_model(dir, kSafetensorsConfig,
                                         test::random_parameters(kSafetensorsConfig, 21));
  EXPECT_TRUE(looks_like_safetensors(file));
  EXPECT_TRUE(looks_like_safetensors(dir));
  std::filesystem::copy_file(file, dir / "weights.bin");  // by its first bytes
  EXPECT_TRUE(looks_like_safetensors(dir / "weights.bin"));
  write_checkpoint(dir / "llmc.bin", kSafetensorsConfig,
                   test::random_parameters(kSafetensorsConfig, 21));
  EXPECT_FALSE(looks_like_safetensors(dir / "llmc.bin"));
  test::write_bytes(dir / "text.bin", std::string(100, 'x'));
  EXPECT_FALSE(looks_like_safetensors(dir / "text.bin"));
  EXPECT_FALSE(looks_like_safetensors(dir / "missing.bin"));
  EXPECT_TRUE(looks_like_safetensors(dir / "missing.safetensors"));  // then fails to open
}

// --- Damaged files: one line each, naming the file and what is wrong. -------------------------

// A valid one-tensor header for `data` of 4 floats.
std::string one_tensor(const std::string& entry) {
  return "{\"wte.weight\": " + entry + "}";
}

class DamagedSafetensorsTest : public ::testing::Test {
 protected:
  std::filesystem::path file_ = test::temp_dir() / "model.safetensors";
  void expect(std::string_view bytes, const std::string& what) {
    test::write_bytes(file_, bytes);
    expect_safetensors_error(file_, what);
    // The same error from the bytes in memory.
    const std::span<const unsigned char> in_memory(
        reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    expect_error([&] { load_safetensors_from_memory(in_memory, std::nullopt, file_); }, file_,
                 what);
  }
  void expect_header(std::string_view header, std::string_view data, const std::string& what) {
    expect(test::raw_safetensors_bytes(header, data), what);
  }
};

const std::string kData16(16, '\0');

TEST_F(DamagedSafetensorsTest, MissingFileAndFolderWithoutModel) {
  expect_safetensors_error(file_, "cannot open: No such file or directory");
  const auto dir = test::temp_dir();
  expect_safetensors_error(dir, "is a folder without model.safetensors");
  test::write_bytes(dir / "model.safetensors.index.json", "{}");
  expect_safetensors_error(dir, "holds a sharded checkpoint (model.safetensors.index.json)");
}

TEST_F(DamagedSafetensorsTest, ShortFile) {
  expect("",
         "too short for a safetensors file: it holds 0 bytes, the header's length alone takes 8");
  expect(std::string("\x05\x00\x00", 3), "it holds 3 bytes");
}

TEST_F(DamagedSafetensorsTest, HeaderLengthBeyondTheFile) {
  std::string bytes = test::raw_safetensors_bytes("{}", "");
  bytes[0] = 100;
  expect(bytes,
         "the header length (100 bytes) runs past the end of the file (10 bytes): "
         "truncated, or not a safetensors file");
  bytes[5] = 1;  // 2^40 + 100
  expect(bytes, "header length 1099511627876 is beyond the format's limit of 100000000 bytes");
}

TEST_F(DamagedSafetensorsTest, InvalidJson) {
  expect_header("{\"wte.weight\": {\"dtype\": \"F32\",", kData16, "the header is not valid JSON: ");
  expect_header("{\"a\": 1} x", "", "the header is not valid JSON: ");
  expect_header("{\"a\xff\": 1}", "", "the header is not valid JSON: ");  // not UTF-8
}

TEST_F(DamagedSafetensorsTest, NotAnObject) {
  expect_header("[1, 2]", "", "the header is not a JSON object (it is array)");
  expect_header("\"wte\"", "", "the header is not a JSON object (it is string)");
}

TEST_F(DamagedSafetensorsTest, DuplicateKeys) {
  const std::string entry = "{\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}";
  expect_header("{\"wte.weight\": " + entry + ", \"wte.weight\": " + entry + "}", kData16,
                "the header names 'wte.weight' twice (the format forbids duplicate keys)");
}

TEST_F(DamagedSafetensorsTest, BadEntries) {
  expect_header(one_tensor("[1]"), kData16,
                "tensor 'wte.weight' is not described by an object: [1]");
  expect_header(one_tensor("{\"shape\": [4], \"data_offsets\": [0, 16]}"), kData16,
                "tensor 'wte.weight' has no dtype string");
  expect_header(one_tensor("{\"dtype\": \"F17\", \"shape\": [4], \"data_offsets\": [0, 16]}"),
                kData16,
                "tensor 'wte.weight' has unknown dtype 'F17' (known: BOOL, U8, I8, F8_E5M2, ");
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [-4], \"data_offsets\": [0, 16]}"),
                kData16,
                "tensor 'wte.weight': shape must be an array of non-negative integers, not [-4]");
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [4.0], \"data_offsets\": [0, 16]}"),
                kData16, "shape must be an array of non-negative integers, not [4.0]");
  expect_header(one_tensor("{\"dtype\": \"F32\", \"data_offsets\": [0, 16]}"), kData16,
                "shape must be an array of non-negative integers, not missing");
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0]}"), kData16,
                "tensor 'wte.weight': data_offsets must be [begin, end], two non-negative "
                "integers, not [0]");
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [16, 0]}"),
                kData16, "tensor 'wte.weight': data_offsets [16, 0] end before they begin");
  expect_header(
      one_tensor(
          "{\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 16]}"),
      kData16, "tensor 'wte.weight': shape [4294967296, 4294967296] is impossibly large");
  expect_header("{\"__metadata__\": {\"format\": 1}}", "",
                "__metadata__ entry 'format' is not a string: 1");
  expect_header("{\"__metadata__\": [\"pt\"]}", "", "__metadata__ is not an object of strings");
}

TEST_F(DamagedSafetensorsTest, ShapeAndOffsetsDisagree) {
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 16]}"),
                kData16,
                "tensor 'wte.weight': shape [2, 3] of F32 needs 24 bytes, but its data_offsets "
                "[0, 16] hold 16");
  expect_header(one_tensor("{\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [0, 16]}"),
                kData16, "shape [4] of BF16 needs 8 bytes");
}

TEST_F(DamagedSafetensorsTest, OffsetsOutOfRange) {
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}"),
                kData16,
                "truncated, or bad offsets: tensor 'wte.weight' ends at byte 24 of the data, but "
                "the file holds 16 bytes of data after its ");
}

TEST_F(DamagedSafetensorsTest, OverlappingTensors) {
  expect_header(
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]},"
      " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}",
      kData16, "tensor 'b' (data bytes [8, 16]) overlaps tensor 'a' ([0, 12])");
  // Two names for the same bytes.
  expect_header(
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
      " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
      kData16, "tensor 'b' (data bytes [0, 16]) overlaps tensor 'a' ([0, 16])");
}

TEST_F(DamagedSafetensorsTest, HolesAndTrailingBytes) {
  expect_header(
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
      " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}",
      kData16,
      "data bytes [4, 8] belong to no tensor (the format requires the tensors to cover the data "
      "without gaps)");
  expect_header(one_tensor("{\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]}"),
                kData16,
                "4 trailing byte(s) after the last tensor: the tensors cover 12 bytes of data, the "
                "file holds 16");
}

TEST_F(DamagedSafetensorsTest, TruncatedData) {
  const std::string bytes = test::safetensors_bytes(
      test::hf_gpt2_tensors(kSafetensorsConfig, test::random_parameters(kSafetensorsConfig, 22)));
  expect(bytes.substr(0, bytes.size() - 100),
         "truncated, or bad offsets: tensor 'ln_f.bias' ends at byte ");
  expect(bytes.substr(0, bytes.size() / 2), "truncated, or bad offsets");
}

// --- Valid files that are not a loadable GPT-2. ----------------------------------------------

class NotGpt2Test : public ::testing::Test {
 protected:
  std::filesystem::path dir_ = test::temp_dir();
  std::vector<float> params_ = test::random_parameters(kSafetensorsConfig, 23);
  std::vector<test::StTensor> tensors_ = test::hf_gpt2_tensors(kSafetensorsConfig, params_);
  test::StTensor& tensor(const std::string& name) {
    for (test::StTensor& t : tensors_) {
      if (t.name == name) return t;
    }
    throw std::invalid_argument(name);
  }
  void erase(const std::string& name) {
    std::erase_if(tensors_, [&](const test::StTensor& t) { return t.name == name; });
  }
  void expect(const std::string& what,
              const json& config = test::hf_config_json(kSafetensorsConfig)) {
    const std::string bytes = test::safetensors_bytes(tensors_);
    test::write_bytes(dir_ / "model.safetensors", bytes);
    test::write_config_json(dir_, config);
    expect_safetensors_error(dir_ / "model.safetensors", what);
    // The same error from the bytes and config.json's text in memory.
    const std::string config_text = config.dump();
    const std::span<const unsigned char> in_memory(
        reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    expect_error(
        [&] { load_safetensors_from_memory(in_memory, config_text, dir_ / "model.safetensors"); },
        dir_ / "model.safetensors", what);
  }
};

TEST_F(NotGpt2Test, MissingTensor) {
  erase("h.1.mlp.c_fc.bias");
  expect(
      "missing tensor 'h.1.mlp.c_fc.bias' (the file has layers h.0 to h.1, and every layer "
      "needs it)");
}

TEST_F(NotGpt2Test, MissingEmbedding) {
  erase("wpe.weight");
  expect("missing tensor 'wpe.weight' (not a GPT-2 checkpoint?)");
}

TEST_F(NotGpt2Test, NoLayers) {
  std::erase_if(tensors_, [](const test::StTensor& t) { return t.name.starts_with("h."); });
  expect("has no transformer layers (no tensor named h.0.*)");
}

TEST_F(NotGpt2Test, WrongShape) {
  // c_attn stored (out, in) as in llm.c, not as HF's Conv1D (in, out).
  tensor("h.0.attn.c_attn.weight").shape = {24, 8};
  expect(
      "tensor 'h.0.attn.c_attn.weight' has shape [24, 8], expected [8, 24] (HF's Conv1D stores "
      "its weights input by output)");
}

TEST_F(NotGpt2Test, WrongShapeOfAVector) {
  test::StTensor& bias = tensor("h.1.ln_2.bias");
  bias.shape = {2, 4};
  expect("tensor 'h.1.ln_2.bias' has shape [2, 4], expected [8] (channels)");
}

TEST_F(NotGpt2Test, EmbeddingNotAMatrix) {
  test::StTensor& wte = tensor("wte.weight");
  wte.shape = {1600};
  expect("tensor 'wte.weight' has shape [1600], expected (vocab_size, channels)");
}

TEST_F(NotGpt2Test, UnexpectedTensor) {
  tensors_.push_back({"score.weight", "F32", {2, 8}, std::string(64, '\0')});
  expect("unexpected tensor 'score.weight': not part of a GPT-2 language model");
}

TEST_F(NotGpt2Test, UnexpectedLayerTensor) {
  tensors_.push_back({"h.0.crossattention.c_attn.weight", "F32", {2}, std::string(8, '\0')});
  expect("unexpected tensor 'h.0.crossattention.c_attn.weight'");
}

TEST_F(NotGpt2Test, IntegerWeights) {
  test::StTensor& w = tensor("h.0.mlp.c_proj.bias");
  w.dtype = "I32";
  expect("tensor 'h.0.mlp.c_proj.bias' has dtype I32; GPT-2 weights must be F32, F16 or BF16");
}

TEST_F(NotGpt2Test, NonFiniteWeight) {
  const float nan = NAN;
  std::memcpy(tensor("h.1.mlp.c_fc.weight").data.data() + 4 * 5, &nan, 4);
  expect(
      "corrupt: tensor 'h.1.mlp.c_fc.weight' holds a non-finite value (NaN or infinity) at "
      "element 5");
}

TEST_F(NotGpt2Test, MissingLayerInTheMiddle) {
  // Layers 0 and 2 but not 1: the count comes from the highest index.
  for (test::StTensor& t : tensors_) {
    if (t.name.starts_with("h.1.")) t.name.replace(0, 4, "h.2.");
  }
  json config = test::hf_config_json(kSafetensorsConfig);
  config["n_layer"] = 3;
  expect("missing tensor 'h.1.ln_1.weight' (the file has layers h.0 to h.2", config);
}

TEST(SafetensorsTest, LoadFromMemoryGivesTheFilesModel) {
  const std::vector<float> params = test::random_parameters(kSafetensorsConfig, 31);
  const auto dir = test::temp_dir();
  const auto file = test::write_hf_model(dir, kSafetensorsConfig, params);
  std::ifstream in(file, std::ios::binary);
  const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>()};
  const std::string config = test::hf_config_json(kSafetensorsConfig).dump();
  const auto model = load_safetensors_from_memory(bytes, config, file);
  EXPECT_EQ(model->config(), kSafetensorsConfig);
  EXPECT_EQ(model->name(), file.string());
  EXPECT_EQ(model->checksum(), load_safetensors(file)->checksum());
  // Without config.json, 8 channels is no GPT-2 preset's: the heads are unknown.
  expect_error([&] { load_safetensors_from_memory(bytes, std::nullopt, file); }, file,
               "no config.json beside it");
}

// Found by reading the code while writing fuzz_safetensors: the parameters were
// allocated from the highest layer index before any layer's tensors were looked at, so a
// 24 KB file naming h.4095 asked for 4096 layers of 4096 channels (3 TB).
TEST_F(NotGpt2Test, AHighLayerIndexIsCheckedBeforeAnythingIsAllocated) {
  const ModelConfig wide{1, 1, 1, 1, 1, 4096};
  const std::string zeros(4 * 4096, '\0');
  tensors_ = {{"wte.weight", "F32", {1, 4096}, zeros},
              {"wpe.weight", "F32", {1, 4096}, zeros},
              {"h.4095.ln_1.weight", "F32", {4096}, zeros}};
  json config = test::hf_config_json(wide);
  config.erase("n_layer");
  expect("missing tensor 'h.0.ln_1.weight' (the file has layers h.0 to h.4095", config);
}

// Found by reading the code while writing the fuzz targets: names from the file (JSON keys may
// hold any character) went into messages as they were, so a name with a newline broke the
// one-line error; control characters are now written as \xNN.
TEST_F(DamagedSafetensorsTest, ControlCharactersInNamesStayOnOneLine) {
  expect_header(R"({"a\nb": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", kData16,
                R"(unexpected tensor 'a\x0ab')");
  expect_header(R"({"x\r\ny": 7})", "", R"(tensor 'x\x0d\x0ay' is not described by an object)");
}

}  // namespace
}  // namespace gpt2
