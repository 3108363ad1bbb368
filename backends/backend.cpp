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
  switch (p) {
    case Precision::kFloat32:
      return "float32";
    case Precision::kBFloat16:
      return "bfloat16";
    case Precision::kBF16Weights:
      return "bf16w";
    case Precision::kInt8Weights:
      return "int8w";
  }
  return "?";
}

const std::vector<Precision>& all_precisions() {
  static const std::vector<Precision> kAll = {Precision::kFloat32, Precision::kBFloat16,
                                              Precision::kBF16Weights, Precision::kInt8Weights};
  return kAll;
}

WeightFormat weight_format(Precision p) {
  switch (p) {
    case Precision::kBF16Weights:
      return WeightFormat::kBF16;
    case Precision::kInt8Weights:
      return WeightFormat::kInt8;
    case Precision::kFloat32:
    case Precision::kBFloat16:
      break;
  }
  return WeightFormat::kFloat32;
}

bool reference_precision(Precision p) {
  return p != Precision::kBFloat16;
}

std::string threads_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

std::string spec_label(const BackendSpec& spec) {
  std::string label = spec.backend;
  if (spec.precision != Precision::kFloat32)
    label += std::string(" ") + precision_name(spec.precision);
  return label + " " + threads_text(spec.threads);
}

}  // namespace gpt2
