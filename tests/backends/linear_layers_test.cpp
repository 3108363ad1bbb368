// Every backend's matrix products (its cpu::LinearLayers: the bit-exact packed
// kernels, BLIS, oneDNN in float32 and bfloat16) at odd shapes, with every
// epilogue, against the reference's matmul, GELU and residual add (T = 16 and
// 32 on both sides of the blis backend's gemv/gemm switch on AVX-512). Tolerance
// per backend, on |got - want| relative to the size of the sum's terms
// (|bias| + sum of |inp * w|): bit-exact 0, reordered float32 1e-5, bfloat16 1e-2.
#include <gtest/gtest.h>

#include <dirent.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <set>
#include <thread>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/packed_linear.h"
#include "backends/registry.h"
#include "reference/kernels.h"
#include "reference/synthetic.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2::cpu {
namespace {

struct Variant {
  std::string backend;
  Precision precision;
  int threads;
};

std::vector<Variant> variants() {
  std::vector<Variant> out;
  for (const BackendEntry& e : backend_entries()) {
    if (!e.cpu_engine) continue;  // its layers are not the shared CPU engine's
    for (Precision p : {Precision::kFloat32, Precision::kBFloat16}) {
      if (!offers_precision(e, p)) continue;
      for (int threads : {1, 3}) out.push_back({std::string(e.name), p, threads});
    }
  }
  return out;
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return info.param.backend + "_" + precision_name(info.param.precision) + "_" +
         std::to_string(info.param.threads) + "threads";
}

double tolerance(const BackendInfo& info) {
  if (info.numerics == Numerics::kBitExact) return 0;
  return info.precision == Precision::kBFloat16 ? 1e-2 : 1e-5;
}

// An odd model: C = 80 (5 heads of 16), 3C = 240, 4C = 320 and V = 1000, none
// a multiple of 64; room for T = 129.
std::shared_ptr<const Model> odd_model() {
  static const ModelConfig cfg{160, 1000, 1024, 2, 5, 80};
  static auto model = Model::from_parameters(cfg, synthetic_parameters(cfg, 11), "odd");
  return model;
}

class LinearLayersTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    const Variant& v = GetParam();
    if (std::string why; !backend_available(find_backend(v.backend), v.precision, &why)) {
      GTEST_SKIP() << v.backend << " at " << precision_name(v.precision)
                   << " cannot run here: " << why;
    }
    backend_ = make_backend(odd_model(), backend_spec(v.backend, v.precision, v.threads));
    auto* cpu = dynamic_cast<const CpuBackend*>(backend_.get());
    ASSERT_NE(cpu, nullptr);
    engine_ = cpu->engine();
    tol_ = tolerance(backend_->info());
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<Engine> engine_;
  double tol_ = 0;
};

// The reference's v (T, OC) and, per output, the size of its sum's terms.
struct Expected {
  std::vector<float> v;
  std::vector<double> scale;
};

Expected expected(const LinearMatrix& m, const std::vector<float>& inp, int T) {
  Expected e;
  e.v.resize(std::size_t(T) * m.rows);
  ref::matmul_forward(e.v.data(), inp.data(), m.w, m.bias, T, m.cols, m.rows);
  e.scale.resize(e.v.size());
  for (int t = 0; t < T; t++) {
    for (int o = 0; o < m.rows; o++) {
      double s = m.bias ? std::fabs(m.bias[o]) : 0.0;
      for (int i = 0; i < m.cols; i++) {
        s += std::fabs(double(inp[std::size_t(t) * m.cols + i]) * m.w[std::size_t(o) * m.cols + i]);
      }
      e.scale[std::size_t(t) * m.rows + o] = s;
    }
  }
  return e;
}

// got == want within tol * scale (bit for bit when tol is 0).
void expect_close(float got, float want, double scale, double tol, const std::string& where) {
  if (tol == 0) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want))
        << where << ": " << got << " vs " << want;
  } else {
    ASSERT_LE(std::fabs(double(got) - want), tol * scale) << where << ": " << got << " vs " << want;
  }
}

