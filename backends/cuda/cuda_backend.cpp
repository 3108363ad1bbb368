#include "backends/cuda/cuda_backend.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "backends/cuda/activations.h"
#include "backends/cuda/batch.h"
#include "backends/cuda/buffers.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/fast_kernels.h"
#include "backends/cuda/weights.h"

namespace gpt2 {

namespace {

using cuda::Activations;
using cuda::BatchSeq;
using cuda::CacheSession;
using cuda::DeviceBuffer;
using cuda::StepLayout;
using cuda::fast::Epilogue;
using bf16 = __nv_bfloat16;

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<const Model> model, const BackendSpec& spec, BackendInfo info)
      : model_(std::move(model)),
        bf16_(spec.precision == Precision::kBFloat16),
        device_(cuda::single_device(spec)),
        info_(std::move(info)),
        act_(cuda::whole_model_shape(model_->config())) {
    cuda::use_device(device_);
    weights_ = cuda::upload_weights(*model_, bf16_);
    const ModelConfig& c = model_->config();
    const std::size_t pad = std::size_t(c.num_layers) * c.channels;
    pad_keys_ = DeviceBuffer<float>(pad, "the padding rows' keys");
    pad_values_ = DeviceBuffer<float>(pad, "the padding rows' values");
    GPT2_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    info_.gpus = {cuda::gpu_info(device_)};
    const std::size_t mib = weights_.bytes() >> 20;
    info_.details =
        "fused CUDA kernels on " + info_.gpus[0].name + " (" +
        std::to_string(info_.gpus[0].sm_count) +
        " SMs): " + (bf16_ ? "bfloat16 weights, float32 activations and sums; " : "") +
        "every product through its own kernels, each output's sum in one order for any number "
        "of rows (batch-invariant), the layernorms and the key/value store fused into them; "
        "FlashAttention-style prefill, split-key decode attention (64 keys a split); every "
        "sequence of a step in the same launches; each decode step one CUDA graph per bucket "
        "of batch sizes (1, 2, 4, 8, then multiples of 16); weights on the device: " +
        std::to_string(mib) + " MiB";
  }
  ~CudaBackend() override {
    for (auto& [bucket, exec] : graphs_) cudaGraphExecDestroy(exec);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::optional<std::size_t> device_memory_free() const override {
    return cuda::free_memory(device_);
  }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<CacheSession>(*this, device_, capacity, "cuda");
  }
  void forward_batch(std::span<const SequenceStep> steps) const override;
  void copy_caches(std::span<const CacheCopy> copies) const override {
    cuda::use_device(device_);
    std::lock_guard lock(mutex_);
    cuda::copy_cache_sessions(copies, *this, stream_);
  }

 private:
  void enqueue_forward(const StepLayout& layout, bool probs) const;
  void enqueue_outputs(int outs, bool probs) const;
  void capture(int bucket, bool probs, const StepLayout& layout) const;
  bool grow(int R, int S, int O, int D) const;
  void drop_graphs() const;

  // A product through the row-invariant kernels, in the backend's precision.
  void matvec(const cuda::fast::Matvec& args, const void* weight) const {
    if (bf16_) {
      cuda::fast::matvec_forward(args, static_cast<const bf16*>(weight), stream_);
    } else {
      cuda::fast::matvec_forward(args, static_cast<const float*>(weight), stream_);
    }
  }

  std::shared_ptr<const Model> model_;
  bool bf16_;
  int device_;
  BackendInfo info_;
  cuda::DeviceWeights weights_;
  DeviceBuffer<float> pad_keys_, pad_values_;  // the padding rows' one-position caches
  cudaStream_t stream_ = nullptr;
  mutable std::mutex mutex_;  // one step at a time: the activations are shared
  mutable Activations act_;
  mutable cuda::StepDescriptors desc_;
  // Decode steps, by batch bucket and whether the probabilities come back.
  mutable std::map<std::pair<int, bool>, cudaGraphExec_t> graphs_;
};

