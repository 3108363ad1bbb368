#include "server/engine.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "runtime/stop_strings.h"

namespace gpt2::server {

// ---------------------------------------------------------------------------
// Job

Job::Job(CompletionRequest request, int sequences)
    : request_(std::move(request)), sequences_(sequences) {}

bool Job::wait(std::vector<Piece>& out, Clock::time_point until) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, until, [&] {
    return !pieces_.empty() || finished_ == sequences_ || error_ || cancelled_;
  });
  out.insert(out.end(), std::make_move_iterator(pieces_.begin()),
             std::make_move_iterator(pieces_.end()));
  pieces_.clear();
  return !(finished_ == sequences_ || error_ || cancelled_);
}

bool Job::done() const {
  std::lock_guard lock(mu_);
  return finished_ == sequences_ || error_ || cancelled_;
}

std::optional<ApiError> Job::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void Job::push(Piece piece, bool last) {
  {
    std::lock_guard lock(mu_);
    pieces_.push_back(std::move(piece));
    if (last) finished_++;
  }
  cv_.notify_all();
}

void Job::fail(const ApiError& e) {
  {
    std::lock_guard lock(mu_);
    if (!error_) error_ = e;
  }
  cv_.notify_all();
}

void Job::end() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------------------
// Log-probabilities

