#include "backends/cpu/packed.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <vector>

namespace gpt2::cpu {

namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;

std::size_t value_bytes(WeightFormat f) {
  switch (f) {
    case WeightFormat::kFloat32:
      return sizeof(float);
    case WeightFormat::kBF16:
      return sizeof(std::uint16_t);
    case WeightFormat::kInt8:
      return sizeof(std::int8_t);
  }
  return sizeof(float);
}
}  // namespace

void* aligned_allocate(std::size_t bytes) {
  const std::size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes == 0 ? align : bytes) != 0) throw std::bad_alloc();
  if (align == kHugePage) ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint; fine if refused
  return p;
}

std::size_t PackedMatrix::bytes() const {
  return data.size() + (format == WeightFormat::kInt8 ? scales.size() * sizeof(float) : 0);
}

PackedMatrix pack_matrix(const float* w, int rows, int cols, WeightFormat format, Executor& ex) {
  PackedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.format = format;
  const std::size_t group_values = std::size_t(cols) * kGroupRows;
  m.data = AlignedArray<std::byte>(m.groups() * group_values * value_bytes(format));
  if (format == WeightFormat::kInt8) m.scales = AlignedFloats(std::size_t(m.groups()) * kGroupRows);
  std::byte* dst = m.data.data();
  ex.parallel_for(m.groups(), [&](int g0, int g1, int) {
    std::vector<std::int8_t> q(format == WeightFormat::kInt8 ? cols : 0);
    for (int g = g0; g < g1; g++) {
      for (int r = 0; r < kGroupRows; r++) {
        const int row = g * kGroupRows + r;
        const float* src = w + std::size_t(row) * cols;
        const std::size_t at = g * group_values + r;  // value (g, i, r) at at + i * 64
        switch (format) {
          case WeightFormat::kFloat32: {
            float* out = reinterpret_cast<float*>(dst);
            for (int i = 0; i < cols; i++) out[at + i * kGroupRows] = row < rows ? src[i] : 0.0f;
            break;
          }
          case WeightFormat::kBF16: {
            auto* out = reinterpret_cast<std::uint16_t*>(dst);
            const std::size_t slot = at - r + bf16_slot(r);  // kernels.h
            for (int i = 0; i < cols; i++) {
              out[slot + i * kGroupRows] = row < rows ? bf16_from_float(src[i]) : 0;
            }
            break;
          }
          case WeightFormat::kInt8: {
            auto* out = reinterpret_cast<std::int8_t*>(dst);
            float scale = 0.0f;
            if (row < rows) {
              quantize_int8_row({src, std::size_t(cols)}, q, scale);
            } else {
              std::fill(q.begin(), q.end(), std::int8_t(0));
            }
            m.scales.data()[std::size_t(g) * kGroupRows + r] = scale;
            for (int i = 0; i < cols; i++) out[at + i * kGroupRows] = q[i];
            break;
          }
        }
      }
    }
  });
  return m;
}

void unpack_row(const PackedMatrix& m, int r, float* out) {
  const std::size_t at = std::size_t(r / kGroupRows) * m.cols * kGroupRows + r % kGroupRows;
  for (int i = 0; i < m.cols; i++) {
    const std::size_t k = at + std::size_t(i) * kGroupRows;
    switch (m.format) {
      case WeightFormat::kFloat32:
        out[i] = reinterpret_cast<const float*>(m.data.data())[k];
        break;
      case WeightFormat::kBF16:
        out[i] = bf16_to_float(reinterpret_cast<const std::uint16_t*>(
            m.data.data())[k - r % kGroupRows + bf16_slot(r % kGroupRows)]);
        break;
      case WeightFormat::kInt8:
        out[i] = dequantize_int8(reinterpret_cast<const std::int8_t*>(m.data.data())[k],
                                 m.scales.data()[r]);
        break;
    }
  }
}

}  // namespace gpt2::cpu
