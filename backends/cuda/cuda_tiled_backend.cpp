#include "backends/cuda/cuda_tiled_backend.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "backends/cuda/batch.h"
#include "backends/cuda/buffers.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/tiled_kernels.h"
#include "backends/cuda/weights.h"

namespace gpt2 {

namespace {

using cuda::BatchRow;
using cuda::CacheSession;
using cuda::DeviceBuffer;
using cuda::PinnedBuffer;
using cuda::StepLayout;
using cuda::tiled::Epilogue;

// The activations of a step of R rows and O <= R output rows, grown as steps need.
struct Activations {
  int rows = 0, outs = 0;
  DeviceBuffer<float> x, ln, qkv, atty, fch, last, logits, probs;
  PinnedBuffer<float> host_logits, host_probs;

  // Everything new is allocated before anything is replaced: a step that
  // does not fit leaves the old buffers as they were.
  void ensure(const ModelConfig& c, int R, int O) {
    const std::size_t C = c.channels, V = c.vocab_size;
    if (R > rows) {
      DeviceBuffer<float> x2(R * C, "the residual stream");
      DeviceBuffer<float> ln2(R * C, "the layernorm output");
      DeviceBuffer<float> qkv2(R * 3 * C, "the queries, keys and values");
      DeviceBuffer<float> atty2(R * C, "the attention output");
      DeviceBuffer<float> fch2(R * 4 * C, "the MLP's hidden layer");
      x = std::move(x2), ln = std::move(ln2), qkv = std::move(qkv2), atty = std::move(atty2);
      fch = std::move(fch2);
      rows = R;
    }
    if (O > outs) {
      DeviceBuffer<float> last2(O * C, "the last positions");
      DeviceBuffer<float> logits2(O * V, "the logits");
      DeviceBuffer<float> probs2(O * V, "the probabilities");
      PinnedBuffer<float> host_logits2(O * V), host_probs2(O * V);
      last = std::move(last2), logits = std::move(logits2), probs = std::move(probs2);
      host_logits = std::move(host_logits2), host_probs = std::move(host_probs2);
      outs = O;
    }
  }
};

class CudaTiledBackend final : public Backend {
 public:
  CudaTiledBackend(std::shared_ptr<const Model> model, const BackendSpec& spec, BackendInfo info)
      : model_(std::move(model)), device_(cuda::single_device(spec)), info_(std::move(info)) {
    cuda::use_device(device_);
    weights_ = cuda::upload_weights(*model_, false);
    GPT2_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    info_.gpus = {cuda::gpu_info(device_)};
    info_.details = "tiled CUDA kernels on " + info_.gpus[0].name +
                    ": matrix products tiled through shared memory with register blocking, "
                    "each output's sum in the reference's order with no FMA; every sequence of a "
                    "step in the same launches; the reference's bits at every batch size; weights "
                    "uploaded once (" +
                    std::to_string(weights_.all.bytes() >> 20) + " MiB)";
  }
  ~CudaTiledBackend() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::optional<std::size_t> device_memory_free() const override {
    return cuda::free_memory(device_);
  }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<CacheSession>(*this, device_, capacity, "cuda-tiled");
  }
  void forward_batch(std::span<const SequenceStep> steps) const override;
  void copy_caches(std::span<const CacheCopy> copies) const override {
    cuda::use_device(device_);
    std::lock_guard lock(mutex_);
    cuda::copy_cache_sessions(copies, *this, stream_);
  }

 private:
  void enqueue_forward(const StepLayout& layout, bool probs) const;

