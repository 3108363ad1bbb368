// The server's engine: each job gets exactly what generate() gives its prompt
// and rule alone (tokens, log-probabilities bit for bit, text), with 1 or 64
// others in flight; cancelled jobs leave; admission is bounded.
#include "server/engine.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <thread>

#include "backends/registry.h"
#include "runtime/backend_specs.h"
#include "runtime/stop_strings.h"
#include "tests/runtime/tokenizer/tokenizer_fixture.h"
#include "tests/test_util.h"

namespace gpt2::server {
namespace {

using test::tok;

struct Output {
  std::vector<int> tokens;
  std::vector<float> logprobs;
  std::vector<std::vector<std::pair<int, float>>> tops;
  std::string text, finish;
  bool operator==(const Output& o) const {
    return tokens == o.tokens && text == o.text && finish == o.finish && tops == o.tops &&
           logprobs.size() == o.logprobs.size() &&
           (logprobs.empty() ||
            std::memcmp(logprobs.data(), o.logprobs.data(), logprobs.size() * sizeof(float)) == 0);
  }
};

std::ostream& operator<<(std::ostream& os, const Output& o) {
  os << "'" << o.text << "' " << o.finish << " [";
  for (int t : o.tokens) os << t << " ";
  return os << "]";
}

// Every choice of a job, once it is done (at most 60 s).
std::vector<Output> collect(Job& job) {
  std::vector<Output> out(static_cast<std::size_t>(job.sequences()));
  std::vector<Piece> pieces;
  const auto until = Clock::now() + std::chrono::seconds(60);
  bool more = true;
  while (more && Clock::now() < until) {
    pieces.clear();
    more = job.wait(pieces, until);
    for (const Piece& p : pieces) {
      Output& o = out[std::size_t(p.choice)];
      o.tokens.push_back(p.token);
      if (job.request().logprobs >= 0) {
        o.logprobs.push_back(p.logprob);
        o.tops.push_back(p.top);
      }
      o.text += p.text;
      if (!p.finish.empty()) o.finish = p.finish;
    }
  }
  EXPECT_FALSE(more) << "a job did not finish in 60 s";
  return out;
}

// What the request gets alone, through generate() (not the engine).
Output alone(const Backend& b, const CompletionRequest& r, int choice) {
  const std::vector<int>& prompt = r.prompts[std::size_t(choice / r.n)];
  Output o;
  DecodeStream stream(tok());
  StopStrings stops(r.stop);
  auto session = b.open_session(int(prompt.size()) + r.max_tokens - 1);
  generate(b, *session, prompt, int(prompt.size()) + r.max_tokens, Mode::kKvCache,
           r.choice_rule(choice % r.n), [&](const StepView& v) {
             const int t = v.decision.token;
             o.tokens.push_back(t);
             if (r.logprobs >= 0) {
               std::vector<std::pair<int, float>> top;
               o.logprobs.push_back(token_logprob(v.logits, t, r.logprobs, top));
               o.tops.push_back(top);
             }
             if (t == kEndOfTextToken && !r.ignore_eos) {
               o.finish = "stop";
               return Next::kStop;
             }
             o.text += stops.add(stream.push(t));
             if (stops.stopped()) {
               o.finish = "stop";
               return Next::kStop;
             }
             return Next::kContinue;
           });
  if (o.finish.empty()) {
    o.finish = "length";
    o.text += stops.add(stream.flush());
    o.text += stops.finish();
  }
  return o;
}

CompletionRequest request(const std::string& body) {
  return parse_completion(parse_body(body), tok(), Limits{});
}

class EngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend =
      make_backend(test::tiny_model(), backend_spec("pthreads", Precision::kFloat32, 2));
};

// The request of interest, alone and then beside 1 and 64 others of every
// kind (rules, lengths, stop strings, n), equals generate() alone each time.
TEST_F(EngineTest, AJobGetsWhatItGetsAloneAtAnyLoad) {
  const CompletionRequest target = request(
      R"({"prompt": "Ladies and", "max_tokens": 12, "temperature": 0.9, "top_k": 50, "seed": 11,
          "logprobs": 3, "n": 2, "ignore_eos": true})");
  const std::vector<Output> expected = {alone(*backend, target, 0), alone(*backend, target, 1)};
  EXPECT_NE(expected[0].tokens, expected[1].tokens);  // choice 1 samples with seed 12
  const std::vector<std::string> others = {
      R"({"prompt": "Once upon a time", "max_tokens": 9, "rule": "greedy"})",
      R"({"prompt": [464, 2068, 7586], "max_tokens": 5})",
      R"({"prompt": "x", "max_tokens": 20, "seed": 3, "stop": ["e"]})",
      R"({"prompt": ["a", "b c"], "max_tokens": 3, "temperature": 0, "logprobs": 1})",
      R"({"prompt": "The", "max_tokens": 1})"};
  for (int load : {0, 1, 64}) {
    EngineOptions options;
    options.max_batch = 16;
    options.max_queue = 200;
    std::vector<CompletionRequest> requests;
    std::vector<std::vector<Output>> got;
    {
      Engine engine(*backend, tok(), options);
      std::vector<std::shared_ptr<Job>> jobs;
      for (int i = 0; i < load; i++) {
        // Half before the target, half after: it joins a batch in progress.
        if (i == load / 2) {
          jobs.push_back(engine.submit(target));
          requests.push_back(target);
        }
        requests.push_back(request(others[std::size_t(i) % others.size()]));
        jobs.push_back(engine.submit(requests.back()));
      }
      if (load == 0) {
        jobs.push_back(engine.submit(target));
        requests.push_back(target);
      }
      for (auto& job : jobs) got.push_back(collect(*job));
    }  // the engine stopped: the backend is ours again (one user at a time)
    for (std::size_t r = 0; r < requests.size(); r++) {
      for (int c = 0; c < int(got[r].size()); c++) {
        const Output want = requests[r].prompt_texts[0] == "Ladies and"
                                ? expected[std::size_t(c)]
                                : alone(*backend, requests[r], c);
        EXPECT_EQ(got[r][std::size_t(c)], want) << "request " << r << " beside " << load;
      }
    }
  }
}

