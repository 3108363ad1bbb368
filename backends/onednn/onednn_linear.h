// The matrix products through oneDNN (the onednn backend's cpu::LinearLayers).
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/cpu/linear.h"
#include "reference/model.h"

namespace gpt2 {

// oneDNN as this process runs it.
struct OnednnInfo {
  std::string version;  // e.g. "2.6.3"
  std::string runtime;  // its CPU threading runtime, e.g. "OpenMP"
  std::string isa;      // the instruction set its kernels use here, e.g. "avx512_core_bf16"
};
const OnednnInfo& onednn_info();

// v = bias + inp . w^T through oneDNN matmul primitives. The weights are
// reordered once, at construction, into the blocked layout oneDNN prefers (for
// decode and for a prefill: one copy when they agree, two when not)
// (bfloat16 for Precision::kBFloat16, whose inputs are then converted to
// bfloat16 on each call; outputs stay float32). Primitives are made once per
// (product, T, epilogue) and kept (a bounded cache). The bias, GELU (tanh form)
// and the residual add (a sum post-op) are fused; kQkv's scatter and outputs
// with a row stride other than OC go through a plain matrix. oneDNN runs on
// exactly `threads` OpenMP threads: the calling thread's OpenMP thread count is
// set to it around every call (and restored).
class OnednnLinear final : public cpu::LinearLayers {
 public:
  OnednnLinear(std::shared_ptr<const Model> model, Precision precision, int threads,
               const cpu::Kernels& kernels);
  ~OnednnLinear() override;
  void run(cpu::Linear which, int layer, const float* inp, int T, const cpu::Epilogue& ep,
           Executor& ex) override;
  void wte_row(int token, float* out) const override;
  std::string details() const override;

  // Whether oneDNN can make a bfloat16 matrix product (bfloat16 inputs and
  // weights, float32 out, as run() asks for at both of its weight layouts)
  // on this CPU, asked of oneDNN itself once; if not, why not.
  static bool bf16_available(std::string* why);

  // The implementation oneDNN runs for T rows of `which`, e.g. "brg:avx512_core".
  std::string implementation(cpu::Linear which, int T) const;
  // omp_get_max_threads() as oneDNN sees it during a call.
  int threads_seen() const;
  // Primitives made so far (each kept for later calls of the same shape).
  int primitives_made() const;
  // "one for every prompt length", or "one for decode, one for prefill" when
  // oneDNN prefers different weight layouts for one row and for 128.
  std::string layouts_kept() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpt2
