// A model's weights on one GPU, uploaded once and const: every tensor in
// float32 (llm.c's layout, the same offsets as on the host), and for
// bfloat16 the five matrices again in bfloat16 (round to nearest even; wte's
// V real rows).
#pragma once

#include <cuda_bf16.h>

#include "backends/cuda/buffers.h"
#include "reference/model.h"

namespace gpt2::cuda {

struct DeviceWeights {
  DeviceBuffer<float> all;
  ParameterTensors p{};                                           // float32, pointers into `all`
  DeviceBuffer<__nv_bfloat16> wte, qkvw, attprojw, fcw, fcprojw;  // with bf16 only
  // The five matrices in the precision the products read (float32 or bfloat16).
  const void* m_wte = nullptr;
  const void* m_qkvw = nullptr;
  const void* m_attprojw = nullptr;
  const void* m_fcw = nullptr;
  const void* m_fcprojw = nullptr;
  bool bf16 = false;
  std::size_t bytes() const;  // on the device, all of them
};

// Uploads `model` to the current device. Throws (with how much memory it
// needed) when it does not fit.
DeviceWeights upload_weights(const Model& model, bool bf16);

}  // namespace gpt2::cuda