TEST_P(LinearLayersTest, EveryProductAndEpilogueMatchesTheReference) {
  const ModelConfig& cfg = odd_model()->config();
  LinearLayers& linear = *engine_->linear;
  Executor& ex = *engine_->executor;
  for (int T : {1, 7, 16, 32, 129}) {
    for (Linear which :
         {Linear::kQkv, Linear::kAttProj, Linear::kFc, Linear::kFcProj, Linear::kLogits}) {
      const int layer = which == Linear::kLogits ? 0 : 1;
      const LinearMatrix m = linear_matrix(*odd_model(), which, layer);
      const int OC = m.rows;
      const auto inp = test::random_values(std::size_t(T) * m.cols, 100 + T, 1.5f);
      const Expected e = expected(m, inp, T);
      const std::string shape = std::string(linear_name(which)) + " T=" + std::to_string(T);

      // kStore, into rows wider than OC: the padding stays untouched.
      const int ld = OC + 3;
      std::vector<float> out(std::size_t(T) * ld, NAN);
      linear.run(which, layer, inp.data(), T, {Epilogue::kStore, out.data(), ld}, ex);
      for (int t = 0; t < T; t++) {
        for (int o = 0; o < OC; o++) {
          const std::size_t i = std::size_t(t) * OC + o;
          expect_close(out[std::size_t(t) * ld + o], e.v[i], e.scale[i], tol_, "store " + shape);
        }
        for (int o = OC; o < ld; o++)
          ASSERT_TRUE(std::isnan(out[std::size_t(t) * ld + o])) << shape;
      }

      // kAdd: out + v, as ref::residual_forward.
      const auto resid = test::random_values(std::size_t(T) * OC, 7 + T);
      std::vector<float> add = resid, add_want(resid.size());
      ref::residual_forward(add_want.data(), resid.data(), e.v.data(), T * OC);
      linear.run(which, layer, inp.data(), T, {Epilogue::kAdd, add.data(), OC}, ex);
      for (std::size_t i = 0; i < add.size(); i++) {
        expect_close(add[i], add_want[i], e.scale[i] + std::fabs(resid[i]), tol_, "add " + shape);
      }

      // kGelu: gelu(v), as ref::gelu_forward (its slope is at most 1.13).
      std::vector<float> gelu(std::size_t(T) * OC, NAN), gelu_want(gelu.size());
      ref::gelu_forward(gelu_want.data(), e.v.data(), T * OC);
      linear.run(which, layer, inp.data(), T, {Epilogue::kGelu, gelu.data(), OC}, ex);
      for (std::size_t i = 0; i < gelu.size(); i++) {
        expect_close(gelu[i], gelu_want[i], 1.2 * e.scale[i], tol_, "gelu " + shape);
      }

      if (which != Linear::kQkv) continue;
      // kQkv: q to out, keys transposed into the cache at pos + t, values at pos + t.
      const int C = cfg.channels, pos = 3, stride = T + pos + 2;
      std::vector<float> q(std::size_t(T) * C, NAN), keys_t(std::size_t(C) * stride, NAN),
          values(std::size_t(stride) * C, NAN);
      const Epilogue ep =
          Epilogue::qkv(q.data(), keys_t.data(), values.data(), pos, stride, C, cfg.head_size());
      linear.run(which, layer, inp.data(), T, ep, ex);
      for (int t = 0; t < T; t++) {
        for (int c = 0; c < C; c++) {
          const std::size_t i = std::size_t(t) * OC;
          expect_close(q[std::size_t(t) * C + c], e.v[i + c], e.scale[i + c], tol_, "q " + shape);
          expect_close(keys_t[std::size_t(c) * stride + pos + t], e.v[i + C + c],
                       e.scale[i + C + c], tol_, "k " + shape);
          expect_close(values[std::size_t(pos + t) * C + c], e.v[i + 2 * C + c],
                       e.scale[i + 2 * C + c], tol_, "v " + shape);
        }
      }
      EXPECT_TRUE(std::isnan(keys_t[pos - 1])) << "nothing written before pos";
      EXPECT_TRUE(std::isnan(values[std::size_t(pos + T) * C])) << "nothing written after pos + T";
    }
  }
}

// The ids of this process's threads (Linux: /proc/self/task).
std::set<int> os_thread_ids() {
  std::set<int> ids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ids.insert(std::atoi(e->d_name));
    }
    closedir(d);
  }
  return ids;
}

