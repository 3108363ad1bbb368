#include "backends/openmp/openmp_backend.h"

#include <omp.h>

#include <stdexcept>

#include "backends/cpu/cpu_backend.h"

namespace gpt2 {

OpenMpExecutor::OpenMpExecutor(int threads)
    : threads_(threads), cursors_(threads < 1 ? 1 : threads) {
  if (threads < 1) throw std::invalid_argument("OpenMP executor: threads must be at least 1");
}

void OpenMpExecutor::parallel_for(int n, RangeFn fn) {
  if (n <= 0) return;
  if (threads_ == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  // One iteration per worker, each running its share and then stealing what
  // the others left (ShareCursors, executor.h). The iteration index (not the
  // OpenMP thread number) names the worker, so per-worker scratch stays private
  // even if OpenMP ran two iterations on one thread. The team is always
  // threads_ strong: changing a team's size between regions costs libgomp a
  // re-dock of its threads, and a forward pass alternates regions of 12 items
  // (the heads) with regions of hundreds.
  cursors_.reset(n);
#pragma omp parallel for schedule(static, 1) num_threads(threads_)
  for (int w = 0; w < threads_; w++) cursors_.run(w, fn);
}

std::unique_ptr<Backend> make_openmp_backend(std::shared_ptr<const Model> model,
                                             const BackendSpec& spec, BackendInfo info) {
  return cpu::make_bit_exact_backend(std::move(model), std::move(info),
                                     std::make_unique<OpenMpExecutor>(spec.threads),
                                     "OpenMP parallel loops on " + threads_text(spec.threads));
}

}  // namespace gpt2
