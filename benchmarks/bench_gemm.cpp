// int8 GEMM/GEMV against the peers, single-threaded. Names are <op>/<impl>/<MxNxK>:
//   gemm_u8s8s32/eigenq            eigenq::kernels::gemm, best path (eigenq-<isa>: forced path)
//   gemm_u8s8s32/onednn            dnnl_gemm_u8s8s32 (packs B inside every call)
//   gemm_u8s8s32/onednn-matmul     oneDNN's matmul primitive, weights reordered once
//   gemm_u8s8s32/gemmlowp          gemmlowp u8 x u8 (its only input type), -march=native
//   gemm_u8s8s32/naive             a plain loop, -O3 -march=native
//   gemm_f32/eigen                 Eigen's float product, -march=native
//   gemv_*                         the same for M = 1..4 (the LLM decode shape); 1x8192x8192
//                                  has 64 MiB of weights, beyond L3, to compare with memcpy
//   gemv_int4                      int4 weights, f16 scale per 32 (g128-f32: f32 per 128)
//   gemm_int4                      the same call on a batch of 256 rows (a prompt), beside
//                                  gemm_u8s8s32 of the same shape; ggml's rows: bench_ggml_mul_mat.cpp
//   gemv_lut4                      4-bit codebook codes, one table of 16 levels per row,
//                                  activations quantized per 32 (g128: per 128); nf4-g64: a
//                                  table per group of 64 (NF4's blocks)
//   <op>/<impl>-t2/<shape>         the same on two threads: eigenq on its thread pool
//                                  (core/thread_pool.hpp), oneDNN on two OpenMP threads
// GOPS counts 2 operations per multiply-add, per second of the benchmark thread's CPU time:
// a single-threaded product runs on that one thread, and CPU time stays meaningful on a
// shared, loaded machine where wall time does not. The -t2 rows count wall time (one thread's
// CPU time would flatter them), so on a loaded machine their ratio to a one-thread row errs
// low. eigenq's weights are packed once, outside the
// timed loop, as an inference engine does.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "eigenq/kernels/gemm.hpp"
#include "eigenq/kernels/gemv_int4.hpp"
#include "eigenq/kernels/gemv_lut4.hpp"
#include "naive_gemm.hpp"

#if defined(EIGENQ_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#endif

// oneDNN runs on OpenMP; the comparison is single-threaded. The weak reference resolves to
// libgomp (loaded with libdnnl) without linking OpenMP into the benchmark.
extern "C" void omp_set_num_threads(int) __attribute__((weak));

