// cuda-tp on whatever GPUs are here: at one rank (NCCL, one GPU) the cuda
// backend's bits; its ranks all on GPU 0 (the local communicator: every line
// of the sharded math, no NCCL) held to the reference at 2, 3, 4, 6 and 12
// ranks, batch-invariant, forking caches; at 2 GPUs and more (NCCL, each
// decode step a CUDA graph per rank) when the machine has them. The
// communicators themselves on known values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "backends/cuda/buffers.h"
#include "backends/cuda/device.h"
#include "backends/cuda_tp/communicator.h"
#include "backends/registry.h"
#include "reference/synthetic.h"
#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using Logits = std::vector<std::vector<float>>;

// The prompt at once, then `extra` greedy tokens one per step (kv-cache) or
// the whole sequence again (recompute); every step's logits.
Logits run(const Backend& backend, std::vector<int> tokens, int extra, bool kv_cache) {
  const int V = backend.model().config().vocab_size;
  auto session = backend.open_session(int(tokens.size()) + extra);
  std::vector<float> logits(V), probs(V);
  Logits out;
  int pos = 0;
  for (int step = 0; step <= extra; step++) {
    if (!kv_cache) pos = 0;
    session->forward(std::span<const int>(tokens).subspan(pos), pos, logits, probs);
    out.push_back(logits);
    pos = int(tokens.size());
    tokens.push_back(int(std::max_element(logits.begin(), logits.end()) - logits.begin()));
  }
  return out;
}

double max_diff(const Logits& a, const Logits& b) {
  double worst = 0;
  for (std::size_t s = 0; s < a.size(); s++) {
    for (std::size_t v = 0; v < a[s].size(); v++) {
      worst = std::max(worst, std::fabs(double(a[s][v]) - b[s][v]));
    }
  }
  return worst;
}

BackendSpec tp_spec(int ranks, bool one_gpu, Precision p = Precision::kFloat32) {
  BackendSpec spec = backend_spec("cuda-tp", p);
  spec.devices = gpu_devices(ranks, one_gpu);
  return spec;
}

// 12 heads of 16 (C = 192) and a vocabulary of 1000 (no rank count of 3, 4
// or 12 divides it... 1000 / 3 and / 12 leave the last rank short).
std::shared_ptr<const Model> twelve_heads() {
  static const ModelConfig cfg{256, 1000, 1024, 2, 12, 192};
  static auto model = Model::from_parameters(cfg, synthetic_parameters(cfg, 5), "12 heads");
  return model;
}

TEST(CudaTpTest, OneRankIsTheCudaBackendBitForBit) {
  const auto model = test::tiny_model();
  auto cuda = make_backend(model, backend_spec("cuda"));
  auto tp = make_backend(model, tp_spec(1, false));
  EXPECT_EQ(tp->info().numerics, Numerics::kReordered);
  EXPECT_EQ(tp->info().ranks, 1);
  for (bool kv : {false, true}) {
    const Logits want = run(*cuda, {31373, 612, 338, 635, 281}, 6, kv);
    const Logits got = run(*tp, {31373, 612, 338, 635, 281}, 6, kv);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t s = 0; s < want.size(); s++) {
      ASSERT_EQ(std::memcmp(got[s].data(), want[s].data(), want[s].size() * 4), 0) << "step " << s;
    }
  }
}

struct ShardCase {
  int ranks;
  bool twelve;  // the 12-head model, else tiny (4 heads)
  Precision precision;
};

class CudaTpShardsTest : public ::testing::TestWithParam<ShardCase> {};

