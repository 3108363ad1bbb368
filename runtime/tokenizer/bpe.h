// Byte-pair merging, the inner loop of GPT-2's encoder: a piece starts as one
// token per byte and the adjacent pair of lowest merge rank is merged, leftmost
// first, until no adjacent pair is a merge (OpenAI's encoder.py `bpe`).
//
// GPT-2's merge r makes token 256 + r out of two tokens made earlier (the loader
// checks this), so a pair's rank is the id of the token it makes, and merging
// every occurrence of the best pair at once (encoder.py) is the same as merging
// them one at a time from the left (no pair made by a merge can outrank it).
#pragma once

#include <array>
#include <climits>
#include <cstdint>
#include <span>
#include <vector>

namespace gpt2 {

// (left token, right token) -> the token their merge makes. Open addressing on
// one 32-bit key per pair: token ids must be below 65536.
class MergeTable {
 public:
  static constexpr int kNone = INT_MAX;  // find()'s answer for a pair that is no merge

  MergeTable();
  // False (and no change) when the pair is already there.
  bool insert(int left, int right, int merged);
  int find(int left, int right) const {
    const std::uint32_t key = pack(left, right);
    for (std::uint32_t i = slot(key);; i = (i + 1) & kMask) {
      const Entry& e = entries_[i];
      if (e.key == key) return e.merged;
      if (e.key == kEmpty) return kNone;
    }
  }
  int size() const { return size_; }

 private:
  static constexpr int kBits = 17;  // 131072 slots for up to 65536 merges
  static constexpr std::uint32_t kMask = (1u << kBits) - 1;
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;
  struct Entry {
    std::uint32_t key = kEmpty;
    std::int32_t merged = kNone;
  };
  static std::uint32_t pack(int left, int right) {
    return (static_cast<std::uint32_t>(left) << 16) | static_cast<std::uint32_t>(right);
  }
  static std::uint32_t slot(std::uint32_t key) { return (key * 0x9E3779B1u) >> (32 - kBits); }

  std::vector<Entry> entries_;
  int size_ = 0;
};

using ByteTokens = std::array<int, 256>;  // byte value -> its single-byte token

// Appends the tokens of `piece` (its bytes, n >= 1) to `out`. Picks one of the two
// algorithms below by length; both give the same tokens.
void bpe_merge(std::span<const unsigned char> piece, const ByteTokens& byte_tokens,
               const MergeTable& merges, std::vector<int>& out);

// An array of tokens with the rank of each adjacent pair; each merge scans for the
// best pair and closes the gap: O(n^2), fastest for words (n <= kBpeArrayMax).
inline constexpr std::size_t kBpeArrayMax = 64;
void bpe_merge_array(std::span<const unsigned char> piece, const ByteTokens& byte_tokens,
                     const MergeTable& merges, std::vector<int>& out);

// A linked list of tokens and a min-heap of (rank, position) pairs, checked when
// popped: O(n log n), for long pieces (runs of spaces, digits, symbols, base64).
void bpe_merge_heap(std::span<const unsigned char> piece, const ByteTokens& byte_tokens,
                    const MergeTable& merges, std::vector<int>& out);

}  // namespace gpt2