void CudaBackend::forward_batch(std::span<const SequenceStep> steps) const {
  const ModelConfig& c = model_->config();
  check_batch_steps(c, steps);
  StepLayout layout = cuda::lay_out(steps, *this, c.channels);
  if (steps.empty()) return;
  std::lock_guard lock(mutex_);
  cuda::use_device(device_);
  const int S = layout.seqs_count(), V = c.vocab_size;
  const bool probs = layout.probs;
  if (layout.decode_only) {
    // One graph per bucket of batch sizes; the rows past S are padding.
    const int bucket = cuda::decode_bucket(S);
    cuda::pad_decode(layout, bucket, pad_keys_.get(), pad_values_.get(), c.channels);
    const bool moved = grow(bucket, bucket, bucket, bucket);
    if (moved) drop_graphs();
    desc_.stage(layout);
    const std::pair key{bucket, probs};
    if (graphs_.find(key) == graphs_.end()) capture(bucket, probs, layout);
    GPT2_CUDA(cudaGraphLaunch(graphs_.at(key), stream_));
  } else {
    const int R = layout.rows_count(), O = layout.outs_count();
    const bool moved = grow(R, S, O, layout.decodes_count());
    if (moved) drop_graphs();
    desc_.stage(layout);
    desc_.enqueue_upload(stream_);
    enqueue_forward(layout, probs);
    enqueue_outputs(O, probs);
  }
  GPT2_CUDA(cudaStreamSynchronize(stream_));
  cuda::finish_step(layout, steps, act_.host_logits.get(), act_.host_probs.get(), V);
}

// Room for a step of R rows, S sequences, O output rows and D decoding
// sequences; true when a buffer moved. Should an allocation fail after
// another buffer moved, the graphs go before the error leaves.
bool CudaBackend::grow(int R, int S, int O, int D) const {
  try {
    const bool acts = act_.ensure(R, O, D, stream_);
    return desc_.reserve(R, S, O) || acts;
  } catch (...) {
    drop_graphs();
    throw;
  }
}

