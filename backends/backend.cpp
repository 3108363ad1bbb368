#include "backends/backend.h"

#include <string>

namespace gpt2 {

const char* numerics_name(Numerics n) {
  switch (n) {
    case Numerics::kBitExact:
      return "bit-exact";
    case Numerics::kReordered:
      return "reordered";
    case Numerics::kNone:
      return "none";
  }
  return "?";
}

const char* device_name(Device d) {
  return d == Device::kCpu ? "cpu" : "cuda";
}

const char* precision_name(Precision p) {
  return p == Precision::kFloat32 ? "float32" : "bfloat16";
}

std::string threads_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

}  // namespace gpt2
