#include "reference/config.h"

#include <gtest/gtest.h>

namespace gpt2 {
namespace {

TEST(ConfigTest, Gpt2SmallHasTheKnownParameterCounts) {
  const ModelConfig c = *find_preset("124M");
  EXPECT_EQ(c.max_seq_len, 1024);
  EXPECT_EQ(c.vocab_size, 50257);
  EXPECT_EQ(c.padded_vocab_size, 50304);
  EXPECT_EQ(c.num_layers, 12);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.channels, 768);
  EXPECT_EQ(num_real_parameters(c), 124439808u);
  EXPECT_EQ(num_parameters(c), 124475904u);
}

TEST(ConfigTest, FamilyPresetsMatchGpt2Shapes) {
  struct Expect {
    const char* name;
    int L, NH, C;
    std::size_t params;  // with V = 50257, as Hugging Face counts them
  };
  const Expect expected[] = {{"355M", 24, 16, 1024, 354823168u},
                             {"774M", 36, 20, 1280, 774030080u},
                             {"1558M", 48, 25, 1600, 1557611200u}};
  for (const Expect& e : expected) {
    const ModelConfig c = *find_preset(e.name);
    EXPECT_EQ(c.num_layers, e.L) << e.name;
    EXPECT_EQ(c.num_heads, e.NH) << e.name;
    EXPECT_EQ(c.channels, e.C) << e.name;
    EXPECT_EQ(num_real_parameters(c), e.params) << e.name;
    EXPECT_EQ(config_problem(c), "") << e.name;
  }
  EXPECT_FALSE(find_preset("125M").has_value());
  EXPECT_EQ(preset_names(), "124M, 355M, 774M, 1558M, tiny");
}

TEST(ConfigTest, TensorSizesFollowLlmcOrder) {
  const ModelConfig c{8, 10, 16, 2, 2, 4};
  const auto s = tensor_sizes(c);
  EXPECT_EQ(s[kWte], 16u * 4);
  EXPECT_EQ(s[kWpe], 8u * 4);
  EXPECT_EQ(s[kQkvw], 2u * 12 * 4);
  EXPECT_EQ(s[kFcprojw], 2u * 4 * 16);
  EXPECT_EQ(s[kLnfb], 4u);
  EXPECT_STREQ(tensor_name(kAttprojb), "attprojb");
  EXPECT_EQ(num_real_parameters(c), num_parameters(c) - 6 * 4);
}

TEST(ConfigTest, ProblemsAreNamed) {
  ModelConfig good{1024, 50257, 50304, 12, 12, 768};
  EXPECT_EQ(config_problem(good), "");
  ModelConfig c = good;
  c.channels = 770;
  EXPECT_EQ(config_problem(c), "channels (770) is not divisible by num_heads (12)");
  c = good;
  c.num_layers = 0;
  EXPECT_EQ(config_problem(c), "num_layers (0) must be positive");
  c = good;
  c.vocab_size = -3;
  EXPECT_EQ(config_problem(c), "vocab_size (-3) must be positive");
  c = good;
  c.padded_vocab_size = 50000;
  EXPECT_EQ(config_problem(c), "padded_vocab_size (50000) is smaller than vocab_size (50257)");
  c = good;
  c.max_seq_len = 1 << 30;
  EXPECT_NE(config_problem(c), "");
}

TEST(ConfigTest, PadVocabRoundsUpTo128) {
  EXPECT_EQ(pad_vocab(50257), 50304);
  EXPECT_EQ(pad_vocab(128), 128);
  EXPECT_EQ(pad_vocab(1), 128);
}

}  // namespace
}  // namespace gpt2
