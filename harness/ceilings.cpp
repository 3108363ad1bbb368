#include "harness/ceilings.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "harness/peaks.h"

namespace gpt2 {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kPasses = 4;             // best of: a shared machine's vCPUs come and go
constexpr double kPeakSeconds = 0.02;  // per thread and pass
constexpr std::size_t kMinReadBytes = std::size_t(256) << 20;

// The last-level cache in bytes (0 if unknown).
std::size_t l3_bytes() {
  long size = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (size <= 0) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index3/size");
    std::string text;
    if (in >> text && !text.empty()) {
      char unit = text.back();
      size = std::atol(text.c_str());
      if (unit == 'K') size <<= 10;
      if (unit == 'M') size <<= 20;
    }
  }
  return size > 0 ? std::size_t(size) : 0;
}

std::size_t read_buffer_bytes() {
  std::size_t bytes = std::max(kMinReadBytes, 4 * l3_bytes());
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) bytes = std::min(bytes, std::size_t(pages) * std::size_t(page) / 4);
  return bytes / 4096 * 4096;
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// Runs fn(worker) on k threads started together; returns the seconds from the
// start until the last one is done.
template <typename Fn>
double timed_on_threads(int k, Fn fn) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(std::size_t(k));
  for (int w = 0; w < k; w++) {
    threads.emplace_back([&, w] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      fn(w);
    });
  }
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Contiguous shares of [0, count), 64-byte aligned.
std::pair<std::size_t, std::size_t> share(std::size_t count, int k, int w) {
  const std::size_t per = (count / std::size_t(k) + 15) / 16 * 16;
  const std::size_t begin = std::min(count, per * std::size_t(w));
  return {begin, std::min(count, begin + per)};
}

double best_read_gb_s(const float* data, std::size_t count, int k) {
  double best = 0;
  for (int pass = 0; pass < kPasses; pass++) {
    std::vector<float> sinks(static_cast<std::size_t>(k) * 16);
    const double s = timed_on_threads(k, [&](int w) {
      const auto [b, e] = share(count, k, w);
      sinks[std::size_t(w) * 16] = read_sum(data + b, e - b);
    });
    volatile float sink = sinks[0];
    (void)sink;
    best = std::max(best, double(count) * sizeof(float) / s / 1e9);
  }
  return best;
}

// The loop length that takes about kPeakSeconds on one thread.
long calibrate(PeakKind kind) {
  long work = 1 << 12;
  for (;;) {
    const auto t0 = Clock::now();
    run_peak(kind, work);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > kPeakSeconds / 8 || work > (1L << 40)) {
      return std::max(1L, long(double(work) * kPeakSeconds / std::max(s, 1e-9)));
    }
    work *= 4;
  }
}

double best_peak_gflops(PeakKind kind, long work, int k) {
  double best = 0;
  for (int pass = 0; pass < kPasses; pass++) {
    std::vector<double> flops(static_cast<std::size_t>(k));
    const double s =
        timed_on_threads(k, [&](int w) { flops[std::size_t(w)] = run_peak(kind, work); });
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / s / 1e9);
  }
  return best;
}

}  // namespace

const CeilingPoint* Ceilings::at(int threads) const {
  for (const CeilingPoint& p : points) {
    if (p.threads == threads) return &p;
  }
  return nullptr;
}

Ceilings measure_ceilings(const CeilingOptions& o,
                          const std::function<void(const std::string&)>& progress) {
  const auto t0 = Clock::now();
  std::vector<int> counts = o.threads;
  counts.push_back(1);
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());

  Ceilings c;
  c.isa = peak_isa();
  const bool fp32 = peak_available(PeakKind::kFp32Fma, nullptr);
  PeakKind bf16 = PeakKind::kBf16Amx;
  if (o.bf16) {
    if (peak_available(PeakKind::kBf16Amx, nullptr)) {
      c.bf16_kind = "amx-bf16";
    } else if (peak_available(PeakKind::kBf16Dot, nullptr)) {
      c.bf16_kind = "avx512-bf16", bf16 = PeakKind::kBf16Dot;
    }
  }

  c.read_buffer_bytes = read_buffer_bytes();
  const std::size_t count = c.read_buffer_bytes / sizeof(float);
  std::unique_ptr<float, FreeDeleter> buffer(
      static_cast<float*>(std::aligned_alloc(64, count * sizeof(float))));
  if (buffer == nullptr) {
    throw std::runtime_error("Cannot allocate " + std::to_string(c.read_buffer_bytes >> 20) +
                             " MiB to measure the read bandwidth (use --no-ceilings).");
  }
  // Each share is first written by the threads that will read it most.
  const int touch = counts.back();
  timed_on_threads(touch, [&](int w) {
    const auto [b, e] = share(count, touch, w);
    std::fill(buffer.get() + b, buffer.get() + e, 1.0f);
  });

  const long fma_work = fp32 ? calibrate(PeakKind::kFp32Fma) : 0;
  const long mul_add_work = fp32 ? calibrate(PeakKind::kFp32MulAdd) : 0;
  const long bf16_work = c.bf16_kind.empty() ? 0 : calibrate(bf16);
  for (int k : counts) {
    if (progress)
      progress("measuring the machine's ceilings at " + std::to_string(k) + " thread" +
               (k == 1 ? "" : "s"));
    CeilingPoint p;
    p.threads = k;
    p.read_gb_s = best_read_gb_s(buffer.get(), count, k);
    if (fp32) {
      p.fp32_fma_gflops = best_peak_gflops(PeakKind::kFp32Fma, fma_work, k);
      p.fp32_mul_add_gflops = best_peak_gflops(PeakKind::kFp32MulAdd, mul_add_work, k);
    }
    if (bf16_work > 0) p.bf16_gflops = best_peak_gflops(bf16, bf16_work, k);
    c.points.push_back(p);
  }
  c.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return c;
}

}  // namespace gpt2
