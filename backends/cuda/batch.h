// One batched step on the GPU (Backend::forward_batch), shared by the batched
// CUDA backends: what each row and each sequence is, in device memory, so that
// the kernels of one launch serve every sequence (each over its own cache) and
// a captured CUDA graph serves every decode step of its batch size; the
// sessions that hold each sequence's key/value caches; and the host side that
// lays a step out and uploads it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/buffers.h"

namespace gpt2::cuda {

// A row of the step's stacked rows: one new token of one sequence.
struct BatchRow {
  int token = 0;
  int pos = 0;  // its position in its sequence
  int seq = 0;  // its sequence: an index into the step's BatchSeq array
  int pad = 0;
};

// A sequence of the step. Its rows are first .. first + n - 1, at positions
// pos .. pos + n - 1; its caches hold (capacity, C) floats per layer.
struct BatchSeq {
  float* keys = nullptr;  // layer 0's; layer l's at keys + l * layer_floats
  float* values = nullptr;
  long layer_floats = 0;  // capacity * C
  int first = 0;
  int n = 0;
  int pos = 0;
  int pad = 0;
};

// A sequence's key/value caches (every layer, float32) on its backend's GPU
// and how far they are filled. forward() is its backend's forward_batch of
// this one step, so a sequence alone runs the batched kernels too.
class CacheSession final : public Session {
 public:
  // Throws std::runtime_error (not enough GPU memory, with the bytes) or
  // std::invalid_argument (capacity) before allocating anything.
  CacheSession(const Backend& backend, int device, int capacity, const char* name);
  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override;
  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }

  const Backend* backend() const { return &backend_; }
  float* keys() const { return keys_.get(); }
  float* values() const { return values_.get(); }
  void set_cached(int cached) { cached_ = cached; }

 private:
  const Backend& backend_;
  int capacity_;
  int cached_ = 0;
  DeviceBuffer<float> keys_, values_;
};

// Backend::copy_caches for CacheSessions of `owner` (layers of `layer_floats`
// = capacity * C floats each): every copy enqueued on `stream`, then one wait
// for them all. Throws std::invalid_argument (check_cache_copies, a session of
// another backend) before any copy.
void copy_cache_sessions(std::span<const CacheCopy> copies, const Backend& owner,
                         cudaStream_t stream);

// The bytes of one CacheSession's caches.
std::size_t cache_session_bytes(const ModelConfig& config, int capacity);

// A step laid out on the host: the rows of every sequence in step order, the
// rows whose logits are wanted (each sequence's last, or all of them with
// all_positions), in the same order.
struct StepLayout {
  std::vector<BatchRow> rows;
  std::vector<BatchSeq> seqs;
  std::vector<int> out_rows;     // the batch row of each output row
  std::vector<int> out_first;    // sequence s's output rows: out_first[s] .. out_first[s+1]-1
  std::vector<int> decode_rows;  // the row of each sequence that advances by one token
  std::vector<CacheSession*> sessions;
  // Every sequence advances by one token and wants its last logits only: the
  // step a CUDA graph serves.
  bool decode_only = true;
  bool probs = false;  // some sequence wants its probabilities
  int rows_count() const { return int(rows.size()); }
  int seqs_count() const { return int(seqs.size()); }
  int outs_count() const { return int(out_rows.size()); }
  int decodes_count() const { return int(decode_rows.size()); }
};

// Lays out a step whose arguments check_batch_steps accepted. Throws
// std::invalid_argument "forward_batch: a session of another backend" for a
// session `owner` did not open.
StepLayout lay_out(std::span<const SequenceStep> steps, const Backend& owner, int channels);
// The same without the caches: each sequence's rows, outputs and decode row,
// its BatchSeq's keys and values left null and `sessions` empty (a backend
// whose caches are not CacheSessions puts in its own).
StepLayout lay_out_rows(std::span<const SequenceStep> steps);

// Backend::forward_batch of one sequence's step: what a session's forward() runs.
void forward_one(const Backend& backend, Session* session, std::span<const int> tokens, int pos,
                 std::span<float> logits, std::span<float> probs);

// Each step's logits (its output rows of `logits`, V each) and, where it asks,
// its last row's probabilities from `probs` (pinned host memory, the step's
// output rows in order) into its spans; each session's cache then holds its
// new positions. Large batches copy on several host threads (the copies are
// the host's share of a step: 200 KB a sequence for GPT-2).
void finish_step(const StepLayout& layout, std::span<const SequenceStep> steps, const float* logits,
                 const float* probs, int V);
// finish_step's copies alone (the sessions' cached counts left to the caller).
void copy_step_outputs(const StepLayout& layout, std::span<const SequenceStep> steps,
                       const float* logits, const float* probs, int V);

// What `enqueue` puts on `stream` captured as a CUDA graph (per-thread capture
// mode) and instantiated. On a failure the capture ends and nothing is kept.
cudaGraphExec_t capture_graph(cudaStream_t stream, const std::function<void()>& enqueue);

// Pads a decode-only layout to `rows` sequences (rows >= its own): each
// added sequence one token (0) at position 0 over the `keys`/`values` cache
// of one position per layer, its logits computed and ignored.
void pad_decode(StepLayout& layout, int rows, float* keys, float* values, int channels);

// The batch sizes a decode graph is captured for: 1, 2, 4, 8, then multiples
// of 16 (a step of B sequences runs in the smallest bucket that holds it).
int decode_bucket(int batch);

// A step's rows, sequences, output rows and decoding rows on the device at
// fixed addresses (a captured graph reads them there), uploaded from pinned
// host memory.
class StepDescriptors {
 public:
  // Room for this many of each (decodes <= seqs); returns true when the
  // buffers had to move (graphs captured with the old addresses must go). A
  // failed allocation leaves them as they were.
  bool reserve(int rows, int seqs, int outs);
  // Writes the layout into the pinned staging buffer.
  void stage(const StepLayout& layout);
  // Copies the staged bytes to the device (capturable).
  void enqueue_upload(cudaStream_t stream) const;
  const BatchRow* rows() const { return reinterpret_cast<const BatchRow*>(device_.get()); }
  const BatchSeq* seqs() const;
  const int* out_rows() const;
  const int* decode_rows() const;  // StepLayout::decode_rows
  // The device address of sequence s's pos (kernels that take one sequence).
  const int* seq_pos(int s) const;

 private:
  std::size_t seqs_offset() const;
  std::size_t outs_offset() const;
  std::size_t decodes_offset() const;
  std::size_t bytes() const;
  int rows_ = 0, seqs_ = 0, outs_ = 0;
  PinnedBuffer<char> host_;
  DeviceBuffer<char> device_;
};

}  // namespace gpt2::cuda
