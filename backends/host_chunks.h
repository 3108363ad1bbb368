// A few host threads for per-sequence host work of a large GPU batch (the
// outputs' copies, the decisions, the beams' scores): fn(begin, end) over
// [0, n) in contiguous chunks, the first on the calling thread, the others on
// threads joined before it returns (std::jthread: joined on an exception
// too). CPU backends keep their host work on the caller: their own pool waits
// for the next step.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace gpt2 {

// Items a thread takes at least by default: a decision's scan of 50257 logits
// is ~20 us, a sequence's output copy ~200 KB.
inline constexpr std::size_t kHostChunkItems = 16;

// Threads worth using for n items of which each thread takes at least
// per_thread (>= 1): n / per_thread, at most half the cores (or 2) and 8, at
// least 1.
inline int host_chunk_threads(std::size_t n, std::size_t per_thread = kHostChunkItems) {
  const int cores = int(std::thread::hardware_concurrency());
  return std::max(1, std::min({int(n / per_thread), std::max(cores / 2, 2), 8}));
}

// fn must not throw (a throw on a helper thread ends the process).
template <typename Fn>
void for_host_chunks(std::size_t n, Fn&& fn, std::size_t per_thread = kHostChunkItems) {
  const int k = host_chunk_threads(n, per_thread);
  if (k <= 1) {
    fn(std::size_t(0), n);
    return;
  }
  const std::size_t per = (n + k - 1) / k;
  std::vector<std::jthread> helpers;
  helpers.reserve(k - 1);
  for (int j = 1; j < k; j++) {
    helpers.emplace_back(fn, std::min(n, j * per), std::min(n, (j + 1) * per));
  }
  fn(std::size_t(0), std::min(n, per));
}

}  // namespace gpt2
