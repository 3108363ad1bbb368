#include "backends/cpu/packed_linear.h"

namespace gpt2::cpu {

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
  const float* w = m->data.data();
  ex.parallel_for(matmul_tasks(groups, T), [&](int begin, int end, int) {
    for_task_runs(T, begin, end, [&](int g0, int g1, int t0, int t1) {
      kernels_.matmul(w, bias, m->rows, m->cols, inp, t0, t1, g0, g1, ep);
    });
  });
}

std::string PackedLinear::details() const {
  return std::string(isa_name(kernels_.isa)) +
         " kernels, weights repacked in 64-row groups, sums in the reference's order";
}

}  // namespace gpt2::cpu
