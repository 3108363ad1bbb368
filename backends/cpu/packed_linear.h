// LinearLayers with the bit-exact packed kernels: every output's sum in the
// reference's order; threads split output groups and rows, never one sum.
#pragma once

#include <memory>
#include <vector>

#include "backends/cpu/linear.h"
#include "backends/cpu/packed.h"
#include "reference/model.h"

namespace gpt2::cpu {

// A product's work is (output group, block of rows) tasks, in group-major order,
// split among `workers` in contiguous shares (share_of). Rows per task for T
// rows: kMaxRowsPerTask while T is no more (one task per group); beyond, the
// most rows, a multiple of the AVX-512 kernel's kRowTile, that keep the busiest
// share's work within 3% of the mean (else the most balanced choice).
inline constexpr int kRowTile = 6;
inline constexpr int kMaxRowsPerTask = 48;
int rows_per_task(int groups, int T, int workers);

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
