// LinearLayers with the bit-exact packed kernels: every output's sum in the
// reference's order; threads split output groups and rows, never one sum.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "backends/cpu/linear.h"
#include "backends/cpu/packed.h"
#include "reference/model.h"

namespace gpt2::cpu {

// The tasks the executor hands out for a product of T rows with `groups`
// output groups. Up to kWholeGroupRows rows, one per group, all rows: each
// group's weights are read by one worker, once (short prompts and decode steps
// are bound by reading them). Past that the product is bound by arithmetic, and
// a task is one register tile (kRowTile rows) of one group, group-major: the
// shares then differ by at most one tile, and the last chunks of a product are
// short, so the workers that finish first (on a virtual machine, where a vCPU
// may run slower, the others) seldom wait long for the last one
// (reports/studies/tile-tasks/); a worker still streams one group's weights
// for all its consecutive tiles (below).
inline constexpr int kRowTile = matmul_tile_rows(Isa::kAvx512);  // the AVX-512 tile's rows
inline constexpr int kWholeGroupRows = 48;
inline int matmul_tasks(int groups, int T) {
  return T <= kWholeGroupRows ? groups : groups * ((T + kRowTile - 1) / kRowTile);
}

// Calls call(g0, g1, t0, t1) (groups [g0, g1), rows [t0, t1)) for tasks
// [begin, end) of matmul_tasks(groups, T): one call per run of consecutive
// tasks within one group (or, up to kWholeGroupRows rows, one call).
template <typename F>
void for_task_runs(int T, int begin, int end, F call) {
  if (T <= kWholeGroupRows) {
    if (begin < end) call(begin, end, 0, T);
    return;
  }
  const int tiles = (T + kRowTile - 1) / kRowTile;
  for (int k = begin; k < end;) {
    const int g = k / tiles, stop = std::min(end, (g + 1) * tiles);
    const int t0 = (k - g * tiles) * kRowTile, t1 = std::min(T, (stop - g * tiles) * kRowTile);
    call(g, g + 1, t0, t1);
    k = stop;
  }
}

class PackedLinear final : public LinearLayers {
 public:
  // Packs every matrix of `model` once in `format`, in parallel on `ex`.
  PackedLinear(std::shared_ptr<const Model> model, const Kernels& kernels, Executor& ex,
               WeightFormat format = WeightFormat::kFloat32);
  void run(Linear which, int layer, const float* inp, int T, const Epilogue& ep,
           Executor& ex) override;
  void wte_row(int token, float* out) const override;
  std::string details() const override;

 private:
  std::shared_ptr<const Model> model_;
  const Kernels& kernels_;
  WeightFormat format_;
  std::vector<PackedMatrix> qkv_, attproj_, fc_, fcproj_;  // per layer
  PackedMatrix logits_;                                    // wte's V rows
};

}  // namespace gpt2::cpu
