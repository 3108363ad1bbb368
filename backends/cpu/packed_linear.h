// LinearLayers with the bit-exact packed kernels: every output's sum in the
// reference's order; threads split output groups and rows, never one sum.
#pragma once

#include <memory>
#include <vector>

#include "backends/cpu/linear.h"
#include "backends/cpu/packed.h"
#include "reference/model.h"

namespace gpt2::cpu {

class PackedLinear final : public LinearLayers {
 public:
  // Packs every matrix of `model` once, in parallel on `ex`.
  PackedLinear(std::shared_ptr<const Model> model, const Kernels& kernels, Executor& ex);
  void run(Linear which, int layer, const float* inp, int T, const Epilogue& ep,
           Executor& ex) override;
  std::string details() const override;

 private:
  std::shared_ptr<const Model> model_;
  const Kernels& kernels_;
  std::vector<PackedMatrix> qkv_, attproj_, fc_, fcproj_;  // per layer
  PackedMatrix logits_;                                    // wte's V rows
};

}  // namespace gpt2::cpu
