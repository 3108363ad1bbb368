// The protocol, in full:
//
// parallel_for (the caller, worker 0):
//   1. stores the job (fn and the shares' cursors), sets pending_ = threads - 1,
//   2. under the mutex, increments generation_, then notifies work_ready_,
//   3. runs its part: its own share, then chunks of shares still unclaimed
//      (ShareCursors, executor.h: chunks are claimed by atomic increments),
//   4. waits until pending_ is 0: first by spinning, then under the mutex on
//      work_done_.
// A worker loops:
//   1. waits until generation_ differs from the last one it ran: spinning,
//      then under the mutex on work_ready_ (or until stop_),
//   2. runs its part of the job, as the caller does (when n < threads, only
//      chunks left in the others' shares),
//   3. decrements pending_; the one that takes it to 0 notifies work_done_
//      under the mutex.
// Every wait re-checks its condition under the mutex and every change a waiter
// depends on is published before a notify made under that mutex, so no wakeup
// is lost. The job fields are written before the generation increment
// (release) and read after the worker loads it (acquire); the next job is only
// written after pending_ reached 0 (acquire), i.e. after every worker is done
// reading the previous one.
#include "backends/pthreads/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <stdexcept>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GPT2_CPU_RELAX() _mm_pause()
#else
#define GPT2_CPU_RELAX() ((void)0)
#endif

namespace gpt2 {

namespace {
// How long a thread spins before it sleeps. The parallel regions of a forward
// pass follow each other within microseconds to milliseconds, and waking a
// sleeping thread costs tens of microseconds, far more on a virtual machine
// whose idle vCPU the host has descheduled: so spin for a few milliseconds
// (as libgomp does) when every thread has a CPU of its own. When the pool has
// more threads than the machine has CPUs, spinning would take CPU time from the
// threads that have work: sleep almost at once.
constexpr std::chrono::nanoseconds kSpinWithCores = std::chrono::milliseconds(5);
constexpr std::chrono::nanoseconds kSpinOversubscribed = std::chrono::microseconds(20);
}  // namespace

// The CPUs the process may run on, read when the program starts, before an
// OpenMP runtime told to bind (OMP_PROC_BIND) pins the main thread to one CPU:
// a thread inherits its creator's affinity, so without this every worker made
// after such a pin would share that one CPU (reports/studies/omp-proc-bind/).
// Workers take this whole set; an affinity the user gave the process (taskset)
// is kept.
const cpu_set_t kProcessCpus = [] {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) {
    for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &set);
  }
  return set;
}();

template <typename Pred>
bool ThreadPool::spin_until(Pred done) const {
  const auto deadline = std::chrono::steady_clock::now() + spin_;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (done()) return true;
      GPT2_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

ThreadPool::ThreadPool(int threads) : threads_(threads), cursors_(threads < 1 ? 1 : threads) {
  if (threads < 1) {
    throw std::invalid_argument("thread pool: " + std::to_string(threads) +
                                " threads; at least 1 is needed");
  }
  const unsigned cpus = std::thread::hardware_concurrency();
  spin_ = cpus == 0 || unsigned(threads) <= cpus ? kSpinWithCores : kSpinOversubscribed;
  workers_.reserve(threads - 1);
  for (int w = 1; w < threads; w++) workers_.emplace_back(&ThreadPool::worker_loop, this, w);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::parallel_for(int n, RangeFn fn) {
  if (n <= 0) return;
  if (threads_ == 1 || n == 1) {  // nothing to share: run on the caller
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  cursors_.reset(n);
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_ready_.notify_all();
  cursors_.run(0, fn);
  if (spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) return;
  std::unique_lock lock(mutex_);
  work_done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::worker_loop(int worker) {
  ::pthread_setaffinity_np(::pthread_self(), sizeof kProcessCpus, &kProcessCpus);
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t current = seen;
    spin_until([&] { return (current = generation_.load(std::memory_order_acquire)) != seen; });
    if (current == seen) {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] {
        current = generation_.load(std::memory_order_acquire);
        return current != seen || stop_;
      });
      if (current == seen) return;  // stop_, and no new job
    }
    seen = current;
    cursors_.run(worker, *job_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      work_done_.notify_one();
    }
  }
}

}  // namespace gpt2
