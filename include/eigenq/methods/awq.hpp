// AWQ, activation-aware weight quantization (Lin et al. 2023, "AWQ: Activation-aware Weight
// Quantization for LLM Compression and Acceleration"; reference mit-han-lab/llm-awq,
// auto_scale.py and auto_clip.py). Input channels that see large activations matter more;
// scaling them up before quantization (and the input down by the same factor) gives them
// relatively finer steps:
//   W x = (W diag(s)) (x / s)  ~  Q(W diag(s)) (x / s)
// with per-input-channel scales
//   s = mean|x|^alpha,  clamped to >= 1e-4,  then divided by sqrt(max(s) min(s)),
// alpha = k / grid for k = 0 .. grid - 1 (20 points in [0, 1)), chosen by the smallest output
// error on the calibration rows,
//   || W X^T - Q(W diag(s)) diag(s)^-1 X^T ||^2 = trace(D H D^T),  D = W - Q(W diag(s)) diag(s)^-1,
// computed from the Hessian H = sum x x^T. alpha = 0 gives s = 1, round to nearest: a
// candidate, so AWQ is never worse than RTN on these rows (ties keep the smaller alpha, and the
// final pick is checked in double).
//
// Clipping search (auto_clip, optional, range-fitted policies): then, per row and group of the
// scaled weight, the range is shrunk to max|w| (1 - i / clip_grid) for i < max_shrink * clip_grid
// (the reference: 20 points, down to half), each candidate's weights clamped and quantized, and
// the one with the smallest group output error d H_gg d^T kept (H_gg: the group's block of the
// scaled inputs' Hessian diag(1/s) H diag(1/s)). If the clipped result has a larger total layer
// error than the unclipped one (cross-group terms), the unclipped one is kept.
//
//   auto r = eigenq::awq(W, stats, quantizer);   // stats: in_abs_sum, count, hessian
//   r.weights        // QTensor of Q(W diag(s)): the layer's weight
//   r.input_scales   // s: fold 1/s into the previous layer (scale_folding.hpp), or keep x / s
//   r.effective_weight()  // Q(W diag(s)) diag(s)^-1, the float weight it stands for
//
// Works with every scheme whose rows quantize independently (any Quantizer<Policy, G> that
// quantizes a matrix; the clipping search needs a range-fitted policy, fits_from_range).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/methods/layer_error.hpp"
#include "eigenq/methods/row_quantizer.hpp"
#include "eigenq/methods/scale_folding.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

struct AwqOptions {
  int grid = 20;              // alpha = k / grid, k = 0 .. grid - 1
  double min_scale = 1e-4;    // s clamped from below before the normalization
  bool clip_search = false;   // the reference's auto_clip
  int clip_grid = 20;         // shrink steps of 1 / clip_grid...
  double max_shrink = 0.5;    // ...down to 1 - max_shrink (exclusive)
};

template <class Policy>
struct AwqResult {
  QTensor<Policy> weights;        // Q(W diag(s)), with clipping if it was searched and helped
  Eigen::VectorXf input_scales;   // s: the layer computes weights * (x / s)
  double alpha = 0.0;             // the chosen exponent
  double layer_error = 0.0;       // trace(D H D^T) of the result
  double rtn_layer_error = 0.0;   // the same for round to nearest (alpha = 0, no clipping)
  std::vector<double> alpha_errors;  // layer error of every alpha candidate (k / grid)
  bool clipped = false;           // the clipping search's ranges are in `weights`

  // The float weight the result stands for: Q(W diag(s)) diag(s)^-1.
  Eigen::MatrixXf effective_weight() const {
    Eigen::MatrixXf w = weights.template dequantize<Eigen::MatrixXf>();
    unscale_columns(w, input_scales);
    return w;
  }
};

namespace detail {

// trace(D H D^T) in float products with double sums (the candidates' ranking).
inline double fast_layer_error(const Eigen::MatrixXf& d, const Eigen::MatrixXf& hf) {
  const Eigen::MatrixXf dh = d * hf;
  return dh.cwiseProduct(d).cast<double>().sum();
}

inline Eigen::VectorXf awq_scales(const Eigen::VectorXd& mean_abs, double alpha, double min_scale) {
  Eigen::VectorXd s(mean_abs.size());
  for (Index j = 0; j < s.size(); ++j) s[j] = std::max(std::pow(mean_abs[j], alpha), min_scale);
  s /= std::sqrt(s.maxCoeff() * s.minCoeff());
  return s.cast<float>();
}

}  // namespace detail

