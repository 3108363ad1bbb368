// The parallel-for that the shared CPU kernels are written against. Backends
// inject it: a static pthreads pool (backends/pthreads) or OpenMP (backends/openmp).
#pragma once

#include <type_traits>
#include <utility>

namespace gpt2 {

// A non-owning reference to a callable, cheap to pass by value (no allocation).
template <typename Signature>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit on purpose, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// fn(begin, end, worker) runs once for each worker's contiguous share of [0, n).
using RangeFn = FunctionRef<void(int begin, int end, int worker)>;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual int threads() const = 0;
  // Splits [0, n) into k = min(threads(), n) contiguous shares, worker w taking
  // [n*w/k, n*(w+1)/k), runs fn on each share in parallel, and returns when all
  // are done. The caller's thread is worker 0. Not reentrant: one call at a time.
  virtual void parallel_for(int n, RangeFn fn) = 0;
};

// Worker w's share of [0, n) among k workers.
inline std::pair<int, int> share_of(int n, int k, int w) {
  return {int(long(n) * w / k), int(long(n) * (w + 1) / k)};
}

// Runs everything on the calling thread.
class SerialExecutor final : public Executor {
 public:
  int threads() const override { return 1; }
  void parallel_for(int n, RangeFn fn) override {
    if (n > 0) fn(0, n, 0);
  }
};

}  // namespace gpt2
