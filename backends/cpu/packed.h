// Weights repacked for the bit-exact kernels (kernels.h): output rows in groups
// of 64, the group's 64 weights of each input stored together, in the
// precision's weight format (float32, bfloat16 bits or int8 with a scale per
// output row; reference/quantize.h defines the last two).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "backends/cpu/executor.h"
#include "backends/cpu/kernels.h"
#include "reference/quantize.h"

namespace gpt2::cpu {

// 64-byte aligned storage, on huge pages where the kernel allows (its contents
// start undefined).
void* aligned_allocate(std::size_t bytes);  // throws std::bad_alloc
template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(std::size_t count)
      : data_(static_cast<T*>(aligned_allocate(count * sizeof(T)))), size_(count) {}
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T[], Free> data_;
  std::size_t size_ = 0;
};
using AlignedFloats = AlignedArray<float>;

struct PackedMatrix {
  int rows = 0;  // OC
  int cols = 0;  // C
  WeightFormat format = WeightFormat::kFloat32;
  int groups() const { return (rows + kGroupRows - 1) / kGroupRows; }
  // (groups, cols, 64) weights: float, bfloat16 bits (uint16, each 64 in
  // bf16_slot() order, kernels.h) or int8; rows past `rows` are zero.
  AlignedArray<std::byte> data;
  AlignedFloats scales;  // int8: (groups * 64) one per output row, 0 past `rows`
  PackedView view() const { return {format, data.data(), scales.data()}; }
  // The bytes a product streams: the weights and, for int8, their scales.
  std::size_t bytes() const;
};

// Packs w (rows, cols) in `format` (quantized by reference/quantize.h's
// functions, so the kernels read exactly the reference's values), groups in
// parallel on `ex`.
PackedMatrix pack_matrix(const float* w, int rows, int cols, WeightFormat format, Executor& ex);
inline PackedMatrix pack_matrix(const float* w, int rows, int cols, Executor& ex) {
  return pack_matrix(w, rows, cols, WeightFormat::kFloat32, ex);
}

// out (cols) = row r of m, dequantized to float32 (the values the products use).
void unpack_row(const PackedMatrix& m, int r, float* out);

}  // namespace gpt2::cpu
