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

namespace {

// The header of an llm.c file of `size` bytes (its first bytes at `head`, at
// least min(size, kCheckpointHeaderBytes) of them), checked against that size.
CheckpointLayout checked_layout(const unsigned char* head, std::size_t size,
                                const std::filesystem::path& path) {
  if (size < kCheckpointHeaderBytes) {
    fail(path, "too short for the 256-int32 header: the file holds " + std::to_string(size) +
                   " bytes, the header alone needs " + std::to_string(kCheckpointHeaderBytes));
  }
  std::int32_t header[kCheckpointHeaderInts];
  std::memcpy(header, head, sizeof header);
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
  return layout;
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::filesystem::path& path, std::string name) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a checkpoint file");
  const std::size_t size = std::size_t(st.st_size);
  unsigned char header[kCheckpointHeaderBytes] = {};
  if (size >= kCheckpointHeaderBytes && !read_fully(file.fd, header, sizeof header, 0)) {
    fail(path, std::string("cannot read the header: ") + std::strerror(errno));
  }
  const CheckpointLayout layout = checked_layout(header, size, path);

  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file.fd, 0);
  if (map == MAP_FAILED) fail(path, std::string("cannot memory-map: ") + std::strerror(errno));
  std::shared_ptr<Model> model(new Model());
  if (layout.version == 5) {
    struct Unmap {
      void* map;
      std::size_t size;
      ~Unmap() { ::munmap(map, size); }
    } unmap{map, size};
    model->adopt(layout, static_cast<const unsigned char*>(map), path, std::move(name));
  } else {
    model->map_ = map;  // unmapped by ~Model, also when adopt() throws
    model->map_size_ = size;
    model->adopt(layout, nullptr, path, std::move(name));
  }
  return model;
}

std::shared_ptr<const Model> Model::load_from_memory(std::span<const unsigned char> bytes,
                                                     const std::filesystem::path& path,
                                                     std::string name) {
  const CheckpointLayout layout = checked_layout(bytes.data(), bytes.size(), path);
  std::shared_ptr<Model> model(new Model());
  model->adopt(layout, bytes.data(), path, std::move(name));
  return model;
}

void Model::adopt(const CheckpointLayout& layout, const unsigned char* file,
                  const std::filesystem::path& path, std::string name) {
  config_ = layout.config;
  name_ = name.empty() ? path.string() : std::move(name);
  file_version_ = layout.version;
  count_ = num_parameters(layout.config);
  if (file == nullptr) {  // float32, memory-mapped: read in place
    data_ = reinterpret_cast<const float*>(static_cast<const char*>(map_) + kCheckpointHeaderBytes);
  } else {  // copied into memory the model owns (bfloat16 converted to float32 once)
    const unsigned char* values = file + kCheckpointHeaderBytes;
    owned_.resize(count_);
    if (layout.version == 5) {
      for (std::size_t i = 0; i < count_; ++i) {
        std::uint16_t v;
        std::memcpy(&v, values + 2 * i, 2);
        owned_[i] = bf16_to_float(v);
      }
    } else {
      std::memcpy(owned_.data(), values, count_ * sizeof(float));
    }
    data_ = owned_.data();
  }
  point_tensors();

  // A NaN or infinity in a weight is a corrupt file (wte's padding rows are
  // never read, so they are not checked).
  for (int t = 0; t < kNumTensors; ++t) {
    std::span<const float> values = tensor(t);
    if (t == kWte) values = values.first(std::size_t(config_.vocab_size) * config_.channels);
    if (std::ptrdiff_t bad = first_non_finite(values); bad >= 0) {
      fail(path, std::string("corrupt: tensor ") + tensor_name(t) +
                     " holds a non-finite value (NaN or infinity) at element " +
                     std::to_string(bad));
    }
  }
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
