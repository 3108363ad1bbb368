// The OpenMP backend: the same kernels as the pthreads backend, with the
// parallel loops run by OpenMP (`#pragma omp parallel for`).
#pragma once

#include <memory>

#include "backends/backend.h"
#include "backends/cpu/executor.h"

namespace gpt2 {

// An Executor whose parallel_for is an OpenMP parallel loop over the workers'
// shares (with stealing, executor.h), on exactly `threads` OpenMP threads.
class OpenMpExecutor final : public Executor {
 public:
  explicit OpenMpExecutor(int threads);
  int threads() const override { return threads_; }
  void parallel_for(int n, RangeFn fn) override;

 private:
  int threads_;
  ShareCursors cursors_;
};

std::unique_ptr<Backend> make_openmp_backend(std::shared_ptr<const Model> model,
                                             const BackendSpec& spec, BackendInfo info);

}  // namespace gpt2
