#include "backends/cuda_tp/rank.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda_tp/tp_kernels.h"

namespace gpt2::tp {

using cuda::DeviceBuffer;
using cuda::fast::Epilogue;
using bf16 = __nv_bfloat16;

namespace {

// A rank's activations: its heads' channels and its columns of the hidden
// layer; the all-reduce and all-gather buffers past one rank; the host's
// copies of the outputs on rank 0 alone.
cuda::ActivationShape activation_shape(const ModelConfig& c, const RankShape& r) {
  cuda::ActivationShape s = cuda::whole_model_shape(c);
  s.head_channels = r.channels_count();
  s.heads = r.heads_count();
  s.hidden = r.hidden_count();
  s.ranks = r.ranks;
  s.vocab_chunk = r.vocab_chunk;
  s.host_outputs = r.rank == 0;
  return s;
}

}  // namespace

TpRank::TpRank(const Model& model, bool bf16, std::unique_ptr<Communicator> comm)
    : config_(model.config()),
      bf16_(bf16),
      comm_(std::move(comm)),
      shape_(rank_shape(config_, comm_->ranks(), comm_->rank())),
      act_(activation_shape(config_, shape_)) {
  cuda::use_device(comm_->device());
  GPT2_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  upload(model);
  const std::size_t pad = std::size_t(config_.num_layers) * shape_.channels_count();
  pad_keys_ = DeviceBuffer<float>(pad, "the padding rows' keys");
  pad_values_ = DeviceBuffer<float>(pad, "the padding rows' values");
}

TpRank::~TpRank() {
  cudaSetDevice(comm_->device());
  drop_graphs();
  caches_.clear();
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

std::size_t TpRank::weight_bytes() const {
  return f32_.bytes() + b16_.bytes();
}

std::size_t TpRank::cache_bytes(const ModelConfig& c, const RankShape& s, int capacity) {
  return 2 * std::size_t(c.num_layers) * std::size_t(capacity) * s.channels_count() * sizeof(float);
}

// One float32 buffer: the replicated tensors (wte's V rows for the lookup and
// the logits, wpe, the layernorms, the biases applied after an all-reduce),
// this rank's biases, and (float32) its four block matrices; bfloat16 keeps
// wte and the four matrices in a second buffer instead.
void TpRank::upload(const Model& model) {
  const ModelConfig& c = config_;
  const ParameterTensors& p = model.params();
  const std::size_t C = c.channels, L = c.num_layers, V = c.vocab_size;
  const BlockShard shard = shard_blocks(model, shape_);
  std::vector<float> host;
  std::vector<std::size_t> at;
  // Every tensor at a multiple of 64 floats (256 bytes): the products' vector loads.
  auto put = [&](const float* data, std::size_t n) {
    host.resize((host.size() + 63) / 64 * 64);
    at.push_back(host.size());
    host.insert(host.end(), data, data + n);
  };
  put(p.wte, V * C);
  put(p.wpe, std::size_t(c.max_seq_len) * C);
  put(p.ln1w, L * C), put(p.ln1b, L * C);
  put(shard.qkvb.data(), shard.qkvb.size());
  put(p.attprojb, L * C);
  put(p.ln2w, L * C), put(p.ln2b, L * C);
  put(shard.fcb.data(), shard.fcb.size());
  put(p.fcprojb, L * C);
  put(p.lnfw, C), put(p.lnfb, C);
  const std::size_t matrices = host.size();
  put(shard.qkvw.data(), shard.qkvw.size());
  put(shard.attprojw.data(), shard.attprojw.size());
  put(shard.fcw.data(), shard.fcw.size());
  put(shard.fcprojw.data(), shard.fcprojw.size());
  const std::string what =
      "rank " + std::to_string(shape_.rank) + "'s weights (" + model.name() + ")";
  const std::size_t kept = bf16_ ? matrices : host.size();
  // With bfloat16 the float32 matrices go up once to be converted.
  DeviceBuffer<float> all(host.size(), what);
  GPT2_CUDA(
      cudaMemcpy(all.get(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
  const float* d = all.get();
  wpe_ = d + at[1], ln1w_ = d + at[2], ln1b_ = d + at[3], qkvb_ = d + at[4];
  attprojb_ = d + at[5], ln2w_ = d + at[6], ln2b_ = d + at[7], fcb_ = d + at[8];
  fcprojb_ = d + at[9], lnfw_ = d + at[10], lnfb_ = d + at[11];
  if (!bf16_) {
    wte_ = d + at[0], qkvw_ = d + at[12], attprojw_ = d + at[13], fcw_ = d + at[14];
    fcprojw_ = d + at[15];
    f32_ = std::move(all);
    return;
  }
  // bfloat16: wte and the four matrices converted, the float32 ones dropped.
  auto next = [](std::size_t at, std::size_t n) { return (at + n + 127) / 128 * 128; };
  const std::size_t b_wte = 0, b_qkv = next(b_wte, V * C), b_att = next(b_qkv, shard.qkvw.size());
  const std::size_t b_fc = next(b_att, shard.attprojw.size());
  const std::size_t b_fcp = next(b_fc, shard.fcw.size()), b_end = next(b_fcp, shard.fcprojw.size());
  b16_ = DeviceBuffer<bf16>(b_end, what + " in bfloat16");
  bf16* b = b16_.get();
  cuda::fast::to_bf16(b + b_wte, d + at[0], long(V * C), stream_);
  cuda::fast::to_bf16(b + b_qkv, d + at[12], long(shard.qkvw.size()), stream_);
  cuda::fast::to_bf16(b + b_att, d + at[13], long(shard.attprojw.size()), stream_);
  cuda::fast::to_bf16(b + b_fc, d + at[14], long(shard.fcw.size()), stream_);
  cuda::fast::to_bf16(b + b_fcp, d + at[15], long(shard.fcprojw.size()), stream_);
  f32_ = DeviceBuffer<float>(kept, what);
  GPT2_CUDA(
      cudaMemcpyAsync(f32_.get(), d, kept * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  GPT2_CUDA(cudaStreamSynchronize(stream_));
  const float* f = f32_.get();
  wpe_ = f + at[1], ln1w_ = f + at[2], ln1b_ = f + at[3], qkvb_ = f + at[4];
  attprojb_ = f + at[5], ln2w_ = f + at[6], ln2b_ = f + at[7], fcb_ = f + at[8];
  fcprojb_ = f + at[9], lnfw_ = f + at[10], lnfb_ = f + at[11];
  wte_ = b + b_wte, qkvw_ = b + b_qkv, attprojw_ = b + b_att, fcw_ = b + b_fc;
  fcprojw_ = b + b_fcp;
}

void TpRank::open(int id, int capacity) {
  cuda::use_device(comm_->device());
  cuda::require_free_memory(
      cache_bytes(config_, shape_, capacity),
      "a sequence's key/value caches (rank " + std::to_string(shape_.rank) + ")");
  const std::size_t n =
      std::size_t(config_.num_layers) * std::size_t(capacity) * shape_.channels_count();
  Cache cache;
  cache.keys = DeviceBuffer<float>(n, "the key cache");
  cache.values = DeviceBuffer<float>(n, "the value cache");
  cache.capacity = capacity;
  caches_[id] = std::move(cache);
}

void TpRank::close(int id) {
  cudaSetDevice(comm_->device());
  caches_.erase(id);
}

void TpRank::copy(std::span<const TpCopy> copies) {
  cuda::use_device(comm_->device());
  const std::size_t Cr = shape_.channels_count(), L = config_.num_layers;
  for (const TpCopy& c : copies) {
    if (c.positions == 0) continue;
    const Cache& from = caches_.at(c.from);
    Cache& to = caches_.at(c.to);
    const std::size_t width = std::size_t(c.positions) * Cr * sizeof(float);
    const std::size_t from_pitch = std::size_t(from.capacity) * Cr * sizeof(float);
    const std::size_t to_pitch = std::size_t(to.capacity) * Cr * sizeof(float);
    GPT2_CUDA(cudaMemcpy2DAsync(to.keys.get(), to_pitch, from.keys.get(), from_pitch, width, L,
                                cudaMemcpyDeviceToDevice, stream_));
    GPT2_CUDA(cudaMemcpy2DAsync(to.values.get(), to_pitch, from.values.get(), from_pitch, width, L,
                                cudaMemcpyDeviceToDevice, stream_));
  }
  GPT2_CUDA(cudaStreamSynchronize(stream_));
}

void TpRank::forward(const TpStep& step) {
  cuda::use_device(comm_->device());
  cuda::StepLayout layout = step.layout;
  const long Cr = shape_.channels_count();
  for (int s = 0; s < layout.seqs_count(); s++) {
    Cache& cache = caches_.at(step.ids[s]);
    layout.seqs[s].keys = cache.keys.get();
    layout.seqs[s].values = cache.values.get();
    layout.seqs[s].layer_floats = long(cache.capacity) * Cr;
  }
  const int S = layout.seqs_count();
  const bool probs = layout.probs;
  if (layout.decode_only && comm_->capturable()) {
    // One graph per bucket of batch sizes; the rows past S are padding.
    const int bucket = cuda::decode_bucket(S);
    cuda::pad_decode(layout, bucket, pad_keys_.get(), pad_values_.get(), int(Cr));
    if (grow(bucket, bucket, bucket, bucket)) drop_graphs();
    desc_.stage(layout);
    const std::pair key{bucket, probs};
    if (graphs_.find(key) == graphs_.end()) capture(bucket, probs, layout);
    GPT2_CUDA(cudaGraphLaunch(graphs_.at(key), stream_));
  } else {
    const int R = layout.rows_count(), O = layout.outs_count();
    if (grow(R, S, O, layout.decodes_count())) drop_graphs();
    desc_.stage(layout);
    desc_.enqueue_upload(stream_);
    enqueue_forward(layout, probs);
    enqueue_outputs(O, probs);
  }
  comm_->wait(stream_);
}

// Room for R rows, S sequences, O output rows and D decoding sequences; true
// when a buffer moved (the graphs hold the old addresses). Everything new is
// allocated before anything is replaced.
bool TpRank::grow(int R, int S, int O, int D) {
  try {
    const bool acts = act_.ensure(R, O, D, stream_);
    return desc_.reserve(R, S, O) || acts;
  } catch (...) {
    drop_graphs();
    throw;
  }
}

void TpRank::drop_graphs() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
}

void TpRank::capture(int bucket, bool probs, const cuda::StepLayout& layout) {
  graphs_[{bucket, probs}] = cuda::capture_graph(stream_, [&] {
    desc_.enqueue_upload(stream_);
    enqueue_forward(layout, probs);
    enqueue_outputs(bucket, probs);
  });
}

void TpRank::enqueue_outputs(int outs, bool probs) {
  if (shape_.rank != 0) return;
  const std::size_t bytes = std::size_t(outs) * config_.vocab_size * sizeof(float);
  GPT2_CUDA(cudaMemcpyAsync(act_.host_logits.get(), act_.logits.get(), bytes,
                            cudaMemcpyDeviceToHost, stream_));
  if (probs) {
    GPT2_CUDA(cudaMemcpyAsync(act_.host_probs.get(), act_.probs.get(), bytes,
                              cudaMemcpyDeviceToHost, stream_));
  }
}

void TpRank::matvec(const cuda::fast::Matvec& args, const void* weight) {
  if (bf16_) {
    cuda::fast::matvec_forward(args, static_cast<const bf16*>(weight), stream_);
  } else {
    cuda::fast::matvec_forward(args, static_cast<const float*>(weight), stream_);
  }
}

// The cuda backend's forward pass (cuda_backend.cpp) over this rank's shard:
// qkv of its heads (their keys and values into its caches), attention of its
// heads, the attention projection's partial sums over its channels, an
// all-reduce, then the bias and the residual; the MLP's columns of its hidden
// layer, the projection's partial sums, an all-reduce, the bias and the
// residual; the logits of its vocabulary rows, all-gathered. At one rank the
// bias and residual stay fused into the products (the cuda backend's bits).
void TpRank::enqueue_forward(const cuda::StepLayout& layout, bool probs) {
  const ModelConfig& cfg = config_;
  const int C = cfg.channels, L = cfg.num_layers, V = cfg.vocab_size;
  const int Cr = shape_.channels_count(), NHr = shape_.heads_count(), H = shape_.hidden_count();
  const int R = layout.rows_count(), O = layout.outs_count(), D = layout.decodes_count();
  const bool split = shape_.ranks > 1;
  const long lC = C;
  float* x = act_.x.get();
  if (bf16_) {
    cuda::fast::encoder_forward(x, desc_.rows(), static_cast<const bf16*>(wte_), wpe_, R, C,
                                stream_);
  } else {
    cuda::fast::encoder_forward(x, desc_.rows(), static_cast<const float*>(wte_), wpe_, R, C,
                                stream_);
  }
  const std::size_t e = bf16_ ? sizeof(bf16) : sizeof(float);
  // x = x + bias + (a product's partial sums, all-reduced), or fused at one rank.
  auto project = [&](cuda::fast::Matvec m, const void* weight, const float* bias) {
    if (!split) {
      m.out = x, m.bias = bias, m.residual = x, m.epilogue = Epilogue::kBiasResidual;
      matvec(m, weight);
      return;
    }
    m.out = act_.sum.get(), m.epilogue = Epilogue::kNone;
    matvec(m, weight);
    comm_->all_reduce_sum(act_.sum.get(), std::size_t(R) * C, stream_);
    add_bias_residual(x, act_.sum.get(), bias, R, C, stream_);
  };
  for (int l = 0; l < L; l++) {
    auto matrix = [&](const void* base, long per_layer) {
      return static_cast<const char*>(base) + std::size_t(l) * per_layer * e;
    };
    cuda::fast::Matvec qkv;
    qkv.out = act_.qkv.get(), qkv.inp = x, qkv.ln_weight = ln1w_ + l * lC;
    qkv.ln_bias = ln1b_ + l * lC, qkv.bias = qkvb_ + l * 3L * Cr;
    qkv.epilogue = Epilogue::kBias, qkv.T = R, qkv.C = C, qkv.OC = 3 * Cr;
    qkv.rows = desc_.rows(), qkv.seqs = desc_.seqs(), qkv.layer = l;
    matvec(qkv, matrix(qkvw_, 3L * Cr * C));
    if (D > 0) {
      cuda::fast::attention_decode_rows(act_.atty.get(), act_.qkv.get(), desc_.rows(), desc_.seqs(),
                                        desc_.decode_rows(), l, act_.partial.get(), D, Cr, NHr,
                                        cfg.max_seq_len, stream_);
    }
    for (int s = 0; s < layout.seqs_count(); s++) {
      const cuda::BatchSeq& q = layout.seqs[s];
      if (q.n == 1) continue;
      cuda::fast::attention_prefill(act_.atty.get() + long(q.first) * Cr,
                                    act_.qkv.get() + long(q.first) * 3 * Cr,
                                    q.keys + l * q.layer_floats, q.values + l * q.layer_floats,
                                    desc_.seq_pos(s), q.n, Cr, NHr, stream_);
    }
    cuda::fast::Matvec proj;
    proj.inp = act_.atty.get(), proj.T = R, proj.C = Cr, proj.OC = C;
    project(proj, matrix(attprojw_, lC * Cr), attprojb_ + l * lC);
    cuda::fast::Matvec fc;
    fc.out = act_.fch.get(), fc.inp = x, fc.ln_weight = ln2w_ + l * lC;
    fc.ln_bias = ln2b_ + l * lC, fc.bias = fcb_ + long(l) * H;
    fc.epilogue = Epilogue::kBiasGelu, fc.T = R, fc.C = C, fc.OC = H;
    matvec(fc, matrix(fcw_, long(H) * C));
    cuda::fast::Matvec fcproj;
    fcproj.inp = act_.fch.get(), fcproj.T = R, fcproj.C = H, fcproj.OC = C;
    project(fcproj, matrix(fcprojw_, lC * H), fcprojb_ + l * lC);
  }
  // The output rows' logits: the final layernorm fused into the product with
  // this rank's rows of wte; gathered, then rank 0's softmax.
  cuda::fast::Matvec logits;
  logits.inp = x, logits.inp_rows = desc_.out_rows();
  logits.ln_weight = lnfw_, logits.ln_bias = lnfb_, logits.epilogue = Epilogue::kNone;
  logits.T = O, logits.C = C;
  const char* wte = static_cast<const char*>(wte_);
  if (!split) {
    logits.out = act_.logits.get(), logits.OC = V;
    matvec(logits, wte);
  } else {
    const int chunk = shape_.vocab_chunk;
    if (shape_.vocab.size() > 0) {
      logits.out = act_.logits_part.get(), logits.OC = shape_.vocab.size();
      matvec(logits, wte + std::size_t(shape_.vocab.begin) * C * e);
    }
    comm_->all_gather(act_.logits_part.get(), act_.gathered.get(), std::size_t(O) * chunk, stream_);
    if (shape_.rank == 0) {
      unshard_vocab(act_.logits.get(), act_.gathered.get(), O, V, chunk, stream_);
    }
  }
  if (probs && shape_.rank == 0) {
    cuda::fast::softmax_forward(act_.probs.get(), act_.softmax_partial.get(), act_.logits.get(), O,
                                V, stream_);
  }
}

}  // namespace gpt2::tp
