// Per-input-channel scales that leave a layer's float function unchanged: the layer computes
// W x = (W diag(s)) (x / s), so its weight takes diag(s) (its columns are multiplied) and its
// input is divided by s, which the layer before does for free when it is linear in its output
// channels: a LayerNorm (gamma and beta divided by s) or a Linear (its rows and bias divided by
// s). AWQ and SmoothQuant produce such scales; where no previous layer can take them (a residual
// stream read by other layers too, a model input) the layer keeps x / s as an input scale.
//
//   eigenq::scale_columns(W, s);                       // W <- W diag(s)
//   eigenq::fold_input_scales_into_layer_norm(gamma, beta, s);  // gamma, beta <- gamma / s, beta / s
//   eigenq::fold_input_scales_into_linear(W_prev, &b_prev, s);  // W_prev, b_prev <- diag(1/s) W_prev, b_prev / s
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

// Throws unless s holds `n` positive finite scales; `what` names the caller.
inline void check_scales(const Eigen::VectorXf& s, Index n, const char* what) {
  if (s.size() != n) raise<ShapeError>(what, ": ", s.size(), " scales for ", n, " channels");
  for (Index j = 0; j < n; ++j) {
    if (!(s[j] > 0.0f) || !std::isfinite(s[j])) raise(what, ": scale [", j, "] = ", s[j], " is not positive and finite");
  }
}

// W [out, in] <- W diag(s): the layer whose inputs are divided by s.
inline void scale_columns(Eigen::MatrixXf& w, const Eigen::VectorXf& s) {
  check_scales(s, w.cols(), "scale_columns");
  w = w * s.asDiagonal();
}

// W [out, in] <- W diag(1 / s): undoes scale_columns (e.g. to read the float weight an
// AWQ-scaled QTensor stands for).
inline void unscale_columns(Eigen::MatrixXf& w, const Eigen::VectorXf& s) {
  check_scales(s, w.cols(), "unscale_columns");
  w = w * s.cwiseInverse().asDiagonal();
}

// The previous layer is a LayerNorm (or RMSNorm: beta may be empty) whose output feeds the
// scaled layer: its output divided by s.
inline void fold_input_scales_into_layer_norm(Eigen::VectorXf& gamma, Eigen::VectorXf& beta, const Eigen::VectorXf& s) {
  check_scales(s, gamma.size(), "fold_input_scales_into_layer_norm");
  gamma = gamma.cwiseQuotient(s);
  if (beta.size() > 0) {
    if (beta.size() != s.size()) raise<ShapeError>("fold_input_scales_into_layer_norm: beta has ", beta.size(), " values");
    beta = beta.cwiseQuotient(s);
  }
}

// The previous layer is a Linear W_prev [in, k] (+ bias) whose output feeds the scaled layer:
// row i and bias i divided by s_i.
inline void fold_input_scales_into_linear(Eigen::MatrixXf& w_prev, Eigen::VectorXf* b_prev, const Eigen::VectorXf& s) {
  check_scales(s, w_prev.rows(), "fold_input_scales_into_linear");
  w_prev = s.cwiseInverse().asDiagonal() * w_prev;
  if (b_prev && b_prev->size() > 0) {
    if (b_prev->size() != s.size()) raise<ShapeError>("fold_input_scales_into_linear: the bias has ", b_prev->size(), " values");
    *b_prev = b_prev->cwiseQuotient(s);
  }
}

}  // namespace eigenq
