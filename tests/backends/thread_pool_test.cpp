// The executors (the pthreads pool and OpenMP): every task runs exactly once,
// whatever the mix of tasks and workers; a worker's calls never overlap; each
// worker starts with its own share, and the others take over the share of a
// worker that stalls.
#include "backends/pthreads/thread_pool.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "backends/openmp/openmp_backend.h"
#include "reference/random.h"

namespace gpt2 {
namespace {

using MakeExecutor = std::function<std::unique_ptr<Executor>(int threads)>;

struct ExecutorKind {
  const char* name;
  MakeExecutor make;
};

class ExecutorTest : public ::testing::TestWithParam<ExecutorKind> {
 protected:
  std::unique_ptr<Executor> make(int threads) { return GetParam().make(threads); }
};

// Runs parallel_for(n) and checks that each task ran exactly once, in chunks
// inside one share of share_of(), and that no worker ran two chunks at once.
void expect_exactly_once(Executor& ex, int n) {
  std::vector<std::atomic<int>> hits(n > 0 ? n : 1);
  std::vector<std::atomic<int>> busy(ex.threads());
  std::atomic<int> overlaps{0}, bad_workers{0}, straddling{0};
  ex.parallel_for(n, [&](int begin, int end, int worker) {
    if (worker < 0 || worker >= ex.threads()) {
      bad_workers++;
      return;
    }
    if (busy[worker]++ != 0) overlaps++;
    const int k = n < ex.threads() ? n : ex.threads();
    int w = 0;
    while (share_of(n, k, w).second <= begin) w++;
    if (begin >= end || end > share_of(n, k, w).second) straddling++;
    for (int i = begin; i < end; i++) hits[i]++;
    busy[worker]--;
  });
  for (int i = 0; i < n; i++) ASSERT_EQ(hits[i].load(), 1) << "task " << i << " of " << n;
  EXPECT_EQ(bad_workers.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(straddling.load(), 0) << "a chunk left its share, or was empty";
}

TEST_P(ExecutorTest, ManyTinyJobs) {
  auto ex = make(4);
  SplitMix64 rng(1);
  for (int job = 0; job < 3000; job++) expect_exactly_once(*ex, int(rng.next() % 40));
}

TEST_P(ExecutorTest, MoreWorkersThanTasks) {
  auto ex = make(8);
  for (int n : {1, 2, 3, 7}) expect_exactly_once(*ex, n);
}

TEST_P(ExecutorTest, ZeroTasksRunsNothing) {
  auto ex = make(3);
  bool ran = false;
  ex->parallel_for(0, [&](int, int, int) { ran = true; });
  ex->parallel_for(-5, [&](int, int, int) { ran = true; });
  EXPECT_FALSE(ran);
}

TEST_P(ExecutorTest, LargeJobsSumCorrectly) {
  auto ex = make(4);
  const int n = 1 << 20;
  std::vector<long> partial(4, 0);
  ex->parallel_for(n, [&](int begin, int end, int worker) {
    for (int i = begin; i < end; i++) partial[worker] += i;
  });
  long total = 0;
  for (long p : partial) total += p;
  EXPECT_EQ(total, long(n) * (n - 1) / 2);
}

// Waits (up to 20 s) until `arrived` reaches `count`; false on the timeout.
bool wait_for(const std::atomic<int>& arrived, int count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (arrived.load() < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_P(ExecutorTest, EachWorkerStartsWithItsOwnShare) {
  // Every worker's first chunk waits until all four have one, so no worker can
  // have stolen yet: each first chunk must begin the worker's own share (on an
  // evenly fast machine every worker keeps to its share, and its cache).
  auto ex = make(4);
  const int n = 400;
  std::vector<int> first(4, -1);
  std::vector<std::atomic<int>> chunks(4);
  std::atomic<int> arrived{0}, timeouts{0};
  ex->parallel_for(n, [&](int begin, int, int worker) {
    if (chunks[worker]++ != 0) return;
    first[worker] = begin;
    arrived++;
    if (!wait_for(arrived, 4)) timeouts++;
  });
  EXPECT_EQ(timeouts.load(), 0);
  for (int w = 0; w < 4; w++) EXPECT_EQ(first[w], share_of(n, 4, w).first) << "worker " << w;
}

TEST_P(ExecutorTest, OthersFinishTheShareOfAStalledWorker) {
  // Worker 1 stalls in the first chunk it runs until every other task is done;
  // the rest of its share can then only have been run by the other workers.
  // Without stealing it would run its whole share as that chunk, and no task of
  // it would be run by another worker. (If the others were too quick for it to
  // start at all, they ran all of its share.) A stall gives up after 20 s.
  auto ex = make(4);
  const int n = 400;
  const auto [b1, e1] = share_of(n, 4, 1);
  std::atomic<int> done{0}, worker1_chunks{0};
  std::vector<std::atomic<int>> ran_by(n);
  bool stalled = false, released = false;
  ex->parallel_for(n, [&](int begin, int end, int worker) {
    if (worker == 1 && worker1_chunks++ == 0) {
      stalled = true;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (done.load() < n - (end - begin) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      released = done.load() == n - (end - begin);
    }
    for (int i = begin; i < end; i++) ran_by[i] = worker;
    done += end - begin;
  });
  if (stalled) {
    EXPECT_TRUE(released) << "the other workers did not finish the other tasks";
  }
  EXPECT_EQ(done.load(), n);
  int stolen = 0;
  for (int i = b1; i < e1; i++) stolen += ran_by[i].load() != 1;
  EXPECT_GT(stolen, 0) << "worker 1 ran its whole share itself";
}

TEST_P(ExecutorTest, CreateAndDestroyInALoop) {
  SplitMix64 rng(2);
  for (int i = 0; i < 100; i++) {
    auto ex = make(1 + int(rng.next() % 6));
    expect_exactly_once(*ex, int(rng.next() % 20));
    if (i % 3 == 0) expect_exactly_once(*ex, 100);
  }
}

TEST_P(ExecutorTest, AnIdlePoolWakesUp) {
  // Workers that fell asleep (past their spinning) still take the next job.
  auto ex = make(4);
  expect_exactly_once(*ex, 16);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  expect_exactly_once(*ex, 16);
}

INSTANTIATE_TEST_SUITE_P(Executors, ExecutorTest,
                         ::testing::Values(ExecutorKind{"pthreads_pool",
                                                        [](int t) -> std::unique_ptr<Executor> {
                                                          return std::make_unique<ThreadPool>(t);
                                                        }},
                                           ExecutorKind{"openmp",
                                                        [](int t) -> std::unique_ptr<Executor> {
                                                          return std::make_unique<OpenMpExecutor>(
                                                              t);
                                                        }}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ThreadPoolTest, APoolOfOneRunsOnTheCaller) {
  ThreadPool pool(1);
  std::thread::id where;
  pool.parallel_for(10, [&](int, int, int) { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(ThreadPoolTest, TheCallerIsWorkerZero) {
  // Each of the 3 tasks waits for the other two, so each worker runs its own.
  ThreadPool pool(3);
  std::thread::id worker0;
  std::atomic<int> arrived{0};
  pool.parallel_for(3, [&](int, int, int w) {
    arrived++;
    wait_for(arrived, 3);
    if (w == 0) worker0 = std::this_thread::get_id();
  });
  EXPECT_EQ(worker0, std::this_thread::get_id());
}

TEST(ThreadPoolTest, WorkersDoNotInheritAPinnedCreatorsAffinity) {
  // An OpenMP runtime told to bind pins the main thread to one CPU; a pool made
  // afterwards must still spread over the process's CPUs.
  cpu_set_t all, one, seen;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  if (CPU_COUNT(&all) < 2) GTEST_SKIP() << "one CPU";
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  }
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
  CPU_ZERO(&seen);
  {
    ThreadPool pool(2);
    std::atomic<int> arrived{0};
    pool.parallel_for(2, [&](int, int, int w) {  // each task waits for the other: one each
      arrived++;
      wait_for(arrived, 2);
      if (w == 1) pthread_getaffinity_np(pthread_self(), sizeof seen, &seen);
    });
  }
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof all, &all), 0);
  EXPECT_TRUE(CPU_EQUAL(&seen, &all)) << CPU_COUNT(&seen) << " CPUs for the worker";
}

TEST(ThreadPoolTest, RejectsFewerThanOneThread) {
  EXPECT_THROW(ThreadPool(0), std::invalid_argument);
  EXPECT_THROW(OpenMpExecutor(-1), std::invalid_argument);
}

}  // namespace
}  // namespace gpt2
