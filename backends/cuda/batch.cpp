#include "backends/cuda/batch.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/host_chunks.h"
#include "reference/forward.h"

namespace gpt2::cuda {

std::size_t cache_session_bytes(const ModelConfig& c, int capacity) {
  return 2 * std::size_t(c.num_layers) * std::size_t(capacity) * std::size_t(c.channels) *
         sizeof(float);
}

CacheSession::CacheSession(const Backend& backend, int device, int capacity, const char* name)
    : backend_(backend), capacity_(capacity) {
  const ModelConfig& c = backend.model().config();
  check_session_capacity(c, capacity, name);
  use_device(device);
  // Both caches checked at once, so that a session that does not fit
  // allocates nothing.
  require_free_memory(cache_session_bytes(c, capacity), "a sequence's key/value caches");
  const std::size_t n = std::size_t(c.num_layers) * std::size_t(capacity) * c.channels;
  keys_ = DeviceBuffer<float>(n, "the key cache");
  values_ = DeviceBuffer<float>(n, "the value cache");
}

void forward_one(const Backend& backend, Session* session, std::span<const int> tokens, int pos,
                 std::span<float> logits, std::span<float> probs) {
  SequenceStep step;
  step.session = session;
  step.tokens = tokens;
  step.pos = pos;
  step.logits = logits;
  step.probs = probs;
  backend.forward_batch({&step, 1});
}

void CacheSession::forward(std::span<const int> tokens, int pos, std::span<float> logits,
                           std::span<float> probs) {
  forward_one(backend_, this, tokens, pos, logits, probs);
}

void copy_cache_sessions(std::span<const CacheCopy> copies, const Backend& owner,
                         cudaStream_t stream) {
  check_cache_copies(copies);
  for (const CacheCopy& c : copies) {
    const auto* from = dynamic_cast<const CacheSession*>(c.from);
    const auto* to = dynamic_cast<const CacheSession*>(c.to);
    if (!from || !to || from->backend() != &owner || to->backend() != &owner) {
      throw std::invalid_argument("copy_caches: a session of another backend");
    }
  }
  if (copies.empty()) return;
  const ModelConfig& cfg = owner.model().config();
  const std::size_t C = cfg.channels, L = cfg.num_layers;
  for (const CacheCopy& c : copies) {
    const auto* from = static_cast<const CacheSession*>(c.from);
    auto* to = static_cast<CacheSession*>(c.to);
    if (c.positions == 0) continue;
    // Per layer (capacity, C): the first positions of each layer, L rows of a 2D copy.
    const std::size_t width = std::size_t(c.positions) * C * sizeof(float);
    const std::size_t from_pitch = std::size_t(from->capacity()) * C * sizeof(float);
    const std::size_t to_pitch = std::size_t(to->capacity()) * C * sizeof(float);
    GPT2_CUDA(cudaMemcpy2DAsync(to->keys(), to_pitch, from->keys(), from_pitch, width, L,
                                cudaMemcpyDeviceToDevice, stream));
    GPT2_CUDA(cudaMemcpy2DAsync(to->values(), to_pitch, from->values(), from_pitch, width, L,
                                cudaMemcpyDeviceToDevice, stream));
  }
  GPT2_CUDA(cudaStreamSynchronize(stream));
  for (const CacheCopy& c : copies) static_cast<CacheSession*>(c.to)->set_cached(c.positions);
}

StepLayout lay_out(std::span<const SequenceStep> steps, const Backend& owner, int channels) {
  for (const SequenceStep& s : steps) {
    auto* session = dynamic_cast<CacheSession*>(s.session);
    if (session == nullptr || session->backend() != &owner) {
      throw std::invalid_argument("forward_batch: a session of another backend");
    }
  }
  StepLayout out = lay_out_rows(steps);
  for (std::size_t i = 0; i < steps.size(); i++) {
    auto* session = static_cast<CacheSession*>(steps[i].session);
    BatchSeq& q = out.seqs[i];
    q.keys = session->keys();
    q.values = session->values();
    q.layer_floats = long(session->capacity()) * channels;
    out.sessions.push_back(session);
  }
  return out;
}

StepLayout lay_out_rows(std::span<const SequenceStep> steps) {
  StepLayout out;
  out.out_first.push_back(0);
  for (const SequenceStep& s : steps) {
    const int n = int(s.tokens.size()), seq = int(out.seqs.size());
    BatchSeq q;
    q.first = out.rows_count();
    q.n = n;
    q.pos = s.pos;
    out.seqs.push_back(q);
    for (int t = 0; t < n; t++) {
      out.rows.push_back({s.tokens[t], s.pos + t, seq, 0});
      if (s.all_positions || t == n - 1) out.out_rows.push_back(q.first + t);
    }
    out.out_first.push_back(out.outs_count());
    if (n == 1) out.decode_rows.push_back(q.first);
    if (n != 1 || s.all_positions) out.decode_only = false;
    if (!s.probs.empty()) out.probs = true;
  }
  return out;
}

void copy_step_outputs(const StepLayout& layout, std::span<const SequenceStep> steps,
                       const float* logits, const float* probs, int V) {
  auto copy = [&](std::size_t begin, std::size_t end) {
    for (std::size_t s = begin; s < end; s++) {
      const int first = layout.out_first[s], count = layout.out_first[s + 1] - first;
      std::memcpy(steps[s].logits.data(), logits + std::size_t(first) * V,
                  std::size_t(count) * V * sizeof(float));
      if (!steps[s].probs.empty()) {
        std::memcpy(steps[s].probs.data(), probs + std::size_t(first + count - 1) * V,
                    std::size_t(V) * sizeof(float));
      }
    }
  };
  for_host_chunks(steps.size(), copy);
}

void finish_step(const StepLayout& layout, std::span<const SequenceStep> steps, const float* logits,
                 const float* probs, int V) {
  copy_step_outputs(layout, steps, logits, probs, V);
  for (std::size_t s = 0; s < steps.size(); s++) {
    layout.sessions[s]->set_cached(steps[s].pos + int(steps[s].tokens.size()));
  }
}

cudaGraphExec_t capture_graph(cudaStream_t stream, const std::function<void()>& enqueue) {
  cudaGraph_t graph = nullptr;
  GPT2_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
    throw;
  }
  GPT2_CUDA(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  GPT2_CUDA(status);
  return exec;
}

void pad_decode(StepLayout& layout, int rows, float* keys, float* values, int channels) {
  while (layout.seqs_count() < rows) {
    const int seq = layout.seqs_count(), row = layout.rows_count();
    BatchSeq q;
    q.keys = keys;
    q.values = values;
    q.layer_floats = channels;  // one position per layer
    q.first = row;
    q.n = 1;
    q.pos = 0;
    layout.seqs.push_back(q);
    layout.rows.push_back({0, 0, seq, 0});
    layout.out_rows.push_back(row);
    layout.decode_rows.push_back(row);
  }
}

int decode_bucket(int batch) {
  if (batch <= 8) {
    int b = 1;
    while (b < batch) b *= 2;
    return b;
  }
  return (batch + 15) / 16 * 16;
}

namespace {
constexpr std::size_t align16(std::size_t n) {
  return (n + 15) / 16 * 16;
}
}  // namespace

std::size_t StepDescriptors::seqs_offset() const {
  return align16(std::size_t(rows_) * sizeof(BatchRow));
}
std::size_t StepDescriptors::outs_offset() const {
  return seqs_offset() + align16(std::size_t(seqs_) * sizeof(BatchSeq));
}
std::size_t StepDescriptors::decodes_offset() const {
  return outs_offset() + align16(std::size_t(outs_) * sizeof(int));
}
std::size_t StepDescriptors::bytes() const {
  return decodes_offset() + align16(std::size_t(seqs_) * sizeof(int));  // decodes <= seqs
}

bool StepDescriptors::reserve(int rows, int seqs, int outs) {
  if (rows <= rows_ && seqs <= seqs_ && outs <= outs_ && device_.get() != nullptr) return false;
  StepDescriptors grown;
  grown.rows_ = std::max(rows, rows_);
  grown.seqs_ = std::max(seqs, seqs_);
  grown.outs_ = std::max(outs, outs_);
  // Both allocated before anything is replaced (a failure leaves this as it was).
  grown.host_ = PinnedBuffer<char>(grown.bytes());
  grown.device_ = DeviceBuffer<char>(grown.bytes(), "the step's rows and sequences");
  *this = std::move(grown);
  return true;
}

void StepDescriptors::stage(const StepLayout& layout) {
  if (layout.rows_count() > rows_ || layout.seqs_count() > seqs_ || layout.outs_count() > outs_) {
    throw std::logic_error("StepDescriptors::stage: reserve() first");
  }
  std::memcpy(host_.get(), layout.rows.data(), layout.rows.size() * sizeof(BatchRow));
  std::memcpy(host_.get() + seqs_offset(), layout.seqs.data(),
              layout.seqs.size() * sizeof(BatchSeq));
  std::memcpy(host_.get() + outs_offset(), layout.out_rows.data(),
              layout.out_rows.size() * sizeof(int));
  std::memcpy(host_.get() + decodes_offset(), layout.decode_rows.data(),
              layout.decode_rows.size() * sizeof(int));
}

void StepDescriptors::enqueue_upload(cudaStream_t stream) const {
  GPT2_CUDA(cudaMemcpyAsync(device_.get(), host_.get(), bytes(), cudaMemcpyHostToDevice, stream));
}

const BatchSeq* StepDescriptors::seqs() const {
  return reinterpret_cast<const BatchSeq*>(device_.get() + seqs_offset());
}
const int* StepDescriptors::out_rows() const {
  return reinterpret_cast<const int*>(device_.get() + outs_offset());
}
const int* StepDescriptors::decode_rows() const {
  return reinterpret_cast<const int*>(device_.get() + decodes_offset());
}
const int* StepDescriptors::seq_pos(int s) const {
  return reinterpret_cast<const int*>(device_.get() + seqs_offset() + s * sizeof(BatchSeq) +
                                      offsetof(BatchSeq, pos));
}

}  // namespace gpt2::cuda
