// The matrix products through BLIS (the blis backend's cpu::LinearLayers).
#pragma once

#include <memory>
#include <string>

#include "backends/cpu/linear.h"
#include "reference/model.h"

namespace gpt2 {

// BLIS as this process runs it, set up on first use (blis_linear.cpp says how
// the sub-configuration is chosen).
struct BlisInfo {
  std::string version;      // e.g. "0.9.0"
  std::string threading;    // the threading model BLIS was built with, e.g. "OpenMP"
  std::string arch;         // the sub-configuration whose kernels run, e.g. "skx"
  std::string arch_origin;  // who chose it, and why
};
const BlisInfo& blis_info();

// v = bias + inp . w^T through BLIS, on the model's own weights: B is the
// transposed view of llm.c's row-major (OC, C) matrices, so nothing is copied.
// T rows at or below gemv_max_rows() go through BLIS's gemv, each of ex's
// workers taking a slice of the output rows on one BLIS thread; more rows go
// through one BLIS gemm on exactly ex.threads() BLIS threads, started from the
// calling thread while ex's workers wait. The bias is written (or, for kAdd,
// added) before the product, which accumulates onto it; GELU and the q/k/v
// scatter use the shared kernels.
class BlisLinear final : public cpu::LinearLayers {
 public:
  BlisLinear(std::shared_ptr<const Model> model, const cpu::Kernels& kernels);
  void run(cpu::Linear which, int layer, const float* inp, int T, const cpu::Epilogue& ep,
           Executor& ex) override;
  void wte_row(int token, float* out) const override;
  std::string details() const override;
  int gemv_max_rows() const { return gemv_max_rows_; }

  // The threads BLIS runs a gemm of (T, C) x (C, OC) on when asked for
  // `threads`: the product of the ways it splits its loops into.
  static int gemm_threads(int T, int OC, int C, int threads);

 private:
  std::shared_ptr<const Model> model_;
  const cpu::Kernels& kernels_;
  int gemv_max_rows_;
};

}  // namespace gpt2
