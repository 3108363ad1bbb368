// Weights repacked for the bit-exact kernels (kernels.h): output rows in groups
// of 64, the group's 64 weights of each input stored together.
#pragma once

#include <cstddef>
#include <memory>

#include "backends/cpu/executor.h"
#include "backends/cpu/kernels.h"

namespace gpt2::cpu {

// 64-byte aligned floats, on huge pages where the kernel allows.
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(std::size_t count);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_ = 0;
};

struct PackedMatrix {
  int rows = 0;  // OC
  int cols = 0;  // C
  int groups() const { return (rows + kGroupRows - 1) / kGroupRows; }
  AlignedFloats data;  // (groups, cols, 64); rows past `rows` are zero
};

// Packs w (rows, cols) in parallel on `ex`.
PackedMatrix pack_matrix(const float* w, int rows, int cols, Executor& ex);

}  // namespace gpt2::cpu
