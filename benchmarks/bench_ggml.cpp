// ggml's block types (include/eigenq/ggml/): eigenq's quantize_rows against ggml's own
// ggml_quantize_chunk on the same 512 x 4096 float32 tensor (Gaussian, std 0.02, as LLM
// weights are), single-threaded, without and with importance weights (an imatrix row).
//
//   quantize_TYPE[_imatrix]/eigenq/512x4096       eigenq::ggml::quantize_rows
//   quantize_TYPE[_imatrix]/ggml/512x4096         ggml_quantize_chunk from libggml-base.so
//   quantize_TYPE[_imatrix]/eigenq_vs_ggml/512x4096
//       both, alternately, in the same loop: each iteration times one call of each on the
//       thread's CPU clock. Counters: eigenq_ms, ggml_ms (per call, the mean), ratio =
//       ggml time / eigenq time (above 1: eigenq is faster), identical = 1 if every byte of
//       the two outputs agreed in every iteration. Alternating makes the ratio robust to a
//       machine shared with other work.
//
// ggml's library is dlopen()ed from $EIGENQ_GGML_LIB_DIR/libggml-base.so by the tests' loader
// (tests/ggml/ggml_oracle.hpp; node-llama-cpp's
// prebuilt @node-llama-cpp/linux-x64 3.21.1, see tests/ggml/README.md); without it the ggml
// and eigenq_vs_ggml benchmarks are skipped with a message. GBps counts float32 input bytes.
#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "eigenq/ggml/row.hpp"
#include "eigenq/ggml/type.hpp"
#include "ggml_oracle.hpp"

namespace {

using eigenq::Index;
using eigenq::ggml::Type;

constexpr Index kRows = 512;
constexpr Index kCols = 4096;

// libggml-base.so through the tests' loader (tests/ggml/ggml_oracle.hpp), or why not.
struct GgmlLibrary {
  std::unique_ptr<eigenq_test::GgmlOracle> oracle;
  std::string error;

  static const GgmlLibrary& get() {
    static const GgmlLibrary library = [] {
      GgmlLibrary l;
      const char* dir = std::getenv("EIGENQ_GGML_LIB_DIR");
      if (dir == nullptr || *dir == '\0') {
        l.error = "EIGENQ_GGML_LIB_DIR is not set (the folder of ggml's libggml-base.so)";
      } else {
        l.oracle = eigenq_test::GgmlOracle::open(dir, &l.error);
      }
      return l;
    }();
    return library;
  }
  // ggml_quantize_init (idempotent) and ggml_quantize_chunk on the workload's shape.
  void quantize(Type type, const float* src, void* dst, const float* importance) const {
    oracle->quantize(static_cast<int>(type), src, dst, kRows, kCols, importance);
  }
};

struct Workload {
  std::vector<float> weights;     // kRows x kCols, row-major
  std::vector<float> importance;  // kCols: mean squared activations, as an imatrix holds
};

const Workload& workload() {
  static const Workload w = [] {
    Workload r;
    std::mt19937 rng(12);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    r.weights.resize(static_cast<std::size_t>(kRows * kCols));
    for (float& v : r.weights) v = normal(rng);
    std::gamma_distribution<float> gamma(0.5f, 2.0f);  // a few channels far above the rest
    r.importance.resize(static_cast<std::size_t>(kCols));
    for (float& v : r.importance) v = gamma(rng);
    return r;
  }();
  return w;
}

double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

void set_rates(benchmark::State& state, std::int64_t calls) {
  state.counters["GBps"] = benchmark::Counter(static_cast<double>(calls * kRows * kCols * 4) / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(calls * kRows), benchmark::Counter::kIsRate);
}

void quantize_eigenq(benchmark::State& state, Type type, bool with_importance) {
  const Workload& w = workload();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(kRows * eigenq::ggml::row_size(type, kCols)));
  const float* qw = with_importance ? w.importance.data() : nullptr;
  for (auto _ : state) {
    eigenq::ggml::quantize_rows(type, w.weights.data(), out.data(), kRows, kCols, qw);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rates(state, static_cast<std::int64_t>(state.iterations()));
}

void quantize_ggml(benchmark::State& state, Type type, bool with_importance) {
  const GgmlLibrary& ggml = GgmlLibrary::get();
  if (!ggml.oracle) {
    state.SkipWithError(ggml.error.c_str());
    return;
  }
  const Workload& w = workload();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(kRows * eigenq::ggml::row_size(type, kCols)));
  const float* qw = with_importance ? w.importance.data() : nullptr;
  for (auto _ : state) {
    ggml.quantize(type, w.weights.data(), out.data(), qw);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rates(state, static_cast<std::int64_t>(state.iterations()));
}

void quantize_eigenq_vs_ggml(benchmark::State& state, Type type, bool with_importance) {
  const GgmlLibrary& ggml = GgmlLibrary::get();
  if (!ggml.oracle) {
    state.SkipWithError(ggml.error.c_str());
    return;
  }
  const Workload& w = workload();
  const auto bytes = static_cast<std::size_t>(kRows * eigenq::ggml::row_size(type, kCols));
  std::vector<std::uint8_t> ours(bytes), theirs(bytes);
  const float* qw = with_importance ? w.importance.data() : nullptr;
  double eigenq_seconds = 0.0;
  double ggml_seconds = 0.0;
  bool identical = true;
  for (auto _ : state) {
    const double t0 = thread_seconds();
    eigenq::ggml::quantize_rows(type, w.weights.data(), ours.data(), kRows, kCols, qw);
    benchmark::ClobberMemory();
    const double t1 = thread_seconds();
    ggml.quantize(type, w.weights.data(), theirs.data(), qw);
    benchmark::ClobberMemory();
    const double t2 = thread_seconds();
    eigenq_seconds += t1 - t0;
    ggml_seconds += t2 - t1;
    identical = identical && ours == theirs;
    state.SetIterationTime(t2 - t0);
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["eigenq_ms"] = 1e3 * eigenq_seconds / n;
  state.counters["ggml_ms"] = 1e3 * ggml_seconds / n;
  state.counters["ratio"] = eigenq_seconds > 0.0 ? ggml_seconds / eigenq_seconds : 0.0;
  state.counters["identical"] = identical ? 1.0 : 0.0;
}

struct Case {
  Type type;
  bool importance;
};

// The type the speed goal names (q4_K), the other common llama.cpp choices, and the
// importance path of each that has one.
const Case kCases[] = {
    {Type::q4_K, false}, {Type::q4_K, true},  {Type::q4_0, false}, {Type::q4_0, true},   {Type::q4_1, false},
    {Type::q4_1, true},  {Type::q8_0, false}, {Type::q6_K, false}, {Type::q6_K, true},   {Type::q5_K, false},
    {Type::q5_K, true},  {Type::q3_K, false}, {Type::q3_K, true},  {Type::q2_K, false},  {Type::q2_K, true},
    {Type::iq4_nl, false}, {Type::iq4_nl, true},
};

const bool registered = [] {
  const std::string shape = "/" + std::to_string(kRows) + "x" + std::to_string(kCols);
  for (const Case& c : kCases) {
    const std::string op =
        std::string("quantize_") + eigenq::ggml::type_name(c.type) + (c.importance ? "_imatrix" : "");
    benchmark::RegisterBenchmark((op + "/eigenq" + shape).c_str(), quantize_eigenq, c.type, c.importance)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((op + "/ggml" + shape).c_str(), quantize_ggml, c.type, c.importance)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((op + "/eigenq_vs_ggml" + shape).c_str(), quantize_eigenq_vs_ggml, c.type,
                                 c.importance)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
