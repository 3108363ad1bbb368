#include "runtime/tokenizer/bpe.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace gpt2 {
namespace {

// A made-up vocabulary over the bytes 'a'..'h' (tokens 0..7) and `merges` random
// merges, merge r making token 8 + r from two tokens made before it, as GPT-2's
// vocab.bpe does.
struct ToyVocab {
  ByteTokens byte_tokens{};
  MergeTable table;
  std::map<std::pair<int, int>, int> merges;  // (left, right) -> made token = rank
};
ToyVocab toy_vocab(int merges, std::uint64_t seed) {
  ToyVocab v;
  v.byte_tokens.fill(-1);
  for (int b = 0; b < 8; ++b) v.byte_tokens['a' + b] = b;
  std::mt19937_64 rng(seed);
  int next = 8;
  while (next < 8 + merges) {
    const int left = static_cast<int>(rng() % next), right = static_cast<int>(rng() % next);
    if (v.merges.count({left, right})) continue;
    v.merges[{left, right}] = next;
    EXPECT_TRUE(v.table.insert(left, right, next));
    next++;
  }
  return v;
}

// OpenAI's encoder.py bpe(), spelled out: find the pair of lowest rank, merge all
// its occurrences left to right in one pass, repeat.
std::vector<int> bpe_reference(const std::string& piece, const ToyVocab& v) {
  std::vector<int> word;
  for (char c : piece) word.push_back(v.byte_tokens[static_cast<unsigned char>(c)]);
  while (word.size() > 1) {
    int best = -1;
    std::pair<int, int> bigram;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = v.merges.find({word[i], word[i + 1]});
      if (it != v.merges.end() && (best < 0 || it->second < best)) {
        best = it->second;
        bigram = it->first;
      }
    }
    if (best < 0) break;
    std::vector<int> merged;
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == bigram.first && word[i + 1] == bigram.second) {
        merged.push_back(best);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word = merged;
  }
  return word;
}

std::span<const unsigned char> bytes_of(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

TEST(BpeTest, MergeTableFindsWhatWasInserted) {
  MergeTable t;
  EXPECT_TRUE(t.insert(1, 2, 300));
  EXPECT_TRUE(t.insert(2, 1, 301));
  EXPECT_FALSE(t.insert(1, 2, 302));
  EXPECT_EQ(t.find(1, 2), 300);
  EXPECT_EQ(t.find(2, 1), 301);
  EXPECT_EQ(t.find(1, 1), MergeTable::kNone);
  EXPECT_EQ(t.find(50255, 50255), MergeTable::kNone);
  EXPECT_EQ(t.size(), 2);
}

TEST(BpeTest, MergesTheLowestRankFirstAndLeftmostOnATie) {
  ToyVocab v;
  v.byte_tokens.fill(-1);
  v.byte_tokens['a'] = 0;
  v.byte_tokens['b'] = 1;
  v.table.insert(0, 0, 8);   // "aa" = 8
  v.table.insert(1, 0, 9);   // "ba" = 9
  v.table.insert(8, 0, 10);  // "aaa" = 10
  for (auto* merge : {&bpe_merge_array, &bpe_merge_heap}) {
    std::vector<int> out;
    merge(bytes_of("aaa"), v.byte_tokens, v.table, out);
    EXPECT_EQ(out, (std::vector<int>{10}));  // aa·a, then aaa
    out.clear();
    merge(bytes_of("aaaa"), v.byte_tokens, v.table, out);
    EXPECT_EQ(out, (std::vector<int>{8, 8}));  // aa·aa: both "aa" before any "aaa"
    out.clear();
    merge(bytes_of("baa"), v.byte_tokens, v.table, out);
    EXPECT_EQ(out, (std::vector<int>{1, 8}));  // "aa" (8) outranks "ba" (9)
    out.clear();
    merge(bytes_of("b"), v.byte_tokens, v.table, out);
    EXPECT_EQ(out, (std::vector<int>{1}));
  }
}

// The two fast algorithms against encoder.py's, on random pieces over small
// random vocabularies (many merges per piece, many ties and overlaps).
TEST(BpeTest, ArrayAndHeapAgreeWithEncoderPy) {
  std::mt19937_64 rng(11);
  for (int vocab = 0; vocab < 20; ++vocab) {
    const ToyVocab v = toy_vocab(20 + vocab * 10, vocab);
    for (int i = 0; i < 400; ++i) {
      const std::size_t len = 1 + rng() % (i % 4 == 0 ? 300 : kBpeArrayMax);
      std::string piece;
      const int letters = 1 + static_cast<int>(rng() % 8);
      for (std::size_t k = 0; k < len; ++k) piece += static_cast<char>('a' + rng() % letters);
      const std::vector<int> want = bpe_reference(piece, v);
      std::vector<int> heap, array, either;
      bpe_merge_heap(bytes_of(piece), v.byte_tokens, v.table, heap);
      ASSERT_EQ(heap, want) << piece;
      bpe_merge(bytes_of(piece), v.byte_tokens, v.table, either);
      ASSERT_EQ(either, want) << piece;
      if (len <= kBpeArrayMax) {
        bpe_merge_array(bytes_of(piece), v.byte_tokens, v.table, array);
        ASSERT_EQ(array, want) << piece;
      }
    }
  }
}

}  // namespace
}  // namespace gpt2
