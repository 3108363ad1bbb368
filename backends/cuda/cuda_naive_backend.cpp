#include "backends/cuda/cuda_naive_backend.h"

#include <stdexcept>
#include <vector>

#include "backends/cuda/buffers.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/naive_kernels.h"
#include "backends/cuda/weights.h"
#include "reference/forward.h"

namespace gpt2 {

namespace {

using cuda::DeviceBuffer;
using cuda::DeviceWeights;

// The state of one sequence: the key/value cache of every layer and the
// activations of one call, all on the device, allocated once.
class CudaNaiveSession final : public Session {
 public:
  CudaNaiveSession(const Model& model, const DeviceWeights& w, int device, int capacity)
      : model_(model), w_(w), device_(device), capacity_(capacity) {
    const ModelConfig& c = model.config();
    check_session_capacity(c, capacity, "cuda-naive");
    cuda::use_device(device_);
    const std::size_t T = capacity, C = c.channels, L = c.num_layers, NH = c.num_heads;
    tokens_ = DeviceBuffer<int>(T, "the tokens");
    x_ = DeviceBuffer<float>(T * C, "the residual stream");
    ln_ = DeviceBuffer<float>(T * C, "the layernorm output");
    stats_ = DeviceBuffer<float>(2 * T, "the layernorm statistics");
    qkv_ = DeviceBuffer<float>(T * 3 * C, "the queries, keys and values");
    atty_ = DeviceBuffer<float>(T * C, "the attention output");
    proj_ = DeviceBuffer<float>(T * C, "the projections");
    fch_ = DeviceBuffer<float>(T * 4 * C, "the MLP's hidden layer");
    gelu_ = DeviceBuffer<float>(T * 4 * C, "the GELU output");
    att_ = DeviceBuffer<float>(T * NH * T, "the attention weights");
    keys_ = DeviceBuffer<float>(L * T * C, "the key cache");
    values_ = DeviceBuffer<float>(L * T * C, "the value cache");
    logits_ = DeviceBuffer<float>(c.vocab_size, "the logits");
    probs_ = DeviceBuffer<float>(c.vocab_size, "the probabilities");
  }

  // The reference's forward pass (reference/forward.cpp), kernel for kernel.
  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    const ModelConfig& cfg = model_.config();
    check_forward_args(cfg, tokens, pos, cached_, capacity_, logits, probs);
    cuda::use_device(device_);
    const int n = int(tokens.size());
    const int C = cfg.channels, NH = cfg.num_heads, L = cfg.num_layers, V = cfg.vocab_size;
    const long lC = C, cap = capacity_;
    const ParameterTensors& p = w_.p;
    const cudaStream_t s = nullptr;  // the default stream: each call runs in order
    GPT2_CUDA(cudaMemcpy(tokens_.get(), tokens.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    float* x = x_.get();
    cuda::naive::encoder_forward(x, tokens_.get(), p.wte, p.wpe, pos, n, C, s);
    for (int l = 0; l < L; l++) {
      float* keys = keys_.get() + l * cap * lC;
      float* values = values_.get() + l * cap * lC;
      cuda::naive::layernorm_forward(ln_.get(), stats_.get(), x, p.ln1w + l * lC, p.ln1b + l * lC,
                                     n, C, s);
      cuda::naive::matmul_forward(qkv_.get(), ln_.get(), p.qkvw + l * 3 * lC * lC,
                                  p.qkvb + l * 3 * lC, n, C, 3 * C, s);
      cuda::naive::store_kv(keys, values, qkv_.get(), pos, n, C, s);
      cuda::naive::attention_forward(atty_.get(), qkv_.get(), keys, values, att_.get(), pos, n, C,
                                     NH, s);
      cuda::naive::matmul_forward(proj_.get(), atty_.get(), p.attprojw + l * lC * lC,
                                  p.attprojb + l * lC, n, C, C, s);
      cuda::naive::residual_forward(x, x, proj_.get(), n * C, s);
      cuda::naive::layernorm_forward(ln_.get(), stats_.get(), x, p.ln2w + l * lC, p.ln2b + l * lC,
                                     n, C, s);
      cuda::naive::matmul_forward(fch_.get(), ln_.get(), p.fcw + l * 4 * lC * lC,
                                  p.fcb + l * 4 * lC, n, C, 4 * C, s);
      cuda::naive::gelu_forward(gelu_.get(), fch_.get(), n * 4 * C, s);
      cuda::naive::matmul_forward(proj_.get(), gelu_.get(), p.fcprojw + l * 4 * lC * lC,
                                  p.fcprojb + l * lC, n, 4 * C, C, s);
      cuda::naive::residual_forward(x, x, proj_.get(), n * C, s);
    }
    cached_ = pos + n;
    // The last position only: final layernorm, the tied wte over V tokens, softmax.
    cuda::naive::layernorm_forward(ln_.get(), stats_.get(), x + (n - 1) * lC, p.lnfw, p.lnfb, 1, C,
                                   s);
    cuda::naive::matmul_forward(logits_.get(), ln_.get(), p.wte, nullptr, 1, C, V, s);
    cuda::naive::softmax_forward(probs_.get(), stats_.get(), logits_.get(), V, s);
    // The harness decides on the host: the logits and probabilities come back.
    GPT2_CUDA(cudaMemcpy(logits.data(), logits_.get(), V * sizeof(float), cudaMemcpyDeviceToHost));
    GPT2_CUDA(cudaMemcpy(probs.data(), probs_.get(), V * sizeof(float), cudaMemcpyDeviceToHost));
  }
  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }
  const DeviceWeights* weights() const { return &w_; }
  // Enqueues the copy of from's first positions on the default stream (the
  // one forward runs on), per layer (capacity, C).
  void enqueue_copy_from(const CudaNaiveSession& from, int positions) {
    const ModelConfig& c = model_.config();
    const std::size_t C = c.channels, L = c.num_layers;
    const std::size_t width = std::size_t(positions) * C * sizeof(float);
    const std::size_t from_pitch = std::size_t(from.capacity_) * C * sizeof(float);
    const std::size_t to_pitch = std::size_t(capacity_) * C * sizeof(float);
    if (width > 0) {
      GPT2_CUDA(cudaMemcpy2DAsync(keys_.get(), to_pitch, from.keys_.get(), from_pitch, width, L,
                                  cudaMemcpyDeviceToDevice, nullptr));
      GPT2_CUDA(cudaMemcpy2DAsync(values_.get(), to_pitch, from.values_.get(), from_pitch, width, L,
                                  cudaMemcpyDeviceToDevice, nullptr));
    }
    cached_ = positions;
  }

