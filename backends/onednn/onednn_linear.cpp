#include "backends/onednn/onednn_linear.h"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace gpt2 {

namespace {

using cpu::Epilogue;
using cpu::Linear;
using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Dt = dnnl::memory::data_type;

constexpr int kLinears = 5;  // Linear::kQkv .. Linear::kLogits
// The weights are kept in the layouts oneDNN prefers for one row (decode) and
// for kLayoutRows (a prefill): one copy when oneDNN asks for the same layout
// for both, two otherwise (the details line says which).
constexpr int kLayoutRows = 128;
// Primitives kept at most; past that the cache starts over (oneDNN keeps its
// own cache of recent primitives, so remaking one costs little).
constexpr std::size_t kMaxPrimitives = 1024;

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::all:
      return "all";
  }
  return "unknown";
}

// Sets the calling thread's OpenMP thread count (what oneDNN's OpenMP runtime
// runs a primitive on) for the scope, and restores it.
class OmpThreads {
 public:
  explicit OmpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~OmpThreads() { omp_set_num_threads(previous_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_;
};

// Round to nearest even, as oneDNN's own conversion does; NaN stays NaN.
inline std::uint16_t to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x40u);
  return std::uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

enum class Post { kNone, kSum, kGelu };

}  // namespace

const OnednnInfo& onednn_info() {
  static const OnednnInfo info = [] {
    OnednnInfo i;
    const dnnl_version_t* v = dnnl::version();
    i.version =
        std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    i.runtime = v->cpu_runtime == DNNL_RUNTIME_OMP   ? "OpenMP"
                : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                     : "other";
    i.isa = isa_name(dnnl::get_effective_cpu_isa());
    return i;
  }();
  return info;
}

bool OnednnLinear::bf16_available(std::string* why) {
  static const std::string problem = []() -> std::string {
    try {
      const dnnl::engine engine{dnnl::engine::kind::cpu, 0};
      for (memory::dim T : {memory::dim(1), memory::dim(kLayoutRows)}) {
        const memory::desc src({T, 64}, Dt::bf16, Tag::ab), dst({T, 64}, Dt::f32, Tag::ab);
        const memory::desc weights({64, 64}, Dt::bf16, Tag::any);
        dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), engine);
      }
      return "";
    } catch (const dnnl::error&) {
      return "oneDNN " + onednn_info().version + " has no bfloat16 matrix product on this CPU " +
             "(the instruction set it uses here: " + onednn_info().isa + ")";
    }
  }();
  if (!problem.empty() && why != nullptr) *why = problem;
  return problem.empty();
}

struct OnednnLinear::Impl {
  struct Primitive {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul matmul;
    int layout;  // which copy of the weights it reads
  };
  using Key = std::tuple<int, int, int>;  // (Linear, T, Post)

  std::shared_ptr<const Model> model;
  const cpu::Kernels& kernels;
  Precision precision;
  Dt dt;  // of the weights and the matmul's input
  int threads;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  // Per product: the layouts the weights are kept in, and per layout the
  // weights of each layer (the logits: one).
  std::array<std::vector<memory::desc>, kLinears> layouts;
  std::array<std::vector<std::vector<memory>>, kLinears> weights;
  std::array<std::vector<memory>, kLinears> bias;  // per layer; none for the logits
  mutable std::mutex mutex;
  mutable std::map<Key, std::shared_ptr<const Primitive>> cache;
  mutable int made = 0;

  Impl(std::shared_ptr<const Model> m, Precision p, int t, const cpu::Kernels& k)
      : model(std::move(m)),
        kernels(k),
        precision(p),
        dt(p == Precision::kBFloat16 ? Dt::bf16 : Dt::f32),
        threads(t) {}

