#include "backends/reference/reference_backend.h"

#include <stdexcept>

#include "reference/forward.h"

namespace gpt2 {

namespace {

class ReferenceSession final : public Session {
 public:
  // model: the one whose weights the products read (dequantized for bf16w and int8w).
  ReferenceSession(std::shared_ptr<const Model> model, int capacity)
      : model_(std::move(model)), state_(model_->config(), capacity) {}

  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    reference_forward(*model_, tokens, pos, state_, logits, probs);
  }
  int cached() const override { return state_.cached(); }
  int capacity() const override { return state_.capacity(); }
  const Model* weights() const { return model_.get(); }
  ReferenceState& state() { return state_; }
  const ReferenceState& state() const { return state_; }

 private:
  std::shared_ptr<const Model> model_;
  ReferenceState state_;
};

class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend(std::shared_ptr<const Model> model, BackendInfo info)
      : model_(std::move(model)),
        weights_(dequantized_model(model_, weight_format(info.precision))),
        info_(std::move(info)) {
    info_.details = "frozen serial reference, scalar loops";
    if (info_.precision != Precision::kFloat32) {
      info_.details += std::string(", weights dequantized from ") + precision_name(info_.precision);
    }
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<ReferenceSession>(weights_, capacity);
  }
  void copy_caches(std::span<const CacheCopy> copies) const override {
    check_cache_copies(copies);
    for (const CacheCopy& c : copies) {
      const auto* from = dynamic_cast<const ReferenceSession*>(c.from);
      auto* to = dynamic_cast<ReferenceSession*>(c.to);
      if (!from || !to || from->weights() != weights_.get() || to->weights() != weights_.get()) {
        throw std::invalid_argument("copy_caches: a session of another backend");
      }
    }
    for (const CacheCopy& c : copies) {
      copy_reference_cache(static_cast<const ReferenceSession*>(c.from)->state(),
                           static_cast<ReferenceSession*>(c.to)->state(), c.positions);
    }
  }

 private:
  std::shared_ptr<const Model> model_;
  // model_ with its five weight matrices dequantized (reference/quantize.h);
  // model_ itself for float32.
  std::shared_ptr<const Model> weights_;
  BackendInfo info_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const Model> model,
                                                const BackendSpec&, BackendInfo info) {
  return std::make_unique<ReferenceBackend>(std::move(model), std::move(info));
}

}  // namespace gpt2