 private:
  const Model& model_;
  const DeviceWeights& w_;
  int device_;
  int capacity_;
  int cached_ = 0;
  DeviceBuffer<int> tokens_;
  DeviceBuffer<float> x_, ln_, stats_, qkv_, atty_, proj_, fch_, gelu_, att_, keys_, values_,
      logits_, probs_;
};

class CudaNaiveBackend final : public Backend {
 public:
  CudaNaiveBackend(std::shared_ptr<const Model> model, const BackendSpec& spec, BackendInfo info)
      : model_(std::move(model)), device_(cuda::single_device(spec)), info_(std::move(info)) {
    cuda::use_device(device_);
    weights_ = cuda::upload_weights(*model_, false);
    info_.gpus = {cuda::gpu_info(device_)};
    info_.details = "naive CUDA kernels on " + info_.gpus[0].name +
                    ": one thread per output, every sum in the reference's order, the "
                    "reference's exp and tanh, no FMA contraction; weights uploaded once (" +
                    std::to_string(weights_.all.bytes() >> 20) + " MiB)";
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::optional<std::size_t> device_memory_free() const override {
    return cuda::free_memory(device_);
  }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<CudaNaiveSession>(*model_, weights_, device_, capacity);
  }
  void copy_caches(std::span<const CacheCopy> copies) const override {
    check_cache_copies(copies);
    for (const CacheCopy& c : copies) {
      const auto* from = dynamic_cast<const CudaNaiveSession*>(c.from);
      const auto* to = dynamic_cast<const CudaNaiveSession*>(c.to);
      if (!from || !to || from->weights() != &weights_ || to->weights() != &weights_) {
        throw std::invalid_argument("copy_caches: a session of another backend");
      }
    }
    cuda::use_device(device_);
    for (const CacheCopy& c : copies) {
      static_cast<CudaNaiveSession*>(c.to)->enqueue_copy_from(
          *static_cast<const CudaNaiveSession*>(c.from), c.positions);
    }
    GPT2_CUDA(cudaStreamSynchronize(nullptr));
  }

 private:
  std::shared_ptr<const Model> model_;
  int device_;
  BackendInfo info_;
  DeviceWeights weights_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_naive_backend(std::shared_ptr<const Model> model,
                                                 const BackendSpec& spec, BackendInfo info) {
  return std::make_unique<CudaNaiveBackend>(std::move(model), spec, std::move(info));
}

}  // namespace gpt2
