#include "backends/cuda_tp/cuda_tp_backend.h"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "backends/cuda/batch.h"
#include "backends/cuda/device.h"
#include "backends/cuda_tp/mpi_launch.h"
#include "backends/cuda_tp/ops.h"
#include "backends/cuda_tp/rank.h"
#include "reference/forward.h"

namespace gpt2 {
namespace tp {

namespace {

// One host thread per local rank, rank 0's the caller's (one wake-up less a
// step): run(fn) calls fn(r) on rank r's thread for every r and returns when
// all have; the first failure is rethrown (its rank aborts the group first,
// so that no peer waits for it).
class RankThreads {
 public:
  explicit RankThreads(int n) : jobs_(n) {
    for (int r = 1; r < n; r++) threads_.emplace_back([this, r] { loop(r); });
  }
  ~RankThreads() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // `on_error(r)` runs on rank r's thread when fn(r) throws, before it is reported.
  void run(const std::function<void(int)>& fn, const std::function<void(int)>& on_error) {
    std::unique_lock lock(mutex_);
    fn_ = &fn, on_error_ = &on_error, pending_ = int(jobs_.size()), error_ = nullptr;
    generation_++;
    cv_.notify_all();
    lock.unlock();
    work(0);
    lock.lock();
    done_.wait(lock, [&] { return pending_ == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int r) {
    long seen = 0;
    for (;;) {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lock.unlock();
      work(r);
    }
  }
  // Rank r's part of the current run (fn_ and on_error_ are set while it lasts).
  void work(int r) {
    std::exception_ptr error;
    try {
      (*fn_)(r);
    } catch (...) {
      error = std::current_exception();
      try {
        (*on_error_)(r);
      } catch (...) {
      }
    }
    std::lock_guard lock(mutex_);
    if (error && !error_) error_ = error;  // the first to fail: the cause
    if (--pending_ == 0) done_.notify_all();
  }
  std::vector<int> jobs_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  const std::function<void(int)>* on_error_ = nullptr;
  int pending_ = 0;
  long generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

class TpBackend;

class TpSession final : public Session {
 public:
  TpSession(const TpBackend& backend, int id, int capacity)
      : backend_(backend), id_(id), capacity_(capacity) {}
  ~TpSession() override;
  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override;
  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }
  const TpBackend* backend() const { return &backend_; }
  int id() const { return id_; }
  void set_cached(int cached) { cached_ = cached; }

 private:
  const TpBackend& backend_;
  int id_, capacity_, cached_ = 0;
};

class TpBackend final : public Backend {
 public:
  TpBackend(std::shared_ptr<const Model> model, const BackendSpec& spec, BackendInfo info,
            CommGroup comms)
      : model_(std::move(model)), info_(std::move(info)), threads_(int(comms.size())) {
    const bool bf16 = spec.precision == Precision::kBFloat16;
    ranks_.resize(comms.size());
    std::vector<std::unique_ptr<Communicator>>* given = &comms;
    // Each rank's shard cut and uploaded on its own thread.
    run_local([&](int r) {
      ranks_[r] = std::make_unique<TpRank>(*model_, bf16, std::move((*given)[r]));
    });
    const Communicator& c0 = ranks_[0]->comm();
    std::set<int> devices;
    for (const auto& rank : ranks_) devices.insert(rank->comm().device());
    for (int d : devices) info_.gpus.push_back(cuda::gpu_info(d));
    one_device_ = devices.size() == 1 && c0.ranks() > 1 && !c0.capturable();
    info_.ranks = c0.ranks();
    const RankShape& s = ranks_[0]->shape();
    info_.details =
        "tensor parallel over " + std::to_string(c0.ranks()) + " ranks (" + c0.describe() +
        "), Megatron's layout: per rank " + std::to_string(s.heads_count()) + " heads, " +
        std::to_string(s.hidden_count()) + " MLP columns, " + std::to_string(s.vocab.size()) +
        " vocabulary rows; two all-reduces a layer and one all-gather of the logits; "
        "the cuda backend's fused kernels on " +
        info_.gpus[0].name + (bf16 ? ", bfloat16 weights" : "") +
        (c0.capturable() ? "; each rank's decode step one CUDA graph" : "; no CUDA graphs") +
        "; rank 0's weights on the device: " + std::to_string(ranks_[0]->weight_bytes() >> 20) +
        " MiB";
  }
  ~TpBackend() override {
    if (peers_ != nullptr && !broken_) {
      try {
        Op end;
        end.kind = OpKind::kEnd;
        peers_->send(end);
      } catch (...) {
      }
    }
    run_local_noexcept([&](int r) { ranks_[r].reset(); });
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return *model_; }
  std::optional<std::size_t> device_memory_free() const override {
    // A session's caches are split over the ranks: each GPU holds 1/N.
    std::size_t least = SIZE_MAX;
    for (const GpuInfo& g : info_.gpus) least = std::min(least, cuda::free_memory(g.index));
    const int N = ranks_[0]->comm().ranks();
    return one_device_ ? least : least * std::size_t(N);
  }
  std::unique_ptr<Session> open_session(int capacity) const override {
    check_session_capacity(model_->config(), capacity, "cuda-tp");
    std::lock_guard lock(mutex_);
    const int id = next_id_++;
    Op op;
    op.kind = OpKind::kOpen, op.id = id, op.capacity = capacity;
    try {
      run(op);
    } catch (...) {
      Op close;
      close.kind = OpKind::kClose, close.id = id;
      if (!broken_) run(close);
      throw;
    }
    return std::make_unique<TpSession>(*this, id, capacity);
  }
  void close_session(int id) const noexcept {
    std::lock_guard lock(mutex_);
    if (broken_) return;
    Op op;
    op.kind = OpKind::kClose, op.id = id;
    try {
      run(op);
    } catch (...) {
    }
  }
  void forward_batch(std::span<const SequenceStep> steps) const override;
  void copy_caches(std::span<const CacheCopy> copies) const override;
  void set_peers(std::unique_ptr<Peers> peers) { peers_ = std::move(peers); }

 private:
  // Runs `op` on every rank: sent to the other processes' first, if any. A
  // step's failure (a collective's) ends the backend: its ranks' groups are
  // aborted. Opening or copying caches calls no collective: a failure there
  // (memory) leaves the backend serving.
  void run(const Op& op) const {
    if (broken_) throw std::runtime_error("cuda-tp: stopped by an earlier failure: " + failure_);
    const bool collective = op.kind == OpKind::kForward;
    try {
      if (peers_ != nullptr) peers_->send(op);
      run_local([&](int r) { run_op(*ranks_[r], op); }, collective);
    } catch (const std::exception& e) {
      if (collective) {
        broken_ = true;
        failure_ = e.what();
      }
      throw;
    }
  }
  void run_local(const std::function<void(int)>& fn, bool abort_on_error = true) const {
    threads_.run(fn, [&](int r) {
      if (abort_on_error && ranks_[r] != nullptr) ranks_[r]->comm().abort();
    });
  }
  void run_local_noexcept(const std::function<void(int)>& fn) const {
    try {
      run_local(fn);
    } catch (...) {
    }
  }

  std::shared_ptr<const Model> model_;
  BackendInfo info_;
  mutable RankThreads threads_;
  std::vector<std::unique_ptr<TpRank>> ranks_;
  std::unique_ptr<Peers> peers_;
  bool one_device_ = false;
  mutable std::mutex mutex_;  // one op at a time
  mutable int next_id_ = 0;
  mutable bool broken_ = false;
  mutable std::string failure_;
};

TpSession::~TpSession() {
  backend_.close_session(id_);
}

void TpSession::forward(std::span<const int> tokens, int pos, std::span<float> logits,
                        std::span<float> probs) {
  cuda::forward_one(backend_, this, tokens, pos, logits, probs);
}

void TpBackend::forward_batch(std::span<const SequenceStep> steps) const {
  const ModelConfig& c = model_->config();
  check_batch_steps(c, steps);
  std::vector<TpSession*> sessions;
  for (const SequenceStep& s : steps) {
    auto* session = dynamic_cast<TpSession*>(s.session);
    if (session == nullptr || session->backend() != this) {
      throw std::invalid_argument("forward_batch: a session of another backend");
    }
    sessions.push_back(session);
  }
  if (steps.empty()) return;
  Op op;
  op.kind = OpKind::kForward;
  op.step.layout = cuda::lay_out_rows(steps);
  for (const TpSession* session : sessions) op.step.ids.push_back(session->id());
  std::lock_guard lock(mutex_);
  run(op);
  cuda::copy_step_outputs(op.step.layout, steps, ranks_[0]->host_logits(), ranks_[0]->host_probs(),
                          c.vocab_size);
  for (std::size_t s = 0; s < steps.size(); s++) {
    sessions[s]->set_cached(steps[s].pos + int(steps[s].tokens.size()));
  }
}

void TpBackend::copy_caches(std::span<const CacheCopy> copies) const {
  check_cache_copies(copies);
  Op op;
  op.kind = OpKind::kCopy;
  for (const CacheCopy& c : copies) {
    const auto* from = dynamic_cast<const TpSession*>(c.from);
    const auto* to = dynamic_cast<const TpSession*>(c.to);
    if (!from || !to || from->backend() != this || to->backend() != this) {
      throw std::invalid_argument("copy_caches: a session of another backend");
    }
    op.copies.push_back({from->id(), to->id(), c.positions});
  }
  if (copies.empty()) return;
  std::lock_guard lock(mutex_);
  run(op);
  for (const CacheCopy& c : copies) static_cast<TpSession*>(c.to)->set_cached(c.positions);
}

}  // namespace

std::unique_ptr<Backend> make_tp_backend_with(std::shared_ptr<const Model> model,
                                              const BackendSpec& spec, BackendInfo info,
                                              CommGroup local_ranks, std::unique_ptr<Peers> peers) {
  auto backend =
      std::make_unique<TpBackend>(std::move(model), spec, std::move(info), std::move(local_ranks));
  backend->set_peers(std::move(peers));
  return backend;
}

}  // namespace tp

std::unique_ptr<Backend> make_cuda_tp_backend(std::shared_ptr<const Model> model,
                                              const BackendSpec& spec, BackendInfo info) {
  const int present = cuda::device_count(nullptr);
  if (tp::mpi_world_size() > 1)
    return tp::make_mpi_backend(std::move(model), spec, std::move(info));
  const tp::Placement p = tp::placement(model->config(), spec.devices, present);
  tp::CommGroup comms = p.one_device ? tp::make_local_group(p.devices[0], int(p.devices.size()))
                                     : tp::make_nccl_group(p.devices);
  return tp::make_tp_backend_with(std::move(model), spec, std::move(info), std::move(comms),
                                  nullptr);
}

}  // namespace gpt2
