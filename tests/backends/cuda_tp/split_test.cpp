// The tensor-parallel split (backends/cuda_tp/split.h) without a GPU: which
// heads, channels, MLP columns and vocabulary rows each rank holds, the
// counts and device lists refused, and each rank's shard of the block weights
// held to the model's own entries; the sharded products summed over the
// ranks equal the whole ones.
#include "backends/cuda_tp/split.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/synthetic.h"
#include "tests/test_util.h"

namespace gpt2::tp {
namespace {

ModelConfig gpt2_124m() {
  return {1024, 50257, 50304, 12, 12, 768};
}

TEST(TpSplitTest, EveryRankHoldsWholeHeadsAndTheRanksCoverEachIndexOnce) {
  for (const ModelConfig& c : {gpt2_124m(), ModelConfig{1024, 50257, 50304, 24, 16, 1024},
                               ModelConfig{1024, 50257, 50304, 36, 20, 1280},
                               ModelConfig{1024, 50257, 50304, 48, 25, 1600}}) {
    for (int n = 1; n <= c.num_heads; n++) {
      if (c.num_heads % n != 0) continue;
      int heads = 0, channels = 0, hidden = 0, vocab = 0;
      for (int r = 0; r < n; r++) {
        const RankShape s = rank_shape(c, n, r);
        EXPECT_EQ(s.heads.begin, heads) << n << " ranks, rank " << r;
        EXPECT_EQ(s.channels.begin, channels);
        EXPECT_EQ(s.hidden.begin, hidden);
        EXPECT_EQ(s.vocab.begin, vocab);
        EXPECT_EQ(s.heads_count(), c.num_heads / n);
        EXPECT_EQ(s.channels_count(), s.heads_count() * c.head_size());
        EXPECT_EQ(s.hidden_count(), 4 * c.channels / n);
        EXPECT_EQ(s.vocab_chunk, (c.vocab_size + n - 1) / n);
        EXPECT_LE(s.vocab.size(), s.vocab_chunk);
        heads = s.heads.end, channels = s.channels.end, hidden = s.hidden.end;
        vocab = s.vocab.end;
      }
      EXPECT_EQ(heads, c.num_heads);
      EXPECT_EQ(channels, c.channels);
      EXPECT_EQ(hidden, 4 * c.channels);
      EXPECT_EQ(vocab, c.vocab_size);
    }
  }
}

TEST(TpSplitTest, AVocabularyTheRanksDoNotDivideLeavesTheLastRankShort) {
  const ModelConfig c = gpt2_124m();  // V = 50257, a prime's neighbour: no count divides it
  EXPECT_EQ(rank_shape(c, 2, 0).vocab, (Range{0, 25129}));
  EXPECT_EQ(rank_shape(c, 2, 1).vocab, (Range{25129, 50257}));
  EXPECT_EQ(rank_shape(c, 3, 2).vocab, (Range{33506, 50257}));  // chunk 16753, the last 16751
  EXPECT_EQ(rank_shape(c, 4, 3).vocab.size(), 50257 - 3 * 12565);
  EXPECT_EQ(rank_shape(c, 12, 11).vocab.size(), 50257 - 11 * 4189);
  EXPECT_EQ(chunk_range(10, 4, 3), (Range{10, 10}));  // past the end: empty
}

TEST(TpSplitTest, CountsThatDoNotDivideTheHeadsAreOneLine) {
  const ModelConfig c = gpt2_124m();
  try {
    check_split(c, 5);
    FAIL() << "5 ranks of 12 heads";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "cuda-tp: 5 GPUs do not divide the 12 heads of this model (1, 2, 3, 4, 6 or 12 do).");
  }
  EXPECT_THROW(check_split(c, 0), std::invalid_argument);
  EXPECT_THROW(check_split(c, 24), std::invalid_argument);
  const ModelConfig xl{1024, 50257, 50304, 48, 25, 1600};  // 1558M: 25 heads
  EXPECT_NO_THROW(check_split(xl, 5));
  EXPECT_NO_THROW(check_split(xl, 25));
  EXPECT_THROW(check_split(xl, 2), std::invalid_argument);
  EXPECT_EQ(valid_rank_counts(xl), "1, 5 or 25");
}

TEST(TpSplitTest, DeviceListsAreDistinctGpusPresentOrOneGpuRepeated) {
  const ModelConfig c = gpt2_124m();
  EXPECT_EQ(placement(c, {}, 1).devices, std::vector<int>{0});
  const Placement two = placement(c, {0, 1}, 2);
  EXPECT_FALSE(two.one_device);
  const Placement local = placement(c, {0, 0, 0, 0}, 1);
  EXPECT_TRUE(local.one_device);
  EXPECT_EQ(local.devices.size(), 4u);
  try {
    placement(c, {0, 1}, 1);
    FAIL() << "2 GPUs on a machine with 1";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "cuda-tp: 2 GPUs asked for (device 1), 1 present.");
  }
  EXPECT_THROW(placement(c, {0, 0, 1}, 2), std::invalid_argument);        // a mix
  EXPECT_THROW(placement(c, {0, 1, 2, 3, 4}, 8), std::invalid_argument);  // 5 of 12 heads
  EXPECT_THROW(placement(c, {0}, 0), std::invalid_argument);              // no GPU
}

