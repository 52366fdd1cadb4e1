// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight
// Equalization and Bias Correction", section 4.2, the empirical variant): quantizing W shifts
// the layer's mean output by (W^ - W) E[x]; adding the opposite to the bias removes it:
//   b' = b + (W - W^) E[x]
// with E[x] the calibration inputs' per-channel mean (in_sum / count). The mean output on the
// calibration rows is then the float layer's, exactly (up to float rounding).
//
//   Eigen::VectorXf b2 = b + eigenq::bias_correction(W, W_hat, stats);
//   eigenq::correct_bias(b, W, W_hat, stats);     // in place (b may be empty: a layer without bias gets one)
#pragma once

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

// (W - W^) E[x]: what to add to the bias.
inline Eigen::VectorXf bias_correction(const Eigen::MatrixXf& w, const Eigen::MatrixXf& w_hat, const Eigen::VectorXd& mean_x) {
  if (w.rows() != w_hat.rows() || w.cols() != w_hat.cols()) {
    raise<ShapeError>("bias_correction: W is [", w.rows(), ", ", w.cols(), "] but W^ is [", w_hat.rows(), ", ", w_hat.cols(), "]");
  }
  if (mean_x.size() != w.cols()) raise<ShapeError>("bias_correction: ", mean_x.size(), " input means for ", w.cols(), " input features");
  if (!mean_x.allFinite()) raise<NonFiniteError>("bias_correction: the input means hold NaN or Inf");
  return ((w.cast<double>() - w_hat.cast<double>()) * mean_x).cast<float>();
}

inline Eigen::VectorXf bias_correction(const Eigen::MatrixXf& w, const Eigen::MatrixXf& w_hat, const CalibrationStats& stats) {
  return bias_correction(w, w_hat, stats.mean("bias_correction"));
}

// b += (W - W^) E[x]; an empty b becomes the correction itself.
inline void correct_bias(Eigen::VectorXf& b, const Eigen::MatrixXf& w, const Eigen::MatrixXf& w_hat, const CalibrationStats& stats) {
  const Eigen::VectorXf delta = bias_correction(w, w_hat, stats);
  if (b.size() == 0) b = Eigen::VectorXf::Zero(delta.size());
  if (b.size() != delta.size()) raise<ShapeError>("correct_bias: a bias of ", b.size(), " values for ", delta.size(), " outputs");
  b += delta;
}

}  // namespace eigenq
