#include "backends/cpu/packed_linear.h"

#include <algorithm>

#include "backends/cpu/executor.h"

namespace gpt2::cpu {

int rows_per_task(int groups, int T, int workers) {
  // Up to kMaxRowsPerTask rows, a group's weights are read by one worker once
  // (short prompts and decode steps are bound by reading them).
  if (T <= kMaxRowsPerTask) return kMaxRowsPerTask;
  // Past that the product is bound by arithmetic, and tasks are handed out
  // whole in contiguous shares (ShareCursors): with 48 rows, 512 rows of a
  // C-wide product (12 groups, 132 tasks) give 16 workers 8.25 tasks on average
  // and some of them 9, 9% more than the mean. Fewer rows per task cost little
  // (every register tile streams its group's weights from cache anyway), so
  // take the most rows whose busiest share is within 3% of the mean work,
  // counted in register tiles.
  workers = std::max(workers, 1);
  auto tiles = [](long rows) { return (rows + kRowTile - 1) / kRowTile; };
  const double mean = double(groups) * double(tiles(T)) / workers;
  int best = 0;
  long best_most = 0;
  for (int rows = kMaxRowsPerTask; rows >= kRowTile; rows -= kRowTile) {
    const long per_group = (T + rows - 1) / rows, n = groups * per_group;
    // Tiles in tasks [0, x): whole groups (only a group's last task is short),
    // then full tasks of the next.
    auto done = [&](long x) { return x / per_group * tiles(T) + x % per_group * tiles(rows); };
    const int k = int(std::min<long>(workers, n));
    long most = 0;
    for (int w = 0; w < k; w++) {
      const auto [begin, end] = share_of(int(n), k, w);
      most = std::max(most, done(end) - done(begin));
    }
    if (double(most) <= 1.03 * mean) return rows;
    if (best == 0 || most < best_most) best = rows, best_most = most;
  }
  return best;
}

PackedLinear::PackedLinear(std::shared_ptr<const Model> model, const Kernels& kernels, Executor& ex)
    : model_(std::move(model)), kernels_(kernels) {
  const ModelConfig& c = model_->config();
  const ParameterTensors& p = model_->params();
  const long C = c.channels;
  for (int l = 0; l < c.num_layers; l++) {
    qkv_.push_back(pack_matrix(p.qkvw + l * 3 * C * C, 3 * C, C, ex));
    attproj_.push_back(pack_matrix(p.attprojw + l * C * C, C, C, ex));
    fc_.push_back(pack_matrix(p.fcw + l * 4 * C * C, 4 * C, C, ex));
    fcproj_.push_back(pack_matrix(p.fcprojw + l * 4 * C * C, C, 4 * C, ex));
  }
  logits_ = pack_matrix(p.wte, c.vocab_size, C, ex);
}

void PackedLinear::run(Linear which, int layer, const float* inp, int T, const Epilogue& ep,
                       Executor& ex) {
  const ModelConfig& c = model_->config();
  const ParameterTensors& p = model_->params();
  const long C = c.channels;
  const PackedMatrix* m = nullptr;
  const float* bias = nullptr;
  switch (which) {
    case Linear::kQkv:
      m = &qkv_[layer], bias = p.qkvb + layer * 3 * C;
      break;
    case Linear::kAttProj:
      m = &attproj_[layer], bias = p.attprojb + layer * C;
      break;
    case Linear::kFc:
      m = &fc_[layer], bias = p.fcb + layer * 4 * C;
      break;
    case Linear::kFcProj:
      m = &fcproj_[layer], bias = p.fcprojb + layer * C;
      break;
    case Linear::kLogits:
      m = &logits_;
      break;
  }
  const int groups = m->groups();
  const int rows = rows_per_task(groups, T, ex.threads());
  const int row_tasks = (T + rows - 1) / rows;
  const float* w = m->data.data();
  ex.parallel_for(groups * row_tasks, [&](int begin, int end, int) {
    if (row_tasks == 1) {
      kernels_.matmul(w, bias, m->rows, m->cols, inp, 0, T, begin, end, ep);
      return;
    }
    for (int k = begin; k < end; k++) {
      const int g = k / row_tasks, t0 = (k % row_tasks) * rows;
      const int t1 = std::min(t0 + rows, T);
      kernels_.matmul(w, bias, m->rows, m->cols, inp, t0, t1, g, g + 1, ep);
    }
  });
}

std::string PackedLinear::details() const {
  return std::string(isa_name(kernels_.isa)) +
         " kernels, weights repacked in 64-row groups, sums in the reference's order";
}

}  // namespace gpt2::cpu
