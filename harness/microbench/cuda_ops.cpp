#include "harness/microbench/cuda_ops.h"

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <optional>

#include "backends/cuda/buffers.h"
#include "backends/cuda/device.h"
#include "backends/cuda/fast_kernels.h"
#include "backends/cuda/naive_kernels.h"
#include "backends/cuda/tiled_kernels.h"
#include "backends/cuda/weights.h"
#include "backends/registry.h"
#include "harness/bench.h"
#include "harness/microbench/cublas_gemm.h"
#include "runtime/backend_specs.h"

namespace gpt2::microbench {

namespace {

using cuda::DeviceBuffer;
using cuda::fast::Epilogue;
using bf16 = __nv_bfloat16;

// The ladder's rungs: the backends' kernels (cuda-naive, cuda-tiled, cuda and
// its bfloat16 weights) and, for the products, cuBLASLt (float32 compute, TF32
// off; bfloat16 inputs on the tensor cores), which no backend runs any more
// (its sums change with the row count) but which shows what a library reaches.
enum class Variant { kNaive, kTiled, kFast, kFastBf16, kCublas, kCublasBf16 };
const char* variant_name(Variant v) {
  switch (v) {
    case Variant::kNaive:
      return "cuda-naive";
    case Variant::kTiled:
      return "cuda-tiled";
    case Variant::kFast:
      return "cuda";
    case Variant::kFastBf16:
      return "cuda-bf16";
    case Variant::kCublas:
      return "cublas";
    case Variant::kCublasBf16:
      break;
  }
  return "cublas-bf16";
}
bool bf16_weights(Variant v) {
  return v == Variant::kFastBf16 || v == Variant::kCublasBf16;
}

std::shared_ptr<const Model>& model() {
  static std::shared_ptr<const Model> m;
  return m;
}

// The model on the device, in float32 and in bfloat16 (made on first use);
// activations and caches of the largest shapes, filled once.
struct Device {
  cuda::DeviceWeights f32, b16;
  DeviceBuffer<float> inp, out, keys, values, att, stats, partial, softmax_partial;
  DeviceBuffer<bf16> inp_bf;
  DeviceBuffer<int> pos;
  std::unique_ptr<cuda::Gemm> gemm_f32, gemm_bf16;
  explicit Device(const Model& m) {
    const ModelConfig& c = m.config();
    const std::size_t T = c.max_seq_len, C = c.channels;
    const std::size_t wide = std::max<std::size_t>(4 * C, c.vocab_size);
    f32 = cuda::upload_weights(m, false);
    b16 = cuda::upload_weights(m, true);
    std::vector<float> host(T * wide);
    for (std::size_t i = 0; i < host.size(); i++) host[i] = float((i * 7919) % 1000) / 1000 - 0.5f;
    auto filled = [&](std::size_t n, const char* what) {
      DeviceBuffer<float> d(n, what);
      GPT2_CUDA(cudaMemcpy(d.get(), host.data(), n * sizeof(float), cudaMemcpyHostToDevice));
      return d;
    };
    inp = filled(T * 4 * C, "inputs");
    out = filled(T * wide, "outputs");
    keys = filled(T * C, "keys");
    values = filled(T * C, "values");
    att = DeviceBuffer<float>(T * c.num_heads * T, "attention scratch");
    stats = DeviceBuffer<float>(2 * T, "statistics");
    partial = DeviceBuffer<float>(
        std::size_t(cuda::fast::attention_decode_scratch(c.channels, c.num_heads, int(T))),
        "decode scratch");
    cuda::fast::attention_decode_init(partial.get(), c.channels, c.num_heads, int(T), nullptr);
    softmax_partial = DeviceBuffer<float>(std::size_t(cuda::fast::softmax_scratch(1, c.vocab_size)),
                                          "softmax scratch");
    inp_bf = DeviceBuffer<bf16>(T * 4 * C, "inputs (bfloat16)");
    cuda::fast::to_bf16(inp_bf.get(), inp.get(), long(T * 4 * C), nullptr);
    pos = DeviceBuffer<int>(1, "position");
    gemm_f32 = std::make_unique<cuda::Gemm>(false);
    gemm_bf16 = std::make_unique<cuda::Gemm>(true);
    GPT2_CUDA(cudaDeviceSynchronize());
  }
  void set_pos(int p) { GPT2_CUDA(cudaMemcpy(pos.get(), &p, sizeof p, cudaMemcpyHostToDevice)); }
};
Device& device() {
  static Device d(*model());
  return d;
}

// Times `op` with CUDA events, kReps launches per iteration (their mean).
void time_gpu(benchmark::State& state, const std::function<void()>& op) {
  constexpr int kReps = 10;
  cudaEvent_t start, stop;
  GPT2_CUDA(cudaEventCreate(&start));
  GPT2_CUDA(cudaEventCreate(&stop));
  op();  // warm-up: plans, module loading
  GPT2_CUDA(cudaDeviceSynchronize());
  for (auto _ : state) {
    GPT2_CUDA(cudaEventRecord(start));
    for (int r = 0; r < kReps; r++) op();
    GPT2_CUDA(cudaEventRecord(stop));
    GPT2_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    GPT2_CUDA(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(double(ms) / 1e3 / kReps);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void set_rates(benchmark::State& state, double flops, double bytes) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------
// The matrix products at the model's shapes, the layer changing at every
// launch (12 layers of weights do not fit in the GPU's L2, one would).

struct Product {
  const char* name;
  int which;  // 0 qkv, 1 attproj, 2 fc, 3 fcproj, 4 logits
  Epilogue epilogue;
};
constexpr Product kProducts[] = {{"matmul_qkv", 0, Epilogue::kBias},
                                 {"matmul_attproj_residual", 1, Epilogue::kBiasResidual},
                                 {"matmul_fc_gelu", 2, Epilogue::kBiasGelu},
                                 {"matmul_fcproj_residual", 3, Epilogue::kBiasResidual},
                                 {"matmul_logits", 4, Epilogue::kNone}};

struct Shape {
  int C, OC;
  long per_layer;  // weight elements between layers
  const float* w32;
  const void* w;  // in the variant's precision
  const float* bias;
  long bias_per_layer;
};

Shape shape_of(const Product& p, const cuda::DeviceWeights& w, const ModelConfig& c) {
  const int C = c.channels;
  switch (p.which) {
    case 0:
      return {C, 3 * C, 3L * C * C, w.p.qkvw, w.m_qkvw, w.p.qkvb, 3L * C};
    case 1:
      return {C, C, long(C) * C, w.p.attprojw, w.m_attprojw, w.p.attprojb, C};
    case 2:
      return {C, 4 * C, 4L * C * C, w.p.fcw, w.m_fcw, w.p.fcb, 4L * C};
    case 3:
      return {4 * C, C, 4L * C * C, w.p.fcprojw, w.m_fcprojw, w.p.fcprojb, C};
    default:
      return {C, c.vocab_size, 0, w.p.wte, w.m_wte, nullptr, 0};
  }
}

void bm_product(benchmark::State& state, Variant v, Product p) {
  const int T = int(state.range(0));
  const ModelConfig& c = model()->config();
  Device& d = device();
  const cuda::DeviceWeights& w = bf16_weights(v) ? d.b16 : d.f32;
  const Shape s = shape_of(p, w, c);
  const int layers = p.which == 4 ? 1 : c.num_layers;
  const std::size_t elem = bf16_weights(v) ? 2 : 4;
  int layer = 0;
  time_gpu(state, [&] {
    const long wo = long(layer) * s.per_layer;
    const float* bias = s.bias ? s.bias + long(layer) * s.bias_per_layer : nullptr;
    const Epilogue e = bias ? p.epilogue : Epilogue::kNone;
    if (v == Variant::kNaive) {
      cuda::naive::matmul_forward(d.out.get(), d.inp.get(), s.w32 + wo, bias, T, s.C, s.OC,
                                  nullptr);
    } else if (v == Variant::kTiled) {
      cuda::tiled::matmul_forward(d.out.get(), d.inp.get(), s.w32 + wo, bias, d.out.get(),
                                  e == Epilogue::kBiasGelu       ? cuda::tiled::Epilogue::kGelu
                                  : e == Epilogue::kBiasResidual ? cuda::tiled::Epilogue::kResidual
                                                                 : cuda::tiled::Epilogue::kStore,
                                  T, s.C, s.OC, nullptr);
    } else if (v == Variant::kFast || v == Variant::kFastBf16) {
      cuda::fast::Matvec a;
      a.out = d.out.get(), a.inp = d.inp.get(), a.bias = bias, a.residual = d.out.get();
      a.epilogue = e, a.T = T, a.C = s.C, a.OC = s.OC;
      if (v == Variant::kFastBf16) {
        cuda::fast::matvec_forward(a, static_cast<const bf16*>(s.w) + wo, nullptr);
      } else {
        cuda::fast::matvec_forward(a, static_cast<const float*>(s.w) + wo, nullptr);
      }
    } else if (v == Variant::kCublasBf16) {
      d.gemm_bf16->run(d.out.get(), d.inp_bf.get(), static_cast<const bf16*>(s.w) + wo, bias, e, T,
                       s.C, s.OC, nullptr);
    } else {
      d.gemm_f32->run(d.out.get(), d.inp.get(), static_cast<const float*>(s.w) + wo, bias, e, T,
                      s.C, s.OC, nullptr);
    }
    layer = (layer + 1) % layers;
  });
  set_rates(state, 2.0 * T * s.C * s.OC, double(s.C) * s.OC * elem + 4.0 * T * (s.C + s.OC));
}

void bm_layernorm(benchmark::State& state, Variant v) {
  const int T = int(state.range(0)), C = model()->config().channels;
  Device& d = device();
  time_gpu(state, [&] {
    if (v == Variant::kNaive) {
      cuda::naive::layernorm_forward(d.out.get(), d.stats.get(), d.inp.get(), d.f32.p.ln1w,
                                     d.f32.p.ln1b, T, C, nullptr);
    } else {
      cuda::fast::layernorm_forward(d.out.get(), d.inp.get(), d.f32.p.ln1w, d.f32.p.ln1b, T, C,
                                    nullptr);
    }
  });
  set_rates(state, 8.0 * T * C, 8.0 * T * C);
}

// Prefill: T queries over T positions. Decode: one query after T - 1 cached.
void bm_attention(benchmark::State& state, Variant v, bool decode) {
  const int T = int(state.range(0));
  const ModelConfig& c = model()->config();
  const int C = c.channels, NH = c.num_heads, n = decode ? 1 : T, pos = decode ? T - 1 : 0;
  Device& d = device();
  d.set_pos(pos);
  time_gpu(state, [&] {
    if (v == Variant::kNaive) {
      cuda::naive::attention_forward(d.out.get(), d.inp.get(), d.keys.get(), d.values.get(),
                                     d.att.get(), pos, n, C, NH, nullptr);
    } else if (decode) {
      cuda::fast::attention_decode(d.out.get(), d.inp.get(), d.keys.get(), d.values.get(),
                                   d.partial.get(), d.pos.get(), C, NH, c.max_seq_len, nullptr);
    } else {
      cuda::fast::attention_prefill(d.out.get(), d.inp.get(), d.keys.get(), d.values.get(),
                                    d.pos.get(), n, C, NH, nullptr);
    }
  });
  const double keys = decode ? double(T) : double(T) * (T + 1) / 2;  // query-key pairs
  set_rates(state, 4.0 * C * keys, 4.0 * (2.0 * (pos + n) * C + 4.0 * n * C));
}

void bm_softmax(benchmark::State& state, Variant v) {
  const int V = model()->config().vocab_size;
  Device& d = device();
  time_gpu(state, [&] {
    if (v == Variant::kNaive) {
      cuda::naive::softmax_forward(d.out.get(), d.stats.get(), d.inp.get(), V, nullptr);
    } else {
      cuda::fast::softmax_forward(d.out.get(), d.softmax_partial.get(), d.inp.get(), 1, V, nullptr);
    }
  });
  set_rates(state, 3.0 * V, 8.0 * V);
}

// Whole passes through the backend, as gpt2-bench runs them (host clock, the
// logits' copy to the host included): a prefill of T tokens, or one decode
// step after T - 1 cached.
void bm_pass(benchmark::State& state, Variant v, bool decode) {
  const int T = int(state.range(0));
  const ModelConfig& c = model()->config();
  auto backend = make_backend(
      model(), backend_spec(v == Variant::kFastBf16 ? "cuda" : variant_name(v),
                            v == Variant::kFastBf16 ? Precision::kBFloat16 : Precision::kFloat32));
  auto session = backend->open_session(T);
  std::vector<int> tokens(T);
  for (int t = 0; t < T; t++) tokens[t] = (t * 7919) % c.vocab_size;
  std::vector<float> logits(c.vocab_size), probs(c.vocab_size);
  if (decode) session->forward(std::span<const int>(tokens).first(T - 1), 0, logits, probs);
  auto step = [&] {
    if (decode) {
      session->forward(std::span<const int>(tokens).subspan(T - 1, 1), T - 1, logits, probs);
    } else {
      session->forward(tokens, 0, logits, probs);
    }
  };
  step();  // warm-up (the decode step's graph is captured here)
  for (auto _ : state) step();
  const double flops = decode ? forward_flops(c, T - 1, 1) : forward_flops(c, 0, T);
  set_rates(state, flops, weight_bytes_per_forward(c, backend->info().precision));
  state.counters["tokens/s"] =
      benchmark::Counter(decode ? 1.0 : double(T), benchmark::Counter::kIsIterationInvariantRate);
}

// The GPU's own ceilings, measured once (registry.h: a device-to-device copy,
// cuBLAS float32 with TF32 off and bfloat16 products), as counters.
void bm_gpu_ceilings(benchmark::State& state) {
  const std::optional<GpuCeilings> c = measure_gpu_ceilings(0);
  for (auto _ : state) {
    if (!c) state.SkipWithError("no GPU ceilings");
  }
  if (!c) return;
  state.counters["copy_GB/s"] = c->copy_gb_s;
  state.counters["fp32_GFLOP/s"] = c->fp32_gflops;
  state.counters["bf16_GFLOP/s"] = c->bf16_gflops;
  state.SetLabel(c->name);
}

}  // namespace

void register_cuda_benchmarks(std::shared_ptr<const Model> m, const std::vector<int>& rows) {
  std::string why;
  if (cuda::device_count(&why) == 0) {
    std::cerr << "gpt2-microbench: no CUDA benchmarks: " << why << "\n";
    return;
  }
  model() = std::move(m);
  const ModelConfig& c = model()->config();
  auto gpu = [](benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Unit(benchmark::kMicrosecond)->ArgNames({"T"});
  };
  auto host = [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMicrosecond)->ArgNames({"T"});
  };
  benchmark::RegisterBenchmark("gpu_ceilings", bm_gpu_ceilings)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  for (Variant v : {Variant::kNaive, Variant::kTiled, Variant::kFast, Variant::kFastBf16,
                    Variant::kCublas, Variant::kCublasBf16}) {
    const std::string name = variant_name(v);
    const bool library = v == Variant::kCublas || v == Variant::kCublasBf16;
    for (int T : rows) {
      if (T > c.max_seq_len) continue;
      if (library) {  // the products alone
        for (const Product& p : kProducts) {
          if (p.which == 4 && T > 1) continue;
          gpu(benchmark::RegisterBenchmark((std::string(p.name) + "/" + name).c_str(), bm_product,
                                           v, p)
                  ->Arg(T));
        }
        continue;
      }
      if (v == Variant::kNaive || v == Variant::kFast) {
        gpu(benchmark::RegisterBenchmark(("layernorm/" + name).c_str(), bm_layernorm, v)->Arg(T));
      }
      for (const Product& p : kProducts) {
        if (p.which == 4 && T > 1) continue;  // the logits: the last position only
        gpu(benchmark::RegisterBenchmark((std::string(p.name) + "/" + name).c_str(), bm_product, v,
                                         p)
                ->Arg(T));
      }
      if (v == Variant::kNaive || v == Variant::kFast) {
        if (T > 1) {
          gpu(benchmark::RegisterBenchmark(("attention/" + name).c_str(), bm_attention, v, false)
                  ->Arg(T));
        }
        gpu(benchmark::RegisterBenchmark(("attention_decode/" + name).c_str(), bm_attention, v,
                                         true)
                ->Arg(T));
      }
      host(benchmark::RegisterBenchmark(("forward/" + name).c_str(), bm_pass, v, false)->Arg(T));
      if (T > 1) {
        host(benchmark::RegisterBenchmark(("decode/" + name).c_str(), bm_pass, v, true)->Arg(T));
      }
    }
    if (v != Variant::kFastBf16) {
      gpu(benchmark::RegisterBenchmark(("softmax/" + name).c_str(), bm_softmax, v)->Arg(1));
    }
  }
}

}  // namespace gpt2::microbench
