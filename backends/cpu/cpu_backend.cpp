#include "backends/cpu/cpu_backend.h"

#include "backends/cpu/packed_linear.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/layers.h"
#include "backends/cpu/packed.h"
#include "reference/forward.h"
#include "reference/kernels.h"

namespace gpt2::cpu {

namespace {

class CpuSession final : public Session {
 public:
  CpuSession(std::shared_ptr<Engine> engine, int capacity)
      : engine_(std::move(engine)), capacity_(capacity) {
    const ModelConfig& c = engine_->model->config();
    check_session_capacity(c, capacity, "cpu");
    const std::size_t T = capacity, C = c.channels, L = c.num_layers;
    const int workers = engine_->executor->threads();
    x_ = AlignedFloats(T * C);
    ln_ = AlignedFloats(T * C);
    q_ = AlignedFloats(T * C);
    atty_ = AlignedFloats(T * C);
    fch_ = AlignedFloats(T * 4 * C);
    keys_t_ = AlignedFloats(L * C * T);  // per layer (NH, hs, capacity)
    values_ = AlignedFloats(L * T * C);  // per layer (capacity, C)
    att_ = AlignedFloats(std::size_t(workers) * attention_scratch(capacity));
    partial_max_.resize(workers);
  }

  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }

  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    const Model& model = *engine_->model;
    const ModelConfig& c = model.config();
    check_forward_args(c, tokens, pos, cached_, capacity_, logits, probs);
    Executor& ex = *engine_->executor;
    LinearLayers& linear = *engine_->linear;
    const Kernels& k = *engine_->kernels;
    const ParameterTensors& p = model.params();
    const int n = int(tokens.size());
    const int C = c.channels, NH = c.num_heads, hs = C / NH, L = c.num_layers, V = c.vocab_size;
    const long lC = C, cap = capacity_;
    float* x = x_.data();

    encoder_rows(
        x, tokens.data(), [&](int token, float* out) { linear.wte_row(token, out); }, p.wpe, pos, n,
        C, ex);
    for (int l = 0; l < L; l++) {
      float* keys_t = keys_t_.data() + l * lC * cap;
      float* values = values_.data() + l * cap * lC;
      layernorm_rows(ln_.data(), x, p.ln1w + l * lC, p.ln1b + l * lC, n, C, ex);
      const Epilogue qkv = Epilogue::qkv(q_.data(), keys_t, values, pos, capacity_, C, hs);
      linear.run(Linear::kQkv, l, ln_.data(), n, qkv, ex);
      attention_layer(atty_.data(), q_.data(), keys_t, values, capacity_, pos, n, NH, C,
                      att_.data(), k, ex);
      linear.run(Linear::kAttProj, l, atty_.data(), n, {Epilogue::kAdd, x, C}, ex);
      layernorm_rows(ln_.data(), x, p.ln2w + l * lC, p.ln2b + l * lC, n, C, ex);
      linear.run(Linear::kFc, l, ln_.data(), n, {Epilogue::kGelu, fch_.data(), 4 * C}, ex);
      linear.run(Linear::kFcProj, l, fch_.data(), n, {Epilogue::kAdd, x, C}, ex);
    }
    cached_ = pos + n;

    // The last position only: final layernorm, logits over the V real tokens,
    // softmax (the maximum and the exponentials in parallel, their sum in order).
    float* last = ln_.data();
    ref::layernorm_forward(last, x + (n - 1) * lC, p.lnfw, p.lnfb, 1, C);
    linear.run(Linear::kLogits, 0, last, 1, {Epilogue::kStore, logits.data(), V}, ex);
    softmax_row(probs.data(), logits.data(), V, partial_max_.data(), k, ex);
  }

 private:
  std::shared_ptr<Engine> engine_;
  int capacity_;
  int cached_ = 0;
  AlignedFloats x_, ln_, q_, atty_, fch_, keys_t_, values_, att_;
  std::vector<float> partial_max_;
};

}  // namespace

CpuBackend::CpuBackend(BackendInfo info, std::shared_ptr<Engine> engine)
    : info_(std::move(info)), engine_(std::move(engine)) {}

std::unique_ptr<Backend> make_bit_exact_backend(std::shared_ptr<const Model> model,
                                                BackendInfo info,
                                                std::unique_ptr<Executor> executor,
                                                const std::string& threading) {
  auto engine = std::make_shared<Engine>();
  engine->model = model;
  engine->executor = std::move(executor);
  engine->kernels = &best_kernels();
  engine->linear = std::make_unique<PackedLinear>(model, *engine->kernels, *engine->executor,
                                                  weight_format(info.precision));
  info.details = threading + ", " + engine->linear->details();
  return std::make_unique<CpuBackend>(std::move(info), std::move(engine));
}

std::unique_ptr<Session> CpuBackend::open_session(int capacity) const {
  return std::make_unique<CpuSession>(engine_, capacity);
}

}  // namespace gpt2::cpu
