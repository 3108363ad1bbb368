// gpt2-microbench: each op of the forward pass on each backend at GPT-2 124M's
// shapes, and the machine's ceilings, with Google Benchmark (real time).
//
//   gpt2-microbench                          everything, threads 1, 2, 4, 8, ... cores
//   gpt2-microbench --threads=1,16           only these thread counts
//   gpt2-microbench --benchmark_filter='/onednn/.*threads:16'
//
// Benchmarks are named <op>/<backend>/T:<T>/threads:<k>/real_time, with counters
// GFLOP/s, GB/s (weights and activations read or written once), and tokens/s
// for whole forward passes. Results go to reports/runs/microbench-<time>.json
// unless --benchmark_out says otherwise. The README has the commands.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/layers.h"
#include "backends/cpu/linear.h"
#include "backends/cpu/packed.h"
#include "backends/openmp/openmp_backend.h"
#include "backends/pthreads/thread_pool.h"
#include "backends/registry.h"
#include "harness/bench.h"
#include "harness/machine.h"
#include "harness/peaks.h"
#include "harness/report.h"
#include "reference/kernels.h"
#include "runtime/backend_specs.h"
#include "runtime/cli.h"
#include "runtime/lists.h"
#include "runtime/model_source.h"
#if GPT2_WITH_CUDA_TP
#include "harness/microbench/collectives.h"
#endif
#if GPT2_WITH_CUDA
#include "harness/microbench/cuda_ops.h"
#endif

