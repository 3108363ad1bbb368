#include "reference/quantize.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace gpt2 {

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::kFloat32:
      return "float32";
    case WeightFormat::kBF16:
      return "bf16w";
    case WeightFormat::kInt8:
      return "int8w";
  }
  return "?";
}

std::uint16_t bf16_from_float(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((bits >> 16) | 0x0040u);  // NaN
  // Add half of the dropped part's range, plus one when the kept part is odd:
  // ties go to the even neighbour; a carry into the exponent is right, up to inf.
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return std::uint16_t(bits >> 16);
}

void quantize_int8_row(std::span<const float> w, std::span<std::int8_t> q, float& scale) {
  float max_abs = 0.0f;
  for (float v : w) {
    const float a = std::fabs(v);
    if (a > max_abs) max_abs = a;  // NaN compares false: never the maximum
  }
  scale = max_abs / 127.0f;
  for (std::size_t i = 0; i < w.size(); i++) {
    if (scale == 0.0f || !std::isfinite(w[i]) || !std::isfinite(scale)) {
      q[i] = 0;
      continue;
    }
    float r = std::round(w[i] / scale);  // halves away from zero
    r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
    q[i] = std::int8_t(r);
  }
}

void dequantize_matrix_in_place(std::span<float> w, int rows, int cols, WeightFormat format) {
  if (format == WeightFormat::kFloat32) return;
  std::vector<std::int8_t> q(static_cast<std::size_t>(cols));
  for (int r = 0; r < rows; r++) {
    std::span<float> row = w.subspan(std::size_t(r) * cols, std::size_t(cols));
    if (format == WeightFormat::kBF16) {
      for (float& v : row) v = bf16_to_float(bf16_from_float(v));
    } else {
      float scale = 0.0f;
      quantize_int8_row(row, q, scale);
      for (int i = 0; i < cols; i++) row[i] = dequantize_int8(q[i], scale);
    }
  }
}

std::shared_ptr<const Model> dequantized_model(std::shared_ptr<const Model> model,
                                               WeightFormat format) {
  if (format == WeightFormat::kFloat32) return model;
  const ModelConfig& c = model->config();
  std::vector<float> params(model->parameters().begin(), model->parameters().end());
  const ParameterTensors& p = model->params();
  const long C = c.channels, L = c.num_layers;
  auto matrix = [&](const float* tensor, long rows, long cols) {
    const std::size_t offset = std::size_t(tensor - model->parameters().data());
    dequantize_matrix_in_place(std::span<float>(params).subspan(offset, rows * cols), int(rows),
                               int(cols), format);
  };
  matrix(p.wte, c.padded_vocab_size, C);
  matrix(p.qkvw, L * 3 * C, C);
  matrix(p.attprojw, L * C, C);
  matrix(p.fcw, L * 4 * C, C);
  matrix(p.fcprojw, L * C, 4 * C);
  return Model::from_parameters(c, std::move(params),
                                model->name() + " (" + weight_format_name(format) + ")");
}

}  // namespace gpt2
