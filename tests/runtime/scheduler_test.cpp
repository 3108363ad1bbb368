// The batch scheduler: every request gets exactly what generate() gives it
// alone (tokens, and on the bit-exact backends the logits' bits at every
// step), whatever runs beside it, joins and leaves as sequences finish.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <random>

#include "backends/registry.h"
#include "harness/goldens.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

struct Job {
  std::vector<int> prompt;
  int n;
  Rule rule;
};

// Prompts of 1 to 40 tokens with every kind of rule, of different lengths.
std::vector<Job> jobs() {
  std::mt19937 rng(3);
  const std::vector<Rule> rules = {Rule::kMedian, Rule::kGreedy, Rule::sample(1.0f, 0, 1.0f, 1),
                                   Rule::sample(0.8f, 40, 1.0f, 2), Rule::sample(1.2f, 0, 0.9f, 3)};
  std::vector<Job> out;
  for (int i = 0; i < 11; i++) {
    const int len = 1 + int(rng() % 40), extra = 1 + int(rng() % 9);
    std::vector<int> prompt(len);
    for (int& t : prompt) t = int(rng() % 50257);
    out.push_back({prompt, len + extra, rules[i % rules.size()]});
  }
  return out;
}

// What the callback saw: each step's token and logits hash.
struct Trace {
  std::vector<int> tokens;
  std::vector<std::string> hashes;
  bool operator==(const Trace&) const = default;
};

std::vector<Trace> alone(const Backend& b, const std::vector<Job>& js, Mode mode) {
  std::vector<Trace> out;
  for (const Job& j : js) {
    Trace t;
    auto session = b.open_session(j.n - 1);
    generate(b, *session, j.prompt, j.n, mode, j.rule, [&](const StepView& s) {
      t.tokens.push_back(s.decision.token);
      t.hashes.push_back(logits_hash(s.logits));
      return Next::kContinue;
    });
    out.push_back(t);
  }
  return out;
}

std::vector<Trace> scheduled(const Backend& b, const std::vector<Job>& js, Mode mode, int batch) {
  std::vector<Trace> out(js.size());
  Scheduler scheduler(b, batch, mode);
  for (std::size_t i = 0; i < js.size(); i++) {
    Request r;
    r.prompt = js[i].prompt;
    r.n = js[i].n;
    r.rule = js[i].rule;
    r.on_step = [&out, i](const StepView& s) {
      out[i].tokens.push_back(s.decision.token);
      out[i].hashes.push_back(logits_hash(s.logits));
      return Next::kContinue;
    };
    EXPECT_EQ(scheduler.submit(r), int(i));
  }
  scheduler.check_memory();
  scheduler.run();
  for (std::size_t i = 0; i < js.size(); i++) {
    EXPECT_TRUE(scheduler.finished(int(i)));
    EXPECT_EQ(scheduler.generated(int(i)), out[i].tokens);
  }
  return out;
}

TEST(SchedulerTest, EveryRequestGetsWhatItGetsAloneOnEveryBitExactBackend) {
  const auto model = test::tiny_model();
  const std::vector<Job> js = jobs();
  for (const char* name : {"reference", "pthreads", "openmp"}) {
    auto b = make_backend(model, backend_spec(name, Precision::kFloat32, 3));
    for (Mode mode : {Mode::kKvCache, Mode::kRecompute}) {
      const std::vector<Trace> want = alone(*b, js, mode);
      for (int batch : {1, 4, 16}) {
        EXPECT_EQ(scheduled(*b, js, mode, batch), want)
            << name << " " << mode_name(mode) << " batch " << batch;
      }
    }
  }
}

TEST(SchedulerTest, TheWeightOnlyPrecisionsToo) {
  const std::vector<Job> js = jobs();
  for (Precision p : {Precision::kBF16Weights, Precision::kInt8Weights}) {
    auto b = make_backend(test::tiny_model(), backend_spec("pthreads", p, 2));
    EXPECT_EQ(scheduled(*b, js, Mode::kKvCache, 5), alone(*b, js, Mode::kKvCache))
        << precision_name(p);
  }
}

