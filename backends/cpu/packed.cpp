#include "backends/cpu/packed.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace gpt2::cpu {

namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;
}  // namespace

void AlignedFloats::Free::operator()(float* p) const {
  std::free(p);
}

AlignedFloats::AlignedFloats(std::size_t count) : size_(count) {
  const std::size_t bytes = count * sizeof(float);
  const std::size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes == 0 ? align : bytes) != 0) throw std::bad_alloc();
  if (align == kHugePage) ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint; fine if refused
  data_.reset(static_cast<float*>(p));
}

PackedMatrix pack_matrix(const float* w, int rows, int cols, Executor& ex) {
  PackedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.data = AlignedFloats(std::size_t(m.groups()) * cols * kGroupRows);
  float* dst = m.data.data();
  ex.parallel_for(m.groups(), [&](int g0, int g1, int) {
    for (int g = g0; g < g1; g++) {
      float* out = dst + std::size_t(g) * cols * kGroupRows;
      for (int r = 0; r < kGroupRows; r++) {
        const int row = g * kGroupRows + r;
        const float* src = w + std::size_t(row) * cols;
        for (int i = 0; i < cols; i++)
          out[std::size_t(i) * kGroupRows + r] = row < rows ? src[i] : 0.0f;
      }
    }
  });
  return m;
}

}  // namespace gpt2::cpu
