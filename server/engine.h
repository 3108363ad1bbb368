// The server's engine: one thread that owns a Scheduler (runtime/scheduler.h)
// and steps it while anything is in flight; request threads submit jobs and
// read their output through thread-safe channels (continuous batching: a job
// joins at the next step, its prompt in the same forward_batch as the others'
// decodes). Every sequence keeps its own rule, sampler and text state, so a
// job's tokens are what `gpt2` gives it alone on a batch-invariant backend,
// whatever else is in flight.
//
// Admission is bounded: at most max_batch sequences run and max_queue wait;
// a job that would exceed that is refused (QueueFull, a 429). A cancelled job
// (its client gone, its deadline past) leaves before the next step.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backends/backend.h"
#include "runtime/generate.h"
#include "runtime/scheduler.h"
#include "runtime/tokenizer/tokenizer.h"
#include "server/api.h"
#include "server/metrics.h"

namespace gpt2::server {

using Clock = std::chrono::steady_clock;

// One token of one choice, as it comes.
struct Piece {
  int choice = 0;                          // prompt_index * n + j
  int token = -1;                          // -1: no token (the echo, or the end)
  std::string text;                        // the text now safe to show (may be empty)
  float logprob = 0;                       // of the token, when logprobs were asked for
  std::vector<std::pair<int, float>> top;  // the most likely tokens and theirs
  std::string finish;                      // "stop" or "length" on a choice's last piece
};

// A request in flight: its pieces, read by the request thread as they come.
class Job {
 public:
  Job(CompletionRequest request, int sequences);
  const CompletionRequest& request() const { return request_; }
  int sequences() const { return sequences_; }

  // Waits until a piece is there, the job is done, or `until`; moves the
  // pieces out. Returns false when nothing more will come (done or failed).
  bool wait(std::vector<Piece>& out, Clock::time_point until);
  bool done() const;
  // Set when the engine failed the job: an HTTP status and message.
  std::optional<ApiError> error() const;
  Clock::time_point submitted() const { return submitted_; }

 private:
  friend class Engine;
  void push(Piece piece, bool last);
  void fail(const ApiError& e);
  void end();  // cancelled: nothing more comes

  // The engine thread's: the job's scheduler ids and its first token's time.
  std::vector<int> ids_;
  std::optional<Clock::time_point> first_token_, first_step_;
  long tokens_ = 0;

  const CompletionRequest request_;
  const int sequences_;
  const Clock::time_point submitted_ = Clock::now();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Piece> pieces_;
  int finished_ = 0;
  std::optional<ApiError> error_;
  bool cancelled_ = false;
};

// Why a job was cancelled (the /metrics counter gpt2_cancelled_sequences_total).
enum class CancelReason { kClientGone, kDeadline };
const char* cancel_reason_name(CancelReason r);

struct EngineOptions {
  int max_batch = 16;  // sequences in flight at once
  int max_queue = 64;  // sequences waiting to join, beyond those in flight
  Mode mode = Mode::kKvCache;
  // A job that finds max_batch + max_queue full waits up to this long for
  // room before its 429 (0: the 429 at once): backpressure, so that a client
  // that retries at once is not answered thousands of 429s a second.
  std::chrono::milliseconds queue_wait{0};
};

class Engine {
 public:
  // The backend and tokenizer outlive the engine. Starts the thread.
  Engine(const Backend& backend, const Tokenizer& tokenizer, EngineOptions options);
  ~Engine();  // drain() then join
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a job. Throws ApiError 429 (code "queue_full") when its sequences
  // do not fit beside those in flight and waiting, once options().queue_wait
  // has passed without room (at once where they could never fit), and 503
  // once draining (a job waiting for room too).
  // (Memory: the server checks at start that max_batch caches of the whole
  // context fit, server/server.h.)
  std::shared_ptr<Job> submit(CompletionRequest request);
  // Frees the job's sequences before the next step (thread-safe; idempotent;
  // a held engine frees them too).
  void cancel(const std::shared_ptr<Job>& job, CancelReason reason);
  // Stepping control, for tests and debugging (gpt2-serve --dev-mode, POST
  // /dev/engine): the engine takes at most `steps` more steps, then holds
  // (jobs are still admitted and cancelled while it holds); std::nullopt runs
  // freely (the default). A test holds the engine to make "still running" an
  // event it controls rather than a race against the model's speed.
  void hold_after(std::optional<long> steps);
  struct Stepping {
    long steps = 0;                  // steps taken so far
    std::optional<long> hold_after;  // steps left before it holds; nullopt: free
  };
  Stepping stepping() const;
  // Refuses new jobs from now on and returns once every job has finished.
  void drain();

  const EngineOptions& options() const { return options_; }
  // For /metrics: counters and histograms, and the state now.
  std::string prometheus() const;
  // The counters /metrics shows (the HTTP side records its answers here).
  Metrics& metrics() { return metrics_; }
  // Sequences running and waiting now.
  int running() const { return running_.load(); }
  int queued() const { return queued_.load(); }

 private:
  struct Sequence;
  void loop();
  void admit();               // inbox -> scheduler (engine thread)
  void step();                // one scheduler step (engine thread)
  void leave(int sequences);  // sequences finished or freed: room for others

  const Backend& backend_;
  const Tokenizer& tokenizer_;
  const EngineOptions options_;
  Scheduler scheduler_;

  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_, room_cv_;
  std::deque<std::shared_ptr<Job>> inbox_;
  std::vector<std::pair<std::shared_ptr<Job>, CancelReason>> cancels_;
  std::optional<long> hold_after_;  // steps left before holding; nullopt: free
  long steps_ = 0;
  int in_system_ = 0;  // sequences submitted and not yet finished
  int waiting_ = 0;    // submit() calls waiting for room (queue_wait)
  bool draining_ = false, stop_ = false;

  // Engine thread only.
  std::unordered_map<int, std::unique_ptr<Sequence>> sequences_;
  Clock::time_point step_start_;  // of the step running now

  std::atomic<int> running_{0}, queued_{0};
  std::atomic<std::size_t> kv_bytes_{0};
  Metrics metrics_;
  std::thread thread_;
};

// The log-probability of every token of a step's logits: log-softmax in
// double, in id order (the same bits for the same logits). Returns the
// chosen token's and fills `top` with the k most likely (ties: lower id).
float token_logprob(std::span<const float> logits, int token, int k,
                    std::vector<std::pair<int, float>>& top);

}  // namespace gpt2::server
