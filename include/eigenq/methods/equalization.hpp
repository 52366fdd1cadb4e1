// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
// Equalization and Bias Correction", section 4.1) of a pair Linear1 -> ReLU -> Linear2: ReLU is
// positively homogeneous (relu(x / s) = relu(x) / s for s > 0), so for any positive s
//   W2 relu(W1 x + b1) = (W2 diag(s)) relu(diag(s)^-1 (W1 x + b1)).
// With r1_i = max |W1 row i| (output channel i of layer 1) and r2_i = max |W2 column i| (input
// channel i of layer 2), s_i = sqrt(r1_i / r2_i) gives both the same range sqrt(r1_i r2_i),
// which is what per-tensor quantization of both weights wants (the product of their relative
// precisions is maximal). Channels where r1_i or r2_i is 0 keep s_i = 1.
//   W1 row i / s_i,   b1_i / s_i,   W2 column i * s_i.
//
//   Eigen::VectorXf s = eigenq::equalize(W1, b1, W2);    // in place; returns s
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/methods/scale_folding.hpp"

namespace eigenq {

// s_i = sqrt(r1_i / r2_i) for W1 [mid, in] and W2 [out, mid].
inline Eigen::VectorXf equalization_scales(const Eigen::MatrixXf& w1, const Eigen::MatrixXf& w2) {
  if (w1.rows() != w2.cols()) {
    raise<ShapeError>("equalization: W1 has ", w1.rows(), " output channels but W2 reads ", w2.cols(), " inputs");
  }
  if (w1.rows() == 0 || w1.cols() == 0 || w2.rows() == 0) raise<ShapeError>("equalization: an empty weight");
  if (!w1.allFinite() || !w2.allFinite()) raise<NonFiniteError>("equalization: a weight holds NaN or Inf");
  const Eigen::VectorXd r1 = w1.cwiseAbs().rowwise().maxCoeff().cast<double>();
  const Eigen::VectorXd r2 = w2.cwiseAbs().colwise().maxCoeff().transpose().cast<double>();
  Eigen::VectorXf s(w1.rows());
  for (Index i = 0; i < s.size(); ++i) {
    s[i] = (r1[i] > 0.0 && r2[i] > 0.0) ? static_cast<float>(std::sqrt(r1[i] / r2[i])) : 1.0f;
  }
  return s;
}

// Applies scales s (positive) to the pair: W1 row i and b1_i divided by s_i, W2 column i
// multiplied by s_i. b1 may be empty (a Linear without bias).
inline void apply_equalization(Eigen::MatrixXf& w1, Eigen::VectorXf& b1, Eigen::MatrixXf& w2, const Eigen::VectorXf& s) {
  fold_input_scales_into_linear(w1, &b1, s);
  scale_columns(w2, s);
}

// Equalizes the pair in place and returns the scales used.
inline Eigen::VectorXf equalize(Eigen::MatrixXf& w1, Eigen::VectorXf& b1, Eigen::MatrixXf& w2) {
  const Eigen::VectorXf s = equalization_scales(w1, w2);
  apply_equalization(w1, b1, w2, s);
  return s;
}

}  // namespace eigenq
