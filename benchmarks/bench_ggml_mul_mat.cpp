// ggml's own CPU backend as the peer of the block-format products: ggml_mul_mat through ggml's
// graph API on one thread, weights of each type quantized by ggml_quantize_chunk, float32
// activations that ggml quantizes inside the call (to Q8_0 or Q8_K), as eigenq's int4 and
// block-format products quantize theirs.
//
//   ggml_TYPE/ggml/MxNxK      y[M, N] = x[M, K] W[N, K]^T, W of ggml type TYPE
//
// TYPE is q8_0, q4_0, q4_K, q6_K and iq4_nl at M = 1 (a decode step) and M = 256 (a prompt).
// eigenq's own rows of the same shapes are in bench_gemm.cpp (gemv_int4, gemm_int4). GOPS
// counts 2 operations per multiply-add per second of the thread's CPU time, as there.
//
// ggml is dlopen()ed at run time from $EIGENQ_GGML_LIB_DIR (node-llama-cpp's prebuilt
// @node-llama-cpp/linux-x64 3.21.1, bins/linux-x64: libggml-base.so and the CPU backend
// libggml-cpu-<cpu>.so, chosen for this CPU or named by $EIGENQ_GGML_CPU, e.g. zen4); without
// it every ggml row says "skipped: ggml not found". This is the plain graph API: ggml's
// repacked weight layouts (its "CPU_REPACK" buffer type of the backend API) are not used.
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "eigenq/ggml/type.hpp"

namespace {

using eigenq::Index;
using eigenq::ggml::Type;

// The few declarations of ggml.h and ggml-cpu.h this file calls.
struct GgmlInitParams {
  std::size_t mem_size;
  void* mem_buffer;
  bool no_alloc;
};
struct GgmlContext;
struct GgmlTensor;
struct GgmlGraph;

class GgmlCpu {
 public:
  static const GgmlCpu& get() {
    static const GgmlCpu library;
    return library;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& variant() const { return variant_; }

  GgmlContext* (*init)(GgmlInitParams) = nullptr;
  void (*free)(GgmlContext*) = nullptr;
  GgmlTensor* (*new_tensor_2d)(GgmlContext*, int, std::int64_t, std::int64_t) = nullptr;
  GgmlTensor* (*mul_mat)(GgmlContext*, GgmlTensor*, GgmlTensor*) = nullptr;
  GgmlGraph* (*new_graph)(GgmlContext*) = nullptr;
  void (*build_forward_expand)(GgmlGraph*, GgmlTensor*) = nullptr;
  void* (*get_data)(const GgmlTensor*) = nullptr;
  std::size_t (*row_size)(int, std::int64_t) = nullptr;
  std::size_t (*quantize_chunk)(int, const float*, void*, std::int64_t, std::int64_t, std::int64_t,
                                const float*) = nullptr;
  int (*graph_compute_with_ctx)(GgmlContext*, GgmlGraph*, int) = nullptr;
  void (*cpu_init)() = nullptr;

 private:
  // The CPU backend this machine runs best, as ggml's own loader would choose it.
  static std::string pick_variant() {
    if (const char* v = std::getenv("EIGENQ_GGML_CPU"); v != nullptr && *v != '\0') return v;
#if defined(__x86_64__)
    __builtin_cpu_init();
    // GCC 12 does not name znver4: an AMD CPU with AVX-512 is Zen 4 or later.
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
    bind(base, "ggml_init", init);
    bind(base, "ggml_free", free);
    bind(base, "ggml_new_tensor_2d", new_tensor_2d);
    bind(base, "ggml_mul_mat", mul_mat);
    bind(base, "ggml_new_graph", new_graph);
    bind(base, "ggml_build_forward_expand", build_forward_expand);
    bind(base, "ggml_get_data", get_data);
    bind(base, "ggml_row_size", row_size);
    bind(base, "ggml_quantize_chunk", quantize_chunk);
    bind(cpu, "ggml_graph_compute_with_ctx", graph_compute_with_ctx);
    bind(cpu, "ggml_cpu_init", cpu_init);
    if (ok()) cpu_init();
  }

  std::string error_;
  std::string variant_;
};

constexpr int kF32 = 0;  // GGML_TYPE_F32

void ggml_mul_mat_bench(benchmark::State& state, Type type, Index m, Index n, Index k) {
  const GgmlCpu& g = GgmlCpu::get();
  if (!g.ok()) {
    state.SkipWithError(g.error().c_str());
    return;
  }
  const int t = static_cast<int>(type);
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(n * k));
  for (float& v : w) v = normal(rng);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);

  const std::size_t weight_bytes = g.row_size(t, k) * static_cast<std::size_t>(n);
  const std::size_t bytes = weight_bytes + static_cast<std::size_t>(m * k + m * n) * 4 +
                            static_cast<std::size_t>(m * k) * 2 + (std::size_t{64} << 20);
  GgmlContext* ctx = g.init(GgmlInitParams{bytes, nullptr, false});
  GgmlTensor* a = g.new_tensor_2d(ctx, t, k, n);
  GgmlTensor* x = g.new_tensor_2d(ctx, kF32, k, m);
  g.quantize_chunk(t, w.data(), g.get_data(a), 0, n, k, nullptr);
  auto* xs = static_cast<float*>(g.get_data(x));
  for (Index i = 0; i < m * k; ++i) xs[i] = uniform(rng);
  GgmlTensor* y = g.mul_mat(ctx, a, x);
  GgmlGraph* graph = g.new_graph(ctx);
  g.build_forward_expand(graph, y);
  for (auto _ : state) {
    g.graph_compute_with_ctx(ctx, graph, 1);
    benchmark::DoNotOptimize(g.get_data(y));
    benchmark::ClobberMemory();
  }
  g.free(ctx);
  state.SetLabel("libggml-cpu-" + g.variant() + ".so");
  state.counters["GOPS"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (Type type : {Type::q8_0, Type::q4_0, Type::q4_K, Type::q6_K, Type::iq4_nl}) {
    for (Index m : {1, 256}) {
      const std::string name = "ggml_" + std::string(eigenq::ggml::type_name(type)) + "/ggml/" +
                               std::to_string(m) + "x4096x4096";
      auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
        ggml_mul_mat_bench(s, type, m, 4096, 4096);
      });
      b->Unit(benchmark::kMicrosecond);
    }
  }
  return true;
}();

}  // namespace
