#include "backends/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "backends/cpu/layers.h"
#include "backends/cpu/packed.h"
#include "backends/cpu/packed_linear.h"
#include "reference/forward.h"
#include "reference/kernels.h"

namespace gpt2::cpu {

namespace {

// Grows a to at least n floats (its contents are not kept).
void reserve(AlignedFloats& a, std::size_t n) {
  if (a.size() < n) a = AlignedFloats(n);
}

}  // namespace

void Workspace::ensure(const ModelConfig& c, int rows, int out_rows, int cap, int workers,
                       bool stacked) {
  const std::size_t R = std::size_t(rows), C = c.channels;
  reserve(x, R * C);
  reserve(ln, R * C);
  reserve(q, R * C);
  reserve(atty, R * C);
  reserve(fch, R * 4 * C);
  if (stacked) reserve(qkv, R * 3 * C);
  reserve(att, std::size_t(workers) * attention_scratch(cap));
  reserve(last, std::size_t(out_rows) * C);
  reserve(logits, std::size_t(out_rows) * c.vocab_size);
}

// A CPU backend's sequence: its key/value cache and the scratch of its own
// forward passes (Session::forward); a batched step uses the backend's.
class CpuSession final : public Session {
 public:
  CpuSession(std::shared_ptr<Engine> engine, int capacity)
      : engine_(std::move(engine)), capacity_(capacity) {
    const ModelConfig& c = engine_->model->config();
    check_session_capacity(c, capacity, "cpu");
    const std::size_t T = capacity, C = c.channels, L = c.num_layers;
    keys_t_ = AlignedFloats(L * C * T);  // per layer (NH, hs, capacity)
    values_ = AlignedFloats(L * T * C);  // per layer (capacity, C)
  }

  int cached() const override { return cached_; }
  int capacity() const override { return capacity_; }

  void forward(std::span<const int> tokens, int pos, std::span<float> logits,
               std::span<float> probs) override {
    check_forward_args(engine_->model->config(), tokens, pos, cached_, capacity_, logits, probs);
    const SequenceStep step{this, tokens, pos, logits, probs};
    forward_sequences(*engine_, workspace_, {&step, 1});
  }

  const Engine* engine() const { return engine_.get(); }
  float* keys_t(int layer) { return keys_t_.data() + std::size_t(layer) * cache_floats(); }
  float* values(int layer) { return values_.data() + std::size_t(layer) * cache_floats(); }
  const float* keys_t(int layer) const {
    return keys_t_.data() + std::size_t(layer) * cache_floats();
  }
  const float* values(int layer) const {
    return values_.data() + std::size_t(layer) * cache_floats();
  }
  void set_cached(int cached) { cached_ = cached; }

