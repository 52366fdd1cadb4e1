// Test rows for the ggml block types, drawn from a PRNG of our own so the
// golden files can be regenerated bit for bit (std::*_distribution is
// implementation-defined): splitmix64, 24-bit uniform floats, Box-Muller
// normals and inverse-CDF Laplace draws computed in double with the C
// library's log/cos/sqrt, then rounded to float.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace eigenq_test {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in (0, 1): 53 random bits, never 0.
  double uniform01() { return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }

  double normal() {
    const double u1 = uniform01();
    const double u2 = uniform01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  double laplace() {
    const double u = uniform01() - 0.5;
    return u < 0 ? std::log(1.0 + 2.0 * u) : -std::log(1.0 - 2.0 * u);
  }

 private:
  std::uint64_t state_;
};

// The kinds of rows every type is tested on.
enum class RowKind {
  gaussian,
  laplacian,
  uniform,     // uniform on a random interval, often not centred on 0
  outlier,     // gaussian with one value 100-1000 times larger
  zeros,
  constant,
  tiny,        // gaussian times 1e-30
  huge,        // gaussian times 1e30
  subnormal,   // gaussian times 1e-40: subnormal floats
  negative,    // -|gaussian|
  grid,        // multiples of 1/4 in [-4, 4]: exact ties for the rounding steps
  mixed,       // groups of 16 with scales spread over 1e-3..1e3
  sparse,      // 90% zeros
};

inline constexpr RowKind kAllRowKinds[] = {
    RowKind::gaussian, RowKind::laplacian, RowKind::uniform,   RowKind::outlier,  RowKind::zeros,
    RowKind::constant, RowKind::tiny,      RowKind::huge,      RowKind::subnormal, RowKind::negative,
    RowKind::grid,     RowKind::mixed,     RowKind::sparse};

inline const char* row_kind_name(RowKind k) {
  switch (k) {
    case RowKind::gaussian: return "gaussian";
    case RowKind::laplacian: return "laplacian";
    case RowKind::uniform: return "uniform";
    case RowKind::outlier: return "outlier";
    case RowKind::zeros: return "zeros";
    case RowKind::constant: return "constant";
    case RowKind::tiny: return "tiny";
    case RowKind::huge: return "huge";
    case RowKind::subnormal: return "subnormal";
    case RowKind::negative: return "negative";
    case RowKind::grid: return "grid";
    case RowKind::mixed: return "mixed";
    case RowKind::sparse: return "sparse";
  }
  return "?";
}

// n values of kind k. Scales are drawn log-uniformly so that rows differ in magnitude.
inline void fill_row(RowKind k, SplitMix64& rng, float* x, int n) {
  const double scale = std::pow(10.0, rng.uniform(-2.0, 2.0));
  switch (k) {
    case RowKind::gaussian:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(scale * rng.normal());
      return;
    case RowKind::laplacian:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(scale * rng.laplace());
      return;
    case RowKind::uniform: {
      const double a = rng.uniform(-2.0, 1.0) * scale;
      const double b = a + rng.uniform(0.1, 3.0) * scale;
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(rng.uniform(a, b));
      return;
    }
    case RowKind::outlier: {
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(scale * rng.normal());
      const int at = rng.below(n);
      x[at] = static_cast<float>(scale * rng.uniform(100.0, 1000.0) * (rng.below(2) ? 1 : -1));
      return;
    }
    case RowKind::zeros:
      for (int i = 0; i < n; ++i) x[i] = 0.0f;
      return;
    case RowKind::constant: {
      const float c = static_cast<float>(scale * (rng.below(2) ? 1 : -1));
      for (int i = 0; i < n; ++i) x[i] = c;
      return;
    }
    case RowKind::tiny:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(1e-30 * rng.normal());
      return;
    case RowKind::huge:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(1e30 * rng.normal());
      return;
    case RowKind::subnormal:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(1e-40 * rng.normal());
      return;
    case RowKind::negative:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(-scale * std::fabs(rng.normal()));
      return;
    case RowKind::grid:
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(rng.below(33) - 16) * 0.25f;
      return;
    case RowKind::mixed:
      for (int g = 0; g < n; g += 16) {
        const double s = std::pow(10.0, rng.uniform(-3.0, 3.0));
        for (int i = g; i < n && i < g + 16; ++i) x[i] = static_cast<float>(s * rng.normal());
      }
      return;
    case RowKind::sparse:
      for (int i = 0; i < n; ++i) x[i] = rng.below(10) == 0 ? static_cast<float>(scale * rng.normal()) : 0.0f;
      return;
  }
}

// Importance weights as an imatrix holds them (mean squared activations):
// positive, spread over orders of magnitude, some exactly zero.
inline void fill_importance(SplitMix64& rng, float* w, int n) {
  for (int i = 0; i < n; ++i) {
    w[i] = rng.below(20) == 0 ? 0.0f : static_cast<float>(std::exp(1.5 * rng.normal()));
  }
}

}  // namespace eigenq_test
