// SmoothQuant (Xiao et al. 2022, "SmoothQuant: Accurate and Efficient Post-Training Quantization
// for Large Language Models"): activations with outlier channels are hard to quantize per
// tensor, weights are easy; per-input-channel scales move part of the range from the
// activations into the weights, leaving the float function unchanged:
//   Y = X W^T = (X diag(s)^-1) (W diag(s))^T,
//   s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)     (alpha = 0.5 by default)
// with max|X_j| the calibration inputs' absolute maximum of channel j (in_abs_max) and max|W_j|
// the largest |w| of input column j over the rows of every Linear reading that input (q, k and
// v share one: pass them all). As the reference (mit-han-lab/smoothquant, smooth.py) does, both
// maxima are clamped to >= 1e-5; a channel whose activations or weights are all 0 gets s_j = 1
// (the reference's 1e-5 clamp would scale such a weight column by ~0 for no gain).
// Folding (scale_folding.hpp): the previous LayerNorm's gamma and beta (or the previous Linear's
// rows and bias) are divided by s, every Linear reading the input gets W diag(s).
//
//   Eigen::VectorXf s = eigenq::smoothquant_scales(stats.in_abs_max, {&Wq, &Wk, &Wv});
//   eigenq::fold_input_scales_into_layer_norm(gamma, beta, s);
//   eigenq::scale_columns(Wq, s); eigenq::scale_columns(Wk, s); eigenq::scale_columns(Wv, s);
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/methods/scale_folding.hpp"

namespace eigenq {

struct SmoothQuantOptions {
  double alpha = 0.5;         // migration strength, in [0, 1]
  double min_value = 1e-5;    // both maxima clamped from below (the reference's 1e-5)
};

// The scales of one input (in features), read by the Linears `weights` ([out_k, in] each).
inline Eigen::VectorXf smoothquant_scales(const Eigen::VectorXd& act_abs_max, const std::vector<const Eigen::MatrixXf*>& weights,
                                          const SmoothQuantOptions& options = {}) {
  const Index in = act_abs_max.size();
  if (in == 0) raise<ShapeError>("smoothquant_scales: no input channels");
  if (weights.empty()) raise("smoothquant_scales: no weights read this input");
  if (!(options.alpha >= 0.0 && options.alpha <= 1.0)) raise("smoothquant_scales: alpha = ", options.alpha, " (expected [0, 1])");
  if (!(options.min_value > 0.0)) raise("smoothquant_scales: min_value = ", options.min_value, " must be positive");
  for (Index j = 0; j < in; ++j) {
    if (!(act_abs_max[j] >= 0.0) || !std::isfinite(act_abs_max[j])) {
      raise("smoothquant_scales: in_abs_max [", j, "] = ", act_abs_max[j], " (must be finite and >= 0)");
    }
  }
  Eigen::VectorXd w_max = Eigen::VectorXd::Zero(in);
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const Eigen::MatrixXf* w = weights[k];
    if (w == nullptr) raise("smoothquant_scales: weight ", k, " is null");
    if (w->cols() != in) raise<ShapeError>("smoothquant_scales: weight ", k, " has ", w->cols(), " columns for ", in, " input channels");
    if (!w->allFinite()) raise<NonFiniteError>("smoothquant_scales: weight ", k, " holds NaN or Inf");
    if (w->rows() > 0) w_max = w_max.cwiseMax(w->cwiseAbs().colwise().maxCoeff().transpose().cast<double>());
  }
  Eigen::VectorXf s(in);
  for (Index j = 0; j < in; ++j) {
    if (act_abs_max[j] == 0.0 || w_max[j] == 0.0) {
      s[j] = 1.0f;
      continue;
    }
    const double a = std::max(act_abs_max[j], options.min_value);
    const double b = std::max(w_max[j], options.min_value);
    s[j] = static_cast<float>(std::pow(a, options.alpha) / std::pow(b, 1.0 - options.alpha));
  }
  return s;
}

inline Eigen::VectorXf smoothquant_scales(const Eigen::VectorXd& act_abs_max, const Eigen::MatrixXf& weight,
                                          const SmoothQuantOptions& options = {}) {
  return smoothquant_scales(act_abs_max, std::vector<const Eigen::MatrixXf*>{&weight}, options);
}

// From calibration statistics (needs in_abs_max).
inline Eigen::VectorXf smoothquant_scales(const CalibrationStats& stats, const std::vector<const Eigen::MatrixXf*>& weights,
                                          const SmoothQuantOptions& options = {}) {
  stats.require(StatsField::in_abs_max, "smoothquant");
  return smoothquant_scales(stats.in_abs_max, weights, options);
}

}  // namespace eigenq
