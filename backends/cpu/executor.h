// The parallel-for that the shared CPU kernels are written against. Backends
// inject it: a static pthreads pool (backends/pthreads) or OpenMP (backends/openmp).
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <type_traits>
#include <utility>

namespace gpt2 {

// A non-owning reference to a callable, cheap to pass by value (no allocation).
template <typename Signature>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit on purpose, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// fn(begin, end, worker) runs on a chunk [begin, end) of [0, n); `worker`
// names the thread running it.
using RangeFn = FunctionRef<void(int begin, int end, int worker)>;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual int threads() const = 0;
  // Runs fn over [0, n) in parallel, in disjoint chunks that together cover
  // [0, n) exactly once, and returns when all are done. worker is in
  // [0, threads()); calls with the same worker never overlap, so per-worker
  // scratch indexed by it stays private; a worker may get several chunks. The
  // caller's thread is worker 0. Not reentrant: one call at a time.
  virtual void parallel_for(int n, RangeFn fn) = 0;
};

// Worker w's share of [0, n) among k workers.
inline std::pair<int, int> share_of(int n, int k, int w) {
  return {int(long(n) * w / k), int(long(n) * (w + 1) / k)};
}

// Static shares with stealing, for the parallel executors. Worker w first runs
// its own contiguous share of [0, n) (share_of among k = min(threads, n)) in
// chunks, then claims chunks still unclaimed in the other shares. On a machine
// whose CPUs run at equal speed nothing is left to steal and every worker runs
// exactly its share, keeping the same weights and heads in its cache from step
// to step; when one CPU is slowed (on a virtual machine, a vCPU whose host core
// is busy with another thread: reports/studies/stealing-vs-static-shares/), the
// others finish its share instead of waiting for it. Which thread computes an
// output never changes its value, so the bit-exact backends stay bit-exact.
class ShareCursors {
 public:
  explicit ShareCursors(int workers) : workers_(workers), cursors_(new Cursor[workers]) {}

  // Lays out the shares of [0, n). Call before the workers start on the job
  // (publishing it to them with release/acquire ordering).
  void reset(int n) {
    k_ = std::min(workers_, n);
    grain_ = std::max(1, n / (k_ * kChunksPerShare));
    for (int w = 0; w < workers_; w++) {
      const auto [begin, end] = w < k_ ? share_of(n, k_, w) : std::pair{0, 0};
      cursors_[w].next.store(begin, std::memory_order_relaxed);
      cursors_[w].end = end;
    }
  }

  // Worker `worker`'s part of the job: its share, then whatever the others
  // have not claimed yet, nearest share first.
  void run(int worker, RangeFn fn) {
    if (worker < k_) drain(worker, worker, fn);
    for (int i = 1; i <= k_; i++) {
      const int victim = (worker + i) % k_;
      if (victim != worker) drain(victim, worker, fn);
    }
  }

 private:
  // Small chunks keep a job's end short: when the others are done, the last
  // worker (perhaps one on a slowed vCPU) has at most one chunk left to finish.
  // A claim is one atomic increment, far cheaper than a chunk of any job here.
  static constexpr int kChunksPerShare = 32;
  struct alignas(64) Cursor {
    std::atomic<int> next{0};  // the first index of the share not yet claimed
    int end = 0;
  };

  void drain(int share, int worker, RangeFn fn) {
    Cursor& c = cursors_[share];
    while (c.next.load(std::memory_order_relaxed) < c.end) {
      const int begin = c.next.fetch_add(grain_, std::memory_order_relaxed);
      if (begin >= c.end) return;
      fn(begin, std::min(begin + grain_, c.end), worker);
    }
  }

  const int workers_;
  std::unique_ptr<Cursor[]> cursors_;
  int k_ = 0;
  int grain_ = 1;
};

// Runs everything on the calling thread.
class SerialExecutor final : public Executor {
 public:
  int threads() const override { return 1; }
  void parallel_for(int n, RangeFn fn) override {
    if (n > 0) fn(0, n, 0);
  }
};

}  // namespace gpt2
