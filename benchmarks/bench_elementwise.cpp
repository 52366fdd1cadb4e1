// Elementwise kernels (kernels/elementwise.hpp) against the plain loop compiled with
// -O3 -march=native (naive_elementwise.cpp) and, for the memory-bound sizes, memcpy
// (bench_memcpy.cpp). Names: <op>/<impl>/<n>, impl = eigenq (the dispatched path),
// eigenq-<isa> (a forced path), naive. Sizes: 65536 elements (256 KiB of f32, in L2) and
// 16777216 (64 MiB of f32, memory-bound). GBps counts input bytes per second.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "eigenq/kernels/elementwise.hpp"
#include "naive_elementwise.hpp"

namespace {

namespace k = eigenq::kernels;
using eigenq::Index;

constexpr float scale = 3.0f / 127.0f;  // inputs in [-4, 4]: about a quarter saturate
constexpr std::int32_t zero_point = 3;
constexpr eigenq::CodeRange s8_range{-128, 127};

void set_rate(benchmark::State& state, std::size_t input_bytes) {
  const double total = static_cast<double>(state.iterations()) * static_cast<double>(input_bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["GBps"] = benchmark::Counter(total / 1e9, benchmark::Counter::kIsRate);
}

std::vector<float> random_floats(std::size_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-4.0f, 4.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<std::int8_t> random_codes(std::size_t n) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

// Accumulators of an int8 GEMM with K around 256.
std::vector<std::int32_t> random_accumulators(std::size_t n) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::int32_t> d(-200000, 200000);
  std::vector<std::int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// The path a benchmark forces, or none (the dispatched default).
struct Path {
  bool forced = false;
  k::Isa isa = k::Isa::scalar;
};

std::unique_ptr<k::ScopedIsa> enter(Path path) {
  return path.forced ? std::make_unique<k::ScopedIsa>(path.isa) : nullptr;
}

void quantize_f32_s8(benchmark::State& state, Path path, bool naive, std::size_t n) {
  const std::vector<float> x = random_floats(n);
  std::vector<std::int8_t> y(n);
  const auto scoped = enter(path);
  for (auto _ : state) {
    if (naive) eigenq_bench::naive_quantize_f32_s8(x.data(), n, scale, zero_point, y.data());
    else k::quantize_f32_s8(x.data(), static_cast<Index>(n), scale, zero_point, s8_range,
                            k::Scaling::multiply_by_reciprocal, eigenq::Rounding::half_to_even, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n * sizeof(float));
}

void dequantize_s8_f32(benchmark::State& state, Path path, bool naive, std::size_t n) {
  const std::vector<std::int8_t> q = random_codes(n);
  std::vector<float> y(n);
  const auto scoped = enter(path);
  for (auto _ : state) {
    if (naive) eigenq_bench::naive_dequantize_s8_f32(q.data(), n, scale, zero_point, y.data());
    else k::dequantize_s8_f32(q.data(), static_cast<Index>(n), scale, zero_point, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n * sizeof(std::int8_t));
}

void requantize_s32_s8_float(benchmark::State& state, Path path, bool naive, std::size_t n) {
  const std::vector<std::int32_t> x = random_accumulators(n);
  std::vector<std::int8_t> y(n);
  const float multiplier = 0.00071f;
  const auto scoped = enter(path);
  for (auto _ : state) {
    if (naive) eigenq_bench::naive_requantize_s32_s8_float(x.data(), n, multiplier, zero_point, y.data());
    else k::requantize_s32_s8_float(x.data(), static_cast<Index>(n), multiplier, zero_point, s8_range, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n * sizeof(std::int32_t));
}

// Single rounding, the form the naive loop writes.
void requantize_s32_s8_fixed_point(benchmark::State& state, Path path, bool naive, std::size_t n) {
  const std::vector<std::int32_t> x = random_accumulators(n);
  std::vector<std::int8_t> y(n);
  const k::FixedPointMultiplier m = k::fixed_point_multiplier(0.00071);
  const auto scoped = enter(path);
  for (auto _ : state) {
    if (naive) {
      eigenq_bench::naive_requantize_s32_s8_fixed_point(x.data(), n, m.multiplier, m.exponent, zero_point,
                                                        y.data());
    } else {
      k::requantize_s32_s8_fixed_point(x.data(), static_cast<Index>(n), m, k::FixedPointRounding::single_rounding,
                                       zero_point, s8_range, y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n * sizeof(std::int32_t));
}

void pack_s8_s4(benchmark::State& state, Path path, bool naive, std::size_t n) {
  std::vector<std::int8_t> codes = random_codes(n);
  for (auto& c : codes) c = static_cast<std::int8_t>(c / 16);  // 4-bit codes
  std::vector<std::uint8_t> packed((n + 1) / 2);
  const auto scoped = enter(path);
  for (auto _ : state) {
    if (naive) eigenq_bench::naive_pack_s8_s4(codes.data(), n, packed.data());
    else k::pack_s8_s4(codes.data(), static_cast<Index>(n), packed.data());
    benchmark::DoNotOptimize(packed.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n * sizeof(std::int8_t));
}

using Body = void (*)(benchmark::State&, Path, bool, std::size_t);

void add(const std::string& name, Body body, Path path, bool naive, std::size_t n) {
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { body(s, path, naive, n); })
      ->Unit(benchmark::kMicrosecond);
}

const bool registered = [] {
  const std::pair<const char*, Body> ops[] = {{"quantize_f32_s8", quantize_f32_s8},
                                              {"dequantize_s8_f32", dequantize_s8_f32},
                                              {"requantize_s32_s8_float", requantize_s32_s8_float},
                                              {"requantize_s32_s8_fixed_point", requantize_s32_s8_fixed_point},
                                              {"pack_s8_s4", pack_s8_s4}};
  for (std::size_t n : {std::size_t{65536}, std::size_t{16777216}}) {
    const std::string size = std::to_string(n);
    for (const auto& [op, body] : ops) {
      const std::string name(op);
      add(name + "/eigenq/" + size, body, Path{}, false, n);
      // avx512vnni runs the avx512 elementwise code: not repeated.
      for (k::Isa isa : k::all_isas) {
        if (isa == k::Isa::avx512vnni || !k::supported(isa)) continue;
        add(name + "/eigenq-" + k::to_string(isa) + "/" + size, body, Path{true, isa}, false, n);
      }
      add(name + "/naive/" + size, body, Path{}, true, n);
    }
  }
  return true;
}();

}  // namespace
