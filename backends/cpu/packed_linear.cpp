#include "backends/cpu/packed_linear.h"

namespace gpt2::cpu {

namespace {
// Rows of one task: a multiple of the 6-row register tile, small enough that
// long prompts give every thread many tasks.
constexpr int kRowsPerTask = 48;
}  // namespace

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
  const int row_tasks = (T + kRowsPerTask - 1) / kRowsPerTask;
  const float* w = m->data.data();
  ex.parallel_for(groups * row_tasks, [&](int begin, int end, int) {
    if (row_tasks == 1) {
      kernels_.matmul(w, bias, m->rows, m->cols, inp, 0, T, begin, end, ep);
      return;
    }
    for (int k = begin; k < end; k++) {
      const int g = k / row_tasks, t0 = (k % row_tasks) * kRowsPerTask;
      const int t1 = t0 + kRowsPerTask < T ? t0 + kRowsPerTask : T;
      kernels_.matmul(w, bias, m->rows, m->cols, inp, t0, t1, g, g + 1, ep);
    }
  });
}

std::string PackedLinear::details() const {
  return std::string(isa_name(kernels_.isa)) +
         " kernels, weights repacked in 64-row groups, sums in the reference's order";
}

}  // namespace gpt2::cpu