 private:
  std::size_t cache_floats() const {
    return std::size_t(capacity_) * engine_->model->config().channels;
  }
  std::shared_ptr<Engine> engine_;
  int capacity_;
  int cached_ = 0;
  AlignedFloats keys_t_, values_;
  Workspace workspace_;
};

void forward_sequences(Engine& e, Workspace& ws, std::span<const SequenceStep> steps) {
  const Model& model = *e.model;
  const ModelConfig& c = model.config();
  Executor& ex = *e.executor;
  LinearLayers& linear = *e.linear;
  const Kernels& k = *e.kernels;
  const ParameterTensors& p = model.params();
  const int C = c.channels, NH = c.num_heads, hs = C / NH, L = c.num_layers, V = c.vocab_size;
  const long lC = C;
  const int B = int(steps.size());
  std::vector<CpuSession*> sessions(B);
  // The batch's rows: sequence s's new tokens are rows first[s] .. first[s+1]-1;
  // the rows whose logits it wants are out[s] .. out[s+1]-1.
  std::vector<int> first(B + 1, 0), out(B + 1, 0), row_token, row_pos;
  int cap = 1;
  for (int s = 0; s < B; s++) {
    sessions[s] = static_cast<CpuSession*>(steps[s].session);
    const int n = int(steps[s].tokens.size());
    first[s + 1] = first[s] + n;
    out[s + 1] = out[s] + (steps[s].all_positions ? n : 1);
    cap = std::max(cap, sessions[s]->capacity());
    for (int t = 0; t < n; t++) {
      row_token.push_back(steps[s].tokens[t]);
      row_pos.push_back(steps[s].pos + t);
    }
  }
  const int R = first[B];
  // One sequence writes its keys and values straight from the qkv product's
  // epilogue; several go through a stacked qkv and are put into each cache.
  const bool stacked = B > 1;
  ws.ensure(c, R, out[B], cap, ex.threads(), stacked);
  float* x = ws.x.data();

  ex.parallel_for(R, [&](int begin, int end, int) {
    for (int r = begin; r < end; r++) {
      float* row = x + r * lC;
      const float* position = p.wpe + long(row_pos[r]) * C;
      linear.wte_row(row_token[r], row);
      for (int i = 0; i < C; i++) row[i] = row[i] + position[i];
    }
  });
  std::vector<AttentionRows> attention(B);
  for (int l = 0; l < L; l++) {
    layernorm_rows(ws.ln.data(), x, p.ln1w + l * lC, p.ln1b + l * lC, R, C, ex);
    if (!stacked) {
      CpuSession& s = *sessions[0];
      linear.run(
          Linear::kQkv, l, ws.ln.data(), R,
          Epilogue::qkv(ws.q.data(), s.keys_t(l), s.values(l), steps[0].pos, s.capacity(), C, hs),
          ex);
    } else {
      linear.run(Linear::kQkv, l, ws.ln.data(), R, {Epilogue::kStore, ws.qkv.data(), 3 * C}, ex);
      // q to its rows; each key and value into its sequence's cache at its position.
      ex.parallel_for(R, [&](int begin, int end, int) {
        int s = int(std::upper_bound(first.begin(), first.end(), begin) - first.begin()) - 1;
        for (int r = begin; r < end; r++) {
          while (r >= first[s + 1]) s++;
          const float* v = ws.qkv.data() + r * 3 * lC;
          const int cap_s = sessions[s]->capacity(), at = row_pos[r];
          float* keys_t = sessions[s]->keys_t(l);
          float* values = sessions[s]->values(l) + long(at) * C;
          std::memcpy(ws.q.data() + r * lC, v, sizeof(float) * C);
          for (int i = 0; i < C; i++) keys_t[long(i) * cap_s + at] = v[C + i];
          std::memcpy(values, v + 2 * C, sizeof(float) * C);
        }
      });
    }
    for (int s = 0; s < B; s++) {
      attention[s] = {ws.atty.data() + first[s] * lC, ws.q.data() + first[s] * lC,
                      sessions[s]->keys_t(l),         sessions[s]->values(l),
                      sessions[s]->capacity(),        steps[s].pos,
                      first[s + 1] - first[s]};
    }
    attention_sequences(attention, NH, C, ws.att.data(), attention_scratch(cap), k, ex);
    linear.run(Linear::kAttProj, l, ws.atty.data(), R, {Epilogue::kAdd, x, C}, ex);
    layernorm_rows(ws.ln.data(), x, p.ln2w + l * lC, p.ln2b + l * lC, R, C, ex);
    linear.run(Linear::kFc, l, ws.ln.data(), R, {Epilogue::kGelu, ws.fch.data(), 4 * C}, ex);
    linear.run(Linear::kFcProj, l, ws.fch.data(), R, {Epilogue::kAdd, x, C}, ex);
  }
  for (int s = 0; s < B; s++) sessions[s]->set_cached(steps[s].pos + first[s + 1] - first[s]);

  // The positions whose logits are wanted (each sequence's last, or all):
  // final layernorm, logits over the V real tokens, then each softmax (the
  // maximum and the exponentials in parallel, their sum in order).
  std::vector<int> source;  // the batch row of each output row
  for (int s = 0; s < B; s++) {
    for (int r = steps[s].all_positions ? first[s] : first[s + 1] - 1; r < first[s + 1]; r++) {
      source.push_back(r);
    }
  }
  const int rows = int(source.size());
  ex.parallel_for(rows, [&](int begin, int end, int) {
    for (int j = begin; j < end; j++) {
      ref::layernorm_forward(ws.last.data() + j * lC, x + source[j] * lC, p.lnfw, p.lnfb, 1, C);
    }
  });
  float* logits = ws.logits.data();
  linear.run(Linear::kLogits, 0, ws.last.data(), rows, {Epilogue::kStore, logits, V}, ex);
  // Each sequence's logits to its step (the last row's with its softmax, in
  // parallel); the probabilities wanted.
  std::vector<SoftmaxRow> softmax;
  softmax.reserve(B);
  for (int s = 0; s < B; s++) {
    const float* from = logits + std::size_t(out[s]) * V;
    const std::size_t before = std::size_t(out[s + 1] - out[s] - 1) * V;  // all_positions' others
    std::copy(from, from + before, steps[s].logits.begin());
    const SoftmaxRow row{from + before, steps[s].probs.data(), steps[s].logits.data() + before};
    if (!steps[s].probs.empty()) {
      softmax.push_back(row);
    } else {
      std::copy(row.logits, row.logits + V, row.copy);
    }
  }
  softmax_rows(softmax, V, ws.softmax, k, ex);
}

CpuBackend::CpuBackend(BackendInfo info, std::shared_ptr<Engine> engine)
    : info_(std::move(info)), engine_(std::move(engine)) {}

std::unique_ptr<Session> CpuBackend::open_session(int capacity) const {
  return std::make_unique<CpuSession>(engine_, capacity);
}

void CpuBackend::forward_batch(std::span<const SequenceStep> steps) const {
  check_batch_steps(engine_->model->config(), steps);
  for (const SequenceStep& s : steps) {
    const auto* cpu = dynamic_cast<const CpuSession*>(s.session);
    if (cpu == nullptr || cpu->engine() != engine_.get()) {
      throw std::invalid_argument("forward_batch: a session of another backend");
    }
  }
  if (steps.empty()) return;
  std::lock_guard lock(batch_mutex_);
  forward_sequences(*engine_, batch_workspace_, steps);
}

void CpuBackend::copy_caches(std::span<const CacheCopy> copies) const {
  check_cache_copies(copies);
  for (const CacheCopy& c : copies) {
    const auto* from = dynamic_cast<const CpuSession*>(c.from);
    const auto* to = dynamic_cast<const CpuSession*>(c.to);
    if (!from || !to || from->engine() != engine_.get() || to->engine() != engine_.get()) {
      throw std::invalid_argument("copy_caches: a session of another backend");
    }
  }
  if (copies.empty()) return;
  const ModelConfig& cfg = engine_->model->config();
  const int L = cfg.num_layers;
  const std::size_t C = cfg.channels;
  // One task per copy and layer: the keys, transposed per layer (C, capacity),
  // row by row; the values (capacity, C), the first positions at once.
  std::lock_guard lock(batch_mutex_);
  engine_->executor->parallel_for(int(copies.size()) * L, [&](int begin, int end, int) {
    for (int task = begin; task < end; task++) {
      const CacheCopy& c = copies[task / L];
      const int l = task % L;
      const auto* from = static_cast<const CpuSession*>(c.from);
      auto* to = static_cast<CpuSession*>(c.to);
      const std::size_t n = c.positions, from_cap = from->capacity(), to_cap = to->capacity();
      const float* kf = from->keys_t(l);
      float* kt = to->keys_t(l);
      for (std::size_t r = 0; r < C; r++) std::copy_n(kf + r * from_cap, n, kt + r * to_cap);
      std::copy_n(from->values(l), n * C, to->values(l));
    }
  });
  for (const CacheCopy& c : copies) static_cast<CpuSession*>(c.to)->set_cached(c.positions);
}

std::unique_ptr<Backend> make_bit_exact_backend(std::shared_ptr<const Model> model,
                                                BackendInfo info,
                                                std::unique_ptr<Executor> executor,
                                                const std::string& threading) {
  auto engine = std::make_shared<Engine>();
  engine->model = model;
  engine->executor = std::move(executor);
  engine->kernels = &best_kernels();
  engine->linear = std::make_unique<PackedLinear>(model, *engine->kernels, *engine->executor,
                                                  weight_format(info.precision));
  info.details = threading + ", " + engine->linear->details();
  return std::make_unique<CpuBackend>(std::move(info), std::move(engine));
}

}  // namespace gpt2::cpu
