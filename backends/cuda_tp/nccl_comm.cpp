#include "backends/cuda_tp/nccl_comm.h"

#include <atomic>
#include <stdexcept>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda_tp/wait.h"

namespace gpt2::tp {

namespace {

std::string nccl_version() {
  int v = 0;
  ncclGetVersion(&v);
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

void check_nccl(ncclResult_t status, const char* call, int rank) {
  if (status == ncclSuccess) return;
  const char* last = ncclGetLastError(nullptr);
  throw std::runtime_error(
      "cuda-tp rank " + std::to_string(rank) + ": " + call + ": " + ncclGetErrorString(status) +
      (last != nullptr && *last != '\0' ? std::string(" (") + last + ")" : std::string()));
}

// What the ranks of one process's group share: whether one of them failed.
struct GroupFlag {
  std::atomic<bool> aborted{false};
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int ranks, int device,
                   std::shared_ptr<GroupFlag> flag, bool one_process)
      : comm_(comm),
        rank_(rank),
        ranks_(ranks),
        device_(device),
        flag_(std::move(flag)),
        one_process_(one_process) {}
  ~NcclCommunicator() override {
    if (aborted_) return;  // ncclCommAbort freed it
    ncclCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }
  int device() const override { return device_; }
  bool capturable() const override { return true; }
  std::string describe() const override {
    return "NCCL " + nccl_version() + ", " + std::to_string(ranks_) + " ranks " +
           (one_process_ ? "in one process (a host thread per GPU)" : "in as many processes");
  }
  void all_reduce_sum(float* buf, std::size_t count, cudaStream_t stream) override {
    check_nccl(ncclAllReduce(buf, buf, count, ncclFloat, ncclSum, comm_, stream), "ncclAllReduce",
               rank_);
  }
  void all_gather(const float* send, float* recv, std::size_t count, cudaStream_t stream) override {
    check_nccl(ncclAllGather(send, recv, count, ncclFloat, comm_, stream), "ncclAllGather", rank_);
  }
  void wait(cudaStream_t stream) override {
    wait_stream(
        stream, rank_,
        [&] {
          ncclResult_t async = ncclSuccess;
          ncclCommGetAsyncError(comm_, &async);
          if (async != ncclSuccess && async != ncclInProgress) {
            abort();
            check_nccl(async, "ncclCommGetAsyncError (during the step)", rank_);
          }
          return flag_->aborted.load();
        },
        [&] { abort(); });
  }
  void abort() override {
    flag_->aborted = true;
    if (!aborted_) {
      aborted_ = true;
      ncclCommAbort(comm_);
    }
  }

 private:
  ncclComm_t comm_;
  int rank_, ranks_, device_;
  std::shared_ptr<GroupFlag> flag_;
  bool one_process_;
  bool aborted_ = false;
};

}  // namespace

ncclUniqueId nccl_unique_id() {
  ncclUniqueId id;
  check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", 0);
  return id;
}

CommGroup make_nccl_group(const std::vector<int>& devices) {
  const int n = int(devices.size());
  for (int d : devices) cuda::use_device(d);  // each exists (one line otherwise)
  const ncclUniqueId id = nccl_unique_id();
  std::vector<ncclComm_t> comms(n, nullptr);
  check_nccl(ncclGroupStart(), "ncclGroupStart", 0);
  for (int r = 0; r < n; r++) {
    GPT2_CUDA(cudaSetDevice(devices[r]));
    const ncclResult_t status = ncclCommInitRank(&comms[r], n, id, r);
    if (status != ncclSuccess) {
      ncclGroupEnd();
      check_nccl(status, "ncclCommInitRank", r);
    }
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd (ncclCommInitRank of every rank)", 0);
  auto flag = std::make_shared<GroupFlag>();
  CommGroup out;
  for (int r = 0; r < n; r++) {
    out.push_back(std::make_unique<NcclCommunicator>(comms[r], r, n, devices[r], flag, true));
  }
  return out;
}

std::unique_ptr<Communicator> make_nccl_rank(const ncclUniqueId& id, int ranks, int rank,
                                             int device) {
  cuda::use_device(device);
  ncclComm_t comm = nullptr;
  check_nccl(ncclCommInitRank(&comm, ranks, id, rank), "ncclCommInitRank", rank);
  return std::make_unique<NcclCommunicator>(comm, rank, ranks, device,
                                            std::make_shared<GroupFlag>(), false);
}

}  // namespace gpt2::tp