  dnnl::matmul::primitive_desc make_pd(Linear which, int T, Post post,
                                       const memory::desc& w_md) const {
    const cpu::LinearMatrix m = cpu::linear_matrix(*model, which, 0);
    const memory::dim K = m.cols, N = m.rows;
    const memory::desc src_md({T, K}, dt, Tag::ab);
    const memory::desc dst_md({T, N}, Dt::f32, Tag::ab);
    dnnl::post_ops ops;
    if (post == Post::kSum) ops.append_sum(1.0f);
    if (post == Post::kGelu)
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // ours, per thread: see run()
    if (m.bias == nullptr) {
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, w_md, dst_md), attr, engine);
    }
    const memory::desc bias_md({1, N}, Dt::f32, Tag::ab);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, w_md, bias_md, dst_md), attr,
                                        engine);
  }

  std::shared_ptr<const Primitive> primitive(Linear which, int T, Post post) const {
    const Key key{int(which), T, int(post)};
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    if (cache.size() >= kMaxPrimitives) cache.clear();
    OmpThreads omp(threads);  // oneDNN plans its work split for this thread count
    // The implementation oneDNN would pick with the weights in any layout; if
    // it wants one we keep, that one; else the first kept layout for which it
    // has a real (not reference) implementation.
    const std::vector<memory::desc>& kept = layouts[int(which)];
    const memory::desc any = memory::desc(kept[0].dims(), dt, Tag::any);
    auto pd = make_pd(which, T, post, any);
    int layout = -1;
    for (std::size_t i = 0; i < kept.size() && layout < 0; i++) {
      if (pd.weights_desc() == kept[i]) layout = int(i);
    }
    for (std::size_t i = 0; i < kept.size() && layout < 0; i++) {
      pd = make_pd(which, T, post, kept[i]);
      if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0 || i + 1 == kept.size()) {
        layout = int(i);
      }
    }
    auto p = std::make_shared<const Primitive>(Primitive{pd, dnnl::matmul(pd), layout});
    made++;
    cache.emplace(key, p);
    return p;
  }
};

OnednnLinear::OnednnLinear(std::shared_ptr<const Model> model, Precision precision, int threads,
                           const cpu::Kernels& kernels)
    : impl_(std::make_unique<Impl>(std::move(model), precision, threads, kernels)) {
  Impl& d = *impl_;
  if (threads < 1) throw std::invalid_argument("oneDNN: threads must be at least 1");
  OmpThreads omp(threads);
  dnnl::stream stream(d.engine);
  const int L = d.model->config().num_layers;
  for (int k = 0; k < kLinears; k++) {
    const Linear which = Linear(k);
    const cpu::LinearMatrix m0 = cpu::linear_matrix(*d.model, which, 0);
    const memory::dim K = m0.cols, N = m0.rows;
    const memory::desc any({K, N}, d.dt, Tag::any);
    for (int rows : {kLayoutRows, 1}) {
      const memory::desc md = d.make_pd(which, rows, Post::kNone, any).weights_desc();
      if (std::find(d.layouts[k].begin(), d.layouts[k].end(), md) == d.layouts[k].end()) {
        d.layouts[k].push_back(md);
      }
    }
    d.weights[k].resize(d.layouts[k].size());
    const int layers = which == Linear::kLogits ? 1 : L;
    for (int l = 0; l < layers; l++) {
      const cpu::LinearMatrix m = cpu::linear_matrix(*d.model, which, l);
      // llm.c's (OC, C) row-major is B (C, OC) in column-major order: tag ba.
      memory plain({{K, N}, Dt::f32, Tag::ba}, d.engine, const_cast<float*>(m.w));
      for (std::size_t i = 0; i < d.layouts[k].size(); i++) {
        memory packed(d.layouts[k][i], d.engine);
        dnnl::reorder(plain, packed).execute(stream, plain, packed);
        d.weights[k][i].push_back(packed);
      }
      if (m.bias != nullptr) {
        d.bias[k].emplace_back(memory::desc({1, N}, Dt::f32, Tag::ab), d.engine,
                               const_cast<float*>(m.bias));
      }
    }
  }
  stream.wait();
}

OnednnLinear::~OnednnLinear() = default;

