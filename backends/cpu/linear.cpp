#include "backends/cpu/linear.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace gpt2::cpu {

LinearMatrix linear_matrix(const Model& model, Linear which, int layer) {
  const ModelConfig& c = model.config();
  const ParameterTensors& p = model.params();
  const long C = c.channels;
  assert(which == Linear::kLogits || (layer >= 0 && layer < c.num_layers));
  switch (which) {
    case Linear::kQkv:
      return {p.qkvw + layer * 3 * C * C, p.qkvb + layer * 3 * C, int(3 * C), int(C)};
    case Linear::kAttProj:
      return {p.attprojw + layer * C * C, p.attprojb + layer * C, int(C), int(C)};
    case Linear::kFc:
      return {p.fcw + layer * 4 * C * C, p.fcb + layer * 4 * C, int(4 * C), int(C)};
    case Linear::kFcProj:
      return {p.fcprojw + layer * 4 * C * C, p.fcprojb + layer * C, int(C), int(4 * C)};
    case Linear::kLogits:
      return {p.wte, nullptr, c.vocab_size, int(C)};
  }
  return {};
}

void copy_wte_row(const Model& model, int token, float* out) {
  const int C = model.config().channels;
  std::memcpy(out, model.params().wte + long(token) * C, sizeof(float) * C);
}

const char* linear_name(Linear which) {
  switch (which) {
    case Linear::kQkv:
      return "qkv";
    case Linear::kAttProj:
      return "attproj";
    case Linear::kFc:
      return "fc";
    case Linear::kFcProj:
      return "fcproj";
    case Linear::kLogits:
      return "logits";
  }
  return "?";
}

void apply_epilogue(const float* v, int T, int OC, const Epilogue& ep, const Kernels& kernels,
                    Executor& ex) {
  ex.parallel_for(T, [&](int t0, int t1, int) {
    for (int t = t0; t < t1; t++) {
      const float* row = v + long(t) * OC;
      switch (ep.kind) {
        case Epilogue::kStore:
          std::memcpy(ep.out + long(t) * ep.ld, row, sizeof(float) * OC);
          break;
        case Epilogue::kAdd: {
          float* out = ep.out + long(t) * ep.ld;
          for (int o = 0; o < OC; o++) out[o] = out[o] + row[o];
          break;
        }
        case Epilogue::kGelu:
          kernels.gelu(ep.out + long(t) * ep.ld, row, OC);
          break;
        case Epilogue::kQkv: {
          const int C = ep.channels, p = ep.pos + t;
          assert(OC == 3 * C);
          std::memcpy(ep.out + long(t) * ep.ld, row, sizeof(float) * C);
          // Key element c = (h, i) sits at keys_t[(h * hs + i) * stride + p] = keys_t[c * stride +
          // p].
          for (int c = 0; c < C; c++) ep.keys_t[long(c) * ep.stride + p] = row[C + c];
          std::memcpy(ep.values + long(p) * C, row + 2 * C, sizeof(float) * C);
          break;
        }
      }
    }
  });
}

namespace {

struct FreeBytes {
  void operator()(void* p) const { std::free(p); }
};

struct ScratchSlot {
  std::unique_ptr<void, FreeBytes> data;
  std::size_t bytes = 0;
};

}  // namespace

void* thread_scratch(int slot, std::size_t bytes) {
  assert(slot >= 0 && slot < kScratchSlots);
  thread_local ScratchSlot slots[kScratchSlots];
  ScratchSlot& s = slots[slot];
  if (s.bytes < bytes) {
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) throw std::bad_alloc();
    s.data.reset(p);
    s.bytes = rounded;
  }
  return s.data.get();
}

}  // namespace gpt2::cpu
