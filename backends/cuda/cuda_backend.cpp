#include "backends/cuda/cuda_backend.h"

#include <cuda_bf16.h>

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "backends/cuda/buffers.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/fast_kernels.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/weights.h"
#include "reference/forward.h"

namespace gpt2 {

namespace {

using cuda::DeviceBuffer;
using cuda::DeviceWeights;
using cuda::Gemm;
using cuda::PinnedBuffer;
using cuda::fast::Epilogue;
using bf16 = __nv_bfloat16;

// Prompts of up to this many rows (decode: 1) go through the matrix-vector
// kernels (each weight read once for all rows); longer ones through cuBLASLt.
constexpr int kMatvecRows = 4;

class CudaSession final : public Session {
 public:
  CudaSession(const Model& model, const DeviceWeights& w, Gemm& gemm, int device, int capacity)
      : model_(model), w_(w), gemm_(gemm), bf16_(w.bf16), device_(device), capacity_(capacity) {
    const ModelConfig& c = model.config();
    check_session_capacity(c, capacity, "cuda");
    cuda::use_device(device_);
    const std::size_t T = capacity, C = c.channels, L = c.num_layers, V = c.vocab_size;
    GPT2_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    host_in_ = PinnedBuffer<int>(T + 1);  // the tokens, then the position
    host_logits_ = PinnedBuffer<float>(V);
    host_probs_ = PinnedBuffer<float>(V);
    in_ = DeviceBuffer<int>(T + 1, "the tokens");
    x_ = DeviceBuffer<float>(T * C, "the residual stream");
    ln_ = DeviceBuffer<float>(T * C, "the layernorm output");
    qkv_ = DeviceBuffer<float>(T * 3 * C, "the queries, keys and values");
    atty_ = DeviceBuffer<float>(T * C, "the attention output");
    fch_ = DeviceBuffer<float>(T * 4 * C, "the MLP's hidden layer");
    if (bf16_) {
      ln_bf_ = DeviceBuffer<bf16>(T * C, "the layernorm output (bfloat16)");
      atty_bf_ = DeviceBuffer<bf16>(T * C, "the attention output (bfloat16)");
      fch_bf_ = DeviceBuffer<bf16>(T * 4 * C, "the MLP's hidden layer (bfloat16)");
    }
    keys_ = DeviceBuffer<float>(L * T * C, "the key cache");
    values_ = DeviceBuffer<float>(L * T * C, "the value cache");
    partial_ =
        DeviceBuffer<float>(cuda::fast::attention_decode_scratch(c.channels, c.num_heads, capacity),
                            "attention scratch");
    cuda::fast::attention_decode_init(partial_.get(), c.channels, c.num_heads, capacity, stream_);
    logits_ = DeviceBuffer<float>(V, "the logits");
    softmax_partial_ = DeviceBuffer<float>(cuda::fast::softmax_scratch(int(V)), "softmax scratch");
    probs_ = DeviceBuffer<float>(V, "the probabilities");
  }
  ~CudaSession() override {
    if (graph_exec_ != nullptr) cudaGraphExecDestroy(graph_exec_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    const ModelConfig& cfg = model_.config();
    check_forward_args(cfg, tokens, pos, cached_, capacity_, logits, probs);
    cuda::use_device(device_);
    const int n = int(tokens.size());
    std::memcpy(host_in_.get(), tokens.data(), n * sizeof(int));
    host_in_.get()[capacity_] = pos;
    if (n == 1) {
      // A decode step: one CUDA graph (captured on the first) reads its token
      // and position from pinned memory and writes the logits back there.
      if (graph_exec_ == nullptr) capture_decode_graph();
      GPT2_CUDA(cudaGraphLaunch(graph_exec_, stream_));
    } else {
      enqueue_inputs(n);
      enqueue_forward(n);
      enqueue_outputs();
    }
    GPT2_CUDA(cudaStreamSynchronize(stream_));
    cached_ = pos + n;
    const int V = cfg.vocab_size;
    std::memcpy(logits.data(), host_logits_.get(), V * sizeof(float));
    std::memcpy(probs.data(), host_probs_.get(), V * sizeof(float));
  }
  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }

 private:
  void enqueue_inputs(int n) {
    GPT2_CUDA(cudaMemcpyAsync(in_.get(), host_in_.get(), n * sizeof(int), cudaMemcpyHostToDevice,
                              stream_));
    GPT2_CUDA(cudaMemcpyAsync(in_.get() + capacity_, host_in_.get() + capacity_, sizeof(int),
                              cudaMemcpyHostToDevice, stream_));
  }
  void enqueue_outputs() {
    const int V = model_.config().vocab_size;
    GPT2_CUDA(cudaMemcpyAsync(host_logits_.get(), logits_.get(), V * sizeof(float),
                              cudaMemcpyDeviceToHost, stream_));
    GPT2_CUDA(cudaMemcpyAsync(host_probs_.get(), probs_.get(), V * sizeof(float),
                              cudaMemcpyDeviceToHost, stream_));
  }

