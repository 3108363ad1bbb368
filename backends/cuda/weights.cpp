#include "backends/cuda/weights.h"

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/fast_kernels.h"

namespace gpt2::cuda {

std::size_t DeviceWeights::bytes() const {
  return all.bytes() + wte.bytes() + qkvw.bytes() + attprojw.bytes() + fcw.bytes() +
         fcprojw.bytes();
}

DeviceWeights upload_weights(const Model& model, bool bf16) {
  DeviceWeights w;
  w.bf16 = bf16;
  const std::span<const float> params = model.parameters();
  w.all = DeviceBuffer<float>(params.size(), "the weights (" + model.name() + ")");
  GPT2_CUDA(cudaMemcpy(w.all.get(), params.data(), params.size_bytes(), cudaMemcpyHostToDevice));
  const float* host = params.data();
  const ParameterTensors& h = model.params();
  auto dev = [&](const float* t) { return w.all.get() + (t - host); };
  w.p = {dev(h.wte),      dev(h.wpe),      dev(h.ln1w), dev(h.ln1b), dev(h.qkvw), dev(h.qkvb),
         dev(h.attprojw), dev(h.attprojb), dev(h.ln2w), dev(h.ln2b), dev(h.fcw),  dev(h.fcb),
         dev(h.fcprojw),  dev(h.fcprojb),  dev(h.lnfw), dev(h.lnfb)};
  const ParameterTensors& p = w.p;
  if (!bf16) {
    w.m_wte = p.wte, w.m_qkvw = p.qkvw, w.m_attprojw = p.attprojw, w.m_fcw = p.fcw;
    w.m_fcprojw = p.fcprojw;
    return w;
  }
  // Converted on the device from the float32 ones.
  const ModelConfig& c = model.config();
  const long C = c.channels, L = c.num_layers;
  auto convert = [&](DeviceBuffer<__nv_bfloat16>& out, const float* in, long count,
                     const char* what) {
    out = DeviceBuffer<__nv_bfloat16>(std::size_t(count), what);
    fast::to_bf16(out.get(), in, count, nullptr);
  };
  convert(w.wte, p.wte, long(c.vocab_size) * C, "wte (bfloat16)");
  convert(w.qkvw, p.qkvw, L * 3 * C * C, "qkvw (bfloat16)");
  convert(w.attprojw, p.attprojw, L * C * C, "attprojw (bfloat16)");
  convert(w.fcw, p.fcw, L * 4 * C * C, "fcw (bfloat16)");
  convert(w.fcprojw, p.fcprojw, L * 4 * C * C, "fcprojw (bfloat16)");
  GPT2_CUDA(cudaDeviceSynchronize());
  w.m_wte = w.wte.get(), w.m_qkvw = w.qkvw.get(), w.m_attprojw = w.attprojw.get();
  w.m_fcw = w.fcw.get(), w.m_fcprojw = w.fcprojw.get();
  return w;
}

}  // namespace gpt2::cuda
