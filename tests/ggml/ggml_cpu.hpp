// ggml's CPU backend, dlopen()ed at run time: ggml_mul_mat through ggml's graph API on one
// thread, the peer of eigenq's block-format products (ggml/mul_mat.hpp). Used by
// tests/ggml/mul_mat_test.cpp (its oracle cases) and benchmarks/bench_ggml_mul_mat.cpp.
//
// The libraries come from node-llama-cpp's prebuilt @node-llama-cpp/linux-x64 3.21.1
// (bins/linux-x64, see tests/ggml/README.md): libggml-base.so and the CPU backend
// libggml-cpu-<variant>.so from the folder $EIGENQ_GGML_LIB_DIR, the variant chosen for this CPU
// or named by $EIGENQ_GGML_CPU (zen4, icelake, haswell, ...). Only the few functions called here
// are declared, with the signatures of that version's ggml.h and ggml-cpu.h.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace eigenq_test {

class GgmlCpu {
 public:
  struct InitParams {
    std::size_t mem_size;
    void* mem_buffer;
    bool no_alloc;
  };
  struct Context;
  struct Tensor;
  struct Graph;

  // The process-wide library, loaded at the first call; ok() says whether it was found.
  static const GgmlCpu& get() {
    static const GgmlCpu library;
    return library;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& variant() const { return variant_; }

  // y = x W^T on one thread of ggml's CPU backend: W is n rows of k values of ggml type
  // `type` (ggml's bytes), x is m rows of k floats. Set x(), run(), read y() (m rows of n).
  class MulMat {
   public:
    MulMat(const GgmlCpu& g, int type, const void* weights, std::int64_t n, std::int64_t k, std::int64_t m)
        : g_(g) {
      const std::size_t weight_bytes = g.row_size_(type, k) * static_cast<std::size_t>(n);
      const std::size_t bytes = weight_bytes + static_cast<std::size_t>(m * k + m * n) * 4 +
                                static_cast<std::size_t>(m * k) * 2 + (std::size_t{64} << 20);
      ctx_ = g.init_(InitParams{bytes, nullptr, false});
      Tensor* a = g.new_tensor_2d_(ctx_, type, k, n);
      x_ = g.new_tensor_2d_(ctx_, 0 /* GGML_TYPE_F32 */, k, m);
      std::memcpy(g.get_data_(a), weights, weight_bytes);
      y_ = g.mul_mat_(ctx_, a, x_);
      graph_ = g.new_graph_(ctx_);
      g.build_forward_expand_(graph_, y_);
    }
    MulMat(const MulMat&) = delete;
    MulMat& operator=(const MulMat&) = delete;
    ~MulMat() { g_.free_(ctx_); }

    float* x() { return static_cast<float*>(g_.get_data_(x_)); }
    const float* y() const { return static_cast<const float*>(g_.get_data_(y_)); }
    void run() { g_.graph_compute_with_ctx_(ctx_, graph_, 1); }

   private:
    const GgmlCpu& g_;
    Context* ctx_ = nullptr;
    Tensor* x_ = nullptr;
    Tensor* y_ = nullptr;
    Graph* graph_ = nullptr;
  };

 private:
  // The CPU backend this machine runs best, as ggml's own loader would choose it.
  static std::string pick_variant() {
    if (const char* v = std::getenv("EIGENQ_GGML_CPU"); v != nullptr && *v != '\0') return v;
#if defined(__x86_64__)
    __builtin_cpu_init();
    // GCC 12 does not name znver4: an AMD CPU with AVX-512 VNNI is Zen 4 or later.
    if (__builtin_cpu_is("amd") && __builtin_cpu_supports("avx512vnni")) return "zen4";
    if (__builtin_cpu_supports("avx512vnni")) return "icelake";
    if (__builtin_cpu_supports("avx512f")) return "skylakex";
    if (__builtin_cpu_supports("avx2")) return "haswell";
#endif
    return "x64";
  }

  template <class F>
  void bind(void* handle, const char* name, F& f) {
    void* p = dlsym(handle, name);
    if (p == nullptr) {
      if (error_.empty()) error_ = std::string("ggml not found: no symbol ") + name;
      return;
    }
    std::memcpy(&f, &p, sizeof p);
  }

  GgmlCpu() {
    const char* dir = std::getenv("EIGENQ_GGML_LIB_DIR");
    if (dir == nullptr || *dir == '\0') {
      error_ = "skipped: ggml not found (set EIGENQ_GGML_LIB_DIR to the folder of libggml-base.so)";
      return;
    }
    variant_ = pick_variant();
    // The CPU backend finds libggml-base.so beside it (its RUNPATH is $ORIGIN).
    const std::string base_path = std::string(dir) + "/libggml-base.so";
    const std::string cpu_path = std::string(dir) + "/libggml-cpu-" + variant_ + ".so";
    void* base = dlopen(base_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    void* cpu = base != nullptr ? dlopen(cpu_path.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (cpu == nullptr) {
      error_ = std::string("skipped: ggml not found (") + dlerror() + ")";
      return;
    }
    bind(base, "ggml_init", init_);
    bind(base, "ggml_free", free_);
    bind(base, "ggml_new_tensor_2d", new_tensor_2d_);
    bind(base, "ggml_mul_mat", mul_mat_);
    bind(base, "ggml_new_graph", new_graph_);
    bind(base, "ggml_build_forward_expand", build_forward_expand_);
    bind(base, "ggml_get_data", get_data_);
    bind(base, "ggml_row_size", row_size_);
    bind(cpu, "ggml_graph_compute_with_ctx", graph_compute_with_ctx_);
    bind(cpu, "ggml_cpu_init", cpu_init_);
    if (ok()) cpu_init_();
  }

  std::string error_;
  std::string variant_;
  Context* (*init_)(InitParams) = nullptr;
  void (*free_)(Context*) = nullptr;
  Tensor* (*new_tensor_2d_)(Context*, int, std::int64_t, std::int64_t) = nullptr;
  Tensor* (*mul_mat_)(Context*, Tensor*, Tensor*) = nullptr;
  Graph* (*new_graph_)(Context*) = nullptr;
  void (*build_forward_expand_)(Graph*, Tensor*) = nullptr;
  void* (*get_data_)(const Tensor*) = nullptr;
  std::size_t (*row_size_)(int, std::int64_t) = nullptr;
  int (*graph_compute_with_ctx_)(Context*, Graph*, int) = nullptr;
  void (*cpu_init_)() = nullptr;
};

}  // namespace eigenq_test
