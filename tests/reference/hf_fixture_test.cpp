// The loader and the frozen reference held to Hugging Face itself: datasets/fixtures/hf-tiny holds
// a small random GPT-2 written by transformers' save_pretrained (safetensors, in float32, bfloat16
// and float16) and the logits transformers computes for it at every position of three prompts
// (scripts/hf/make_safetensors_fixture.py). Loading those files and running the reference must
// give HF's logits to within float32 rounding of two different summation orders.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "reference/forward.h"
#include "reference/safetensors.h"
#include "runtime/model_source.h"

namespace gpt2 {
namespace {

// |ours - HF| <= kTolerance * (the largest |logit| of the row): float32 noise is about 1e-6 of
// that; a misplaced or mistransposed tensor changes logits by far more than 1e-4.
constexpr float kTolerance = 1e-4f;

std::filesystem::path fixture_dir() {
  return datasets_dir() / "fixtures" / "hf-tiny";
}

std::vector<float> read_floats(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

class HfFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto manifest = fixture_dir() / "fixture.json";
    ASSERT_TRUE(std::filesystem::exists(manifest))
        << manifest.string()
        << " is missing: regenerate it with `python3 scripts/hf/make_safetensors_fixture.py "
           "datasets/fixtures/hf-tiny` where torch, transformers and safetensors are installed";
    std::ifstream in(manifest);
    fixture_ = nlohmann::json::parse(in);
  }
  nlohmann::json fixture_;
};

TEST_F(HfFixtureTest, ManifestDescribesThreeVariantsOfOneModel) {
  ASSERT_EQ(fixture_["variants"].size(), 3u);
  EXPECT_EQ(fixture_["prompts"].size(), 3u);
  EXPECT_EQ(fixture_["config"]["vocab_size"], 1000);
  for (const auto& variant : fixture_["variants"]) {
    // What save_pretrained wrote is what the loader must cope with: "transformer." names and the
    // head tied (lm_head.weight left out, or a copy of wte).
    EXPECT_TRUE(variant["tensors"].contains("transformer.wte.weight")) << variant["name"];
    const auto file = fixture_dir() / variant["dir"].get<std::string>() / "model.safetensors";
    EXPECT_EQ(std::filesystem::file_size(file), variant["safetensors_bytes"].get<std::size_t>());
    const SafetensorsHeader header = read_safetensors_header(file);
    EXPECT_EQ(header.tensors.size(), variant["tensors"].size());
  }
}

TEST_F(HfFixtureTest, ReferenceLogitsMatchTransformers) {
  const ModelConfig expected{64, 1000, 1024, 2, 4, 64};
  for (const auto& variant : fixture_["variants"]) {
    const std::string name = variant["name"];
    SCOPED_TRACE(name);
    // Through open_model and the folder, as `gpt2 --model datasets/fixtures/hf-tiny/float32` does.
    const auto model = open_model((fixture_dir() / variant["dir"].get<std::string>()).string());
    ASSERT_EQ(model->config(), expected);
    const std::vector<float> hf =
        read_floats(fixture_dir() / variant["logits_file"].get<std::string>());
    const int V = expected.vocab_size;
    std::size_t row = 0;
    float worst = 0.0f;  // the largest error seen, relative to its row's largest logit
    for (const auto& prompt_json : fixture_["prompts"]) {
      const std::vector<int> prompt = prompt_json.get<std::vector<int>>();
      ReferenceState state(model->config(), int(prompt.size()));
      std::vector<float> logits(V), probs(V);
      for (std::size_t t = 0; t < prompt.size(); ++t, ++row) {
        // One position at a time through the cache: the logits of every position.
        reference_forward(*model, std::span<const int>(&prompt[t], 1), int(t), state, logits,
                          probs);
        ASSERT_LE((row + 1) * V, hf.size()) << "the logits file is too short";
        const float* want = hf.data() + row * V;
        float scale = 0.0f;
        for (int v = 0; v < V; ++v) scale = std::max(scale, std::fabs(want[v]));
        ASSERT_GT(scale, 1.0f) << "HF's logits are nearly all zero: a useless fixture";
        for (int v = 0; v < V; ++v) {
          const float error = std::fabs(logits[v] - want[v]) / scale;
          worst = std::max(worst, error);
          ASSERT_LE(error, kTolerance)
              << "position " << t << " token " << v << ": ours " << logits[v] << ", HF " << want[v];
        }
        // The same next token, unless HF's top two are closer than the tolerance.
        std::vector<float> sorted(want, want + V);
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
        if (sorted[0] - sorted[1] > 2 * kTolerance * scale) {
          EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(),
                    std::max_element(want, want + V) - want)
              << "position " << t;
        }
      }
    }
    EXPECT_EQ(row * V, hf.size()) << "the logits file holds more rows than the prompts";
    RecordProperty(name + "_worst_relative_error", std::to_string(worst));
  }
}

}  // namespace
}  // namespace gpt2
