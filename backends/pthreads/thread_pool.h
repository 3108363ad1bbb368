// A static pool of worker threads, as the OS lab asks: the workers are created
// once, when the pool is, and handed work through shared state guarded by a
// mutex and two condition variables (see thread_pool.cpp for the protocol).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/cpu/executor.h"

namespace gpt2 {

class ThreadPool final : public Executor {
 public:
  // threads >= 1 workers in all: the caller of parallel_for is worker 0, and
  // threads - 1 threads are started here. A pool of one runs on the caller.
  explicit ThreadPool(int threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const override { return threads_; }
  void parallel_for(int n, RangeFn fn) override;

 private:
  void worker_loop(int worker);
  // Polls `done` (with pause instructions) for up to spin_; true once it holds.
  template <typename Pred>
  bool spin_until(Pred done) const;

  const int threads_;
  std::vector<std::thread> workers_;

  // The job being run: written by the caller before it bumps generation_,
  // read by workers after they see the new generation.
  const RangeFn* job_ = nullptr;
  ShareCursors cursors_;  // the job's shares and what of them is claimed

  // How long a thread spins before it sleeps (thread_pool.cpp).
  std::chrono::nanoseconds spin_;

  std::mutex mutex_;
  std::condition_variable work_ready_;  // generation_ changed, or stop_
  std::condition_variable work_done_;   // pending_ reached 0
  bool stop_ = false;                   // guarded by mutex_
  // The two words every thread polls, each on its own cache line: the workers'
  // decrements of pending_ do not disturb the spinners reading generation_.
  alignas(64) std::atomic<std::uint64_t> generation_{0};  // one per parallel_for
  alignas(64) std::atomic<int> pending_{0};               // workers not yet done with it
};

}  // namespace gpt2
