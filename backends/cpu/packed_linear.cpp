#include "backends/cpu/packed_linear.h"

namespace gpt2::cpu {

PackedLinear::PackedLinear(std::shared_ptr<const Model> model, const Kernels& kernels, Executor& ex,
                           WeightFormat format)
    : model_(std::move(model)), kernels_(kernels), format_(format) {
  const ModelConfig& c = model_->config();
  const ParameterTensors& p = model_->params();
  const long C = c.channels;
  for (int l = 0; l < c.num_layers; l++) {
    qkv_.push_back(pack_matrix(p.qkvw + l * 3 * C * C, 3 * C, C, format, ex));
    attproj_.push_back(pack_matrix(p.attprojw + l * C * C, C, C, format, ex));
    fc_.push_back(pack_matrix(p.fcw + l * 4 * C * C, 4 * C, C, format, ex));
    fcproj_.push_back(pack_matrix(p.fcprojw + l * 4 * C * C, C, 4 * C, format, ex));
  }
  logits_ = pack_matrix(p.wte, c.vocab_size, C, format, ex);
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
  const PackedView w = m->view();
  const MatmulTasks tasks(groups, T, ex.threads());
  ex.parallel_for(tasks.count(), [&](int begin, int end, int) {
    tasks.for_runs(begin, end, [&](int g0, int g1, int t0, int t1) {
      kernels_.matmul(w, bias, m->rows, m->cols, inp, t0, t1, g0, g1, ep);
    });
  });
}

void PackedLinear::wte_row(int token, float* out) const {
  if (format_ == WeightFormat::kFloat32) return copy_wte_row(*model_, token, out);
  unpack_row(logits_, token, out);
}

std::string PackedLinear::details() const {
  std::string weights = "weights repacked in 64-row groups";
  if (format_ == WeightFormat::kBF16) weights = "bfloat16 weights (bf16w) in 64-row groups";
  if (format_ == WeightFormat::kInt8) {
    weights = "int8 weights with a scale per row (int8w) in 64-row groups";
  }
  return std::string(isa_name(kernels_.isa)) + " kernels, " + weights +
         ", sums in the reference's order";
}

}  // namespace gpt2::cpu
