#include "reference/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "reference/checkpoint.h"
#include "reference/file_io.h"

namespace gpt2 {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw CheckpointError(path.string() + ": " + what);
}

// The first element of `values` that is NaN or infinite, or -1.
std::ptrdiff_t first_non_finite(std::span<const float> values) {
  const auto* bits = reinterpret_cast<const std::uint32_t*>(values.data());
  constexpr std::size_t kBlock = 4096;
  for (std::size_t start = 0; start < values.size(); start += kBlock) {
    const std::size_t end = std::min(values.size(), start + kBlock);
    std::uint32_t any = 0;  // a branch-free scan of each block, then a look inside
    for (std::size_t i = start; i < end; ++i) {
      any |= std::uint32_t((bits[i] & 0x7f800000u) == 0x7f800000u);
    }
    if (any) {
      for (std::size_t i = start; i < end; ++i) {
        if ((bits[i] & 0x7f800000u) == 0x7f800000u) return std::ptrdiff_t(i);
      }
    }
  }
  return -1;
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::filesystem::path& path, std::string name) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a checkpoint file");
  const std::size_t size = std::size_t(st.st_size);
  if (size < kCheckpointHeaderBytes) {
    fail(path, "too short for the 256-int32 header: the file holds " + std::to_string(size) +
                   " bytes, the header alone needs " + std::to_string(kCheckpointHeaderBytes));
  }
  std::int32_t header[kCheckpointHeaderInts];
  if (!read_fully(file.fd, header, sizeof header, 0)) {
    fail(path, std::string("cannot read the header: ") + std::strerror(errno));
  }
  const CheckpointLayout layout = parse_checkpoint_header(header, path);
  if (size < layout.file_bytes) {
    fail(path, "truncated: the file holds " + std::to_string(size) + " bytes, its header (" +
                   std::to_string(num_parameters(layout.config)) + " parameters, version " +
                   std::to_string(layout.version) + ") needs " + std::to_string(layout.file_bytes));
  }
  if (size > layout.file_bytes) {
    fail(path, "has " + std::to_string(size - layout.file_bytes) +
                   " trailing byte(s) after the last tensor: its header needs exactly " +
                   std::to_string(layout.file_bytes) + " bytes");
  }

  std::shared_ptr<Model> model(new Model());
  model->config_ = layout.config;
  model->name_ = name.empty() ? path.string() : std::move(name);
  model->file_version_ = layout.version;
  model->count_ = num_parameters(layout.config);

  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file.fd, 0);
  if (map == MAP_FAILED) fail(path, std::string("cannot memory-map: ") + std::strerror(errno));
  if (layout.version == 5) {
    // bfloat16 -> float32 once, into memory the model owns.
    const auto* src = reinterpret_cast<const std::uint16_t*>(static_cast<const char*>(map) +
                                                             kCheckpointHeaderBytes);
    model->owned_.resize(model->count_);
    for (std::size_t i = 0; i < model->count_; ++i) model->owned_[i] = bf16_to_float(src[i]);
    ::munmap(map, size);
    model->data_ = model->owned_.data();
  } else {
    model->map_ = map;
    model->map_size_ = size;
    model->data_ =
        reinterpret_cast<const float*>(static_cast<const char*>(map) + kCheckpointHeaderBytes);
  }
  model->point_tensors();

  // A NaN or infinity in a weight is a corrupt file (wte's padding rows are
  // never read, so they are not checked).
  for (int t = 0; t < kNumTensors; ++t) {
    std::span<const float> values = model->tensor(t);
    if (t == kWte)
      values = values.first(std::size_t(layout.config.vocab_size) * layout.config.channels);
    if (std::ptrdiff_t bad = first_non_finite(values); bad >= 0) {
      fail(path, std::string("corrupt: tensor ") + tensor_name(t) +
                     " holds a non-finite value (NaN or infinity) at element " +
                     std::to_string(bad));
    }
  }
  return model;
}

std::shared_ptr<const Model> Model::from_parameters(const ModelConfig& config,
                                                    std::vector<float> parameters,
                                                    std::string name) {
  if (std::string problem = config_problem(config); !problem.empty()) {
    throw std::invalid_argument(name + ": " + problem);
  }
  if (parameters.size() != num_parameters(config)) {
    throw std::invalid_argument(name + ": " + std::to_string(parameters.size()) +
                                " parameters given, the configuration needs " +
                                std::to_string(num_parameters(config)));
  }
  std::shared_ptr<Model> model(new Model());
  model->config_ = config;
  model->name_ = std::move(name);
  model->owned_ = std::move(parameters);
  model->data_ = model->owned_.data();
  model->count_ = model->owned_.size();
  model->point_tensors();
  return model;
}

void Model::point_tensors() {
  const float** ptrs[kNumTensors] = {
      &params_.wte,     &params_.wpe,     &params_.ln1w,     &params_.ln1b,
      &params_.qkvw,    &params_.qkvb,    &params_.attprojw, &params_.attprojb,
      &params_.ln2w,    &params_.ln2b,    &params_.fcw,      &params_.fcb,
      &params_.fcprojw, &params_.fcprojb, &params_.lnfw,     &params_.lnfb};
  const float* p = data_;
  const auto sizes = tensor_sizes(config_);
  for (int t = 0; t < kNumTensors; ++t) {
    *ptrs[t] = p;
    p += sizes[t];
  }
}

std::span<const float> Model::tensor(int t) const {
  const auto sizes = tensor_sizes(config_);
  std::size_t offset = 0;
  for (int i = 0; i < t; ++i) offset += sizes[i];
  return {data_ + offset, sizes[t]};
}

const std::string& Model::checksum() const {
  std::call_once(checksum_once_, [this] {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(XXH3_64bits(data_, count_ * sizeof(float))));
    checksum_ = hex;
  });
  return checksum_;
}

Model::~Model() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

}  // namespace gpt2