// The rank's shard entries are the model's, at the indices the layout says.
TEST(TpSplitTest, ShardsHoldTheModelsEntriesAtTheirIndices) {
  const auto model = test::tiny_model();  // C = 64, 4 heads of 16, L = 2
  const ModelConfig& c = model->config();
  const ParameterTensors& p = model->params();
  const std::size_t C = c.channels;
  for (int n : {1, 2, 4}) {
    for (int r = 0; r < n; r++) {
      const RankShape s = rank_shape(c, n, r);
      const BlockShard b = shard_blocks(*model, s);
      const std::size_t Cr = s.channels_count(), H = s.hidden_count();
      ASSERT_EQ(b.qkvw.size(), c.num_layers * 3 * Cr * C);
      ASSERT_EQ(b.fcprojw.size(), c.num_layers * C * H);
      for (std::size_t l = 0; l < std::size_t(c.num_layers); l++) {
        for (std::size_t third = 0; third < 3; third++) {
          for (std::size_t j = 0; j < Cr; j += 7) {
            const std::size_t from = l * 3 * C + third * C + s.channels.begin + j;
            const std::size_t to = l * 3 * Cr + third * Cr + j;
            EXPECT_EQ(b.qkvw[to * C + 5], p.qkvw[from * C + 5]);
            EXPECT_EQ(b.qkvb[to], p.qkvb[from]);
          }
        }
        for (std::size_t o = 0; o < C; o += 13) {
          EXPECT_EQ(b.attprojw[(l * C + o) * Cr + 3],
                    p.attprojw[(l * C + o) * C + s.channels.begin + 3]);
          EXPECT_EQ(b.fcprojw[(l * C + o) * H + H - 1],
                    p.fcprojw[(l * C + o) * 4 * C + s.hidden.end - 1]);
        }
        EXPECT_EQ(b.fcw[(l * H + 2) * C + 9], p.fcw[(l * 4 * C + s.hidden.begin + 2) * C + 9]);
        EXPECT_EQ(b.fcb[l * H + H - 1], p.fcb[l * 4 * C + s.hidden.end - 1]);
      }
    }
  }
}

// Megatron's identities on the host: the row-split projections' partial
// products summed over the ranks are the whole product (within float32
// rounding), and the column-split products are the whole one's columns.
TEST(TpSplitTest, TheRanksPartialProductsSumToTheWholeProduct) {
  const auto model = test::tiny_model();
  const ModelConfig& c = model->config();
  const ParameterTensors& p = model->params();
  const std::size_t C = c.channels;
  const std::vector<float> x = test::random_values(4 * C, 7);  // the MLP's hidden row (4C)
  std::vector<double> whole(C, 0.0);
  for (std::size_t o = 0; o < C; o++) {
    for (std::size_t i = 0; i < 4 * C; i++) whole[o] += double(p.fcprojw[o * 4 * C + i]) * x[i];
  }
  for (int n : {2, 4}) {
    std::vector<float> sum(C, 0.0f);
    for (int r = 0; r < n; r++) {
      const RankShape s = rank_shape(c, n, r);
      const BlockShard b = shard_blocks(*model, s);
      const std::size_t H = s.hidden_count();
      for (std::size_t o = 0; o < C; o++) {
        float part = 0;
        for (std::size_t i = 0; i < H; i++) part += b.fcprojw[o * H + i] * x[s.hidden.begin + i];
        sum[o] += part;
      }
    }
    for (std::size_t o = 0; o < C; o++) EXPECT_NEAR(sum[o], whole[o], 1e-4) << n << " ranks";
  }
}

}  // namespace
}  // namespace gpt2::tp
