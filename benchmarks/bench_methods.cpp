// Methods beyond round to nearest (include/eigenq/methods/): GPTQ of a 4096x4096 layer, int4
// symmetric with groups of 128 (the bound: under 30 s single-threaded), in both
// precisions, and of a 1024x1024 layer. One iteration each; read the CPU time (the machine
// may be shared). The Hessian is a positive-definite diag + low-rank matrix (as real ones are:
// a few dominant directions over a spread diagonal), built outside the timed loop.
#include <cstdint>
#include <random>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include "eigenq/methods/gptq.hpp"
#include "eigenq/policy/linear.hpp"

namespace {

Eigen::MatrixXf normal_matrix(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

Eigen::MatrixXd synthetic_hessian(Eigen::Index n, std::uint32_t seed) {
  const Eigen::MatrixXd v = normal_matrix(n, 64, seed).cast<double>();
  Eigen::MatrixXd h = v * v.transpose();
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<double> u(0.5, 4.0);
  for (Eigen::Index j = 0; j < n; ++j) h(j, j) += 64.0 * u(rng);
  return h;
}

void gptq_int4_g128(benchmark::State& state, Eigen::Index n, eigenq::GptqPrecision precision) {
  const Eigen::MatrixXf w = normal_matrix(n, n, 7) * 0.02f;
  const Eigen::MatrixXd h = synthetic_hessian(n, 11);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128});
  eigenq::GptqOptions o;
  o.precision = precision;
  double error = 0.0;
  for (auto _ : state) {
    auto r = eigenq::gptq(w, h, q, o);
    error = r.report.layer_error;
    benchmark::DoNotOptimize(r.weights.size());
  }
  state.counters["layer_error"] = error;
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * w.size());
}

}  // namespace

BENCHMARK_CAPTURE(gptq_int4_g128, eigenq/1024x1024, 1024, eigenq::GptqPrecision::f32)
    ->Name("gptq/eigenq/1024x1024")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(gptq_int4_g128, eigenq/4096x4096, 4096, eigenq::GptqPrecision::f32)
    ->Name("gptq/eigenq/4096x4096")->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(gptq_int4_g128, eigenq/4096x4096/f64, 4096, eigenq::GptqPrecision::f64)
    ->Name("gptq/eigenq/4096x4096/f64")->Unit(benchmark::kSecond)->Iterations(1);
