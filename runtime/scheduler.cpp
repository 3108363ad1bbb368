#include "runtime/scheduler.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "backends/host_chunks.h"

namespace gpt2 {

std::size_t kv_cache_bytes(const ModelConfig& c, int capacity) {
  return 2 * std::size_t(c.num_layers) * std::size_t(capacity) * std::size_t(c.channels) *
         sizeof(float);
}

std::size_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  while (in >> key) {
    if (key == "MemAvailable:" && in >> kib) return kib * 1024;
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

void check_prompt(std::span<const int> prompt, int n, const ModelConfig& c, PromptOwner owner) {
  const bool request = owner == PromptOwner::kRequest;
  if (prompt.empty()) {
    throw std::invalid_argument(request ? "A request's prompt holds no token."
                                        : "A prompt holds no token.");
  }
  if (n <= int(prompt.size()) || n > c.max_seq_len) {
    throw std::invalid_argument(
        std::string(request ? "A request of " : "A prompt of ") + std::to_string(prompt.size()) +
        (request ? " prompt tokens" : " tokens") + " asks for n = " + std::to_string(n) +
        ": n must be in [" + std::to_string(prompt.size() + 1) + ", " +
        std::to_string(c.max_seq_len) + "].");
  }
  for (int t : prompt) {
    if (t < 0 || t >= c.vocab_size) {
      throw std::invalid_argument("Token " + std::to_string(t) + " is out of range [0, " +
                                  std::to_string(c.vocab_size) + ").");
    }
  }
}

CacheMemory cache_memory(const Backend& backend) {
  const std::optional<std::size_t> gpu = backend.device_memory_free();
  return {gpu ? *gpu : available_memory(), gpu.has_value()};
}

void check_cache_memory(std::size_t need, CacheMemory memory, std::string_view whose,
                        std::string_view advice) {
  if (memory.bytes == 0 || need <= memory.bytes) return;
  throw std::runtime_error(
      std::string(whose) + " key/value caches need " + std::to_string(need >> 20) +
      " MiB at once; " + std::to_string(memory.bytes >> 20) +
      (memory.gpu ? " MiB are free on the GPU" : " MiB of memory are available") + " (" +
      std::string(advice) + ").");
}

// A request in flight: its session, its tokens so far, its decisions.
struct Scheduler::Sequence {
  int id;
  Request request;
  std::unique_ptr<Session> session;
  std::vector<int> tokens;  // prompt, then the new tokens
  int cached = 0;           // positions of the session's cache this sequence relies on
  Decider decider;
  // The probabilities only for the rule that reads them (median): a batch's
  // backend then computes and copies no more than the decisions need.
  std::vector<float> logits, probs;
  Sequence(int id_, Request r, int V)
      : id(id_),
        request(std::move(r)),
        decider(request.rule),
        logits(V),
        probs(request.rule.kind == Rule::kMedian ? V : 0) {}
};

Scheduler::Scheduler(const Backend& backend, int max_batch, Mode mode)
    : backend_(backend), max_batch_(max_batch), mode_(mode) {
  if (max_batch < 1 || max_batch > kMaxBatch) {
    throw std::invalid_argument("A batch of " + std::to_string(max_batch) +
                                " sequences is outside [1, " + std::to_string(kMaxBatch) + "].");
  }
}

Scheduler::~Scheduler() = default;

int Scheduler::submit(Request r) {
  check_prompt(r.prompt, r.n, backend_.model().config(), PromptOwner::kRequest);
  if (std::string problem = rule_problem(r.rule); !problem.empty()) {
    throw std::invalid_argument("Bad sampling settings: " + problem + ".");
  }
  const int id = next_id_++;
  waiting_.emplace_back(id, std::move(r));
  records_[id];
  return id;
}

void Scheduler::cancel(int id) {
  const auto record = records_.find(id);
  if (record == records_.end() || record->second.finished) return;
  record->second.finished = true;
  const auto w =
      std::find_if(waiting_.begin(), waiting_.end(), [id](const auto& p) { return p.first == id; });
  if (w != waiting_.end()) {
    waiting_.erase(w);
    return;
  }
  const auto l =
      std::find_if(live_.begin(), live_.end(), [id](const auto& s) { return s->id == id; });
  if (l != live_.end()) {
    idle_.push_back(std::move((*l)->session));
    live_.erase(l);
  }
}

void Scheduler::release(int id) {
  const auto record = records_.find(id);
  if (record != records_.end() && record->second.finished) records_.erase(record);
}

std::size_t Scheduler::live_cache_bytes() const {
  const ModelConfig& c = backend_.model().config();
  std::size_t bytes = 0;
  for (const auto& s : live_) bytes += kv_cache_bytes(c, s->session->capacity());
  return bytes;
}

std::size_t Scheduler::peak_cache_bytes() const {
  std::vector<int> capacities;
  for (const auto& w : waiting_) capacities.push_back(w.second.n - 1);
  std::sort(capacities.rbegin(), capacities.rend());
  const ModelConfig& c = backend_.model().config();
  std::size_t need = 0;
  const std::size_t joining = max_batch_ - std::min<std::size_t>(live_.size(), max_batch_);
  for (std::size_t i = 0; i < capacities.size() && i < joining; i++) {
    need += kv_cache_bytes(c, capacities[i]);
  }
  return need + live_cache_bytes();
}

void Scheduler::check_memory() const {
  check_memory(cache_memory(backend_).bytes);
}

void Scheduler::check_memory(std::size_t available) const {
  check_cache_memory(peak_cache_bytes(), {available, backend_.info().device != Device::kCpu},
                     "The batch's", "a smaller --batch, or shorter sequences");
}

bool Scheduler::done() const {
  return live_.empty() && waiting_.empty();
}

const std::vector<int>& Scheduler::generated(int id) const {
  return records_.at(id).generated;
}
bool Scheduler::finished(int id) const {
  return records_.at(id).finished;
}
int Scheduler::live() const {
  return int(live_.size());
}
int Scheduler::waiting() const {
  return int(waiting_.size());
}
long Scheduler::steps() const {
  return steps_;
}

std::vector<int> Scheduler::step() {
  const int V = backend_.model().config().vocab_size;
  // Join: a kept session that is large enough (the smallest such), else a new one.
  while (int(live_.size()) < max_batch_ && !waiting_.empty()) {
    auto seq =
        std::make_unique<Sequence>(waiting_.front().first, std::move(waiting_.front().second), V);
    waiting_.pop_front();
    const int capacity = seq->request.n - 1;
    auto fits = std::find_if(idle_.begin(), idle_.end(),
                             [&](const auto& s) { return s->capacity() >= capacity; });
    if (fits != idle_.end()) {
      seq->session = std::move(*fits);
      idle_.erase(fits);
    } else {
      seq->session = backend_.open_session(capacity);
    }
    seq->tokens = seq->request.prompt;
    live_.push_back(std::move(seq));
  }
  std::vector<int> done_now;
  if (live_.empty()) return done_now;
  std::vector<SequenceStep> steps;
  steps.reserve(live_.size());
  for (const auto& s : live_) {
    const int pos = mode_ == Mode::kRecompute ? 0 : s->cached;
    steps.push_back(
        {s->session.get(), std::span<const int>(s->tokens).subspan(pos), pos, s->logits, s->probs});
  }
  backend_.forward_batch(steps);
  steps_++;
  // Each sequence's decision (its own decider and outputs, so they may run at
  // once: on a few host threads for a GPU backend's large batch, whose host
  // cores are otherwise idle; a scan of 50257 logits is ~20 us), then the
  // callbacks in order on this thread.
  std::vector<Decision> decisions(live_.size());
  auto decide = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; i++) {
      decisions[i] = live_[i]->decider.next(live_[i]->logits, live_[i]->probs);
    }
  };
  if (backend_.info().device == Device::kCpu) {
    decide(0, live_.size());
  } else {
    for_host_chunks(live_.size(), decide);
  }
  std::size_t at = 0;  // live_'s index before this step's departures
  for (auto it = live_.begin(); it != live_.end(); at++) {
    Sequence& s = **it;
    const Request& r = s.request;
    std::vector<int>& generated = records_.at(s.id).generated;
    s.cached = int(s.tokens.size());
    StepView view;
    view.step = int(generated.size());
    view.decision = decisions[at];
    view.logits = s.logits;
    view.probs = s.probs;
    const Next next = r.on_step ? r.on_step(view) : Next::kContinue;
    const int token =
        std::size_t(view.step) < r.forced.size() ? r.forced[view.step] : view.decision.token;
    s.tokens.push_back(token);
    generated.push_back(token);
    if (next == Next::kStop || int(s.tokens.size()) >= r.n) {
      records_.at(s.id).finished = true;
      done_now.push_back(s.id);
      idle_.push_back(std::move(s.session));
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
  // Keep at most max_batch sessions for reuse: the largest.
  std::sort(idle_.begin(), idle_.end(),
            [](const auto& a, const auto& b) { return a->capacity() < b->capacity(); });
  if (int(idle_.size()) > max_batch_) idle_.erase(idle_.begin(), idle_.end() - max_batch_);
  return done_now;
}

void Scheduler::run() {
  while (!done()) step();
}

}  // namespace gpt2
