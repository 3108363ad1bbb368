#include "backends/cuda/cublas_api.h"

#include <dlfcn.h>

#include <string>

#include "backends/cuda/cuda_check.h"

namespace gpt2::cuda {

namespace {

// The exported name after cublas_v2.h's macros (cublasCreate -> cublasCreate_v2).
#define GPT2_CUBLAS_STRING(x) #x
#define GPT2_CUBLAS_SYMBOL(f) GPT2_CUBLAS_STRING(f)

template <class F>
void resolve(void* lib, const char* name, F& out) {
  void* p = dlsym(lib, name);
  if (p == nullptr) throw CudaError(std::string("cuBLAS has no ") + name + ": " + dlerror());
  out = reinterpret_cast<F>(p);
}

CublasApi open_cublas() {
  const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string why = lib == nullptr ? dlerror() : "";
#ifdef GPT2_CUBLAS_DIR
  if (lib == nullptr) lib = dlopen((GPT2_CUBLAS_DIR "/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
#endif
  if (lib == nullptr) throw CudaError("cannot open cuBLAS (" + soname + "): " + why);
  CublasApi api{};
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasCreate), api.create);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasDestroy), api.destroy);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasSetStream), api.set_stream);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasSetMathMode), api.set_math_mode);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasGetMathMode), api.get_math_mode);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasGemmEx), api.gemm_ex);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasGetStatusString), api.status_string);
  resolve(lib, GPT2_CUBLAS_SYMBOL(cublasGetStatusName), api.status_name);
  return api;  // the library stays open for the process's life
}

}  // namespace

const CublasApi& cublas_api() {
  static const CublasApi api = open_cublas();  // a failure throws again next time
  return api;
}

}  // namespace gpt2::cuda