TEST_P(CudaTpShardsTest, RanksOnOneGpuMatchTheReference) {
  const ShardCase c = GetParam();
  const auto model = c.twelve ? twelve_heads() : test::tiny_model();
  auto reference = make_backend(model, backend_spec("reference"));
  auto tp = make_backend(model, tp_spec(c.ranks, true, c.precision));
  EXPECT_EQ(tp->info().ranks, c.ranks);
  const std::vector<int> prompt = c.twelve ? std::vector<int>{1, 500, 999, 3, 77, 250}
                                           : std::vector<int>{464, 2068, 7586, 21831};
  const Logits want = run(*reference, prompt, 5, false);
  for (bool kv : {false, true}) {
    const Logits got = run(*tp, prompt, 5, kv);
    double largest = 0;
    for (const auto& row : want) {
      for (float v : row) largest = std::max(largest, std::fabs(double(v)));
    }
    const double diff = max_diff(got, want);
    if (c.precision == Precision::kFloat32) {
      EXPECT_LE(diff, 1e-3) << c.ranks << " ranks, kv-cache " << kv;
    } else {
      EXPECT_LE(diff / largest, 0.02) << c.ranks << " ranks, kv-cache " << kv;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, CudaTpShardsTest,
                         ::testing::Values(ShardCase{2, false, Precision::kFloat32},
                                           ShardCase{4, false, Precision::kFloat32},
                                           ShardCase{2, false, Precision::kBFloat16},
                                           ShardCase{3, true, Precision::kFloat32},
                                           ShardCase{4, true, Precision::kFloat32},
                                           ShardCase{6, true, Precision::kFloat32},
                                           ShardCase{12, true, Precision::kFloat32},
                                           ShardCase{4, true, Precision::kBFloat16}),
                         [](const auto& info) {
                           return std::to_string(info.param.ranks) + "Ranks" +
                                  (info.param.twelve ? "12Heads" : "Tiny") +
                                  (info.param.precision == Precision::kBFloat16 ? "Bf16" : "F32");
                         });

// A sequence's logits alone and beside others (a prompt and decodes in one
// step) are the same bits, and a forked cache continues as its parent.
void expect_batch_invariant_and_forks(const Backend& tp) {
  const int V = tp.model().config().vocab_size;
  const std::vector<int> a = {5, 6, 7, 8}, b = {9, 10}, c = {11, 12, 13, 14, 15, 16};
  auto alone = tp.open_session(16);
  std::vector<float> want(V), probs(V);
  alone->forward(a, 0, want, probs);
  std::vector<float> want2(V);
  const int next = 42;
  alone->forward({&next, 1}, 4, want2, probs);

  auto sa = tp.open_session(16), sb = tp.open_session(16), sc = tp.open_session(16);
  std::vector<float> la(V), lb(V), lc(V), pa(V);
  sb->forward(b, 0, lb, pa);
  std::vector<SequenceStep> steps(3);
  steps[0] = {sa.get(), a, 0, la, pa, false};
  steps[1] = {sb.get(), {&next, 1}, 2, lb, {}, false};
  steps[2] = {sc.get(), c, 0, lc, {}, false};
  tp.forward_batch(steps);
  EXPECT_EQ(std::memcmp(la.data(), want.data(), V * 4), 0) << "a prompt beside others";
  // Decodes of several sequences (the graph's path where capturable).
  steps.resize(2);
  std::vector<float> la2(V);
  steps[0] = {sa.get(), {&next, 1}, 4, la2, pa, false};
  steps[1] = {sc.get(), {&next, 1}, 6, lc, {}, false};
  tp.forward_batch(steps);
  EXPECT_EQ(std::memcmp(la2.data(), want2.data(), V * 4), 0) << "a decode beside another";
  // A fork: the child takes a's first 4 positions, then decodes as a did.
  auto child = tp.open_session(16);
  const CacheCopy copy{alone.get(), child.get(), 4};
  tp.copy_caches({&copy, 1});
  EXPECT_EQ(child->cached(), 4);
  std::vector<float> lf(V);
  child->forward({&next, 1}, 4, lf, probs);
  EXPECT_EQ(std::memcmp(lf.data(), want2.data(), V * 4), 0) << "a forked cache";
}

TEST(CudaTpTest, ThreeRanksOnOneGpuAreBatchInvariantAndFork) {
  auto tp = make_backend(twelve_heads(), tp_spec(3, true));
  expect_batch_invariant_and_forks(*tp);
}

TEST(CudaTpTest, OneRankIsBatchInvariantAndForks) {
  auto tp = make_backend(twelve_heads(), tp_spec(1, false));
  expect_batch_invariant_and_forks(*tp);
}

TEST(CudaTpTest, TwoGpusMatchTheReferenceWhenPresent) {
  const int gpus = cuda::device_count(nullptr);
  if (gpus < 2) GTEST_SKIP() << "one GPU here: NCCL across GPUs not run";
  for (int n : {2, 4}) {
    if (n > gpus) continue;
    auto reference = make_backend(test::tiny_model(), backend_spec("reference"));
    auto tp = make_backend(test::tiny_model(), tp_spec(n, false));
    const Logits want = run(*reference, {464, 2068, 7586, 21831}, 5, false);
    EXPECT_LE(max_diff(run(*tp, {464, 2068, 7586, 21831}, 5, true), want), 1e-3) << n;
    expect_batch_invariant_and_forks(*tp);
  }
}

TEST(CudaTpTest, BadDeviceListsAreOneLine) {
  const auto model = test::tiny_model();
  const int gpus = cuda::device_count(nullptr);
  try {
    make_backend(model, tp_spec(gpus + 1, false));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("present"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_backend(model, tp_spec(3, true)), std::invalid_argument);  // 3 of 4 heads
}

// The communicators on known values: rank r's buffer holds r + 1 + i / 1000.
void exercise(tp::CommGroup& group) {
  const int n = int(group.size());
  const std::size_t count = 1000;
  std::vector<std::thread> threads;
  std::vector<std::vector<float>> reduced(n), gathered(n);
  for (int r = 0; r < n; r++) {
    threads.emplace_back([&, r] {
      tp::Communicator& comm = *group[r];
      cuda::use_device(comm.device());
      cudaStream_t stream;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      std::vector<float> host(count);
      for (std::size_t i = 0; i < count; i++) host[i] = float(r + 1) + float(i) / 1000;
      cuda::DeviceBuffer<float> buf(count, "test"), all(count * n, "test");
      cudaMemcpy(buf.get(), host.data(), count * 4, cudaMemcpyHostToDevice);
      comm.all_gather(buf.get(), all.get(), count, stream);
      comm.all_reduce_sum(buf.get(), count, stream);
      comm.wait(stream);
      reduced[r].resize(count);
      gathered[r].resize(count * n);
      cudaMemcpy(reduced[r].data(), buf.get(), count * 4, cudaMemcpyDeviceToHost);
      cudaMemcpy(gathered[r].data(), all.get(), count * n * 4, cudaMemcpyDeviceToHost);
      cudaStreamDestroy(stream);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; r++) {
    for (std::size_t i = 0; i < count; i += 111) {
      float want = 0;
      for (int k = 0; k < n; k++) want += float(k + 1) + float(i) / 1000;
      EXPECT_NEAR(reduced[r][i], want, 1e-4) << "rank " << r << " element " << i;
      for (int k = 0; k < n; k++) {
        EXPECT_EQ(gathered[r][k * count + i], float(k + 1) + float(i) / 1000);
      }
    }
  }
}

TEST(CudaTpTest, TheLocalCommunicatorSumsAndGathersOnOneGpu) {
  tp::CommGroup group = tp::make_local_group(0, 3);
  EXPECT_FALSE(group[0]->capturable());
  exercise(group);
}

TEST(CudaTpTest, NcclSumsAndGathersOverTheGpusHere) {
  std::vector<int> devices;
  for (int d = 0; d < std::min(4, cuda::device_count(nullptr)); d++) devices.push_back(d);
  tp::CommGroup group = tp::make_nccl_group(devices);
  EXPECT_TRUE(group[0]->capturable());
  exercise(group);
}

}  // namespace
}  // namespace gpt2
