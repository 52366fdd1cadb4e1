// Deterministic toy models for the analysis tests.
#pragma once

#include "eigenq/analysis/metrics.hpp"
#include "eigenq/analysis/mlp_model.hpp"
#include "eigenq/analysis/model.hpp"
#include "eigenq/analysis/scheme.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>

#include "support/random_data.hpp"

namespace eigenq_test {

// 16 -> 32 -> 32 -> 8, small uniform weights and biases.
inline eigenq::MlpModel toy_mlp(std::uint32_t seed = 1) {
  eigenq::MlpModel m;
  m.add_layer("fc1", random_matrix(32, 16, seed, 0.4f), random_matrix(32, 1, seed + 1, 0.1f));
  m.add_layer("fc2", random_matrix(32, 32, seed + 2, 0.3f), random_matrix(32, 1, seed + 3, 0.1f));
  m.add_layer("fc3", random_matrix(8, 32, seed + 4, 0.3f), random_matrix(8, 1, seed + 5, 0.1f), false);
  return m;
}

}  // namespace eigenq_test

namespace eigenq_test {

// 256 -> 256 -> 256 -> 8: rows of 256 inputs, one ggml super-block (q2_K .. q6_K, iq4_xs fit).
inline eigenq::MlpModel toy_mlp_256(std::uint32_t seed = 1) {
  eigenq::MlpModel m;
  m.add_layer("fc1", random_matrix(256, 256, seed, 0.1f), random_matrix(256, 1, seed + 1, 0.1f));
  m.add_layer("fc2", random_matrix(256, 256, seed + 2, 0.1f), random_matrix(256, 1, seed + 3, 0.1f));
  m.add_layer("fc3", random_matrix(8, 256, seed + 4, 0.1f), random_matrix(8, 1, seed + 5, 0.1f), false);
  return m;
}

}  // namespace eigenq_test

namespace eigenq_test {

// The output MSE of `m` with only weight point `point` quantized with `s`: a sensitivity
// computed here, independently of the analysis code under test.
inline double only_point(const eigenq::MlpModel& m, const Eigen::MatrixXf& x, std::size_t point,
                         const eigenq::Scheme& s) {
  eigenq::PointSchemes config(m.quant_points().size());
  config.set(point, &s);
  return eigenq::compare(m.forward(x), m.forward(x, config)).mse;
}

}  // namespace eigenq_test
