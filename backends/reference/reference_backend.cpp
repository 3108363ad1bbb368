#include "backends/reference/reference_backend.h"

#include <stdexcept>

#include "reference/forward.h"

namespace gpt2 {

namespace {

class ReferenceSession final : public Session {
 public:
  ReferenceSession(std::shared_ptr<const Model> model, int capacity)
      : model_(std::move(model)), state_(model_->config(), capacity) {}

  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    reference_forward(*model_, tokens, pos, state_, logits, probs);
  }
  int cached() const override { return state_.cached(); }
  int capacity() const override { return state_.capacity(); }

 private:
  std::shared_ptr<const Model> model_;
  ReferenceState state_;
};

class ReferenceBackend final : public Backend {
 public:
  explicit ReferenceBackend(std::shared_ptr<const Model> model) : model_(std::move(model)) {
    info_.name = "reference";
    info_.numerics = Numerics::kBitExact;
    info_.threads = 1;
    info_.details = "frozen serial reference, scalar loops";
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<ReferenceSession>(model_, capacity);
  }

 private:
  std::shared_ptr<const Model> model_;
  BackendInfo info_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const Model> model,
                                                const BackendConfig& config) {
  if (config.precision != Precision::kFloat32) {
    throw std::invalid_argument("backend reference: only float32 (it is the float32 reference)");
  }
  return std::make_unique<ReferenceBackend>(std::move(model));
}

}  // namespace gpt2