// Continuous batching: a finished sequence leaves and a waiting one joins at
// the next step; the steps are the longest chain of joins and decodes.
TEST(SchedulerTest, FinishedSequencesLeaveAndWaitingOnesJoin) {
  auto b = make_backend(test::tiny_model(), backend_spec("pthreads", Precision::kFloat32, 2));
  Scheduler s(*b, 2);
  for (int new_tokens : {1, 5, 2, 2})
    s.submit({{464, 2068}, 2 + new_tokens, Rule::kGreedy, {}, {}});
  EXPECT_EQ(s.waiting(), 4);
  std::vector<std::vector<int>> finished;
  while (!s.done()) {
    finished.push_back(s.step());
    EXPECT_LE(s.live(), 2);
  }
  // Step 1: requests 0 and 1 join; 0 finishes. Step 2: 2 joins. Step 3: 2
  // finishes... 1 needs 5 steps, 2 joins at step 2 and 3 at step 4.
  EXPECT_EQ(finished, (std::vector<std::vector<int>>{{0}, {}, {2}, {}, {1, 3}}));
  EXPECT_EQ(s.steps(), 5);
  for (int id = 0; id < 4; id++) EXPECT_TRUE(s.finished(id));
}

TEST(SchedulerTest, ACallbackCanStopARequestAndForcedTokensAreAppended) {
  auto b = make_backend(test::tiny_model(), backend_spec("pthreads", Precision::kFloat32, 1));
  Scheduler s(*b, 4);
  Request stop{{31373, 612}, 10, Rule::kMedian, nullptr, {}};
  stop.on_step = [](const StepView& v) { return v.step == 2 ? Next::kStop : Next::kContinue; };
  Request forced{{31373, 612}, 6, Rule::kMedian, nullptr, {7, 8, 9}};
  const int a = s.submit(stop), f = s.submit(forced);
  s.run();
  EXPECT_EQ(s.generated(a).size(), 3u);  // the stopping step's token is kept
  ASSERT_EQ(s.generated(f).size(), 4u);
  EXPECT_EQ(std::vector<int>(s.generated(f).begin(), s.generated(f).begin() + 3),
            (std::vector<int>{7, 8, 9}));
}

// A cancelled request: a waiting one never joins, a live one leaves before
// the next step with the tokens it has; the others go on as they would have.
// A released one is forgotten.
TEST(SchedulerTest, CancelledRequestsLeaveAndReleasedOnesAreForgotten) {
  auto b = make_backend(test::tiny_model(), backend_spec("pthreads", Precision::kFloat32, 1));
  Scheduler s(*b, 2);
  const int live = s.submit({{464, 2068}, 12, Rule::kGreedy, {}, {}});
  const int other = s.submit({{464, 2068}, 8, Rule::kGreedy, {}, {}});
  const int waiting = s.submit({{11}, 5, Rule::kGreedy, {}, {}});
  s.step();
  s.step();
  EXPECT_EQ(s.live(), 2);
  EXPECT_EQ(s.live_cache_bytes(), kv_cache_bytes(test::tiny_model()->config(), 11) +
                                      kv_cache_bytes(test::tiny_model()->config(), 7));
  s.cancel(waiting);
  s.cancel(live);
  EXPECT_EQ(s.live(), 1);
  EXPECT_EQ(s.waiting(), 0);
  EXPECT_TRUE(s.finished(live) && s.finished(waiting));
  EXPECT_EQ(s.generated(live).size(), 2u);
  EXPECT_TRUE(s.generated(waiting).empty());
  s.run();
  EXPECT_EQ(s.generated(live).size(), 2u);  // nothing more after its cancel
  EXPECT_EQ(s.generated(other).size(), 6u);
  Scheduler alone(*b, 1);
  const int o = alone.submit({{464, 2068}, 8, Rule::kGreedy, {}, {}});
  alone.run();
  EXPECT_EQ(s.generated(other), alone.generated(o));
  s.cancel(other);  // finished already: kept as it is
  EXPECT_EQ(s.generated(other).size(), 6u);
  s.release(other);
  EXPECT_THROW(s.generated(other), std::out_of_range);
  EXPECT_THROW(s.finished(other), std::out_of_range);
  s.release(other);  // twice: nothing
}

