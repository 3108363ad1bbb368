#include "backends/backend.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "reference/forward.h"

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

const char* batch_invariance_name(BatchInvariance b) {
  return b == BatchInvariance::kYes ? "yes" : "measured";
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

std::string devices_text(const std::vector<int>& devices) {
  const std::size_t n = devices.size();
  const bool one = n > 1 && std::all_of(devices.begin(), devices.end(),
                                        [&](int d) { return d == devices.front(); });
  if (one) return std::to_string(n) + " ranks on GPU " + std::to_string(devices.front());
  return std::to_string(n) + (n == 1 ? " GPU" : " GPUs");
}

namespace {
// Whether `name` is a multi-GPU backend of this build (false for one it lacks).
bool multi_gpu_backend(const std::string& name) {
  for (const BackendEntry& e : backend_entries()) {
    if (e.name == name) return e.multi_gpu;
  }
  return false;
}
}  // namespace

std::string workers_text(const BackendInfo& info, bool multi_gpu) {
  if (!multi_gpu) return threads_text(info.threads);
  if (info.ranks > 1 && info.gpus.size() == 1) {
    return std::to_string(info.ranks) + " ranks on 1 GPU";
  }
  return std::to_string(info.ranks) + (info.ranks == 1 ? " GPU" : " GPUs");
}

std::string spec_label(const BackendSpec& spec) {
  // (Appended piece by piece: "x" + string makes GCC 12 warn falsely, -Wrestrict.)
  std::string label = spec.backend;
  if (spec.precision != Precision::kFloat32) {
    label += ' ';
    label += precision_name(spec.precision);
  }
  label += ' ';
  label += spec.devices.size() > 1 || multi_gpu_backend(spec.backend) ? devices_text(spec.devices)
                                                                      : threads_text(spec.threads);
  if (spec.batch != 1) {
    label += " batch ";
    label += std::to_string(spec.batch);
  }
  return label;
}

void check_batch_steps(const ModelConfig& config, std::span<const SequenceStep> steps) {
  std::set<const Session*> seen;
  const std::size_t V = std::size_t(config.vocab_size);
  for (const SequenceStep& s : steps) {
    if (s.session == nullptr) throw std::invalid_argument("forward_batch: a step has no session");
    if (!seen.insert(s.session).second) {
      throw std::invalid_argument("forward_batch: a session is in the step twice");
    }
    const std::size_t rows = s.all_positions ? s.tokens.size() : 1;
    if (s.logits.size() < rows * V || (!s.probs.empty() && s.probs.size() < V)) {
      throw std::invalid_argument("forward_batch: logits need " + std::to_string(rows * V) +
                                  " floats and probs none or " + std::to_string(V));
    }
    // The session's own check (positions, tokens), with room for the outputs.
    check_forward_args(config, s.tokens, s.pos, s.session->cached(), s.session->capacity(),
                       s.logits.first(V), s.logits.first(V));
  }
}

void check_cache_copies(std::span<const CacheCopy> copies) {
  std::set<const Session*> to, from;
  for (const CacheCopy& c : copies) {
    if (c.from == nullptr || c.to == nullptr) {
      throw std::invalid_argument("copy_caches: a copy without its sessions");
    }
    if (c.from == c.to) throw std::invalid_argument("copy_caches: a session copied onto itself");
    if (c.positions < 0 || c.positions > c.from->cached() || c.positions > c.to->capacity()) {
      throw std::invalid_argument("copy_caches: " + std::to_string(c.positions) +
                                  " positions of a cache that holds " +
                                  std::to_string(c.from->cached()) + " into one of capacity " +
                                  std::to_string(c.to->capacity()));
    }
    if (!to.insert(c.to).second) {
      throw std::invalid_argument("copy_caches: a session is a destination twice");
    }
    from.insert(c.from);
  }
  for (const Session* s : to) {
    if (from.count(s)) {
      throw std::invalid_argument("copy_caches: a session is both a source and a destination");
    }
  }
}

void Backend::forward_batch(std::span<const SequenceStep> steps) const {
  const ModelConfig& config = model().config();
  check_batch_steps(config, steps);
  const std::size_t V = std::size_t(config.vocab_size);
  std::vector<float> scratch(V);
  for (const SequenceStep& s : steps) {
    const std::span<float> probs = s.probs.empty() ? std::span<float>(scratch) : s.probs.first(V);
    if (!s.all_positions) {
      s.session->forward(s.tokens, s.pos, s.logits.first(V), probs);
      continue;
    }
    // Position by position from the cache: the logits of each.
    for (std::size_t j = 0; j < s.tokens.size(); j++) {
      s.session->forward(s.tokens.subspan(j, 1), s.pos + int(j), s.logits.subspan(j * V, V),
                         j + 1 == s.tokens.size() ? probs : std::span<float>(scratch));
    }
  }
}

}  // namespace gpt2
