// Deterministic toy models for the analysis tests.
#pragma once

#include "eigenq/analysis/mlp_model.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <random>

namespace eigenq_test {

inline Eigen::MatrixXf random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = scale * u(gen);
  return m;
}

// 16 -> 32 -> 32 -> 8, small uniform weights and biases.
inline eigenq::MlpModel toy_mlp(std::uint32_t seed = 1) {
  eigenq::MlpModel m;
  m.add_layer("fc1", random_matrix(32, 16, seed, 0.4f), random_matrix(32, 1, seed + 1, 0.1f));
  m.add_layer("fc2", random_matrix(32, 32, seed + 2, 0.3f), random_matrix(32, 1, seed + 3, 0.1f));
  m.add_layer("fc3", random_matrix(8, 32, seed + 4, 0.3f), random_matrix(8, 1, seed + 5, 0.1f), false);
  return m;
}

}  // namespace eigenq_test
