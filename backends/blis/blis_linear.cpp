#include "backends/blis/blis_linear.h"

#include <blis.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace gpt2 {

namespace {

using cpu::Epilogue;
using cpu::Linear;

// Output rows per task of the gemv path.
constexpr int kRowChunk = 16;

bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

BlisInfo set_up_blis() {
  BlisInfo info;
  info.version = bli_info_get_version_str();  // a constant: does not initialize BLIS
  info.threading = bli_info_get_enable_openmp()     ? "OpenMP"
                   : bli_info_get_enable_pthreads() ? "pthreads"
                                                    : "none";
  // BLIS picks its sub-configuration once, when it initializes, from the CPU
  // or from BLIS_ARCH_TYPE. BLIS 0.9.0 (Debian 12's) predates AMD's AVX-512
  // CPUs (Zen 4, Zen 5): it falls back to its generic C kernels there, at a
  // quarter of the speed of its skx (AVX-512) kernels. On those CPUs, unless
  // the user chose with BLIS_ARCH_TYPE, we ask for skx for the initialization
  // and leave the environment as it was.
  const bool user_choice = std::getenv("BLIS_ARCH_TYPE") != nullptr;
  const bool choose_skx = !user_choice && info.version.rfind("0.", 0) == 0 &&
                          __builtin_cpu_is("amd") && cpu_has_avx512();
  if (choose_skx) setenv("BLIS_ARCH_TYPE", std::to_string(int(BLIS_ARCH_SKX)).c_str(), 1);
  bli_init();
  if (choose_skx) unsetenv("BLIS_ARCH_TYPE");
  info.arch = bli_arch_string(bli_arch_query_id());
  info.arch_origin = user_choice  ? "set by BLIS_ARCH_TYPE"
                     : choose_skx ? "chosen by gpt2-bench: BLIS " + info.version +
                                        " does not know this AVX-512 AMD CPU and would run "
                                        "its generic kernels"
                                  : "detected by BLIS";
  return info;
}

// y (n) = bias (n) or 0, or y += bias for accumulate: what the product adds to.
void init_row(float* y, const float* bias, int n, bool accumulate) {
  if (accumulate) {
    if (bias != nullptr) {
      for (int o = 0; o < n; o++) y[o] = y[o] + bias[o];
    }
  } else if (bias != nullptr) {
    std::copy(bias, bias + n, y);
  } else {
    std::fill(y, y + n, 0.0f);
  }
}

rntm_t blis_threads(int threads) {
  rntm_t rntm;
  bli_rntm_init(&rntm);
  bli_rntm_set_num_threads(threads, &rntm);
  return rntm;
}

}  // namespace

const BlisInfo& blis_info() {
  static const BlisInfo info = set_up_blis();
  return info;
}

BlisLinear::BlisLinear(std::shared_ptr<const Model> model, const cpu::Kernels& kernels)
    : model_(std::move(model)), kernels_(kernels) {
  // BLIS 0.9.0's skx sub-configuration has no small-matrix (sup) kernels: its
  // gemm packs the whole weight matrix on every call, which at small T costs
  // more than the product. One gemv per row on 16-row slices of the weights
  // (read from memory once, then from cache for the other rows) is faster
  // below 32 rows there (gpt2-microbench's matmul_*/blis at T = 4 to 64 shows
  // where the two cross on a machine). The AVX2 sub-configurations have sup
  // kernels, so only T = 1 takes the gemv path there.
  gemv_max_rows_ = blis_info().arch == "skx" ? 31 : 1;
}

int BlisLinear::gemm_threads(int T, int OC, int C, int threads) {
  blis_info();
  rntm_t rntm = blis_threads(threads);
  bli_rntm_set_ways_for_op(BLIS_GEMM, BLIS_LEFT, T, OC, C, &rntm);
  return int(bli_rntm_jc_ways(&rntm) * bli_rntm_pc_ways(&rntm) * bli_rntm_ic_ways(&rntm) *
             bli_rntm_jr_ways(&rntm) * bli_rntm_ir_ways(&rntm));
}

void BlisLinear::run(Linear which, int layer, const float* inp, int T, const Epilogue& ep,
                     Executor& ex) {
  const cpu::LinearMatrix m = cpu::linear_matrix(*model_, which, layer);
  const int OC = m.rows, C = m.cols;
  // kQkv's outputs go to three places: v is computed into a plain matrix first.
  const bool direct = ep.kind != Epilogue::kQkv;
  float* dst =
      direct ? ep.out : static_cast<float*>(cpu::thread_scratch(0, sizeof(float) * T * OC));
  const long ld = direct ? ep.ld : OC;
  const bool accumulate = ep.kind == Epilogue::kAdd;
  const bool gelu = ep.kind == Epilogue::kGelu;
  float one = 1.0f;
  float* a = const_cast<float*>(inp);  // BLIS's typed API takes non-const inputs
  float* w = const_cast<float*>(m.w);

  if (T <= gemv_max_rows_) {
    // y (OC) = W (OC, C) . x (C): rows of W are contiguous, so no transpose.
    // Each chunk's rows of W are read from memory once and stay in cache for the T rows.
    ex.parallel_for((OC + kRowChunk - 1) / kRowChunk, [&](int c0, int c1, int) {
      rntm_t rntm = blis_threads(1);
      for (int c = c0; c < c1; c++) {
        const int o0 = c * kRowChunk, n = std::min(OC, o0 + kRowChunk) - o0;
        for (int t = 0; t < T; t++) {
          float* y = dst + t * ld + o0;
          init_row(y, m.bias ? m.bias + o0 : nullptr, n, accumulate);
          bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, n, C, &one, w + long(o0) * C, C, 1,
                       a + long(t) * C, 1, &one, y, 1, nullptr, &rntm);
          if (gelu) kernels_.gelu(y, y, n);
        }
      }
    });
  } else {
    ex.parallel_for(T, [&](int t0, int t1, int) {
      for (int t = t0; t < t1; t++) init_row(dst + t * ld, m.bias, OC, accumulate);
    });
    // dst (T, OC) += inp (T, C) . B, B (C, OC) = w^T: row stride 1, column stride C.
    rntm_t rntm = blis_threads(ex.threads());
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, T, OC, C, &one, a, C, 1, w, 1, C, &one, dst,
                 ld, 1, nullptr, &rntm);
    if (gelu) {
      ex.parallel_for(T, [&](int t0, int t1, int) {
        for (int t = t0; t < t1; t++) kernels_.gelu(dst + t * ld, dst + t * ld, OC);
      });
    }
  }
  if (!direct) cpu::apply_epilogue(dst, T, OC, ep, kernels_, ex);
}

void BlisLinear::wte_row(int token, float* out) const {
  cpu::copy_wte_row(*model_, token, out);
}

std::string BlisLinear::details() const {
  const BlisInfo& b = blis_info();
  return "BLIS " + b.version + " (" + b.threading + "), sub-configuration " + b.arch + " (" +
         b.arch_origin + "); prompts of more than " + std::to_string(gemv_max_rows_) + " token" +
         (gemv_max_rows_ == 1 ? "" : "s") +
         ": one BLIS gemm per product on the backend's threads; fewer: BLIS gemv on slices "
         "of the output rows, one BLIS thread per worker";
}

}  // namespace gpt2