void OnednnLinear::run(Linear which, int layer, const float* inp, int T, const Epilogue& ep,
                       Executor& ex) {
  Impl& d = *impl_;
  const cpu::LinearMatrix m = cpu::linear_matrix(*d.model, which, layer);
  const int OC = m.rows, C = m.cols;
  const int li = which == Linear::kLogits ? 0 : layer;
  // oneDNN's fast kernels write a dense (T, OC) output; anything else is
  // computed into one and placed by the shared epilogue.
  const bool direct = ep.kind != Epilogue::kQkv && ep.ld == OC;
  const Post post = !direct                      ? Post::kNone
                    : ep.kind == Epilogue::kAdd  ? Post::kSum
                    : ep.kind == Epilogue::kGelu ? Post::kGelu
                                                 : Post::kNone;
  auto p = d.primitive(which, T, post);
  float* dst =
      direct ? ep.out : static_cast<float*>(cpu::thread_scratch(0, sizeof(float) * T * OC));
  void* src = const_cast<float*>(inp);
  if (d.dt == Dt::bf16) {
    auto* converted = static_cast<std::uint16_t*>(cpu::thread_scratch(1, 2 * std::size_t(T) * C));
    ex.parallel_for(T, [&](int t0, int t1, int) {
      for (long i = long(t0) * C; i < long(t1) * C; i++) converted[i] = to_bf16(inp[i]);
    });
    src = converted;
  }
  const memory::desc sp_md = p->pd.scratchpad_desc();
  memory src_mem(p->pd.src_desc(), d.engine, src);
  memory dst_mem(p->pd.dst_desc(), d.engine, dst);
  memory sp_mem(sp_md, d.engine, cpu::thread_scratch(2, sp_md.get_size()));
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src_mem},
                                          {DNNL_ARG_WEIGHTS, d.weights[int(which)][p->layout][li]},
                                          {DNNL_ARG_DST, dst_mem},
                                          {DNNL_ARG_SCRATCHPAD, sp_mem}};
  if (m.bias != nullptr) args.emplace(DNNL_ARG_BIAS, d.bias[int(which)][li]);
  {
    OmpThreads omp(d.threads);
    dnnl::stream stream(d.engine);
    p->matmul.execute(stream, args);
    stream.wait();
  }
  if (!direct) cpu::apply_epilogue(dst, T, OC, ep, d.kernels, ex);
}

std::string OnednnLinear::implementation(Linear which, int T) const {
  return impl_->primitive(which, T, Post::kNone)->pd.impl_info_str();
}

int OnednnLinear::threads_seen() const {
  OmpThreads omp(impl_->threads);
  return omp_get_max_threads();
}

std::string OnednnLinear::layouts_kept() const {
  std::size_t most = 0;
  for (const auto& l : impl_->layouts) most = std::max(most, l.size());
  return most == 1 ? "one for every prompt length" : "one for decode, one for prefill";
}

int OnednnLinear::primitives_made() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->made;
}

void OnednnLinear::wte_row(int token, float* out) const {
  cpu::copy_wte_row(*impl_->model, token, out);
}

std::string OnednnLinear::details() const {
  const OnednnInfo& o = onednn_info();
  const bool bf16 = impl_->precision == Precision::kBFloat16;
  return "oneDNN " + o.version + " (" + o.runtime + " runtime, ISA " + o.isa + "), matmul " +
         implementation(Linear::kQkv, kLayoutRows) + " at T = " + std::to_string(kLayoutRows) +
         ", " + implementation(Linear::kQkv, 1) + " at T = 1; " +
         (bf16 ? "bfloat16 weights and matmul inputs (not float32), float32 outputs; "
               : "float32; ") +
         "weights reordered once into oneDNN's blocked layout (" + layouts_kept() +
         "); bias, GELU (tanh) and the "
         "residual add fused as post-ops; a primitive per (product, T), kept; oneDNN runs on " +
         std::to_string(threads_seen()) + " OpenMP thread" + (threads_seen() == 1 ? "" : "s") +
         " (omp_set_num_threads on the calling thread around each call)";
}

}  // namespace gpt2