TEST_F(EngineTest, FinishReasons) {
  Engine engine(*backend, tok(), {});
  // The length limit; a stop string (never part of the text).
  std::vector<Output> o = collect(
      *engine.submit(request(R"({"prompt": "Ladies and", "max_tokens": 4, "rule": "greedy"})")));
  EXPECT_EQ(o[0].finish, "length");
  EXPECT_EQ(o[0].tokens.size(), 4u);
  ASSERT_GE(o[0].text.size(), 5u);
  const std::string full = o[0].text, stop = full.substr(2, 3);
  o = collect(*engine.submit(
      request(R"({"prompt": "Ladies and", "max_tokens": 4, "rule": "greedy", "stop": [")" + stop +
              R"("]})")));
  EXPECT_EQ(o[0].finish, "stop");
  EXPECT_EQ(o[0].text, full.substr(0, full.find(stop)));
}

using test::wait_for;

// The engine is held throughout the admission checks, so neither long job can
// finish (and make room) before the third asks: the 429 is no race.
TEST_F(EngineTest, CancelledJobsLeaveAndAdmissionIsBounded) {
  EngineOptions options;
  options.max_batch = 1;
  options.max_queue = 1;
  Engine engine(*backend, tok(), options);
  engine.hold_after(0);
  const std::string long_one = R"({"prompt": "a", "max_tokens": 1000, "ignore_eos": true})";
  auto a = engine.submit(request(long_one));
  auto b = engine.submit(request(long_one));
  try {
    engine.submit(request(long_one));
    ADD_FAILURE() << "a third sequence was admitted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 429);
    EXPECT_EQ(e.code(), "queue_full");
  }
  // Two steps: a's prompt and one decode (b waits: one place in the batch).
  engine.hold_after(2);
  ASSERT_TRUE(wait_for([&] { return engine.stepping().steps == 2; }));
  EXPECT_EQ(engine.stepping().hold_after, 0);
  std::vector<Piece> pieces;
  a->wait(pieces, Clock::now());
  EXPECT_EQ(pieces.size(), 2u);
  EXPECT_EQ(engine.running(), 1);
  EXPECT_EQ(engine.queued(), 1);
  engine.cancel(b, CancelReason::kClientGone);  // waiting: never joins
  engine.cancel(a, CancelReason::kDeadline);    // live: leaves before the next step
  ASSERT_TRUE(wait_for([&] { return a->done() && b->done(); }));
  EXPECT_EQ(engine.stepping().steps, 2);  // freed while held
  std::string metrics = engine.prometheus();
  EXPECT_NE(metrics.find("gpt2_running_sequences 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(gpt2_cancelled_sequences_total{reason="client_gone"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(gpt2_cancelled_sequences_total{reason="deadline"} 1)"),
            std::string::npos)
      << metrics;
  engine.hold_after(std::nullopt);
  // Room again: a short job goes through.
  const std::vector<Output> o =
      collect(*engine.submit(request(R"({"prompt": "a", "max_tokens": 2})")));
  EXPECT_LE(o[0].tokens.size(), 2u);
  EXPECT_FALSE(o[0].tokens.empty());
  // The job's last piece comes before the step's bookkeeping ends: wait for it.
  ASSERT_TRUE(wait_for([&] {
    return engine.prometheus().find("gpt2_time_to_first_token_seconds_count 1") !=
           std::string::npos;
  }));
  metrics = engine.prometheus();
  EXPECT_NE(metrics.find("gpt2_running_sequences 0"), std::string::npos) << metrics;
  engine.drain();
  try {
    engine.submit(request(R"({"prompt": "a"})"));
    ADD_FAILURE() << "admitted while draining";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 503);
  }
}

// A held engine still admits and frees, and its destructor lets it go (it
// never waits for ever on a held job).
TEST_F(EngineTest, AHeldEngineStepsNoMoreThanAllowed) {
  auto engine = std::make_unique<Engine>(*backend, tok(), EngineOptions{});
  engine->hold_after(3);
  auto job = engine->submit(request(R"({"prompt": "a", "max_tokens": 50, "ignore_eos": true})"));
  ASSERT_TRUE(wait_for([&] { return engine->stepping().steps == 3; }));
  std::vector<Piece> pieces;
  job->wait(pieces, Clock::now());
  EXPECT_EQ(pieces.size(), 3u);  // the prompt's token and two decodes
  EXPECT_FALSE(job->done());
  engine.reset();  // drains: runs the job to its end
  EXPECT_TRUE(job->done());
  job->wait(pieces, Clock::now());
  EXPECT_EQ(pieces.size(), 50u);
}

TEST(TokenLogprobTest, LogSoftmaxAndTop) {
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f};
  std::vector<std::pair<int, float>> top;
  const float lp = token_logprob(logits, 0, 2, top);
  double sum = 0;
  for (float x : logits) sum += std::exp(double(x) - 3.0);
  EXPECT_FLOAT_EQ(lp, float(1.0 - 3.0 - std::log(sum)));
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 1);  // a tie: the lower id first
  EXPECT_EQ(top[1].first, 2);
  EXPECT_EQ(top[0].second, top[1].second);
  EXPECT_EQ(token_logprob(logits, 3, 0, top), float(-2.0 - 3.0 - std::log(sum)));
  EXPECT_TRUE(top.empty());
}

}  // namespace
}  // namespace gpt2::server
