// The matrix products of the forward pass, behind one small interface: the
// bit-exact packed kernels implement it (packed_linear.h), and so do BLIS and
// oneDNN; everything else in the forward pass (cpu_backend.cpp) is shared.
#pragma once

#include <cstddef>
#include <string>

#include "backends/cpu/executor.h"
#include "backends/cpu/kernels.h"
#include "reference/model.h"

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
  // out (C) = wte's row `token` as the products read it: the checkpoint's
  // float32, or its dequantized value for the weight-only precisions (the
  // encoder's embedding lookup, which must agree with the logits head).
  virtual void wte_row(int token, float* out) const = 0;
  virtual std::string details() const = 0;
};

// out (C) = the float32 wte row `token` of `model` (the library backends' wte_row).
void copy_wte_row(const Model& model, int token, float* out);

// One matrix product of the model, as llm.c stores it: v = bias + inp . w^T.
struct LinearMatrix {
  const float* w = nullptr;     // (rows, cols), row-major
  const float* bias = nullptr;  // (rows), or null (the logits)
  int rows = 0;                 // OC
  int cols = 0;                 // C, the input width
};
LinearMatrix linear_matrix(const Model& model, Linear which, int layer);
const char* linear_name(Linear which);

// For the library backends, which compute v into a plain matrix: applies the
// epilogue to v (T, OC) dense, rows in parallel on `ex`. kStore copies, kAdd
// adds (out + v, the reference's order), kGelu writes kernels.gelu(v), kQkv
// scatters q, keys and values as kernels.h says.
void apply_epilogue(const float* v, int T, int OC, const Epilogue& ep, const Kernels& kernels,
                    Executor& ex);

// Scratch memory of the calling thread, kept between calls (a library backend's
// run() may be called from several threads at once when it runs on 1 thread).
// Slot s in [0, kScratchSlots) holds at least `bytes` bytes, 64-byte aligned;
// its contents are undefined. Valid until the same thread asks for the same slot again.
inline constexpr int kScratchSlots = 4;
void* thread_scratch(int slot, std::size_t bytes);

}  // namespace gpt2::cpu
