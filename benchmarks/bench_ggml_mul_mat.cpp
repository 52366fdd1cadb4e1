// ggml's block formats in a product: eigenq's kernels (ggml/mul_mat.hpp) against ggml's own CPU
// backend (ggml_mul_mat through ggml's graph API, one thread), the same ggml bytes for the
// weights (quantized by ggml::quantize_rows, byte for byte ggml_quantize_chunk's), float32
// activations that each quantizes inside the call (to Q8_0 or Q8_K).
//
//   ggml_TYPE/eigenq/MxNxK    eigenq::ggml::mul_mat, the best path (types with a kernel: q4_0)
//   ggml_TYPE/ggml/MxNxK      ggml_mul_mat on libggml-cpu-<variant>.so
//
// y[M, N] = x[M, K] W[N, K]^T for TYPE q8_0, q4_0, q4_K, q6_K and iq4_nl at M = 1 (a decode
// step) and M = 256 (a prompt). GOPS counts 2 operations per multiply-add per second of the
// thread's CPU time, as in bench_gemm.cpp. ggml is dlopen()ed from $EIGENQ_GGML_LIB_DIR
// (tests/ggml/ggml_cpu.hpp); without it the ggml rows say "skipped: ggml not found". This is
// ggml's plain graph API: its repacked weight layouts (the backend API's "CPU_REPACK" buffer
// type) are not used.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "eigenq/ggml/mul_mat.hpp"
#include "eigenq/ggml/row.hpp"
#include "eigenq/ggml/type.hpp"
#include "ggml_cpu.hpp"

namespace {

using eigenq::Index;
using eigenq::ggml::Type;

constexpr Index kN = 4096;
constexpr Index kK = 4096;

// N x K weights (Gaussian, std 0.02, as LLM weights are) as ggml rows of `type`, and M x K inputs.
struct Workload {
  std::vector<std::uint8_t> weights;
  std::vector<float> x;
};

Workload make_workload(Type type, Index m) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(kN * kK));
  for (float& v : w) v = normal(rng);
  Workload r;
  r.weights.resize(static_cast<std::size_t>(kN * eigenq::ggml::row_size(type, kK)));
  eigenq::ggml::quantize_rows(type, w.data(), r.weights.data(), kN, kK, nullptr);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  r.x.resize(static_cast<std::size_t>(m * kK));
  for (float& v : r.x) v = uniform(rng);
  return r;
}

void set_gops(benchmark::State& state, Index m) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * double(m) * double(kN) * double(kK) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void eigenq_mul_mat(benchmark::State& state, Type type, Index m) {
  const Workload work = make_workload(type, m);
  const auto w = eigenq::ggml::pack_weights(type, work.weights.data(), kN, kK);
  std::vector<float> y(static_cast<std::size_t>(m * kN));
  for (auto _ : state) {
    eigenq::ggml::mul_mat(work.x.data(), m, kK, w, nullptr, y.data(), kN);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, m);
}

void ggml_mul_mat(benchmark::State& state, Type type, Index m) {
  const auto& g = eigenq_test::GgmlCpu::get();
  if (!g.ok()) {
    state.SkipWithError(g.error().c_str());
    return;
  }
  const Workload work = make_workload(type, m);
  eigenq_test::GgmlCpu::MulMat product(g, static_cast<int>(type), work.weights.data(), kN, kK, m);
  std::copy(work.x.begin(), work.x.end(), product.x());
  for (auto _ : state) {
    product.run();
    benchmark::DoNotOptimize(product.y());
    benchmark::ClobberMemory();
  }
  state.SetLabel("libggml-cpu-" + g.variant() + ".so");
  set_gops(state, m);
}

const bool registered = [] {
  for (Type type : {Type::q8_0, Type::q4_0, Type::q4_K, Type::q6_K, Type::iq4_nl}) {
    for (Index m : {1, 256}) {
      const std::string suffix = "/" + std::to_string(m) + "x4096x4096";
      const std::string op = std::string("ggml_") + eigenq::ggml::type_name(type);
      if (eigenq::ggml::has_kernel(type)) {
        benchmark::RegisterBenchmark((op + "/eigenq" + suffix).c_str(),
                                     [=](benchmark::State& s) { eigenq_mul_mat(s, type, m); })
            ->Unit(benchmark::kMicrosecond);
      }
      benchmark::RegisterBenchmark((op + "/ggml" + suffix).c_str(),
                                   [=](benchmark::State& s) { ggml_mul_mat(s, type, m); })
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return true;
}();

}  // namespace
