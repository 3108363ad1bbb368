// One rank of the tensor-parallel forward pass: its shard of the weights on
// its GPU (split.h), its heads' part of every session's key/value caches, its
// activations, and the step's layers, which call its Communicator for the two
// all-reduces of each layer and the logits' all-gather. Rank 0 also unshards
// the logits, takes their softmax and copies them to the host. Each rank runs
// on its own host thread; a decode step is one CUDA graph per rank when the
// communicator is capturable (the NCCL calls inside it).
#pragma once

#include <cuda_bf16.h>

#include <map>
#include <memory>
#include <span>
#include <vector>

#include "backends/cuda/activations.h"
#include "backends/cuda/batch.h"
#include "backends/cuda/buffers.h"
#include "backends/cuda/fast_kernels.h"
#include "backends/cuda_tp/communicator.h"
#include "backends/cuda_tp/split.h"
#include "reference/model.h"

namespace gpt2::tp {

// A step as every rank is told it: the cuda backend's layout (cuda/batch.h)
// without cache pointers, and each sequence's session id (each rank puts in
// its own caches).
struct TpStep {
  cuda::StepLayout layout;
  std::vector<int> ids;
};

// One copy of Backend::copy_caches by session ids.
struct TpCopy {
  int from = 0, to = 0, positions = 0;
};

class TpRank {
 public:
  // Uploads rank comm->rank()'s shard to comm->device(). Throws (memory, CUDA).
  TpRank(const Model& model, bool bf16, std::unique_ptr<Communicator> comm);
  ~TpRank();
  TpRank(const TpRank&) = delete;
  TpRank& operator=(const TpRank&) = delete;

  // Session `id`'s caches of `capacity` positions (throws when they do not fit).
  void open(int id, int capacity);
  void close(int id);
  // Runs a step (every rank, at once); rank 0's outputs then in host_logits()
  // (the layout's output rows, V each) and host_probs().
  void forward(const TpStep& step);
  void copy(std::span<const TpCopy> copies);

  const float* host_logits() const { return act_.host_logits.get(); }
  const float* host_probs() const { return act_.host_probs.get(); }
  Communicator& comm() const { return *comm_; }
  const RankShape& shape() const { return shape_; }
  std::size_t weight_bytes() const;
  // The bytes a session of `capacity` positions takes on one rank.
  static std::size_t cache_bytes(const ModelConfig& c, const RankShape& s, int capacity);

 private:
  struct Cache {
    cuda::DeviceBuffer<float> keys, values;
    int capacity = 0;
  };
  void upload(const Model& model);
  bool grow(int R, int S, int O, int D);
  void drop_graphs();
  void capture(int bucket, bool probs, const cuda::StepLayout& layout);
  void enqueue_forward(const cuda::StepLayout& layout, bool probs);
  void enqueue_outputs(int outs, bool probs);
  // A product in the rank's precision.
  void matvec(const cuda::fast::Matvec& args, const void* weight);

  const ModelConfig config_;
  const bool bf16_;
  std::unique_ptr<Communicator> comm_;
  RankShape shape_;
  cudaStream_t stream_ = nullptr;
  // Weights: the replicated float32 tensors, the shards, the five matrices in
  // the precision the products read.
  cuda::DeviceBuffer<float> f32_;
  cuda::DeviceBuffer<__nv_bfloat16> b16_;
  const float *wpe_ = nullptr, *ln1w_ = nullptr, *ln1b_ = nullptr, *qkvb_ = nullptr;
  const float *attprojb_ = nullptr, *ln2w_ = nullptr, *ln2b_ = nullptr, *fcb_ = nullptr;
  const float *fcprojb_ = nullptr, *lnfw_ = nullptr, *lnfb_ = nullptr;
  const void *wte_ = nullptr, *qkvw_ = nullptr, *attprojw_ = nullptr, *fcw_ = nullptr;
  const void* fcprojw_ = nullptr;
  cuda::DeviceBuffer<float> pad_keys_, pad_values_;
  std::map<int, Cache> caches_;
  cuda::Activations act_;  // its heads' and hidden columns', grown as steps need
  cuda::StepDescriptors desc_;
  std::map<std::pair<int, bool>, cudaGraphExec_t> graphs_;
};

}  // namespace gpt2::tp
