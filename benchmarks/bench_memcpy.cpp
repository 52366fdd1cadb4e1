// The machine's copy bandwidth: std::memcpy of 64 MiB, the ceiling for memory-bound kernels
// (quantize, dequantize, requantize). GBps counts bytes copied (not read + written) per second.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

namespace {

void memcpy_libc(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  std::vector<char> src(bytes, 1);
  std::vector<char> dst(bytes, 0);  // both touched, so no page faults inside the loop
  char* out = dst.data();
  for (auto _ : state) {
    std::memcpy(out, src.data(), bytes);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  const double total = static_cast<double>(state.iterations()) * static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["GBps"] = benchmark::Counter(total / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(memcpy_libc)->Name("memcpy/libc")->Arg(std::int64_t{64} << 20);