float token_logprob(std::span<const float> logits, int token, int k,
                    std::vector<std::pair<int, float>>& top) {
  float max = -INFINITY;
  for (float x : logits) max = std::max(max, x);
  double sum = 0;
  for (float x : logits) sum += std::exp(double(x) - double(max));
  const double log_sum = std::log(sum) + double(max);
  top.clear();
  if (k > 0) {
    std::vector<int> ids(logits.size());
    for (std::size_t i = 0; i < ids.size(); i++) ids[i] = int(i);
    const auto better = [&](int a, int b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    const std::size_t kk = std::min<std::size_t>(std::size_t(k), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + long(kk), ids.end(), better);
    for (std::size_t i = 0; i < kk; i++) {
      top.emplace_back(ids[i], float(double(logits[ids[i]]) - log_sum));
    }
  }
  return float(double(logits[token]) - log_sum);
}

// ---------------------------------------------------------------------------
// Engine

const char* cancel_reason_name(CancelReason r) {
  return r == CancelReason::kClientGone ? "client_gone" : "deadline";
}

// One choice of a job, on the engine thread.
struct Engine::Sequence {
  std::shared_ptr<Job> job;
  int choice = 0;
  DecodeStream stream;
  StopStrings stops;
  int generated = 0;
  Sequence(std::shared_ptr<Job> j, int c, const Tokenizer& tok)
      : job(std::move(j)), choice(c), stream(tok), stops(job->request().stop) {}
};

Engine::Engine(const Backend& backend, const Tokenizer& tokenizer, EngineOptions options)
    : backend_(backend),
      tokenizer_(tokenizer),
      options_(options),
      scheduler_(backend, options.max_batch, options.mode) {
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  hold_after(std::nullopt);  // a held engine would never drain
  drain();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<Job> Engine::submit(CompletionRequest request) {
  const int k = int(request.prompts.size()) * request.n;
  long prompt_tokens = 0;
  for (const auto& p : request.prompts) prompt_tokens += long(p.size()) * request.n;
  auto job = std::make_shared<Job>(std::move(request), k);
  {
    std::unique_lock lock(mu_);
    const int capacity = options_.max_batch + options_.max_queue;
    const auto room = [&] { return draining_ || in_system_ + k <= capacity; };
    if (!room() && k <= capacity && options_.queue_wait.count() > 0) {
      ++waiting_;
      room_cv_.wait_for(lock, options_.queue_wait, room);
      --waiting_;
    }
    if (draining_) {
      throw ApiError(503, "The server is shutting down.", {}, "server_error", "shutting_down");
    }
    if (in_system_ + k > capacity) {
      throw ApiError(429,
                     "The server is at capacity: " + std::to_string(in_system_) +
                         " sequences in flight or waiting, at most " + std::to_string(capacity) +
                         " (--max-batch + --max-queue); this request asks for " +
                         std::to_string(k) + ". Retry later.",
                     {}, "rate_limit_error", "queue_full");
    }
    in_system_ += k;
    queued_ += k;
    inbox_.push_back(job);
  }
  metrics_.prompt_tokens(prompt_tokens);
  cv_.notify_all();
  return job;
}

void Engine::cancel(const std::shared_ptr<Job>& job, CancelReason reason) {
  if (job->done()) return;
  {
    std::lock_guard lock(mu_);
    cancels_.emplace_back(job, reason);
  }
  cv_.notify_all();
}

void Engine::hold_after(std::optional<long> steps) {
  {
    std::lock_guard lock(mu_);
    hold_after_ = steps ? std::optional<long>(std::max(0L, *steps)) : std::nullopt;
  }
  cv_.notify_all();
}

Engine::Stepping Engine::stepping() const {
  std::lock_guard lock(mu_);
  return {steps_, hold_after_};
}

void Engine::drain() {
  std::unique_lock lock(mu_);
  draining_ = true;
  room_cv_.notify_all();
  idle_cv_.wait(lock, [&] { return in_system_ == 0; });
}

std::string Engine::prometheus() const {
  int in_system, waiting;
  {
    std::lock_guard lock(mu_);
    in_system = in_system_;
    waiting = waiting_;
  }
  return metrics_.prometheus({
      {"gpt2_queue_length", "Sequences waiting to join the batch.", double(queued_.load())},
      {"gpt2_running_sequences", "Sequences in the batch now.", double(running_.load())},
      {"gpt2_sequences_in_system", "Sequences admitted and not yet finished.", double(in_system)},
      {"gpt2_requests_waiting_for_room",
       "Completions waiting for a place (--queue-wait) before their 429.", double(waiting)},
      {"gpt2_batch_occupancy", "Sequences in the batch over --max-batch.",
       double(running_.load()) / options_.max_batch},
      {"gpt2_max_batch", "--max-batch.", double(options_.max_batch)},
      {"gpt2_kv_cache_bytes", "Bytes of the key/value caches of the sequences in the batch.",
       double(kv_bytes_.load())},
  });
}

void Engine::leave(int sequences) {
  std::lock_guard lock(mu_);
  in_system_ -= sequences;
  if (in_system_ == 0) idle_cv_.notify_all();
  if (waiting_ > 0) room_cv_.notify_all();
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || !inbox_.empty() || !cancels_.empty() ||
               (!sequences_.empty() && (!hold_after_ || *hold_after_ > 0));
      });
      if (stop_ && inbox_.empty() && sequences_.empty()) return;
    }
    admit();
    bool may_step = false;
    {
      std::lock_guard lock(mu_);
      may_step = !sequences_.empty() && (!hold_after_ || *hold_after_ > 0);
      if (may_step && hold_after_) --*hold_after_;
    }
    if (may_step) {
      step();
      std::lock_guard lock(mu_);
      steps_++;
    }
  }
}

