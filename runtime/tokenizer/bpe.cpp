#include "runtime/tokenizer/bpe.h"

#include <cassert>
#include <cstring>
#include <functional>
#include <queue>
#include <utility>

namespace gpt2 {

MergeTable::MergeTable() : entries_(std::size_t{1} << kBits) {}

bool MergeTable::insert(int left, int right, int merged) {
  assert(left >= 0 && left < 65536 && right >= 0 && right < 65536 && size_ < 65536);
  const std::uint32_t key = pack(left, right);
  for (std::uint32_t i = slot(key);; i = (i + 1) & kMask) {
    Entry& e = entries_[i];
    if (e.key == key) return false;
    if (e.key == kEmpty) {
      e = {key, merged};
      size_++;
      return true;
    }
  }
}

void bpe_merge(std::span<const unsigned char> piece, const ByteTokens& byte_tokens,
               const MergeTable& merges, std::vector<int>& out) {
  if (piece.size() <= kBpeArrayMax) {
    bpe_merge_array(piece, byte_tokens, merges, out);
  } else {
    bpe_merge_heap(piece, byte_tokens, merges, out);
  }
}

void bpe_merge_array(std::span<const unsigned char> piece, const ByteTokens& byte_tokens,
                     const MergeTable& merges, std::vector<int>& out) {
  assert(!piece.empty() && piece.size() <= kBpeArrayMax);
  int tokens[kBpeArrayMax];  // (n) the piece's tokens so far
  int ranks[kBpeArrayMax];   // (n - 1) ranks[i]: what merging tokens[i], tokens[i+1] makes
  std::size_t n = piece.size();
  for (std::size_t i = 0; i < n; ++i) tokens[i] = byte_tokens[piece[i]];
  for (std::size_t i = 0; i + 1 < n; ++i) ranks[i] = merges.find(tokens[i], tokens[i + 1]);
  while (n > 1) {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == MergeTable::kNone) break;
    tokens[best] = ranks[best];
    // Close the gap at best + 1, then refresh the two pairs that touch `best`.
    std::memmove(tokens + best + 1, tokens + best + 2, (n - best - 2) * sizeof(int));
    if (best + 2 < n)
      std::memmove(ranks + best + 1, ranks + best + 2, (n - best - 3) * sizeof(int));
    n--;
    if (best > 0) ranks[best - 1] = merges.find(tokens[best - 1], tokens[best]);
    if (best + 1 < n) ranks[best] = merges.find(tokens[best], tokens[best + 1]);
  }
  out.insert(out.end(), tokens, tokens + n);
}

void bpe_merge_heap(std::span<const unsigned char> piece, const ByteTokens& byte_tokens,
                    const MergeTable& merges, std::vector<int>& out) {
  assert(!piece.empty());
  const int n = static_cast<int>(piece.size());
  // A doubly linked list over the original byte positions; a merge keeps the left
  // node and unlinks the right one. Positions never move, so the smallest
  // position is the leftmost pair.
  std::vector<int> tokens(n), prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    tokens[i] = byte_tokens[piece[i]];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  using Candidate = std::pair<int, int>;  // (rank, left position)
  std::vector<Candidate> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap(
      std::greater<>(), std::move(heap_storage));
  auto push = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    const int rank = merges.find(tokens[left], tokens[right]);
    if (rank != MergeTable::kNone) heap.emplace(rank, left);
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, left] = heap.top();
    heap.pop();
    const int right = next[left];
    // Stale when `left` was unlinked, when it has no right neighbour any more, or
    // when either token changed since the push (a rank names its pair, so an
    // unchanged rank means an unchanged pair).
    if (prev[left] == -2 || right < 0 || merges.find(tokens[left], tokens[right]) != rank) {
      continue;
    }
    tokens[left] = rank;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    prev[right] = -2;  // unlinked
    if (prev[left] >= 0) push(prev[left]);
    push(left);
  }
  for (int i = 0; i >= 0; i = next[i]) out.push_back(tokens[i]);
}

}  // namespace gpt2
