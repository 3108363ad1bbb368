// The matrix products of the forward pass, behind one small interface: the
// bit-exact packed kernels implement it (packed_linear.h), and so do BLIS and
// oneDNN; everything else in the forward pass (cpu_session.h) is shared.
#pragma once

#include <string>

#include "backends/cpu/executor.h"
#include "backends/cpu/kernels.h"

namespace gpt2::cpu {

enum class Linear {
  kQkv,      // (3C, C) with bias, per layer
  kAttProj,  // (C, C) with bias
  kFc,       // (4C, C) with bias
  kFcProj,   // (C, 4C) with bias
  kLogits,   // wte's V real rows (V, C), no bias; `layer` is ignored
};

class LinearLayers {
 public:
  virtual ~LinearLayers() = default;
  // For T rows of inp (T, in): every output v = bias + inp . w, then the
  // epilogue (kernels.h) puts it where it belongs. Runs on `ex`'s threads (a
  // library with its own threads must use exactly ex.threads() of them).
  virtual void run(Linear which, int layer, const float* inp, int T, const Epilogue& ep,
                   Executor& ex) = 0;
  virtual std::string details() const = 0;
};

}  // namespace gpt2::cpu
