// The host threads of a GPU batch's per-sequence work: every item once, in
// contiguous chunks, on as many threads as the items are worth.
#include "backends/host_chunks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace gpt2 {
namespace {

TEST(HostChunksTest, EveryItemRunsOnce) {
  for (std::size_t per_thread : {std::size_t(1), std::size_t(3), kHostChunkItems}) {
    for (std::size_t n : {0, 1, 2, 5, 17, 31, 32, 33, 100, 1000}) {
      std::vector<std::atomic<int>> runs(n);
      for_host_chunks(
          n,
          [&](std::size_t begin, std::size_t end) {
            ASSERT_LE(begin, end);
            for (std::size_t i = begin; i < end; i++) runs[i]++;
          },
          per_thread);
      for (std::size_t i = 0; i < n; i++) EXPECT_EQ(runs[i].load(), 1) << n << " items, item " << i;
    }
  }
}

TEST(HostChunksTest, ThreadsAsTheItemsAreWorth) {
  const int most = std::min(std::max(int(std::thread::hardware_concurrency()) / 2, 2), 8);
  // By default a thread takes 16 items at least: one thread below 32.
  EXPECT_EQ(host_chunk_threads(0), 1);
  EXPECT_EQ(host_chunk_threads(31), 1);
  EXPECT_EQ(host_chunk_threads(32), 2);
  EXPECT_EQ(host_chunk_threads(48), std::min(3, most));
  EXPECT_EQ(host_chunk_threads(100000), most);
  // One item a thread (the beams' scores).
  EXPECT_EQ(host_chunk_threads(1, 1), 1);
  EXPECT_EQ(host_chunk_threads(2, 1), 2);
  EXPECT_EQ(host_chunk_threads(12, 1), most);
}

}  // namespace
}  // namespace gpt2