  void capture_decode_graph() {
    cudaGraph_t graph = nullptr;
    GPT2_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue_inputs(1);
      enqueue_forward(1);
      enqueue_outputs();
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph != nullptr) cudaGraphDestroy(graph);
      throw;
    }
    GPT2_CUDA(cudaStreamEndCapture(stream_, &graph));
    const cudaError_t status = cudaGraphInstantiate(&graph_exec_, graph, 0);
    cudaGraphDestroy(graph);
    GPT2_CUDA(status);
  }

  // A product through the matrix-vector kernels (a few rows), in the
  // backend's precision.
  void matvec(const cuda::fast::Matvec& args, const void* weight) {
    if (bf16_) {
      cuda::fast::matvec_forward(args, static_cast<const bf16*>(weight), stream_);
    } else {
      cuda::fast::matvec_forward(args, static_cast<const float*>(weight), stream_);
    }
  }

  // The forward pass of n tokens (inputs already on their way to in_): a few
  // rows through the matrix-vector kernels, with the layernorms and the
  // key/value store fused into the products that read and make them; more
  // through cuBLASLt.
  void enqueue_forward(int n) {
    const ModelConfig& cfg = model_.config();
    const int C = cfg.channels, NH = cfg.num_heads, L = cfg.num_layers, V = cfg.vocab_size;
    const long lC = C, cap = capacity_;
    const ParameterTensors& p = w_.p;
    const int* tokens = in_.get();
    const int* pos = in_.get() + capacity_;
    float* x = x_.get();
    if (bf16_) {
      cuda::fast::encoder_forward(x, tokens, static_cast<const bf16*>(w_.m_wte), p.wpe, pos, n, C,
                                  stream_);
    } else {
      cuda::fast::encoder_forward(x, tokens, p.wte, p.wpe, pos, n, C, stream_);
    }
    const std::size_t e = bf16_ ? sizeof(bf16) : sizeof(float);
    for (int l = 0; l < L; l++) {
      float* keys = keys_.get() + l * cap * lC;
      float* values = values_.get() + l * cap * lC;
      auto matrix = [&](const void* base, long per_layer) {
        return static_cast<const char*>(base) + std::size_t(l) * per_layer * e;
      };
      const void* qkvw = matrix(w_.m_qkvw, 3 * lC * lC);
      const void* attprojw = matrix(w_.m_attprojw, lC * lC);
      const void* fcw = matrix(w_.m_fcw, 4 * lC * lC);
      const void* fcprojw = matrix(w_.m_fcprojw, 4 * lC * lC);
      if (n <= kMatvecRows) {
        cuda::fast::Matvec qkv;
        qkv.out = qkv_.get(), qkv.inp = x, qkv.ln_weight = p.ln1w + l * lC;
        qkv.ln_bias = p.ln1b + l * lC, qkv.bias = p.qkvb + l * 3 * lC;
        qkv.epilogue = Epilogue::kBias, qkv.T = n, qkv.C = C, qkv.OC = 3 * C;
        qkv.keys = keys, qkv.values = values, qkv.pos = pos;
        matvec(qkv, qkvw);
      } else {
        layernorm(x, p.ln1w + l * lC, p.ln1b + l * lC, n, C);
        gemm(qkv_.get(), ln_.get(), ln_bf_.get(), qkvw, p.qkvb + l * 3 * lC, Epilogue::kBias, n, C,
             3 * C);
        cuda::fast::store_kv(keys, values, qkv_.get(), pos, n, C, stream_);
      }
      if (n == 1) {
        cuda::fast::attention_decode(atty_.get(), qkv_.get(), keys, values, partial_.get(), pos, C,
                                     NH, capacity_, stream_);
      } else {
        cuda::fast::attention_prefill(atty_.get(), qkv_.get(), keys, values, pos, n, C, NH,
                                      stream_);
      }
      if (n <= kMatvecRows) {
        cuda::fast::Matvec proj;
        proj.out = x, proj.inp = atty_.get(), proj.bias = p.attprojb + l * lC, proj.residual = x;
        proj.epilogue = Epilogue::kBiasResidual, proj.T = n, proj.C = C, proj.OC = C;
        matvec(proj, attprojw);
        cuda::fast::Matvec fc;
        fc.out = fch_.get(), fc.inp = x, fc.ln_weight = p.ln2w + l * lC;
        fc.ln_bias = p.ln2b + l * lC, fc.bias = p.fcb + l * 4 * lC;
        fc.epilogue = Epilogue::kBiasGelu, fc.T = n, fc.C = C, fc.OC = 4 * C;
        matvec(fc, fcw);
        cuda::fast::Matvec fcproj;
        fcproj.out = x, fcproj.inp = fch_.get(), fcproj.bias = p.fcprojb + l * lC;
        fcproj.residual = x, fcproj.epilogue = Epilogue::kBiasResidual, fcproj.T = n;
        fcproj.C = 4 * C, fcproj.OC = C;
        matvec(fcproj, fcprojw);
      } else {
        if (bf16_) cuda::fast::to_bf16(atty_bf_.get(), atty_.get(), long(n) * C, stream_);
        gemm(x, atty_.get(), atty_bf_.get(), attprojw, p.attprojb + l * lC, Epilogue::kBiasResidual,
             n, C, C);
        layernorm(x, p.ln2w + l * lC, p.ln2b + l * lC, n, C);
        gemm(fch_.get(), ln_.get(), ln_bf_.get(), fcw, p.fcb + l * 4 * lC, Epilogue::kBiasGelu, n,
             C, 4 * C);
        if (bf16_) cuda::fast::to_bf16(fch_bf_.get(), fch_.get(), long(n) * 4 * C, stream_);
        gemm(x, fch_.get(), fch_bf_.get(), fcprojw, p.fcprojb + l * lC, Epilogue::kBiasResidual, n,
             4 * C, C);
      }
    }
    // The last position only: the final layernorm fused into the logits over
    // the V real rows of wte, then the softmax.
    cuda::fast::Matvec logits;
    logits.out = logits_.get(), logits.inp = x + (n - 1) * lC, logits.ln_weight = p.lnfw;
    logits.ln_bias = p.lnfb, logits.epilogue = Epilogue::kNone, logits.T = 1, logits.C = C;
    logits.OC = V;
    matvec(logits, bf16_ ? w_.m_wte : static_cast<const void*>(p.wte));
    cuda::fast::softmax_forward(probs_.get(), softmax_partial_.get(), logits_.get(), V, stream_);
  }

