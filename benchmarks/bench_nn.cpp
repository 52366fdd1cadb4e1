// Quantized Linear layers end to end (activation quantization, int8 GEMM,
// dequantization with bias), against Eigen's float product on the same shape.
//
//   linear_dynamic/eigenq/<batch>x<in>x<out>   nn::DynamicLinear, per-channel int8 weights
//   linear_grouped/eigenq/<batch>x<in>x<out>   nn::GroupedLinear, int4 groups of 32
//   linear_f32/eigen/<batch>x<in>x<out>        Eigen float GEMM, -march=native (naive_gemm.cpp)
//   <name>/eigenq-t2/...                       the same layer with threads = 2 (wall time)
// PyTorch's dynamic and float Linear on the same shapes: benchmarks/torch_linear_bench.py.
#include <eigenq/nn/dynamic_linear.hpp>
#include <eigenq/nn/grouped_linear.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <random>
#include <string>

#include "naive_gemm.hpp"

namespace {

using eigenq::Index;

Eigen::MatrixXf random_matrix(Index rows, Index cols, unsigned seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, sigma);
  Eigen::MatrixXf m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

std::string shape(Index b, Index in, Index out) {
  return std::to_string(b) + "x" + std::to_string(in) + "x" + std::to_string(out);
}

void set_ops(benchmark::State& s, Index b, Index in, Index out) {
  s.counters["GOPS"] = benchmark::Counter(2.0 * double(b) * double(in) * double(out),
                                          benchmark::Counter::kIsIterationInvariantRate,
                                          benchmark::Counter::kIs1000);
}

template <class Layer>
void run_layer(benchmark::State& s, const Layer& layer, Index batch, Index in, Index out) {
  const eigenq::nn::Matrix x = random_matrix(batch, in, 2, 1.0f);
  for (auto _ : s) {
    eigenq::nn::Matrix y = layer.forward(x);
    benchmark::DoNotOptimize(y.data());
  }
  set_ops(s, batch, in, out);
}

const bool registered = [] {
  constexpr Index in = 4096;
  constexpr Index out = 4096;
  for (Index batch : {1, 256}) {
    for (int threads : {1, 2}) {
      const std::string impl = threads == 1 ? "eigenq" : "eigenq-t2";
      benchmark::RegisterBenchmark(("linear_dynamic/" + impl + "/" + shape(batch, in, out)).c_str(),
                                   [=](benchmark::State& s) {
                                     eigenq::nn::DynamicLinearOptions options;
                                     options.threads = threads;
                                     const eigenq::nn::DynamicLinear layer(random_matrix(out, in, 1, 0.02f),
                                                                           Eigen::VectorXf::Zero(out), options);
                                     run_layer(s, layer, batch, in, out);
                                   })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
    benchmark::RegisterBenchmark(("linear_f32/eigen/" + shape(batch, in, out)).c_str(),
                                 [=](benchmark::State& s) {
                                   eigenq_bench::EigenGemmF32 gemm(static_cast<int>(batch), static_cast<int>(out),
                                                                   static_cast<int>(in));
                                   for (auto _ : s) gemm.run();
                                   set_ops(s, batch, in, out);
                                 })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark(("linear_grouped/eigenq/" + shape(1, in, out)).c_str(),
                               [=](benchmark::State& s) {
                                 const eigenq::nn::GroupedLinear layer(random_matrix(out, in, 1, 0.02f),
                                                                       Eigen::VectorXf::Zero(out));
                                 run_layer(s, layer, 1, in, out);
                               })
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
  return true;
}();

}  // namespace
