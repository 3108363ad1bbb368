// The executors (the pthreads pool and OpenMP): every task runs exactly once,
// in contiguous shares, whatever the mix of tasks and workers.
#include "backends/pthreads/thread_pool.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "backends/openmp/openmp_backend.h"
#include "reference/synthetic.h"

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

// Runs parallel_for(n) and checks that each task ran exactly once, that each
// worker got the contiguous share share_of() promises, and no worker twice.
void expect_exactly_once(Executor& ex, int n) {
  std::vector<std::atomic<int>> hits(n > 0 ? n : 1);
  std::vector<std::atomic<int>> worker_calls(ex.threads());
  std::atomic<int> calls{0};
  ex.parallel_for(n, [&](int begin, int end, int worker) {
    calls++;
    ASSERT_GE(worker, 0);
    ASSERT_LT(worker, ex.threads());
    worker_calls[worker]++;
    const int k = n < ex.threads() ? n : ex.threads();
    const auto [b, e] = share_of(n, k, worker);
    EXPECT_EQ(begin, b);
    EXPECT_EQ(end, e);
    for (int i = begin; i < end; i++) hits[i]++;
  });
  for (int i = 0; i < n; i++) ASSERT_EQ(hits[i].load(), 1) << "task " << i << " of " << n;
  for (auto& w : worker_calls) EXPECT_LE(w.load(), 1);
  EXPECT_EQ(calls.load(), n == 0 ? 0 : std::min(n, ex.threads()));
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
  ThreadPool pool(3);
  std::thread::id worker0;
  pool.parallel_for(3, [&](int, int, int w) {
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
  {
    ThreadPool pool(2);
    pool.parallel_for(2, [&](int, int, int w) {
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