  // ln (or its bfloat16 copy, which the products read) = layernorm(x (n, C)).
  void layernorm(const float* x, const float* weight, const float* bias, int n, int C) {
    if (bf16_) {
      cuda::fast::layernorm_forward(ln_bf_.get(), x, weight, bias, n, C, stream_);
    } else {
      cuda::fast::layernorm_forward(ln_.get(), x, weight, bias, n, C, stream_);
    }
  }

  // out (n, OC) = epilogue(inp (n, C) @ W^T) through cuBLASLt (bfloat16: from
  // inp_bf, inp's bfloat16 copy).
  void gemm(float* out, const float* inp, const bf16* inp_bf, const void* weight, const float* bias,
            Epilogue epilogue, int n, int C, int OC) {
    gemm_.run(out, bf16_ ? static_cast<const void*>(inp_bf) : inp, weight, bias, epilogue, n, C, OC,
              stream_);
  }

  const Model& model_;
  const DeviceWeights& w_;
  Gemm& gemm_;
  bool bf16_;
  int device_;
  int capacity_;
  int cached_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaGraphExec_t graph_exec_ = nullptr;
  PinnedBuffer<int> host_in_;
  PinnedBuffer<float> host_logits_, host_probs_;
  DeviceBuffer<int> in_;
  DeviceBuffer<float> x_, ln_, qkv_, atty_, fch_, keys_, values_, partial_, logits_, probs_,
      softmax_partial_;
  DeviceBuffer<bf16> ln_bf_, atty_bf_, fch_bf_;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<const Model> model, const BackendSpec& spec, BackendInfo info)
      : model_(std::move(model)),
        bf16_(spec.precision == Precision::kBFloat16),
        device_(cuda::single_device(spec)),
        info_(std::move(info)) {
    cuda::use_device(device_);
    weights_ = cuda::upload_weights(*model_, bf16_);
    gemm_ = std::make_unique<Gemm>(bf16_);
    info_.gpus = {cuda::gpu_info(device_)};
    const std::size_t mib = weights_.bytes() >> 20;
    info_.details =
        "fused CUDA kernels on " + info_.gpus[0].name + " (" +
        std::to_string(info_.gpus[0].sm_count) + " SMs): " + (bf16_ ? "bfloat16 weights, " : "") +
        "cuBLASLt " + gemm_->version() +
        (bf16_ ? " on the tensor cores (bfloat16 in, float32 compute)"
               : " (float32 compute, TF32 off)") +
        " for prompts of " + std::to_string(kMatvecRows + 1) +
        "+ tokens with bias, GELU and residual epilogues; its own matrix-vector kernels for 1-" +
        std::to_string(kMatvecRows) +
        " rows; FlashAttention-style prefill, split-key decode attention; each decode step one "
        "CUDA graph; weights on the device: " +
        std::to_string(mib) + " MiB";
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<CudaSession>(*model_, weights_, *gemm_, device_, capacity);
  }

 private:
  std::shared_ptr<const Model> model_;
  bool bf16_;
  int device_;
  BackendInfo info_;
  DeviceWeights weights_;
  std::unique_ptr<Gemm> gemm_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const Model> model,
                                           const BackendSpec& spec, BackendInfo info) {
  return std::make_unique<CudaBackend>(std::move(model), spec, std::move(info));
}

}  // namespace gpt2
