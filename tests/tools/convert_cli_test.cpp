// The gpt2-convert command, run as a user runs it, and the other commands taking safetensors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "reference/checkpoint.h"
#include "reference/safetensors.h"
#include "reference/synthetic.h"
#include "runtime/model_source.h"
#include "tests/safetensors_writer.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

const std::string kBin = std::string(GPT2_BIN_DIR);
const std::string kConvert = kBin + "/gpt2-convert";
using test::HfLayout;
const ModelConfig kConvertConfig{16, 200, 256, 2, 2, 8};

using test::same_bits;

class ConvertCliTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ = test::temp_dir();
  std::vector<float> params_ = test::random_parameters(kConvertConfig, 31);
  std::filesystem::path model_dir_ = dir_ / "hf";
  std::filesystem::path model_file_ = test::write_hf_model(model_dir_, kConvertConfig, params_);

  test::CommandResult convert(const std::string& args) {
    return test::run_command(kConvert + " " + args);
  }
  // Expects a failure with `message` on stderr (one line), nothing on stdout, no output file.
  void expect_error(const test::CommandResult& r, const std::string& message,
                    const std::filesystem::path& output) {
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(output)) << output;
    // No temporary file left beside it either.
    if (std::filesystem::exists(output.parent_path())) {
      for (const auto& entry : std::filesystem::directory_iterator(output.parent_path())) {
        EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
      }
    }
  }
};

TEST_F(ConvertCliTest, SafetensorsToFloat32Checkpoint) {
  const auto out = dir_ / "out.bin";
  const auto r = convert(model_file_.string() + " " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "wrote " + out.string() + ": llm.c version 3 (float32), " +
                       std::to_string(num_real_parameters(kConvertConfig)) +
                       " parameters, L=2 NH=2 C=8 V=200 Vp=256 maxT=16\n");
  EXPECT_EQ(std::filesystem::file_size(out), 1024 + num_parameters(kConvertConfig) * 4);
  const auto model = Model::load(out);
  EXPECT_EQ(model->config(), kConvertConfig);
  EXPECT_EQ(model->file_version(), 3);
  EXPECT_TRUE(same_bits(model->parameters(), params_));  // the exact weights, padding rows zero
}

TEST_F(ConvertCliTest, FolderToBfloat16Checkpoint) {
  HfLayout layout;
  layout.dtype = "BF16";
  layout.prefix = "transformer.";
  test::write_hf_model(model_dir_, kConvertConfig, params_, layout);
  const auto out = dir_ / "out-bf16.bin";
  const auto r = convert(model_dir_.string() + " " + out.string() + " --dtype bfloat16");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("llm.c version 5 (bfloat16)"), std::string::npos) << r.out;
  EXPECT_EQ(std::filesystem::file_size(out), 1024 + num_parameters(kConvertConfig) * 2);
  const auto model = Model::load(out);
  EXPECT_EQ(model->file_version(), 5);
  // bfloat16 in, bfloat16 out: no second rounding.
  EXPECT_TRUE(same_bits(model->parameters(), load_safetensors(model_dir_)->parameters()));
  EXPECT_EQ(model->parameters()[3], test::stored_value(params_[3], "BF16"));
}

TEST_F(ConvertCliTest, SyntheticModelsAndLlmcFilesToo) {
  const auto out = dir_ / "tiny.bin";
  const auto r = convert("synthetic:tiny " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto model = Model::load(out);
  EXPECT_EQ(model->checksum(), test::tiny_model()->checksum());
  // llm.c in, llm.c out (version 3 -> 5).
  const auto out5 = dir_ / "tiny5.bin";
  ASSERT_EQ(convert(out.string() + " " + out5.string() + " --dtype bfloat16").status, 0);
  EXPECT_EQ(Model::load(out5)->file_version(), 5);
}

TEST_F(ConvertCliTest, TheCommandsRunTheConvertedModelAlike) {
  const auto out = dir_ / "out.bin";
  ASSERT_EQ(convert(model_file_.string() + " " + out.string()).status, 0);
  const std::string gpt2 = kBin + "/gpt2 --rule greedy -n 8 ";
  const auto from_llmc = test::run_command(gpt2 + "--model " + out.string() + " 5 199 0");
  const auto from_file = test::run_command(gpt2 + "--model " + model_file_.string() + " 5 199 0");
  const auto from_dir = test::run_command(gpt2 + "--model " + model_dir_.string() + " 5 199 0");
  ASSERT_EQ(from_llmc.status, 0) << from_llmc.err;
  EXPECT_EQ(std::count(from_llmc.out.begin(), from_llmc.out.end(), '\n'), 5);
  EXPECT_EQ(from_file.out, from_llmc.out) << from_file.err;
  EXPECT_EQ(from_dir.out, from_llmc.out) << from_dir.err;
  // A token past the model's vocabulary of 200.
  const auto bad = test::run_command(gpt2 + "--model " + model_dir_.string() + " 200");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("Token 200 is out of range [0, 200)."), std::string::npos) << bad.err;
}

TEST_F(ConvertCliTest, OpenModelRecognizesSafetensorsByContent) {
  std::filesystem::copy_file(model_file_, model_dir_ / "weights.bin");  // config.json beside
  const auto model = open_model((model_dir_ / "weights.bin").string());
  EXPECT_TRUE(same_bits(model->parameters(), params_));
}

TEST_F(ConvertCliTest, Errors) {
  const auto out = dir_ / "out.bin";
  expect_error(convert((dir_ / "none.safetensors").string() + " " + out.string()),
               "none.safetensors: cannot open: No such file or directory", out);
  // A damaged input: cut short.
  std::filesystem::resize_file(model_file_, std::filesystem::file_size(model_file_) - 10);
  expect_error(convert(model_file_.string() + " " + out.string()),
               "model.safetensors: truncated, or bad offsets", out);
  test::write_hf_model(model_dir_, kConvertConfig, params_);
  expect_error(convert(model_file_.string() + " " + out.string() + " --dtype float16"),
               "Unknown --dtype 'float16' (known: float32, bfloat16).", out);
  expect_error(convert(model_file_.string() + " " + (dir_ / "no/such/dir/out.bin").string()),
               "out.bin: cannot create a file here", dir_ / "no/such/dir/out.bin");
  const auto r = convert(model_file_.string() + " " + dir_.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(": is a directory; give the checkpoint file to write"), std::string::npos);
  const auto same = convert(model_file_.string() + " " + model_file_.string());
  EXPECT_EQ(same.status, 1);
  EXPECT_NE(same.err.find("model.safetensors: is the input itself"), std::string::npos);
  EXPECT_EQ(load_safetensors(model_file_)->parameters().size(), params_.size());  // untouched
  const auto usage = convert(model_file_.string());
  EXPECT_NE(usage.status, 0);
  EXPECT_NE(usage.err.find("output is required"), std::string::npos) << usage.err;
}

TEST_F(ConvertCliTest, HelpDescribesTheArguments) {
  const auto r = convert("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"input", "output", "--dtype", "bfloat16", "safetensors", "synthetic"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace gpt2
