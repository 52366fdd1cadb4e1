// Deterministic synthetic data for the calibration tests.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <random>

namespace eigenq_test {

// Standard normal samples from a fixed seed (std::mt19937 and Box-Muller, so the values
// do not depend on the standard library's normal_distribution).
inline Eigen::MatrixXf gaussian(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double two_pi = 6.283185307179586476925;
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); i += 2) {
    const double u1 = 1.0 - u(gen);  // (0, 1]
    const double u2 = u(gen);
    const double r = std::sqrt(-2.0 * std::log(u1));
    m.data()[i] = static_cast<float>(sigma * r * std::cos(two_pi * u2));
    if (i + 1 < m.size()) m.data()[i + 1] = static_cast<float>(sigma * r * std::sin(two_pi * u2));
  }
  return m;
}

inline Eigen::MatrixXf uniform(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = u(gen);
  return m;
}

// Mean squared error of quantizing x with the given parameters (one set per tensor).
template <class Policy>
double quantization_mse(const Eigen::MatrixXf& x, const Policy& policy, const typename Policy::Params& p) {
  double sum = 0.0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const float v = x.data()[i];
    const double e = static_cast<double>(v) - static_cast<double>(policy.dequantize(policy.quantize(v, p), p));
    sum += e * e;
  }
  return sum / static_cast<double>(x.size());
}

}  // namespace eigenq_test
