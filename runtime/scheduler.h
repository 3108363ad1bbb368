// The batch scheduler: requests run together, at most max_batch sequences in
// flight, each step advancing every live sequence by one token through one
// Backend::forward_batch call. A sequence that finishes (its n reached, or its
// callback says stop) leaves at once, and a waiting request joins at the next
// step, its prompt run in the same call as the others' decodes (continuous
// batching). Each request keeps its own decision state (the rule's seeded
// sampler) and callback, so it gets exactly the tokens generate() gives it
// alone on a batch-invariant backend (registry.h), whatever else runs beside it.
//
// The server (server/engine.h) drives one of these from its request threads
// through a queue; the scheduler itself is single-threaded: submit(), cancel(),
// release() and step() from one thread (its backend's rule: one user at a time).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backends/backend.h"
#include "runtime/decide.h"
#include "runtime/generate.h"

namespace gpt2 {

// The most sequences a scheduler runs at once: more is a typo.
inline constexpr int kMaxBatch = 1024;

struct Request {
  std::vector<int> prompt;  // 1 to n - 1 tokens, each in [0, V)
  int n = 0;                // complete until the sequence holds n tokens (<= max_seq_len)
  Rule rule = Rule::kMedian;
  // Sees each step as generate() shows it (the decision, the logits and
  // probabilities) and may end the request there (the step's token is kept).
  StepCallback on_step;
  // Teacher forcing, as generate()'s `forced`: forced[s] is appended at step s.
  std::vector<int> forced;
};

// The bytes of one sequence's key/value cache at `capacity` positions (float32
// keys and values of every layer): what a batch's sequences hold in memory.
std::size_t kv_cache_bytes(const ModelConfig& config, int capacity);
// The memory this machine has available now (MemAvailable), in bytes; 0 if unknown.
std::size_t available_memory();

// The checks Scheduler::submit and beam_search() share, each message naming
// what asks: a scheduler's request ("A request of 2 prompt tokens ...") or a
// beam search's prompt ("A prompt of 2 tokens ...").
enum class PromptOwner { kRequest, kBeamPrompt };
// Throws std::invalid_argument, naming what is wrong, for an empty prompt, n
// out of [prompt + 1, max_seq_len] or a token outside the vocabulary.
void check_prompt(std::span<const int> prompt, int n, const ModelConfig& config, PromptOwner owner);
// The memory a backend's caches take from: its GPU's free memory (gpu true)
// where it reports one (Backend::device_memory_free), else this machine's
// available memory; bytes 0 when unknown.
struct CacheMemory {
  std::size_t bytes = 0;
  bool gpu = false;
};
CacheMemory cache_memory(const Backend& backend);
// Throws std::runtime_error "<whose> key/value caches need X MiB at once; Y
// MiB of memory are available (<advice>)." (a GPU's: "Y MiB are free on the
// GPU") when need > memory.bytes; memory.bytes 0 (unknown) passes.
void check_cache_memory(std::size_t need, CacheMemory memory, std::string_view whose,
                        std::string_view advice);

class Scheduler {
 public:
  // mode: kv-cache (a prompt once, then one token per step) or recompute (the
  // whole sequence at every step, the lab's). Throws std::invalid_argument for
  // max_batch outside [1, kMaxBatch].
  Scheduler(const Backend& backend, int max_batch, Mode mode = Mode::kKvCache);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request; returns its id (0, 1, ... in submission order). Throws
  // std::invalid_argument, naming what is wrong, for an empty prompt, n out of
  // [prompt + 1, max_seq_len] or a token outside the vocabulary.
  int submit(Request request);
  // Throws std::runtime_error "The batch's key/value caches need X MiB at
  // once; Y MiB of memory are available." when the max_batch largest caches of
  // the requests submitted so far would not fit in this machine's available
  // memory (a GPU backend: "Y MiB are free on the GPU", its
  // Backend::device_memory_free()).
  void check_memory() const;
  // The same against `available` bytes.
  void check_memory(std::size_t available) const;
  // The bytes of key/value caches held at once at most: those of the sequences
  // in flight and the max_batch largest of those waiting.
  std::size_t peak_cache_bytes() const;

  // One step: waiting requests join while fewer than max_batch are live, every
  // live sequence advances by one token, those that finish leave. Returns the
  // ids that finished in it. A callback's exception ends the step and reaches
  // the caller.
  std::vector<int> step();
  void run();  // steps until nothing is waiting or live
  bool done() const;

  // Ends a request before its time: a waiting one never joins, a live one
  // leaves before the next step (its session kept for others), with the tokens
  // it has. It is finished() then; an id finished or released already is left
  // as it is.
  void cancel(int id);
  // Forgets a finished request (its tokens): a long-running scheduler's memory
  // then holds only the requests still waiting, live or not yet released.
  // generated(id) and finished(id) throw std::out_of_range afterwards.
  void release(int id);

  // The new tokens of a request so far (all of them once finished()).
  const std::vector<int>& generated(int id) const;
  bool finished(int id) const;
  int live() const;
  int waiting() const;
  long steps() const;  // forward_batch calls so far
  // The bytes of the key/value caches of the sequences in flight now.
  std::size_t live_cache_bytes() const;

 private:
  struct Sequence;
  const Backend& backend_;
  int max_batch_;
  Mode mode_;
  struct Record {
    std::vector<int> generated;
    bool finished = false;
  };
  std::deque<std::pair<int, Request>> waiting_;  // in submission order
  std::unordered_map<int, Record> records_;      // every id not yet released
  int next_id_ = 0;
  std::vector<std::unique_ptr<Sequence>> live_;
  std::vector<std::unique_ptr<Session>> idle_;  // sessions kept for the next requests
  long steps_ = 0;
};

}  // namespace gpt2