void Engine::admit() {
  std::deque<std::shared_ptr<Job>> jobs;
  std::vector<std::pair<std::shared_ptr<Job>, CancelReason>> cancels;
  {
    std::lock_guard lock(mu_);
    jobs.swap(inbox_);
    cancels.swap(cancels_);
  }
  for (auto& job : jobs) {
    const CompletionRequest& r = job->request();
    for (std::size_t p = 0; p < r.prompts.size(); p++) {
      for (int j = 0; j < r.n; j++) {
        const int choice = int(p) * r.n + j;
        auto seq = std::make_unique<Sequence>(job, choice, tokenizer_);
        Sequence* s = seq.get();
        Request q;
        q.prompt = r.prompts[p];
        q.n = int(r.prompts[p].size()) + r.max_tokens;
        q.rule = r.choice_rule(j);
        q.on_step = [this, s](const StepView& view) {
          const CompletionRequest& req = s->job->request();
          Job& job = *s->job;
          if (!job.first_token_) {
            job.first_token_ = Clock::now();
            job.first_step_ = step_start_;
          }
          job.tokens_++;
          s->generated++;
          Piece piece;
          piece.choice = s->choice;
          piece.token = view.decision.token;
          if (req.logprobs >= 0) {
            piece.logprob = token_logprob(view.logits, piece.token, req.logprobs, piece.top);
          }
          bool last = s->generated >= req.max_tokens;
          if (piece.token == kEndOfTextToken && !req.ignore_eos) {
            piece.finish = "stop";
            last = true;
          } else {
            piece.text = s->stops.add(s->stream.push(piece.token));
            if (s->stops.stopped()) {
              piece.finish = "stop";
              last = true;
            }
          }
          if (last && piece.finish.empty()) piece.finish = "length";
          if (last && !s->stops.stopped()) {
            piece.text += s->stops.add(s->stream.flush());
            piece.text += s->stops.finish();
          }
          job.push(std::move(piece), last);
          return last ? Next::kStop : Next::kContinue;
        };
        const int id = scheduler_.submit(std::move(q));
        job->ids_.push_back(id);
        sequences_[id] = std::move(seq);
      }
    }
  }
  for (auto& [job, reason] : cancels) {
    int freed = 0;
    for (int id : job->ids_) {
      const auto it = sequences_.find(id);
      if (it == sequences_.end()) continue;  // finished already
      scheduler_.cancel(id);
      scheduler_.release(id);
      sequences_.erase(it);
      freed++;
    }
    job->end();
    if (freed > 0) metrics_.cancelled(cancel_reason_name(reason), freed);
    leave(freed);
  }
  running_ = scheduler_.live();
  queued_ = scheduler_.waiting();
  kv_bytes_ = scheduler_.live_cache_bytes();
}

void Engine::step() {
  running_ = std::min<int>(scheduler_.live() + scheduler_.waiting(), options_.max_batch);
  const auto t0 = Clock::now();
  step_start_ = t0;
  std::vector<int> done;
  try {
    done = scheduler_.step();
  } catch (const std::exception& e) {
    // A backend failure: every job in flight is failed, the server goes on.
    const ApiError error(500, std::string("The backend failed: ") + e.what(), {}, "server_error");
    int freed = 0;
    for (auto& [id, seq] : sequences_) {
      seq->job->fail(error);
      scheduler_.cancel(id);
      scheduler_.release(id);
      freed++;
    }
    sequences_.clear();
    leave(freed);
    return;
  }
  const auto t1 = Clock::now();
  metrics_.step(running_.load(), std::chrono::duration<double>(t1 - t0).count());
  kv_bytes_ = scheduler_.live_cache_bytes();
  running_ = scheduler_.live();
  queued_ = scheduler_.waiting();
  int freed = 0;
  for (int id : done) {
    const auto it = sequences_.find(id);
    if (it == sequences_.end()) continue;
    // Held: erasing the sequence may drop the last other reference to its job.
    const std::shared_ptr<Job> held = it->second->job;
    Job& job = *held;
    metrics_.generated_tokens(scheduler_.generated(id).size());
    scheduler_.release(id);
    sequences_.erase(it);
    freed++;
    if (job.done()) {  // the job's last sequence: its latencies
      const double latency = std::chrono::duration<double>(t1 - job.submitted()).count();
      const double ttft =
          std::chrono::duration<double>(job.first_token_.value_or(t1) - job.submitted()).count();
      metrics_.ttft(ttft);
      if (job.first_step_ && job.first_token_) {
        metrics_.queue(std::chrono::duration<double>(*job.first_step_ - job.submitted()).count());
        metrics_.prefill(
            std::chrono::duration<double>(*job.first_token_ - *job.first_step_).count());
      }
      metrics_.latency(latency);
      const long per_choice = job.tokens_ / std::max(1, job.sequences());
      if (per_choice > 1) metrics_.tpot((latency - ttft) / double(per_choice - 1));
    }
  }
  if (freed > 0) leave(freed);
}

}  // namespace gpt2::server