// AWQ from the per-input-channel mean |x| and the Hessian H = sum x x^T of the calibration rows.
template <class Policy, class G>
AwqResult<Policy> awq(const Eigen::MatrixXf& w, const Eigen::VectorXd& mean_abs, const Eigen::MatrixXd& hessian,
                      const Quantizer<Policy, G>& quantizer, const AwqOptions& options = {}) {
  require_rows_independent(quantizer.granularity(), "awq");
  const Index out = w.rows();
  const Index in = w.cols();
  if (out == 0 || in == 0) raise<ShapeError>("awq: the weight [", out, ", ", in, "] is empty");
  if (mean_abs.size() != in) raise<ShapeError>("awq: ", mean_abs.size(), " mean |x| values for ", in, " input features");
  if (hessian.rows() != in || hessian.cols() != in) {
    raise<ShapeError>("awq: the Hessian is [", hessian.rows(), ", ", hessian.cols(), "], expected [", in, ", ", in, "]");
  }
  if (!w.allFinite()) raise<NonFiniteError>("awq: the weight holds NaN or Inf");
  for (Index j = 0; j < in; ++j) {
    if (!(mean_abs[j] >= 0.0) || !std::isfinite(mean_abs[j])) raise("awq: mean |x| [", j, "] = ", mean_abs[j]);
  }
  if (!hessian.allFinite()) raise<NonFiniteError>("awq: the Hessian holds NaN or Inf");
  if (options.grid < 1) raise("awq: grid = ", options.grid, " must be >= 1");
  if (!(options.min_scale > 0.0)) raise("awq: min_scale = ", options.min_scale, " must be positive");
  if (options.clip_search && (options.clip_grid < 1 || !(options.max_shrink > 0.0 && options.max_shrink < 1.0))) {
    raise("awq: clip_grid = ", options.clip_grid, " and max_shrink = ", options.max_shrink,
          " (expected >= 1 and in (0, 1))");
  }

  const Eigen::MatrixXf hf = hessian.cast<float>();
  auto fake = [&](const Eigen::VectorXf& s) {
    Eigen::MatrixXf ws = w * s.asDiagonal();
    Eigen::MatrixXf q = quantizer.quantize(ws).template dequantize<Eigen::MatrixXf>();
    return Eigen::MatrixXf(q * s.cwiseInverse().asDiagonal());
  };

  AwqResult<Policy> r;
  double best = 0.0;
  int best_k = 0;
  for (int k = 0; k < options.grid; ++k) {
    const double alpha = static_cast<double>(k) / options.grid;
    const Eigen::VectorXf s = detail::awq_scales(mean_abs, alpha, options.min_scale);
    const double e = detail::fast_layer_error(w - fake(s), hf);
    r.alpha_errors.push_back(e);
    if (k == 0 || e < best) {
      best = e;
      best_k = k;
    }
  }
  const Eigen::VectorXf ones = Eigen::VectorXf::Ones(in);
  r.rtn_layer_error = layer_error(w, fake(ones), hessian);
  r.alpha = static_cast<double>(best_k) / options.grid;
  r.input_scales = best_k == 0 ? ones : detail::awq_scales(mean_abs, r.alpha, options.min_scale);
  r.layer_error = best_k == 0 ? r.rtn_layer_error : layer_error(w, fake(r.input_scales), hessian);
  if (r.layer_error > r.rtn_layer_error) {  // float ranking noise: never worse than RTN
    r.alpha = 0.0;
    r.input_scales = ones;
    r.layer_error = r.rtn_layer_error;
  }
  const Eigen::MatrixXf ws = w * r.input_scales.asDiagonal();
  r.weights = quantizer.quantize(ws);

  if constexpr (Policy::fits_from_range) {
    if (options.clip_search) {
      const Policy& policy = quantizer.policy();
      using Code = typename Policy::code_type;
      const Index gsize = row_group_size(quantizer.granularity(), in);
      const Eigen::VectorXd inv = r.input_scales.template cast<double>().cwiseInverse();
      const Eigen::MatrixXd hs = inv.asDiagonal() * hessian * inv.asDiagonal();
      Eigen::MatrixXf clamped = ws;
      const int steps = static_cast<int>(options.max_shrink * options.clip_grid);
      std::vector<float> v;
      std::vector<float> q;
      std::vector<Code> codes;
      for (Index g0 = 0; g0 < in; g0 += gsize) {
        const Index len = std::min(gsize, in - g0);
        const Eigen::MatrixXd hb = hs.block(g0, g0, len, len);
        v.resize(static_cast<std::size_t>(len));
        q.resize(static_cast<std::size_t>(len));
        codes.resize(static_cast<std::size_t>(len));
        Eigen::VectorXd d(len);
        for (Index row = 0; row < out; ++row) {
          const auto orig = ws.row(row).segment(g0, len);
          const float top = orig.cwiseAbs().maxCoeff();
          if (!(top > 0.0f)) continue;
          double best_err = 0.0;
          float best_max = top;
          for (int i = 0; i < std::max(steps, 1); ++i) {
            const float m = static_cast<float>(top * (1.0 - static_cast<double>(i) / options.clip_grid));
            for (Index c = 0; c < len; ++c) v[static_cast<std::size_t>(c)] = std::clamp(orig[c], -m, m);
            const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
            const typename Policy::Params p = policy.fit(*lo, *hi);
            quantize_run(policy, v.data(), len, &p, 0, codes.data());
            dequantize_run(policy, codes.data(), len, &p, 0, q.data());
            for (Index c = 0; c < len; ++c) d[c] = static_cast<double>(orig[c]) - q[static_cast<std::size_t>(c)];
            const double e = d.dot(hb * d);
            if (i == 0 || e < best_err) {
              best_err = e;
              best_max = m;
            }
          }
          for (Index c = 0; c < len; ++c) clamped(row, g0 + c) = std::clamp(orig[c], -best_max, best_max);
        }
      }
      QTensor<Policy> clipped = quantizer.quantize(clamped);
      Eigen::MatrixXf eff = clipped.template dequantize<Eigen::MatrixXf>();
      unscale_columns(eff, r.input_scales);
      const double e = layer_error(w, eff, hessian);
      if (e < r.layer_error) {
        r.weights = std::move(clipped);
        r.layer_error = e;
        r.clipped = true;
      }
    }
  }
  return r;
}

// AWQ from calibration statistics (in_abs_sum, count and hessian).
template <class Policy, class G>
AwqResult<Policy> awq(const Eigen::MatrixXf& w, const CalibrationStats& stats, const Quantizer<Policy, G>& quantizer,
                      const AwqOptions& options = {}) {
  stats.require(StatsField::hessian, "awq");
  return awq(w, stats.mean_abs("awq"), stats.hessian, quantizer, options);
}

}  // namespace eigenq