TEST(SchedulerTest, BadRequestsAndBatchesAreOneLine) {
  auto b = make_backend(test::tiny_model(), backend_spec("reference"));
  EXPECT_THROW(Scheduler(*b, 0), std::invalid_argument);
  Scheduler s(*b, 2);
  auto error = [&](Request r) {
    try {
      s.submit(std::move(r));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error({{}, 5, Rule::kMedian, {}, {}}), "A request's prompt holds no token.");
  EXPECT_EQ(error({{1, 2}, 2, Rule::kMedian, {}, {}}),
            "A request of 2 prompt tokens asks for n = 2: n must be in [3, 1024].");
  EXPECT_EQ(error({{1, 50257}, 5, Rule::kMedian, {}, {}}),
            "Token 50257 is out of range [0, 50257).");
  EXPECT_EQ(
      error({{1}, 5, Rule::sample(0.0f, 0, 1.0f, 0), {}, {}}).rfind("Bad sampling settings", 0),
      0u);
  EXPECT_EQ(s.waiting(), 0);
}

// Caches that cannot all be in memory at once are refused before any work.
TEST(SchedulerTest, ABatchWhoseCachesDoNotFitIsRefusedBeforeAnyWork) {
  auto b = make_backend(test::tiny_model(), backend_spec("reference"));
  const ModelConfig& c = test::tiny_model()->config();
  const std::size_t one = kv_cache_bytes(c, 1023);
  EXPECT_EQ(one, 2u * c.num_layers * 1023 * c.channels * 4);  // about 1 MiB
  Scheduler s(*b, 8);
  for (int i = 0; i < 20; i++) s.submit({{1}, i < 10 ? 1024 : 3, Rule::kGreedy, {}, {}});
  // At most 8 at once: the 8 largest.
  EXPECT_EQ(s.peak_cache_bytes(), 8 * one);
  s.check_memory(8 * one);
  try {
    s.check_memory(8 * one - 1);
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(
        std::string(e.what()).rfind("The batch's key/value caches need 7 MiB at once; 7 MiB", 0),
        0u)
        << e.what();
  }
  EXPECT_EQ(s.steps(), 0);
  EXPECT_NO_THROW(s.check_memory());  // this machine's memory holds 8 MiB
  EXPECT_THROW(Scheduler(*b, kMaxBatch + 1), std::invalid_argument);
}

// A GPU backend's large batch decides on several host threads (each sequence
// its own decider): the tokens are those of the same requests decided on one
// thread, every rule.
TEST(SchedulerTest, AGpuBatchDecidedOnSeveralThreadsGetsTheSameTokens) {
  auto cpu = make_backend(test::tiny_model(), backend_spec("reference"));
  test::SmallDevice gpu(make_backend(test::tiny_model(), backend_spec("reference")), std::size_t(1)
                                                                                         << 40);
  auto run = [](const Backend& b) {
    Scheduler s(b, 48);
    std::vector<int> ids;
    for (int i = 0; i < 48; i++) {
      const Rule rule = i % 3 == 0   ? Rule(Rule::kGreedy)
                        : i % 3 == 1 ? Rule(Rule::kMedian)
                                     : Rule::sample(0.9f, 0, 1.0f, std::uint64_t(i));
      ids.push_back(s.submit({{1 + i % 7, 2 + i % 5}, 8, rule, {}, {}}));
    }
    s.run();
    std::vector<std::vector<int>> out;
    for (int id : ids) out.push_back(s.generated(id));
    return out;
  };
  EXPECT_EQ(run(gpu), run(*cpu));
}

// A GPU backend's batch is checked against its GPU's free memory, not the host's.
TEST(SchedulerTest, AGpuBatchIsCheckedAgainstItsGpusFreeMemory) {
  const ModelConfig& c = test::tiny_model()->config();
  const std::size_t one = kv_cache_bytes(c, 1023);
  test::SmallDevice gpu(make_backend(test::tiny_model(), backend_spec("reference")), 4 * one);
  Scheduler s(gpu, 8);
  for (int i = 0; i < 4; i++) s.submit({{1}, 1024, Rule::kGreedy, {}, {}});
  EXPECT_NO_THROW(s.check_memory());
  s.submit({{1}, 1024, Rule::kGreedy, {}, {}});
  try {
    s.check_memory();
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("MiB at once; 3 MiB are free on the GPU"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(s.steps(), 0);
}

}  // namespace
}  // namespace gpt2
