// N ranks on one GPU (communicator.h): each rank publishes its buffer at a
// host barrier, waits for the others' work on it (events), sums every rank's
// buffer in rank order into its own scratch, and after a second barrier (all
// sums read their inputs) copies the sum back. Not capturable: the barriers
// are on the host.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include "backends/cuda/buffers.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda_tp/communicator.h"
#include "backends/cuda_tp/tp_kernels.h"
#include "backends/cuda_tp/wait.h"

namespace gpt2::tp {

namespace {

// What the ranks of one device share.
class LocalGroup {
 public:
  explicit LocalGroup(int ranks) : ranks_(ranks), ptrs_(ranks), events_(2 * ranks) {
    for (cudaEvent_t& e : events_) GPT2_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  ~LocalGroup() {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
  }
  int ranks() const { return ranks_; }
  const void*& ptr(int rank) { return ptrs_[rank]; }
  cudaEvent_t event(int phase, int rank) { return events_[phase * ranks_ + rank]; }

  // Every rank arrives before any leaves; throws after an abort or the timeout.
  void barrier(int rank, const char* call) {
    std::unique_lock lock(mutex_);
    if (aborted_) throw aborted_error(rank, call);
    const long generation = generation_;
    if (++arrived_ == ranks_) {
      arrived_ = 0;
      generation_++;
      cv_.notify_all();
      return;
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(comm_timeout_seconds());
    while (generation_ == generation && !aborted_) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && generation_ == generation) {
        aborted_ = true;
        cv_.notify_all();
        throw std::runtime_error("cuda-tp rank " + std::to_string(rank) + ": " + call +
                                 ": the other ranks did not arrive within " +
                                 std::to_string(int(comm_timeout_seconds())) + " s");
      }
    }
    if (generation_ == generation) throw aborted_error(rank, call);
  }
  void abort() {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    cv_.notify_all();
  }
  bool aborted() {
    std::lock_guard lock(mutex_);
    return aborted_;
  }

 private:
  static std::runtime_error aborted_error(int rank, const char* call) {
    return std::runtime_error("cuda-tp rank " + std::to_string(rank) + ": " + call +
                              ": another rank failed");
  }
  int ranks_;
  std::vector<const void*> ptrs_;
  std::vector<cudaEvent_t> events_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long generation_ = 0;
  bool aborted_ = false;
};

class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator(std::shared_ptr<LocalGroup> group, int rank, int device)
      : group_(std::move(group)), rank_(rank), device_(device) {}
  int rank() const override { return rank_; }
  int ranks() const override { return group_->ranks(); }
  int device() const override { return device_; }
  bool capturable() const override { return false; }
  std::string describe() const override {
    return std::to_string(ranks()) + " ranks on GPU " + std::to_string(device_) +
           " (partial results summed there, no NCCL)";
  }

  void all_reduce_sum(float* buf, std::size_t count, cudaStream_t stream) override {
    if (scratch_.size() < count) scratch_ = cuda::DeviceBuffer<float>(count, "all-reduce scratch");
    publish(buf, stream, "all_reduce");
    std::vector<const float*> ins(ranks());
    for (int r = 0; r < ranks(); r++) ins[r] = static_cast<const float*>(group_->ptr(r));
    sum_buffers(scratch_.get(), ins.data(), ranks(), count, stream);
    finish(stream, "all_reduce");
    GPT2_CUDA(cudaMemcpyAsync(buf, scratch_.get(), count * sizeof(float), cudaMemcpyDeviceToDevice,
                              stream));
  }

  void all_gather(const float* send, float* recv, std::size_t count, cudaStream_t stream) override {
    publish(send, stream, "all_gather");
    for (int r = 0; r < ranks(); r++) {
      GPT2_CUDA(cudaMemcpyAsync(recv + std::size_t(r) * count, group_->ptr(r),
                                count * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    }
    finish(stream, "all_gather");
  }

  void wait(cudaStream_t stream) override {
    wait_stream(
        stream, rank_, [&] { return group_->aborted(); }, [&] { abort(); });
  }
  void abort() override { group_->abort(); }

 private:
  // Phase 0: this rank's buffer and the work that made it, seen by all.
  void publish(const void* buf, cudaStream_t stream, const char* call) {
    GPT2_CUDA(cudaEventRecord(group_->event(0, rank_), stream));
    group_->ptr(rank_) = buf;
    group_->barrier(rank_, call);
    for (int r = 0; r < ranks(); r++) {
      GPT2_CUDA(cudaStreamWaitEvent(stream, group_->event(0, r), 0));
    }
  }
  // Phase 1: every rank has read every buffer before any is written again.
  void finish(cudaStream_t stream, const char* call) {
    GPT2_CUDA(cudaEventRecord(group_->event(1, rank_), stream));
    group_->barrier(rank_, call);
    for (int r = 0; r < ranks(); r++) {
      GPT2_CUDA(cudaStreamWaitEvent(stream, group_->event(1, r), 0));
    }
  }

  std::shared_ptr<LocalGroup> group_;
  int rank_, device_;
  cuda::DeviceBuffer<float> scratch_;
};

}  // namespace

CommGroup make_local_group(int device, int ranks) {
  if (ranks < 1 || ranks > kMaxSumInputs) {
    throw std::invalid_argument("cuda-tp: one GPU runs 1 to " + std::to_string(kMaxSumInputs) +
                                " ranks, not " + std::to_string(ranks));
  }
  cuda::use_device(device);
  auto group = std::make_shared<LocalGroup>(ranks);
  CommGroup out;
  for (int r = 0; r < ranks; r++)
    out.push_back(std::make_unique<LocalCommunicator>(group, r, device));
  return out;
}

}  // namespace gpt2::tp
