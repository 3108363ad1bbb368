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
// output groups, on `threads` workers. Up to kWholeGroupRows rows, one per
// group, all rows: each group's weights are read by one worker, once (short
// prompts and decode steps are bound by reading them), unless there are too
// few groups to keep every worker busy (a batched step's 16 rows on 16
// workers: 12 groups of the 768-output products leave 4 idle, 36 of qkv take
// 3 rounds where 2.25 would do); then each group's rows are cut into
// `per_group` equal chunks (at least kMinChunkRows rows each), the fewest that
// make the longest worker's share shortest, if that is at least 10% shorter.
// Past kWholeGroupRows rows the product is bound by arithmetic, and a task is
// one register tile (kRowTile rows) of one group: the shares then differ by at
// most one tile, and the last chunks of a product are short, so the workers
// that finish first (on a virtual machine, where a vCPU may run slower, the
// others) seldom wait long for the last one (reports/studies/tile-tasks/).
// Tasks are group-major, so a worker still streams one group's weights for all
// its consecutive chunks of it (for_runs). Which worker computes an output
// never changes its bits.
inline constexpr int kRowTile = matmul_tile_rows(Isa::kAvx512);  // the AVX-512 tile's rows
inline constexpr int kWholeGroupRows = 48;
inline constexpr int kMinChunkRows = 4;

struct MatmulTasks {
  MatmulTasks(int groups_, int T_, int threads) : groups(groups_), T(T_) {
    if (tiled()) {
      per_group = (T + kRowTile - 1) / kRowTile;
      return;
    }
    // The longest share in units of one group's whole product.
    const auto longest = [&](int s) {
      return double((long(groups) * s + threads - 1) / threads) / s;
    };
    int best = 1;
    for (int s = 2; s <= T / kMinChunkRows && s <= 8; s++) {
      if (longest(s) < longest(best) - 1e-9) best = s;
    }
    if (longest(best) < 0.9 * longest(1)) per_group = best;  // worth reading a group twice
  }
  // Chunks of kRowTile rows (else per_group equal ones).
  bool tiled() const { return T > kWholeGroupRows; }
  int count() const { return groups * per_group; }
  // The first row of chunk c (0 <= c <= per_group) of a group.
  int row(int c) const {
    return tiled() ? std::min(T, c * kRowTile) : int(long(T) * c / per_group);
  }
  // Calls call(g0, g1, t0, t1) (groups [g0, g1), rows [t0, t1)) for tasks
  // [begin, end): one call per run of consecutive tasks within one group (or,
  // with whole groups, one call).
  template <typename F>
  void for_runs(int begin, int end, F call) const {
    if (per_group == 1) {
      if (begin < end) call(begin, end, 0, T);
      return;
    }
    for (int k = begin; k < end;) {
      const int g = k / per_group, stop = std::min(end, (g + 1) * per_group);
      call(g, g + 1, row(k - g * per_group), row(stop - g * per_group));
      k = stop;
    }
  }

  int groups, T;
  int per_group = 1;  // chunks of each group's rows
};

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