void CudaBackend::drop_graphs() const {
  for (auto& [bucket, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
}

// The decode step of `bucket` sequences as one graph: the descriptors' upload
// (from pinned memory, staged before each launch), the forward pass, the
// outputs' copies back.
void CudaBackend::capture(int bucket, bool probs, const StepLayout& layout) const {
  graphs_[{bucket, probs}] = cuda::capture_graph(stream_, [&] {
    desc_.enqueue_upload(stream_);
    enqueue_forward(layout, probs);
    enqueue_outputs(bucket, probs);
  });
}

void CudaBackend::enqueue_outputs(int outs, bool probs) const {
  const std::size_t bytes = std::size_t(outs) * model_->config().vocab_size * sizeof(float);
  GPT2_CUDA(cudaMemcpyAsync(act_.host_logits.get(), act_.logits.get(), bytes,
                            cudaMemcpyDeviceToHost, stream_));
  if (probs) {
    GPT2_CUDA(cudaMemcpyAsync(act_.host_probs.get(), act_.probs.get(), bytes,
                              cudaMemcpyDeviceToHost, stream_));
  }
}

// The forward pass of the step's stacked rows (descriptors already on their
// way): every product through the row-invariant kernels with the layernorms
// and the key/value store fused into them; decode attention for every
// sequence that advances by one token in one launch, prefill attention for
// each longer one; the output rows' logits (and their softmax when wanted). What the host knows of
// the layout here (the counts, the prompts) is fixed for a captured graph:
// a decode bucket's counts do not change, and the rest the kernels read from
// the descriptors.
void CudaBackend::enqueue_forward(const StepLayout& layout, bool probs) const {
  const ModelConfig& cfg = model_->config();
  const int C = cfg.channels, NH = cfg.num_heads, L = cfg.num_layers, V = cfg.vocab_size;
  const int R = layout.rows_count(), O = layout.outs_count();
  const long lC = C;
  const ParameterTensors& p = weights_.p;
  Activations& a = act_;
  float* x = a.x.get();
  if (bf16_) {
    cuda::fast::encoder_forward(x, desc_.rows(), static_cast<const bf16*>(weights_.m_wte), p.wpe, R,
                                C, stream_);
  } else {
    cuda::fast::encoder_forward(x, desc_.rows(), p.wte, p.wpe, R, C, stream_);
  }
  const int D = layout.decodes_count();
  const std::size_t e = bf16_ ? sizeof(bf16) : sizeof(float);
  for (int l = 0; l < L; l++) {
    auto matrix = [&](const void* base, long per_layer) {
      return static_cast<const char*>(base) + std::size_t(l) * per_layer * e;
    };
    cuda::fast::Matvec qkv;
    qkv.out = a.qkv.get(), qkv.inp = x, qkv.ln_weight = p.ln1w + l * lC;
    qkv.ln_bias = p.ln1b + l * lC, qkv.bias = p.qkvb + l * 3 * lC;
    qkv.epilogue = Epilogue::kBias, qkv.T = R, qkv.C = C, qkv.OC = 3 * C;
    qkv.rows = desc_.rows(), qkv.seqs = desc_.seqs(), qkv.layer = l;
    matvec(qkv, matrix(weights_.m_qkvw, 3 * lC * lC));
    if (D > 0) {
      cuda::fast::attention_decode_rows(a.atty.get(), a.qkv.get(), desc_.rows(), desc_.seqs(),
                                        desc_.decode_rows(), l, a.partial.get(), D, C, NH,
                                        cfg.max_seq_len, stream_);
    }
    for (int s = 0; s < layout.seqs_count(); s++) {
      const BatchSeq& q = layout.seqs[s];
      if (q.n == 1) continue;
      cuda::fast::attention_prefill(a.atty.get() + q.first * lC, a.qkv.get() + q.first * 3 * lC,
                                    q.keys + l * q.layer_floats, q.values + l * q.layer_floats,
                                    desc_.seq_pos(s), q.n, C, NH, stream_);
    }
    cuda::fast::Matvec proj;
    proj.out = x, proj.inp = a.atty.get(), proj.bias = p.attprojb + l * lC, proj.residual = x;
    proj.epilogue = Epilogue::kBiasResidual, proj.T = R, proj.C = C, proj.OC = C;
    matvec(proj, matrix(weights_.m_attprojw, lC * lC));
    cuda::fast::Matvec fc;
    fc.out = a.fch.get(), fc.inp = x, fc.ln_weight = p.ln2w + l * lC;
    fc.ln_bias = p.ln2b + l * lC, fc.bias = p.fcb + l * 4 * lC;
    fc.epilogue = Epilogue::kBiasGelu, fc.T = R, fc.C = C, fc.OC = 4 * C;
    matvec(fc, matrix(weights_.m_fcw, 4 * lC * lC));
    cuda::fast::Matvec fcproj;
    fcproj.out = x, fcproj.inp = a.fch.get(), fcproj.bias = p.fcprojb + l * lC;
    fcproj.residual = x, fcproj.epilogue = Epilogue::kBiasResidual, fcproj.T = R;
    fcproj.C = 4 * C, fcproj.OC = C;
    matvec(fcproj, matrix(weights_.m_fcprojw, 4 * lC * lC));
  }
  // The output rows only: the final layernorm fused into the logits over the
  // V real rows of wte, then each row's softmax.
  cuda::fast::Matvec logits;
  logits.out = a.logits.get(), logits.inp = x, logits.inp_rows = desc_.out_rows();
  logits.ln_weight = p.lnfw, logits.ln_bias = p.lnfb, logits.epilogue = Epilogue::kNone;
  logits.T = O, logits.C = C, logits.OC = V;
  matvec(logits, bf16_ ? weights_.m_wte : static_cast<const void*>(p.wte));
  if (probs) {
    cuda::fast::softmax_forward(a.probs.get(), a.softmax_partial.get(), a.logits.get(), O, V,
                                stream_);
  }
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info) {
  return std::make_unique<CudaBackend>(std::move(model), spec, std::move(info));
}

}  // namespace gpt2
