// The frozen definitions of the weight-only precisions (README: "Precisions").
//
// Weight-only means: the five weight matrices (wte, which is also the logits
// head, and every layer's qkvw, attprojw, fcw, fcprojw) are stored in a narrow
// type; wpe, biases, layernorm parameters, activations, sums and the key/value
// cache stay float32. Every product dequantizes its weight to float32 and then
// does exactly the reference's float32 operations in the reference's order. So
// a precision's forward pass is reference_forward() over the model whose five
// matrices hold their dequantized values (dequantized_model()): the product
// x * dequantize(w) is the same float32 operation either way.
//
//   bf16w: w rounded to bfloat16, to nearest, ties to even; dequantized exactly.
//   int8w: per output row (channel), symmetric, in float32 arithmetic:
//          scale = max|w| / 127; q = round-half-away-from-zero(w / scale),
//          clamped to [-127, 127]; dequantized as float(q) * scale. A row of
//          zeros gets scale 0 and q 0 (no division).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "reference/model.h"

namespace gpt2 {

enum class WeightFormat {
  kFloat32,  // the checkpoint's own values
  kBF16,     // bf16w
  kInt8,     // int8w
};
const char* weight_format_name(WeightFormat f);  // "float32", "bf16w", "int8w"

// bfloat16: the top 16 bits of a float32, rounded to nearest, ties to even
// (NaN stays a quiet NaN of the same sign).
std::uint16_t bf16_from_float(float x);
inline float bf16_to_float(std::uint16_t h) {
  const std::uint32_t bits = std::uint32_t(h) << 16;
  float x;
  static_assert(sizeof x == sizeof bits);
  __builtin_memcpy(&x, &bits, sizeof x);
  return x;
}

// One row of int8w: q (cols) and its scale from w (cols), as the header says.
// A weight that is not finite has no int8 value: q 0 (checkpoints never hold
// one; Model::load refuses them).
void quantize_int8_row(std::span<const float> w, std::span<std::int8_t> q, float& scale);
inline float dequantize_int8(std::int8_t q, float scale) {
  return float(q) * scale;
}

// w (rows, cols) in place: each value replaced by its dequantized value in
// `format` (float32: unchanged).
void dequantize_matrix_in_place(std::span<float> w, int rows, int cols, WeightFormat format);

// `model` with its five weight matrices replaced by their dequantized values
// in `format` (float32: `model` itself). Its name is the model's with
// " (bf16w)" or " (int8w)" appended.
std::shared_ptr<const Model> dequantized_model(std::shared_ptr<const Model> model,
                                               WeightFormat format);

}  // namespace gpt2
