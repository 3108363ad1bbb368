#include "backends/null/null_backend.h"

#include <algorithm>
#include <stdexcept>

#include "reference/forward.h"
#include "reference/kernels.h"
#include "reference/random.h"

namespace gpt2 {

namespace {

class NullSession final : public Session {
 public:
  NullSession(const ModelConfig& config, int capacity)
      : config_(config),
        capacity_(capacity),
        logits_(config.vocab_size),
        probs_(config.vocab_size) {
    SplitMix64 rng(0);  // fixed, spread logits, so both rules have real work to do
    for (float& l : logits_) l = 4.0f * bell_from_bits(rng.next());
    ref::softmax_forward(probs_.data(), logits_.data(), config.vocab_size);
  }
  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    check_forward_args(config_, tokens, pos, cached_, capacity_, logits, probs);
    cached_ = pos + int(tokens.size());
    std::copy(logits_.begin(), logits_.end(), logits.begin());
    std::copy(probs_.begin(), probs_.end(), probs.begin());
  }
  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }
  void set_cached(int cached) { cached_ = cached; }

 private:
  ModelConfig config_;
  int capacity_;
  int cached_ = 0;
  std::vector<float> logits_, probs_;
};

class NullBackend final : public Backend {
 public:
  NullBackend(std::shared_ptr<const Model> model, BackendInfo info)
      : model_(std::move(model)), info_(std::move(info)) {
    info_.details = "fixed logits, no computation: the harness's own overhead";
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return std::make_unique<NullSession>(model_->config(), capacity);
  }
  void copy_caches(std::span<const CacheCopy> copies) const override {
    check_cache_copies(copies);
    for (const CacheCopy& c : copies) {
      if (!dynamic_cast<const NullSession*>(c.from) || !dynamic_cast<NullSession*>(c.to)) {
        throw std::invalid_argument("copy_caches: a session of another backend");
      }
    }
    for (const CacheCopy& c : copies) static_cast<NullSession*>(c.to)->set_cached(c.positions);
  }

 private:
  std::shared_ptr<const Model> model_;
  BackendInfo info_;
};

}  // namespace

std::unique_ptr<Backend> make_null_backend(std::shared_ptr<const Model> model, const BackendSpec&,
                                           BackendInfo info) {
  return std::make_unique<NullBackend>(std::move(model), std::move(info));
}

}  // namespace gpt2