// A forward pass started from a fresh thread brings up at most threads - 1 new
// threads, info().threads being what the backend says it runs on: whatever a
// library starts comes out of the same budget as our loops (for the library
// backends, one OpenMP team of `threads`). Only threads that are new count:
// those whose ids were not there before (an earlier test's helper threads may
// still be exiting, so a plain count can fall as well as rise).
TEST_P(LinearLayersTest, AForwardPassStartsNoMoreThreadsThanAskedFor) {
  // Backends whose library busy-waits (blis) run on at most the CPUs there are.
  const int threads = backend_->info().threads;
  EXPECT_GE(threads, 1);
  EXPECT_LE(threads, GetParam().threads);
  if (threads < GetParam().threads) {
    EXPECT_NE(backend_->info().details.find("threads asked for"), std::string::npos);
  }
  int started = -1;
  std::thread caller([&] {
    const std::set<int> before = os_thread_ids();
    auto session = backend_->open_session(40);
    std::vector<int> prompt(33);
    for (int i = 0; i < 33; i++) prompt[i] = (i * 31) % 1000;
    std::vector<float> logits(1000), probs(1000);
    session->forward(prompt, 0, logits, probs);
    session->forward(std::vector<int>{5}, 33, logits, probs);
    started = 0;
    for (int id : os_thread_ids()) started += before.count(id) == 0 ? 1 : 0;
    EXPECT_FALSE(std::isnan(logits[0]));
  });
  caller.join();
  EXPECT_GE(started, 0);
  EXPECT_LE(started, threads - 1) << backend_->info().details;
}

// Chunks of a product's tasks, as an executor may hand them out, become kernel
// calls that cover every (group, row) exactly once: whole groups up to 48 rows
// (their rows cut in equal chunks when there are too few groups for the
// workers), tiles of 6 rows of one group past that, one call per group a chunk
// touches.
TEST(MatmulTasks, ChunksCoverEveryGroupAndRowOnce) {
  for (int threads : {1, 2, 16}) {
    for (int groups : {1, 4, 12, 13, 36}) {
      for (int T : {1, 7, 16, 48, 49, 129, 512}) {
        const MatmulTasks tasks(groups, T, threads);
        const int n = tasks.count();
        if (T > 48) {
          EXPECT_EQ(n, groups * ((T + 5) / 6));
        } else if (threads == 1) {
          EXPECT_EQ(n, groups);
        }
        for (int grain : {1, 2, 5, 23, n}) {
          std::vector<int> seen(std::size_t(groups) * T, 0);
          int calls = 0, chunks = 0;
          for (int begin = 0; begin < n; begin += grain, chunks++) {
            tasks.for_runs(begin, std::min(n, begin + grain), [&](int g0, int g1, int t0, int t1) {
              calls++;
              ASSERT_LT(g0, g1);
              ASSERT_LE(g1, groups);
              ASSERT_LT(t0, t1);
              ASSERT_LE(t1, T);
              if (T > 48) {
                EXPECT_EQ(g1, g0 + 1);
                EXPECT_EQ(t0 % kRowTile, 0);
              }
              for (int g = g0; g < g1; g++) {
                for (int t = t0; t < t1; t++) seen[std::size_t(g) * T + t]++;
              }
            });
          }
          const std::string where = std::to_string(groups) + " groups, " + std::to_string(T) +
                                    " rows, " + std::to_string(threads) + " threads, chunks of " +
                                    std::to_string(grain);
          for (int v : seen) ASSERT_EQ(v, 1) << where;
          EXPECT_LE(calls, chunks + groups) << where;
        }
      }
    }
  }
}

// A batched step's 16 rows on 16 workers: the 768-output products (12 groups)
// and qkv (36) cut each group's rows in 4, so that no worker idles or runs a
// third round; fc's 48 groups, the logits' 786 and a decode step's one row
// stay whole groups.
TEST(MatmulTasks, FewGroupsForTheWorkersAreCutByRows) {
  EXPECT_EQ(MatmulTasks(12, 16, 16).per_group, 4);
  EXPECT_EQ(MatmulTasks(36, 16, 16).per_group, 4);
  EXPECT_EQ(MatmulTasks(12, 32, 16).per_group, 4);
  EXPECT_EQ(MatmulTasks(48, 16, 16).per_group, 1);
  EXPECT_EQ(MatmulTasks(786, 16, 16).per_group, 1);
  EXPECT_EQ(MatmulTasks(12, 1, 16).per_group, 1);
  EXPECT_EQ(MatmulTasks(12, 16, 1).per_group, 1);
  EXPECT_EQ(MatmulTasks(12, 16, 2).per_group, 1);
}

INSTANTIATE_TEST_SUITE_P(AllLinearLayers, LinearLayersTest, ::testing::ValuesIn(variants()),
                         variant_name);

}  // namespace
}  // namespace gpt2::cpu