namespace gpt2::microbench {
namespace {

using cpu::Epilogue;
using cpu::Linear;

// Seconds per benchmark unless --benchmark_min_time says otherwise.
constexpr const char* kMinTimeFlag = "--benchmark_min_time=0.25";

// --rows: the T values of the per-op benchmarks.
constexpr NumberListKind kRowList{"row", "row count", "rows", 1, 1 << 16};

struct Options {
  std::string model = "synthetic:124M";
  std::vector<int> threads;
  std::vector<int> rows = {1, 16, 128, 1024};  // T
};

// A backend at one precision: what the per-op benchmarks run.
struct Variant {
  std::string backend;
  Precision precision = Precision::kFloat32;
  std::string label() const {
    if (precision == Precision::kFloat32) return backend;
    if (precision == Precision::kBFloat16) return backend + "-bf16";
    return backend + "-" + precision_name(precision);  // pthreads-bf16w, pthreads-int8w
  }
  bool cpu_engine = false;  // runs the shared CPU engine (else: the reference's ops)
  bool threaded = false;
  bool reference() const { return !cpu_engine; }
};

std::shared_ptr<const Model>& model() {
  static std::shared_ptr<const Model> m;
  return m;
}

// The one backend built at a time (each holds its own copy of the weights).
Backend& backend_for(const Variant& v, int threads) {
  static std::string key;
  static std::unique_ptr<Backend> backend;
  const std::string want = v.label() + "/" + std::to_string(threads);
  if (key != want || backend == nullptr) {
    backend.reset();
    backend = make_backend(model(), backend_spec(v.backend, v.precision, threads));
    key = want;
  }
  return *backend;
}

cpu::Engine& engine_for(const Variant& v, int threads) {
  // Variants with cpu_engine are CpuBackends (their registry entries say so).
  return *static_cast<const cpu::CpuBackend&>(backend_for(v, threads)).engine();
}

// Activations and a key/value cache of 124M's largest shapes, filled once.
struct Buffers {
  cpu::AlignedFloats inp, out, keys_t, values, att;
  explicit Buffers(const ModelConfig& c) {
    const std::size_t T = c.max_seq_len, C = c.channels;
    const std::size_t wide = std::max<std::size_t>(4 * C, c.vocab_size);
    inp = cpu::AlignedFloats(T * 4 * C);
    out = cpu::AlignedFloats(T * wide);
    keys_t = cpu::AlignedFloats(C * T);
    values = cpu::AlignedFloats(T * C);
    // Attention scratch for up to 256 worker threads.
    att = cpu::AlignedFloats(256 * cpu::attention_scratch(int(T)));
    for (std::size_t i = 0; i < inp.size(); i++)
      inp.data()[i] = float((i * 7919) % 1000) / 1000 - 0.5f;
    for (std::size_t i = 0; i < out.size(); i++) out.data()[i] = 0.01f * float(i % 97);
    for (std::size_t i = 0; i < keys_t.size(); i++) keys_t.data()[i] = float(i % 13) / 13 - 0.5f;
    for (std::size_t i = 0; i < values.size(); i++) values.data()[i] = float(i % 17) / 17 - 0.5f;
  }
};
Buffers& buffers() {
  static Buffers b(model()->config());
  return b;
}

void set_rates(benchmark::State& state, double flops, double bytes) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------
// The matrix products: v = bias + inp . w^T with the forward pass's epilogue,
// the layer changing at every iteration (the weights come from memory, as in
// a forward pass, not from a cache that holds one layer).

struct Product {
  const char* name;
  Linear which;
  Epilogue::Kind epilogue;
};
constexpr Product kProducts[] = {{"matmul_qkv", Linear::kQkv, Epilogue::kQkv},
                                 {"matmul_attproj_residual", Linear::kAttProj, Epilogue::kAdd},
                                 {"matmul_fc_gelu", Linear::kFc, Epilogue::kGelu},
                                 {"matmul_fcproj_residual", Linear::kFcProj, Epilogue::kAdd},
                                 {"matmul_logits", Linear::kLogits, Epilogue::kStore}};

Epilogue epilogue_for(const Product& p, const ModelConfig& c, Buffers& b, int OC) {
  if (p.epilogue == Epilogue::kQkv) {
    return Epilogue::qkv(b.out.data(), b.keys_t.data(), b.values.data(), 0, c.max_seq_len,
                         c.channels, c.head_size());
  }
  Epilogue ep;
  ep.kind = p.epilogue;
  ep.out = b.out.data();
  ep.ld = OC;
  return ep;
}

void bm_product(benchmark::State& state, Variant v, Product p) {
  const int T = int(state.range(0)), threads = int(state.range(1));
  const ModelConfig& c = model()->config();
  Buffers& b = buffers();
  const int layers = p.which == Linear::kLogits ? 1 : c.num_layers;
  const cpu::LinearMatrix m0 = cpu::linear_matrix(*model(), p.which, 0);
  const int OC = m0.rows, C = m0.cols;
  const Epilogue ep = epilogue_for(p, c, b, OC);
  int layer = 0;
  if (v.reference()) {
    std::vector<float> v_out(std::size_t(T) * OC);
    for (auto _ : state) {
      const cpu::LinearMatrix m = cpu::linear_matrix(*model(), p.which, layer);
      ref::matmul_forward(v_out.data(), b.inp.data(), m.w, m.bias, T, C, OC);
      if (p.epilogue == Epilogue::kAdd) {
        ref::residual_forward(b.out.data(), b.out.data(), v_out.data(), T * OC);
      } else if (p.epilogue == Epilogue::kGelu) {
        ref::gelu_forward(b.out.data(), v_out.data(), T * OC);
      } else if (p.epilogue == Epilogue::kStore) {
        std::memcpy(b.out.data(), v_out.data(), sizeof(float) * v_out.size());
      } else {
        SerialExecutor serial;
        cpu::apply_epilogue(v_out.data(), T, OC, ep, cpu::best_kernels(), serial);
      }
      layer = (layer + 1) % layers;
    }
  } else {
    cpu::Engine& e = engine_for(v, threads);
    for (auto _ : state) {
      e.linear->run(p.which, layer, b.inp.data(), T, ep, *e.executor);
      layer = (layer + 1) % layers;
    }
  }
  // The matrix at its precision's width (int8w: and a float32 scale per row),
  // the inputs, outputs and biases in float32.
  set_rates(state, 2.0 * T * C * OC,
            matrix_weight_bytes(v.precision, OC, C) + 4.0 * (double(T) * C + double(T) * OC + OC));
}

// ---------------------------------------------------------------------------
// The other layers, on the backend's executor and kernels (the reference's:
// its serial ops).

void bm_layernorm(benchmark::State& state, Variant v) {
  const int T = int(state.range(0)), threads = int(state.range(1));
  const ModelConfig& c = model()->config();
  const ParameterTensors& p = model()->params();
  Buffers& b = buffers();
  const int C = c.channels;
  if (v.reference()) {
    for (auto _ : state) ref::layernorm_forward(b.out.data(), b.inp.data(), p.ln1w, p.ln1b, T, C);
  } else {
    cpu::Engine& e = engine_for(v, threads);
    for (auto _ : state) {
      cpu::layernorm_rows(b.out.data(), b.inp.data(), p.ln1w, p.ln1b, T, C, *e.executor);
    }
  }
  set_rates(state, 8.0 * T * C, 4.0 * (2.0 * T * C + 2.0 * C));
}

// Causal attention of T new positions after `pos` cached ones: prefill
// (pos = 0) or one decode step (T = 1, pos = context - 1).
void attention(benchmark::State& state, Variant v, int T, int pos, int threads) {
  const ModelConfig& c = model()->config();
  Buffers& b = buffers();
  const int C = c.channels, NH = c.num_heads, cap = c.max_seq_len, n = pos + T;
  if (v.reference()) {
    // The reference's layout: qkv (T, 3C), keys and values (n, C).
    std::vector<float> qkv(std::size_t(T) * 3 * C, 0.1f), keys(std::size_t(n) * C, 0.2f),
        values(std::size_t(n) * C, 0.3f), att(n);
    for (auto _ : state) {
      ref::attention_forward(b.out.data(), qkv.data(), keys.data(), values.data(), att.data(), pos,
                             T, C, NH);
    }
  } else {
    cpu::Engine& e = engine_for(v, threads);
    for (auto _ : state) {
      cpu::attention_layer(b.out.data(), b.inp.data(), b.keys_t.data(), b.values.data(), cap, pos,
                           T, NH, C, b.att.data(), *e.kernels, *e.executor);
    }
  }
  // Per query row t: q.k over pos + t + 1 keys and as many values: 4 C flops each.
  double keys_seen = 0;
  for (int t = 0; t < T; t++) keys_seen += pos + t + 1;
  set_rates(state, 4.0 * C * keys_seen, 4.0 * (2.0 * T * C + 2.0 * double(n) * C));
}

void bm_attention(benchmark::State& state, Variant v) {
  attention(state, v, int(state.range(0)), 0, int(state.range(1)));
}
void bm_attention_decode(benchmark::State& state, Variant v) {
  attention(state, v, 1, int(state.range(0)) - 1, int(state.range(1)));
}

void bm_softmax(benchmark::State& state, Variant v) {
  const int threads = int(state.range(1));
  const int V = model()->config().vocab_size;
  Buffers& b = buffers();
  float* probs = b.out.data() + V;
  if (v.reference()) {
    for (auto _ : state) ref::softmax_forward(probs, b.out.data(), V);
  } else {
    cpu::Engine& e = engine_for(v, threads);
    std::vector<float> scratch;
    const cpu::SoftmaxRow row{b.out.data(), probs, nullptr};
    for (auto _ : state) cpu::softmax_rows({&row, 1}, V, scratch, *e.kernels, *e.executor);
  }
  set_rates(state, 4.0 * V, 4.0 * 4 * V);  // read, exponentials written, summed, divided
}

// ---------------------------------------------------------------------------
// Whole forward passes through a session: a prefill of T tokens (logits of
// the last), and one decode step after `context - 1` cached positions.

double forward_flops(const ModelConfig& c, int T, int pos) {
  const double C = c.channels, L = c.num_layers;
  double keys_seen = 0;
  for (int t = 0; t < T; t++) keys_seen += pos + t + 1;
  return L * (24.0 * C * C * T + 4.0 * C * keys_seen) + 2.0 * C * c.vocab_size;
}

std::vector<int> prompt_of(int n, int V) {
  std::vector<int> tokens(n);
  for (int i = 0; i < n; i++) tokens[i] = int((std::size_t(i) * 7907 + 13) % std::size_t(V));
  return tokens;
}

void bm_forward(benchmark::State& state, Variant v) {
  const int T = int(state.range(0)), threads = int(state.range(1));
  const ModelConfig& c = model()->config();
  Backend& backend = backend_for(v, threads);
  auto session = backend.open_session(T);
  const std::vector<int> tokens = prompt_of(T, c.vocab_size);
  std::vector<float> logits(c.vocab_size), probs(c.vocab_size);
  for (auto _ : state) session->forward(tokens, 0, logits, probs);
  set_rates(state, forward_flops(c, T, 0),
            weight_bytes_per_forward(c, v.precision) + 4.0 * T * c.channels * 2 * c.num_layers);
  state.counters["tokens/s"] = benchmark::Counter(T, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_decode(benchmark::State& state, Variant v) {
  const int context = int(state.range(0)), threads = int(state.range(1));
  const ModelConfig& c = model()->config();
  Backend& backend = backend_for(v, threads);
  auto session = backend.open_session(context);
  const std::vector<int> tokens = prompt_of(context, c.vocab_size);
  std::vector<float> logits(c.vocab_size), probs(c.vocab_size);
  session->forward(std::span<const int>(tokens).first(context - 1), 0, logits, probs);
  const std::span<const int> last = std::span<const int>(tokens).last(1);
  for (auto _ : state) session->forward(last, context - 1, logits, probs);
  const double weights = weight_bytes_per_forward(c, v.precision);
  const double cache = 2.0 * c.num_layers * context * c.channels * 4;  // keys and values read
  set_rates(state, forward_flops(c, 1, context - 1), weights + cache);
  state.counters["tokens/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weights GB/s"] =
      benchmark::Counter(weights * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------
// The machine's ceilings.

// Chunks per thread of the self-balancing loops below, as ShareCursors
// (backends/cpu/executor.h) cuts each worker's share.
constexpr int kChunksPerThread = 32;

// Each thread runs the loop's work once; balanced, the same total work is
// handed out in kChunksPerThread chunks per thread from one counter instead: the ceiling of a
// workload that balances itself (as the executors' shares with stealing do),
// where equal shares wait for the slowest CPU. On a machine of equal CPUs the
// two agree.
void bm_peak(benchmark::State& state, PeakKind kind, bool balanced) {
  const int threads = int(state.range(0));
  std::string why;
  if (!peak_available(kind, &why)) {
    state.SkipWithError(why.c_str());
    return;
  }
  constexpr long kWork = 1 << 20;
  const int chunks = threads * kChunksPerThread;
  double flops = 0;
  for (auto _ : state) {
    std::atomic<int> next{0};
    double sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    if (!balanced) {
      sum += run_peak(kind, kWork);
    } else {
      for (int c = next++; c < chunks; c = next++) sum += run_peak(kind, kWork / kChunksPerThread);
    }
    flops = sum;
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(kind == PeakKind::kFp32Fma || kind == PeakKind::kFp32MulAdd ? peak_isa() : "");
}

// The balanced loop's work again, now cut into `phases` parallel_for calls of
// a backend's own executor (pthreads pool or OpenMP), one after another, each
// ending at the executor's barrier as each op of a forward pass does: 84
// phases are the 7 parallel ops of each of 124M's 12 layers. The total work is
// the same at every phase count, about one 512-token forward pass's worth at 1
// thread; only the barriers differ. Their cost is what the machine takes from
// every phase that ends on a CPU the host has slowed or descheduled: the
// others wait for its last chunk. This loop has no memory traffic and no
// imbalance of its own, so it bounds the speedup of any kernels run in that
// many phases on this executor.
void bm_phased(benchmark::State& state, std::string executor, int phases) {
  const int threads = int(state.range(0));
  std::unique_ptr<Executor> ex;
  if (executor == "pthreads") {
    ex = std::make_unique<ThreadPool>(threads);
  } else {
    ex = std::make_unique<OpenMpExecutor>(threads);
  }
  constexpr long kTotalWork = 84L << 21;
  const int chunks = threads * kChunksPerThread;
  const long per_chunk = kTotalWork / phases / chunks;
  struct alignas(64) Sum {
    double flops = 0;
  };
  std::vector<Sum> sums(threads);
  for (auto _ : state) {
    for (int p = 0; p < phases; p++) {
      ex->parallel_for(chunks, [&](int begin, int end, int worker) {
        for (int c = begin; c < end; c++)
          sums[worker].flops += run_peak(PeakKind::kFp32MulAdd, per_chunk);
      });
    }
  }
  double flops = 0;  // per iteration
  for (const Sum& s : sums) flops += s.flops / double(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(peak_isa());
}

// Reads a 1 GiB buffer (far past any cache) with the widest loads, shares
// split among the threads.
void bm_read_bandwidth(benchmark::State& state) {
  const int threads = int(state.range(0));
  static cpu::AlignedFloats buffer;
  constexpr std::size_t kBytes = std::size_t(1) << 30;
  const std::size_t count = kBytes / sizeof(float);
  if (buffer.size() != count) {
    buffer = cpu::AlignedFloats(count);
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < count; i++) buffer.data()[i] = 1.0f;
  }
  for (auto _ : state) {
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const std::size_t k = std::size_t(omp_get_num_threads()),
                        w = std::size_t(omp_get_thread_num());
      const std::size_t per = (count / k + 127) / 128 * 128;
      const std::size_t begin = std::min(count, per * w), end = std::min(count, begin + per);
      total += read_sum(buffer.data() + begin, end - begin);
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["GB/s"] =
      benchmark::Counter(double(kBytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------

// The CPU backends at each precision they offer and this machine runs (the
// others are named on stderr once), by what they are: the shared engine's
// layers one by one, or (the reference) the reference's ops.
std::vector<Variant> variants() {
  static const std::vector<Variant> kVariants = [] {
    std::vector<Variant> out;
    const BackendPlan plan = expand_backend_specs({"all", "all", "1"});
    for (const std::string& line : plan.skipped) std::cerr << "note: " << line << "\n";
    for (const BackendSpec& spec : plan.specs) {
      const BackendEntry& e = find_backend(spec.backend);
      if (e.device != Device::kCpu) continue;
      // The reference's ops at bf16w and int8w are its float32 ops on
      // dequantized weights: nothing new to time.
      if (!e.cpu_engine && spec.precision != Precision::kFloat32) continue;
      out.push_back({spec.backend, spec.precision, e.cpu_engine, e.threaded});
    }
    return out;
  }();
  return kVariants;
}

void register_all(const Options& o) {
  const ModelConfig& c = model()->config();
  auto common = [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  for (int k : o.threads) {
    for (PeakKind kind :
         {PeakKind::kFp32Fma, PeakKind::kFp32MulAdd, PeakKind::kBf16Dot, PeakKind::kBf16Amx}) {
      common(benchmark::RegisterBenchmark(peak_name(kind), bm_peak, kind, false)
                 ->ArgNames({"threads"})
                 ->Arg(k));
    }
    common(benchmark::RegisterBenchmark("peak_fp32_mul_add_balanced", bm_peak,
                                        PeakKind::kFp32MulAdd, true)
               ->ArgNames({"threads"})
               ->Arg(k));
    for (const char* executor : {"pthreads", "openmp"}) {
      for (int phases : {1, 84}) {
        const std::string name = std::string("peak_fp32_mul_add_") + std::to_string(phases) +
                                 (phases == 1 ? "_phase/" : "_phases/") + executor;
        common(benchmark::RegisterBenchmark(name.c_str(), bm_phased, executor, phases)
                   ->ArgNames({"threads"})
                   ->Arg(k));
      }
    }
    common(benchmark::RegisterBenchmark("read_bandwidth", bm_read_bandwidth)
               ->ArgNames({"threads"})
               ->Arg(k));
  }
  for (const Variant& v : variants()) {
    const std::vector<int> counts = v.threaded ? o.threads : std::vector<int>{1};
    for (int k : counts) {
      auto reg = [&](const std::string& op, void (*fn)(benchmark::State&, Variant),
                     const std::vector<int>& rows) {
        for (int T : rows) {
          if (T > c.max_seq_len) continue;
          common(benchmark::RegisterBenchmark((op + "/" + v.label()).c_str(), fn, v)
                     ->ArgNames({"T", "threads"})
                     ->Args({T, k}));
        }
      };
      // The serial reference: only the shapes it finishes in seconds.
      auto limit = [&](int max_T) {
        std::vector<int> rows;
        for (int T : o.rows) {
          if (!v.reference() || T <= max_T) rows.push_back(T);
        }
        return rows;
      };
      reg("layernorm", bm_layernorm, o.rows);
      for (const Product& p : kProducts) {
        for (int T : limit(p.which == Linear::kLogits ? 16 : 1024)) {
          if (T > c.max_seq_len) continue;
          common(benchmark::RegisterBenchmark((std::string(p.name) + "/" + v.label()).c_str(),
                                              bm_product, v, p)
                     ->ArgNames({"T", "threads"})
                     ->Args({T, k}));
        }
      }
      reg("attention", bm_attention, o.rows);
      std::vector<int> contexts;
      for (int T : o.rows) {
        if (T > 1) contexts.push_back(T);
      }
      reg("attention_decode", bm_attention_decode, contexts);
      reg("softmax", bm_softmax, {1});
      reg("forward", bm_forward, limit(16));
      reg("decode", bm_decode, v.reference() ? std::vector<int>{128} : contexts);
    }
  }
}

std::vector<int> default_threads() {
  const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> out;
  for (int k = 1; k < hw; k *= 2) out.push_back(k);
  out.push_back(hw);
  return out;
}

}  // namespace
}  // namespace gpt2::microbench

int main(int argc, char** argv) {
  using namespace gpt2;
  using namespace gpt2::microbench;
  Options o;
  std::string threads_text, rows_text;
  CLI::App app{
      "gpt2-microbench: each op of the forward pass per backend at GPT-2 124M's shapes\n"
      "(T = 1, 16, 128, 1024), whole forward passes, and the machine's ceilings\n"
      "(float32 peak with and without FMA, bfloat16 peak, read bandwidth).\n\n"
      "Google Benchmark's own flags (--benchmark_filter=REGEX, --benchmark_min_time=S, ...;\n"
      "--benchmark_help lists them) pass through. Results: reports/runs/microbench-<time>.json\n"
      "unless --benchmark_out is given.",
      "gpt2-microbench"};
  app.allow_extras();
  app.add_option("--threads", threads_text,
                 "Thread counts to register: 1,16, 1..4 (default: 1, 2, 4, ... cores)");
  app.add_option("--rows", rows_text, "T values to register (default 1,16,128,1024)");
  app.add_option("--model", o.model, "The model whose shapes and weights are used")
      ->capture_default_str();
  if (const std::optional<int> status = parse_arguments(app, argc, argv)) return *status;
  std::vector<std::string> args_text = {argv[0]};
  bool has_out = false, has_min_time = false;
  for (const std::string& a : app.remaining()) {
    has_out = has_out || a.rfind("--benchmark_out=", 0) == 0;
    has_min_time = has_min_time || a.rfind("--benchmark_min_time=", 0) == 0;
    args_text.push_back(a);
  }
  try {
    o.threads = threads_text.empty() ? default_threads() : parse_thread_list(threads_text);
    if (!rows_text.empty()) o.rows = parse_number_list(rows_text, kRowList);
    model() = open_model(o.model, &std::cerr);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  if (!has_min_time) args_text.push_back(kMinTimeFlag);
  if (!has_out) {
    const std::filesystem::path dir = reports_dir() / "runs";
    std::filesystem::create_directories(dir);
    std::string stamp = utc_timestamp();
    stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
    const std::string out = (dir / ("microbench-" + stamp + ".json")).string();
    args_text.push_back("--benchmark_out=" + out);
    args_text.push_back("--benchmark_out_format=json");
    std::cerr << "results: " << out << "\n";
  }
  std::vector<char*> args;
  for (std::string& a : args_text) args.push_back(a.data());
  int n = int(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  const MachineInfo m = machine_info();
  benchmark::AddCustomContext("cpu_model", m.cpu_model);
  std::string flags;
  for (const std::string& f : m.isa_flags) flags += (flags.empty() ? "" : " ") + f;
  benchmark::AddCustomContext("isa_flags", flags);
  benchmark::AddCustomContext("kernel_isa", m.kernel_isa);
  benchmark::AddCustomContext("git_commit", m.git_commit);
  benchmark::AddCustomContext("compiler", m.compiler);
  benchmark::AddCustomContext("model", model()->name() + " (xxh3 " + model()->checksum() + ")");
  // What each backend runs (libraries, instruction sets), made on the tiny model.
  const auto tiny = open_model("synthetic:tiny");
  for (const Variant& v : variants()) {
    const auto b = make_backend(tiny, backend_spec(v.backend, v.precision, 2));
    benchmark::AddCustomContext("backend " + v.label() + " (at 2 threads)", b->info().details);
  }
  register_all(o);
#if GPT2_WITH_CUDA
  register_cuda_benchmarks(model(), o.rows);
#endif
#if GPT2_WITH_CUDA_TP
  // A decode step's rows at batch 1 and 32, and a prefill of 1024.
  register_collective_benchmarks(model()->config(), {1, 32, 1024});
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
