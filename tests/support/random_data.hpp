// Seeded random matrices shared by the test folders: the same seed gives the same values
// (std::mt19937 with this standard library's distributions).
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <random>

namespace eigenq_test {

// scale * U(-1, 1) per element, in storage order.
inline Eigen::MatrixXf random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = scale * u(gen);
  return m;
}

// N(mean, stddev) per element, in M's storage order (Eigen::MatrixXf, or nn::Matrix for
// row-major activations).
template <class M = Eigen::MatrixXf>
M normal_matrix(Eigen::Index rows, Eigen::Index cols, unsigned seed, float mean = 0.0f, float stddev = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> g(mean, stddev);
  M m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = g(gen);
  return m;
}

}  // namespace eigenq_test