namespace {

namespace k = eigenq::kernels;
using eigenq::Index;

struct OneThread {
  OneThread() {
    if (omp_set_num_threads != nullptr) omp_set_num_threads(1);
  }
} one_thread;

std::string shape(Index m, Index n, Index kk) {
  return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(kk);
}

void set_gops(benchmark::State& state, Index m, Index n, Index kk) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * double(m) * double(n) * double(kk) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
std::vector<T> random_bytes(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<T> v(count);
  for (auto& x : v) x = static_cast<T>(rng());
  return v;
}

// ---- eigenq ---------------------------------------------------------------------------------

void eigenq_gemm(benchmark::State& state, k::Isa isa, Index m, Index n, Index kk, int threads = 1) {
  if (!k::supported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const k::ScopedIsa scoped(isa);
  const auto a = random_bytes<std::uint8_t>(static_cast<std::size_t>(m * kk), 1);
  const auto b = random_bytes<std::int8_t>(static_cast<std::size_t>(kk * n), 2);
  const k::PackedWeights w = k::pack_weights(b.data(), kk, n, n, 1);
  std::vector<std::int32_t> c(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    k::gemm(a.data(), m, kk, 0, w, c.data(), n, k::Int32Output{}, threads);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

// int4 weights, f16 or f32 scales per group, float activations quantized inside the call.
void eigenq_gemv_int4(benchmark::State& state, k::Isa isa, Index m, Index n, Index kk, Index group,
                      k::ScaleType type, int threads = 1) {
  if (!k::supported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const k::ScopedIsa scoped(isa);
  std::mt19937 rng(3);
  std::vector<std::int8_t> codes(static_cast<std::size_t>(n * kk));
  for (auto& c : codes) c = static_cast<std::int8_t>(static_cast<int>(rng() % 16) - 8);
  std::vector<float> scales(static_cast<std::size_t>(n * (kk / group)));
  for (auto& v : scales) v = 0.001f * static_cast<float>(rng() % 100 + 1);
  std::vector<float> x(static_cast<std::size_t>(m * kk));
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 0.001f;
  const k::PackedInt4Weights w = k::pack_int4_weights(codes.data(), n, kk, kk, scales.data(), kk / group, group, type);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    k::gemv_int4(x.data(), m, kk, w, nullptr, y.data(), n, threads);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

// 4-bit codes and tables of 16 levels (a k-means codebook per row, or per table group),
// float activations quantized inside the call per group of G.
void eigenq_gemv_lut4(benchmark::State& state, k::Isa isa, Index m, Index n, Index kk, Index group,
                      Index table_group, int threads = 1) {
  if (!k::supported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const k::ScopedIsa scoped(isa);
  std::mt19937 rng(3);
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(n * kk));
  for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 16);
  const Index tables = table_group == 0 ? 1 : kk / table_group;
  std::vector<float> levels(static_cast<std::size_t>(n * tables * 16));
  for (auto& v : levels) v = 0.001f * static_cast<float>(static_cast<int>(rng() % 201) - 100);
  std::vector<float> x(static_cast<std::size_t>(m * kk));
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 0.001f;
  const k::PackedLut4Weights w =
      k::pack_lut4_weights(codes.data(), n, kk, kk, levels.data(), 16 * tables, group, table_group);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    k::gemv_lut4(x.data(), m, kk, w, nullptr, y.data(), n, threads);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

// ---- oneDNN ---------------------------------------------------------------------------------

#if defined(EIGENQ_HAVE_ONEDNN)
// OpenMP threads for one benchmark, back to one after it.
struct OmpThreads {
  explicit OmpThreads(int n) {
    if (omp_set_num_threads != nullptr) omp_set_num_threads(n);
  }
  ~OmpThreads() {
    if (omp_set_num_threads != nullptr) omp_set_num_threads(1);
  }
};

void onednn_gemm(benchmark::State& state, Index m, Index n, Index kk, int threads = 1) {
  const OmpThreads omp(threads);
  const auto a = random_bytes<std::uint8_t>(static_cast<std::size_t>(m * kk), 1);
  const auto b = random_bytes<std::int8_t>(static_cast<std::size_t>(kk * n), 2);
  std::vector<std::int32_t> c(static_cast<std::size_t>(m * n));
  const std::int32_t co = 0;
  for (auto _ : state) {
    const dnnl_status_t status = dnnl_gemm_u8s8s32('N', 'N', 'F', m, n, kk, 1.0f, a.data(), kk, 0,
                                                   b.data(), n, 0, 0.0f, c.data(), n, &co);
    if (status != dnnl_success) {
      state.SkipWithError("dnnl_gemm_u8s8s32 failed");
      return;
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

void onednn_matmul(benchmark::State& state, Index m, Index n, Index kk, int threads = 1) {
  const OmpThreads omp(threads);
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc src_md({m, kk}, dt::u8, tag::ab);
  const dnnl::memory::desc user_weights_md({kk, n}, dt::s8, tag::ab);
  const dnnl::memory::desc any_weights_md({kk, n}, dt::s8, tag::any);
  const dnnl::memory::desc dst_md({m, n}, dt::s32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, any_weights_md, dst_md), engine);
  auto a = random_bytes<std::uint8_t>(static_cast<std::size_t>(m * kk), 1);
  auto b = random_bytes<std::int8_t>(static_cast<std::size_t>(kk * n), 2);
  dnnl::memory src(src_md, engine, a.data());
  dnnl::memory user_weights(user_weights_md, engine, b.data());
  dnnl::memory weights(pd.weights_desc(), engine);
  dnnl::reorder(user_weights, weights).execute(stream, user_weights, weights);
  dnnl::memory dst(dst_md, engine);
  const dnnl::matmul matmul(pd);
  stream.wait();
  for (auto _ : state) {
    matmul.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
    stream.wait();
  }
  set_gops(state, m, n, kk);
}
#endif

// ---- native-compiled peers ------------------------------------------------------------------

void gemmlowp_gemm(benchmark::State& state, Index m, Index n, Index kk) {
  eigenq_bench::GemmlowpGemm g(static_cast<int>(m), static_cast<int>(n), static_cast<int>(kk));
  if (!g.available()) {
    state.SkipWithError("gemmlowp not found");
    return;
  }
  for (auto _ : state) {
    g.run();
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

void naive_gemm(benchmark::State& state, Index m, Index n, Index kk) {
  const auto a = random_bytes<std::uint8_t>(static_cast<std::size_t>(m * kk), 1);
  const auto b = random_bytes<std::int8_t>(static_cast<std::size_t>(kk * n), 2);
  std::vector<std::int32_t> c(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    eigenq_bench::naive_gemm_u8s8s32(a.data(), b.data(), c.data(), static_cast<int>(m),
                                     static_cast<int>(n), static_cast<int>(kk));
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

void eigen_gemm_f32(benchmark::State& state, Index m, Index n, Index kk) {
  eigenq_bench::EigenGemmF32 g(static_cast<int>(m), static_cast<int>(n), static_cast<int>(kk));
  for (auto _ : state) {
    g.run();
    benchmark::ClobberMemory();
  }
  set_gops(state, m, n, kk);
}

// ---- registration ---------------------------------------------------------------------------

using Body = std::function<void(benchmark::State&)>;

void add(const std::string& name, Body body) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [body](benchmark::State& s) { body(s); });
  b->Unit(benchmark::kMicrosecond);
  if (name.find("-t2/") != std::string::npos) b->UseRealTime();
}

void add_product(const std::string& op, Index m, Index n, Index kk, bool slow_ones, bool two_threads) {
  const std::string dims = shape(m, n, kk);
  add(op + "/eigenq/" + dims, [=](benchmark::State& s) { eigenq_gemm(s, k::active_isa(), m, n, kk); });
  for (k::Isa isa : k::all_isas) {
    if (isa == k::Isa::scalar || !k::compiled(isa)) continue;
    add(op + "/eigenq-" + k::to_string(isa) + "/" + dims,
        [=](benchmark::State& s) { eigenq_gemm(s, isa, m, n, kk); });
  }
#if defined(EIGENQ_HAVE_ONEDNN)
  add(op + "/onednn/" + dims, [=](benchmark::State& s) { onednn_gemm(s, m, n, kk); });
  add(op + "/onednn-matmul/" + dims, [=](benchmark::State& s) { onednn_matmul(s, m, n, kk); });
#endif
  add(op + "/gemmlowp/" + dims, [=](benchmark::State& s) { gemmlowp_gemm(s, m, n, kk); });
  if (two_threads) {
    add(op + "/eigenq-t2/" + dims, [=](benchmark::State& s) { eigenq_gemm(s, k::active_isa(), m, n, kk, 2); });
#if defined(EIGENQ_HAVE_ONEDNN)
    add(op + "/onednn-t2/" + dims, [=](benchmark::State& s) { onednn_gemm(s, m, n, kk, 2); });
    add(op + "/onednn-matmul-t2/" + dims, [=](benchmark::State& s) { onednn_matmul(s, m, n, kk, 2); });
#endif
  }
  if (slow_ones) {
    add(op + "/naive/" + dims, [=](benchmark::State& s) { naive_gemm(s, m, n, kk); });
    add(op + "/eigenq-scalar/" + dims,
        [=](benchmark::State& s) { eigenq_gemm(s, k::Isa::scalar, m, n, kk); });
  }
}

const bool registered = [] {
  for (Index size : {64, 256, 512, 1024}) {
    add_product("gemm_u8s8s32", size, size, size, size == 256, true);
    add("gemm_f32/eigen/" + shape(size, size, size),
        [=](benchmark::State& s) { eigen_gemm_f32(s, size, size, size); });
  }
  add_product("gemv_u8s8s32", 1, 4096, 4096, true, true);
  add_product("gemv_u8s8s32", 4, 4096, 4096, false, false);
  // 64 MiB of weights, twice L3: the GEMV streams them from DRAM (compare memcpy/libc).
  add("gemv_u8s8s32/eigenq/" + shape(1, 8192, 8192),
      [](benchmark::State& s) { eigenq_gemm(s, k::active_isa(), 1, 8192, 8192); });
#if defined(EIGENQ_HAVE_ONEDNN)
  add("gemv_u8s8s32/onednn-matmul/" + shape(1, 8192, 8192),
      [](benchmark::State& s) { onednn_matmul(s, 1, 8192, 8192); });
#endif
  for (Index m : {1, 4}) {
    const std::string dims = shape(m, 4096, 4096);
    // The headline: Q4_0-like, f16 scale per 32 weights.
    add("gemv_int4/eigenq/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_int4(s, k::active_isa(), m, 4096, 4096, 32, k::ScaleType::f16);
    });
    if (m > 1) continue;
    add("gemv_int4/eigenq-t2/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_int4(s, k::active_isa(), m, 4096, 4096, 32, k::ScaleType::f16, 2);
    });
    add("gemv_int4/eigenq-g128-f32/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_int4(s, k::active_isa(), m, 4096, 4096, 128, k::ScaleType::f32);
    });
    // avx512 runs the avx2 int4 kernel: not repeated.
    for (k::Isa isa : k::all_isas) {
      if (isa == k::Isa::scalar || isa == k::Isa::avx512 || !k::compiled(isa)) continue;
      add(std::string("gemv_int4/eigenq-") + k::to_string(isa) + "/" + dims, [=](benchmark::State& s) {
        eigenq_gemv_int4(s, isa, m, 4096, 4096, 32, k::ScaleType::f16);
      });
    }
  }
  for (Index m : {1, 4}) {
    const std::string dims = shape(m, 4096, 4096);
    // Codebook codes, one table per row, activations per 32 (as gemv_int4's headline).
    add("gemv_lut4/eigenq/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_lut4(s, k::active_isa(), m, 4096, 4096, 32, 0);
    });
    if (m > 1) continue;
    add("gemv_lut4/eigenq-t2/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_lut4(s, k::active_isa(), m, 4096, 4096, 32, 0, 2);
    });
    add("gemv_lut4/eigenq-g128/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_lut4(s, k::active_isa(), m, 4096, 4096, 128, 0);
    });
    add("gemv_lut4/eigenq-nf4-g64/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_lut4(s, k::active_isa(), m, 4096, 4096, 64, 64);
    });
    // avx512 runs the avx2 kernel: not repeated.
    for (k::Isa isa : k::all_isas) {
      if (isa == k::Isa::scalar || isa == k::Isa::avx512 || !k::compiled(isa)) continue;
      add(std::string("gemv_lut4/eigenq-") + k::to_string(isa) + "/" + dims, [=](benchmark::State& s) {
        eigenq_gemv_lut4(s, isa, m, 4096, 4096, 32, 0);
      });
    }
  }
  // A batch through int4 weights (an LLM's prompt): beside the int8 GEMM of the same shape.
  {
    constexpr Index m = 256;
    const std::string dims = shape(m, 4096, 4096);
    add("gemm_u8s8s32/eigenq/" + dims, [=](benchmark::State& s) { eigenq_gemm(s, k::active_isa(), m, 4096, 4096); });
    add("gemm_int4/eigenq/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_int4(s, k::active_isa(), m, 4096, 4096, 32, k::ScaleType::f16);
    });
    add("gemm_int4/eigenq-g128-f32/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_int4(s, k::active_isa(), m, 4096, 4096, 128, k::ScaleType::f32);
    });
    add("gemm_int4/eigenq-t2/" + dims, [=](benchmark::State& s) {
      eigenq_gemv_int4(s, k::active_isa(), m, 4096, 4096, 32, k::ScaleType::f16, 2);
    });
    for (k::Isa isa : k::all_isas) {
      if (isa == k::Isa::scalar || isa == k::Isa::avx512 || !k::compiled(isa)) continue;
      add(std::string("gemm_int4/eigenq-") + k::to_string(isa) + "/" + dims, [=](benchmark::State& s) {
        eigenq_gemv_int4(s, isa, m, 4096, 4096, 32, k::ScaleType::f16);
      });
    }
  }
  add("gemv_f32/eigen/" + shape(1, 4096, 4096),
      [](benchmark::State& s) { eigen_gemm_f32(s, 1, 4096, 4096); });
  return true;
}();

}  // namespace
