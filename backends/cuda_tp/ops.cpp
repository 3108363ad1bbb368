#include "backends/cuda_tp/ops.h"

#include <cstring>
#include <stdexcept>

namespace gpt2::tp {

namespace {

class Writer {
 public:
  template <typename T>
  void pod(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  template <typename T>
  void vec(const std::vector<T>& v) {
    pod(long(v.size()));
    const char* p = reinterpret_cast<const char*>(v.data());
    out.insert(out.end(), p, p + v.size() * sizeof(T));
  }
  std::vector<char> out;
};

class Reader {
 public:
  explicit Reader(std::span<const char> in) : in_(in) {}
  template <typename T>
  T pod() {
    T v;
    take(&v, sizeof(T));
    return v;
  }
  template <typename T>
  std::vector<T> vec() {
    const long n = pod<long>();
    if (n < 0 || std::size_t(n) > (in_.size() - at_) / sizeof(T)) bad();
    std::vector<T> v(static_cast<std::size_t>(n));
    take(v.data(), v.size() * sizeof(T));
    return v;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  [[noreturn]] static void bad() { throw std::runtime_error("cuda-tp: a malformed rank message"); }
  void take(void* to, std::size_t n) {
    if (n > in_.size() - at_) bad();
    std::memcpy(to, in_.data() + at_, n);
    at_ += n;
  }
  std::span<const char> in_;
  std::size_t at_ = 0;
};

}  // namespace

std::vector<char> encode(const Op& op) {
  Writer w;
  w.pod(op.kind), w.pod(op.id), w.pod(op.capacity);
  if (op.kind == OpKind::kForward) {
    const cuda::StepLayout& l = op.step.layout;
    w.vec(l.rows), w.vec(l.seqs), w.vec(l.out_rows), w.vec(l.out_first), w.vec(l.decode_rows);
    w.pod(l.decode_only), w.pod(l.probs);
    w.vec(op.step.ids);
  }
  if (op.kind == OpKind::kCopy) w.vec(op.copies);
  return std::move(w.out);
}

Op decode(std::span<const char> bytes) {
  Reader r(bytes);
  Op op;
  op.kind = r.pod<OpKind>(), op.id = r.pod<int>(), op.capacity = r.pod<int>();
  if (op.kind == OpKind::kForward) {
    cuda::StepLayout& l = op.step.layout;
    l.rows = r.vec<cuda::BatchRow>(), l.seqs = r.vec<cuda::BatchSeq>();
    l.out_rows = r.vec<int>(), l.out_first = r.vec<int>(), l.decode_rows = r.vec<int>();
    l.decode_only = r.pod<bool>(), l.probs = r.pod<bool>();
    op.step.ids = r.vec<int>();
  }
  if (op.kind == OpKind::kCopy) op.copies = r.vec<TpCopy>();
  if (!r.done()) throw std::runtime_error("cuda-tp: a malformed rank message");
  return op;
}

void run_op(TpRank& rank, const Op& op) {
  switch (op.kind) {
    case OpKind::kOpen:
      rank.open(op.id, op.capacity);
      break;
    case OpKind::kClose:
      rank.close(op.id);
      break;
    case OpKind::kForward:
      rank.forward(op.step);
      break;
    case OpKind::kCopy:
      rank.copy(op.copies);
      break;
    case OpKind::kEnd:
      break;
  }
}

}  // namespace gpt2::tp