  std::shared_ptr<const Model> model_;
  int device_;
  BackendInfo info_;
  cuda::DeviceWeights weights_;
  cudaStream_t stream_ = nullptr;
  mutable std::mutex mutex_;  // one step at a time: the activations are shared
  mutable Activations act_;
  mutable cuda::StepDescriptors desc_;
};

void CudaTiledBackend::forward_batch(std::span<const SequenceStep> steps) const {
  const ModelConfig& c = model_->config();
  check_batch_steps(c, steps);
  StepLayout layout = cuda::lay_out(steps, *this, c.channels);
  if (steps.empty()) return;
  std::lock_guard lock(mutex_);
  cuda::use_device(device_);
  const int R = layout.rows_count(), S = layout.seqs_count(), O = layout.outs_count();
  const int V = c.vocab_size;
  act_.ensure(c, R, O);
  desc_.reserve(R, S, O);
  desc_.stage(layout);
  desc_.enqueue_upload(stream_);
  const bool probs = layout.probs;
  enqueue_forward(layout, probs);
  GPT2_CUDA(cudaMemcpyAsync(act_.host_logits.get(), act_.logits.get(),
                            std::size_t(O) * V * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  if (probs) {
    GPT2_CUDA(cudaMemcpyAsync(act_.host_probs.get(), act_.probs.get(),
                              std::size_t(O) * V * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  }
  GPT2_CUDA(cudaStreamSynchronize(stream_));
  cuda::finish_step(layout, steps, act_.host_logits.get(), act_.host_probs.get(), V);
}

// The reference's forward pass (reference/forward.cpp) over the step's
// stacked rows, each sequence's attention over its own cache.
void CudaTiledBackend::enqueue_forward(const StepLayout& layout, bool probs) const {
  const ModelConfig& c = model_->config();
  const int C = c.channels, NH = c.num_heads, L = c.num_layers, V = c.vocab_size;
  const int R = layout.rows_count(), O = layout.outs_count();
  const long lC = C;
  const ParameterTensors& p = weights_.p;
  int max_positions = 1;
  for (const BatchRow& r : layout.rows) max_positions = std::max(max_positions, r.pos + 1);
  const cudaStream_t s = stream_;
  Activations& a = act_;
  float* x = a.x.get();
  cuda::tiled::encoder_forward(x, desc_.rows(), p.wte, p.wpe, R, C, s);
  for (int l = 0; l < L; l++) {
    cuda::tiled::layernorm_forward(a.ln.get(), x, p.ln1w + l * lC, p.ln1b + l * lC, R, C, s);
    cuda::tiled::matmul_forward(a.qkv.get(), a.ln.get(), p.qkvw + l * 3 * lC * lC,
                                p.qkvb + l * 3 * lC, nullptr, Epilogue::kStore, R, C, 3 * C, s);
    cuda::tiled::store_kv(desc_.rows(), desc_.seqs(), a.qkv.get(), l, R, C, s);
    cuda::tiled::attention_forward(a.atty.get(), a.qkv.get(), desc_.rows(), desc_.seqs(), l, R, C,
                                   NH, max_positions, s);
    cuda::tiled::matmul_forward(x, a.atty.get(), p.attprojw + l * lC * lC, p.attprojb + l * lC, x,
                                Epilogue::kResidual, R, C, C, s);
    cuda::tiled::layernorm_forward(a.ln.get(), x, p.ln2w + l * lC, p.ln2b + l * lC, R, C, s);
    cuda::tiled::matmul_forward(a.fch.get(), a.ln.get(), p.fcw + l * 4 * lC * lC,
                                p.fcb + l * 4 * lC, nullptr, Epilogue::kGelu, R, C, 4 * C, s);
    cuda::tiled::matmul_forward(x, a.fch.get(), p.fcprojw + l * 4 * lC * lC, p.fcprojb + l * lC, x,
                                Epilogue::kResidual, R, 4 * C, C, s);
  }
  // The output rows only: final layernorm, the tied wte over V tokens, and
  // the softmax when the step wants it.
  cuda::tiled::gather_rows(a.last.get(), x, desc_.out_rows(), O, C, s);
  cuda::tiled::layernorm_forward(a.ln.get(), a.last.get(), p.lnfw, p.lnfb, O, C, s);
  cuda::tiled::matmul_forward(a.logits.get(), a.ln.get(), p.wte, nullptr, nullptr, Epilogue::kStore,
                              O, C, V, s);
  if (probs) cuda::tiled::softmax_forward(a.probs.get(), a.logits.get(), O, V, s);
}

}  // namespace

std::unique_ptr<Backend> make_cuda_tiled_backend(std::shared_ptr<const Model> model,
                                                 const BackendSpec& spec, BackendInfo info) {
  return std::make_unique<CudaTiledBackend>(std::move(model), spec, std::move(info));
}

}  // namespace gpt2
