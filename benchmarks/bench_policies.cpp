// Non-linear and data-driven policies: the codebook fit (1-D k-means on a
// 4096x4096 weight matrix, the size the issue asks to fit well under a second
// on one core), and quantize/dequantize throughput of log, log2, exp and
// codebook codes on 1M values. items_per_second counts elements.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix gaussian_matrix(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  RowMatrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

// Quantizer::fit of a per-tensor 16-entry codebook: copy, sort, k-means++, Lloyd to convergence.
void codebook_fit_4096(benchmark::State& state) {
  const RowMatrix w = gaussian_matrix(4096, 4096, 1);
  const eigenq::Quantizer q(eigenq::Codebook<std::uint8_t>().with_bits(4));
  for (auto _ : state) {
    auto params = q.fit(w);
    benchmark::DoNotOptimize(params.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * w.size());
}

// The whole quantize: fit plus nearest-entry codes, packed two a byte.
void codebook_quantize_4096(benchmark::State& state) {
  const RowMatrix w = gaussian_matrix(4096, 4096, 1);
  const eigenq::Quantizer q(eigenq::Codebook<std::uint8_t>().with_bits(4));
  for (auto _ : state) {
    auto qt = q.quantize(w);
    benchmark::DoNotOptimize(qt.codes().packed_data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * w.size());
}

// Codes with parameters fitted once outside the loop: the policy's own run loop.
template <class Policy>
void quantize_run_1m(benchmark::State& state, Policy policy, bool positive) {
  RowMatrix w = gaussian_matrix(1024, 1024, 2);
  if (positive) w = w.array().exp().matrix();
  const eigenq::Quantizer<Policy> q(policy);
  const auto params = q.fit(w);
  std::vector<typename Policy::code_type> codes(static_cast<std::size_t>(w.size()));
  for (auto _ : state) {
    eigenq::quantize_run(policy, w.data(), w.size(), params.data(), 0, codes.data());
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * w.size());
}

template <class Policy>
void dequantize_run_1m(benchmark::State& state, Policy policy, bool positive) {
  RowMatrix w = gaussian_matrix(1024, 1024, 3);
  if (positive) w = w.array().exp().matrix();
  const eigenq::Quantizer<Policy> q(policy);
  const auto qt = q.quantize(w);
  const auto codes = qt.unpacked_codes();
  std::vector<float> out(codes.size());
  for (auto _ : state) {
    eigenq::dequantize_run(policy, codes.data(), w.size(), qt.params().data(), 0, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * w.size());
}

}  // namespace

BENCHMARK(codebook_fit_4096)->Name("codebook_fit/eigenq/4096x4096_k16")->Unit(benchmark::kMillisecond);
BENCHMARK(codebook_quantize_4096)->Name("codebook_quantize/eigenq/4096x4096_k16")->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(quantize_run_1m, log_u8, eigenq::Log<std::uint8_t>(), true)->Name("quantize_run/log_u8/1M");
BENCHMARK_CAPTURE(quantize_run_1m, log_signed_s8, eigenq::LogSigned<std::int8_t>(), false)
    ->Name("quantize_run/log_signed_s8/1M");
BENCHMARK_CAPTURE(quantize_run_1m, log2_s8, eigenq::Log2<std::int8_t>().with_bits(4), false)
    ->Name("quantize_run/log2_s4/1M");
BENCHMARK_CAPTURE(quantize_run_1m, exp_u8, eigenq::Exp<std::uint8_t>(), false)->Name("quantize_run/exp_u8/1M");
BENCHMARK_CAPTURE(quantize_run_1m, codebook_k16, eigenq::Codebook<std::uint8_t>().with_bits(4), false)
    ->Name("quantize_run/codebook_k16/1M");

BENCHMARK_CAPTURE(dequantize_run_1m, log_u8, eigenq::Log<std::uint8_t>(), true)->Name("dequantize_run/log_u8/1M");
BENCHMARK_CAPTURE(dequantize_run_1m, log2_s8, eigenq::Log2<std::int8_t>().with_bits(4), false)
    ->Name("dequantize_run/log2_s4/1M");
BENCHMARK_CAPTURE(dequantize_run_1m, exp_u8, eigenq::Exp<std::uint8_t>(), false)->Name("dequantize_run/exp_u8/1M");
BENCHMARK_CAPTURE(dequantize_run_1m, codebook_k16, eigenq::Codebook<std::uint8_t>().with_bits(4), false)
    ->Name("dequantize_run/codebook_k16/1M");
