// The forward pass shared by the CPU backends (pthreads, OpenMP, BLIS, oneDNN):
// they differ only in the Executor (who runs the parallel loops) and the
// LinearLayers (who multiplies the matrices). Every other layer runs here, in
// parallel over independent outputs (rows, heads and positions, vocabulary
// entries) with kernels that give the reference's bits.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/executor.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/linear.h"
#include "backends/cpu/packed.h"

namespace gpt2::cpu {

// What a CPU backend shares with its sessions.
struct Engine {
  std::shared_ptr<const Model> model;
  std::unique_ptr<Executor> executor;
  std::unique_ptr<LinearLayers> linear;
  const Kernels* kernels = nullptr;
};

// The activations of one forward pass over R stacked rows (of one sequence or
// several), grown to the largest pass seen and kept.
struct Workspace {
  AlignedFloats x, ln, q, atty;  // (R, C): the residual stream, layernorm, queries, attention
  AlignedFloats fch;             // (R, 4C)
  AlignedFloats qkv;             // (R, 3C), several sequences only
  AlignedFloats att;             // attention scratch per worker
  AlignedFloats last, logits;    // the rows whose logits are wanted: (rows, C), (rows, V)
  std::vector<float> softmax;    // softmax_rows' scratch
  // rows R, out_rows the rows whose logits are wanted, cap the largest cache.
  void ensure(const ModelConfig& c, int rows, int out_rows, int cap, int workers, bool stacked);
};

// The forward pass, for one sequence (Session::forward) or several at once
// (forward_batch): every sequence's rows stacked through each layer (each
// weight group read once per step for all of them), attention per sequence
// over its own cache, the keys and values into each cache at its positions.
// Every output is computed from its own row with the sums of the reference's
// order, so each sequence's bits are what it gets alone, whatever the batch.
// steps' sessions are the engine's (checked by the caller), their arguments
// checked (check_batch_steps).
void forward_sequences(Engine& engine, Workspace& ws, std::span<const SequenceStep> steps);

// A Backend over an Engine. Its sessions share the engine's executor: when
// threads > 1 they must be used one at a time (backend.h).
class CpuBackend final : public Backend {
 public:
  CpuBackend(BackendInfo info, std::shared_ptr<Engine> engine);
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *engine_->model; }
  std::unique_ptr<Session> open_session(int capacity) const override;
  // The sequences' rows stacked (forward_sequences), in the backend's own
  // workspace (one batch at a time).
  void forward_batch(std::span<const SequenceStep> steps) const override;
  // On the executor's threads, a task per copy and layer.
  void copy_caches(std::span<const CacheCopy> copies) const override;
  // Its executor, kernels and matrix products, for op tests and microbenchmarks
  // (the same rule as sessions: one user at a time when threads > 1).
  const std::shared_ptr<Engine>& engine() const { return engine_; }

 private:
  BackendInfo info_;
  std::shared_ptr<Engine> engine_;
  mutable std::mutex batch_mutex_;
  mutable Workspace batch_workspace_;
};

// A bit-exact backend: the shared kernels and packed weights on `executor`,
// at info.precision (one the reference defines: float32, bf16w, int8w), bit
// for bit. `threading` says how its threads work, for BackendInfo::details.
std::unique_ptr<Backend> make_bit_exact_backend(std::shared_ptr<const Model> model,
                                                BackendInfo info,
                                                std::unique_ptr<Executor> executor,
                                                const std::string& threading);

// The order in which attention work items (head, block of rows) are handed
// out: head by head, so a worker's share keeps one head's keys and values in
// its L2 cache (interleaving heads made every worker sweep all heads' caches,
// 3 MB at 512 positions), and within a head blocks zig-zag 0, B-1, 1, B-2, ...
// so that any contiguous share holds about as many long (late) rows as short.
inline int zigzag_row(int m, int T) {
  return (m % 2 == 0) ? m / 2 : T - 1 - m / 2;
}

}  // namespace gpt2::cpu
