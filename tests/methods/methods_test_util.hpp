// Shared helpers of the methods tests: the SplitMix64 data generator of
// tests/golden/make_gptq_golden.py (bit for bit), Gaussian data, and RTN baselines.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/types.hpp"
#include "eigenq/methods/layer_error.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq_test {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // An integer in [-k, k].
  int uniform_int(int k) { return static_cast<int>(next() % static_cast<std::uint64_t>(2 * k + 1)) - k; }

 private:
  std::uint64_t state_;
};

struct GoldenData {
  Eigen::MatrixXf w;  // [out, in]
  Eigen::MatrixXd x;  // [samples, in]
};

// make_gptq_golden.py's make_data: every value a short dyadic fraction (exact in float).
inline GoldenData make_golden_data(std::uint64_t seed, Eigen::Index out, Eigen::Index in, Eigen::Index samples,
                                   const std::vector<Eigen::Index>& dead, const std::vector<Eigen::Index>& outliers,
                                   bool flat) {
  SplitMix64 g(seed);
  GoldenData d;
  d.w.resize(out, in);
  for (Eigen::Index r = 0; r < out; ++r) {
    const double row_scale = std::ldexp(1.0, static_cast<int>(r % 3) - 1);
    for (Eigen::Index c = 0; c < in; ++c) {
      int s = 0;
      for (int k = 0; k < 4; ++k) s += g.uniform_int(127);
      d.w(r, c) = static_cast<float>(s / 256.0 * row_scale);
    }
  }
  Eigen::MatrixXd z(samples, in);
  for (Eigen::Index t = 0; t < samples; ++t) {
    for (Eigen::Index j = 0; j < in; ++j) {
      int s = 0;
      for (int k = 0; k < 3; ++k) s += g.uniform_int(63);
      z(t, j) = s / 64.0;
    }
  }
  Eigen::VectorXd col_scale(in);
  for (Eigen::Index j = 0; j < in; ++j) col_scale[j] = flat ? 1.0 : std::ldexp(1.0, static_cast<int>((j * 7) % 5) - 2);
  for (Eigen::Index j : outliers) col_scale[j] *= 16.0;
  d.x.resize(samples, in);
  for (Eigen::Index j = 0; j < in; ++j) {
    d.x.col(j) = (z.col(j) + 0.5 * z.col((j - 1 + in) % in) + 0.25 * z.col((j + 3) % in)) * col_scale[j];
  }
  for (Eigen::Index j : dead) d.x.col(j).setZero();
  return d;
}

// Standard normal samples (mt19937 + Box-Muller: the same on every standard library).
inline Eigen::MatrixXf normal(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); i += 2) {
    const double r = std::sqrt(-2.0 * std::log(1.0 - u(gen)));
    const double a = 6.283185307179586 * u(gen);
    m.data()[i] = static_cast<float>(sigma * r * std::cos(a));
    if (i + 1 < m.size()) m.data()[i + 1] = static_cast<float>(sigma * r * std::sin(a));
  }
  return m;
}

// Calibration rows [samples, in] with correlated channels; `outliers` channels scaled by `outlier_scale`.
inline Eigen::MatrixXf calibration_rows(Eigen::Index samples, Eigen::Index in, std::uint32_t seed,
                                        const std::vector<Eigen::Index>& outliers = {}, float outlier_scale = 30.0f) {
  Eigen::MatrixXf z = normal(samples, in, seed);
  Eigen::MatrixXf x = z;
  for (Eigen::Index j = 1; j < in; ++j) x.col(j) += 0.5f * z.col(j - 1);
  for (Eigen::Index j : outliers) x.col(j) *= outlier_scale;
  return x;
}

inline Eigen::MatrixXd hessian_of(const Eigen::MatrixXf& x) {
  const Eigen::MatrixXd xd = x.cast<double>();
  return xd.transpose() * xd;
}

// Round to nearest with the quantizer (its own min-max fit): the baseline every method beats.
template <class Policy, class G>
Eigen::MatrixXf rtn(const eigenq::Quantizer<Policy, G>& q, const Eigen::MatrixXf& w) {
  return q.quantize(w).template dequantize<Eigen::MatrixXf>();
}

}  // namespace eigenq_test
