// A few host threads for per-sequence host work of a large GPU batch (the
// outputs' copies, the decisions): fn(begin, end) over [0, n) in contiguous
// chunks, the first on the calling thread, the others on threads joined
// before it returns (std::jthread: joined on an exception too). CPU backends
// keep their host work on the caller: their own pool waits for the next step.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace gpt2 {

// Threads worth using for n items: 1 below 32, else one per 16 items, at
// least 2, at most half the cores (or 2) and 8.
inline int host_chunk_threads(std::size_t n) {
  if (n < 32) return 1;
  const int cores = int(std::thread::hardware_concurrency());
  return std::clamp(std::min(std::max(cores / 2, 2), int(n / 16)), 2, 8);
}

// fn must not throw (a throw on a helper thread ends the process).
template <typename Fn>
void for_host_chunks(std::size_t n, Fn&& fn) {
  const int k = host_chunk_threads(n);
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
