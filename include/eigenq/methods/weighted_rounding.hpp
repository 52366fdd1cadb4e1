// Importance-weighted rounding: per row and group, the parameters (scale and offset) that
// minimize the importance-weighted squared error
//   sum_i w_i (x_i - x^_i)^2,   w_i = in_sum2_i / count = E[x_i^2]
// instead of the plain min-max fit, as llama.cpp's quantizers do with an importance matrix
// (ggml-quants.c make_qx_quants / make_qkx3_quants with quant_weights). With w = E[x^2] this
// is the layer-output error ||(W - W^) X^T||^2 without the cross-channel terms of the Hessian.
//
// Candidates per group, each evaluated by its weighted error with the scheme's own rounding
// (codes = the policy's quantize under the candidate parameters, so the result is an ordinary
// QTensor that Quantizer::quantize(W, params) reproduces):
//   - the round-to-nearest parameters (the min-max fit): a candidate, so the result is never
//     worse than RTN in the weighted error (ties keep RTN);
//   - the range scaled by t in [t_min, t_max] (`grid` points): fit(t min, t max), shrinking
//     (clipping) and widening the range, as ggml's scale searches do;
//   - for linear policies, the weighted least-squares refit of each candidate's codes L:
//     symmetric, scale = sum w x (L - z) / sum w (L - z)^2; affine, x ~ a L + b solved for a and
//     b (scale a, zero point round(-b / a)), as make_qkx3_quants refits scale and min;
//   - for the codebook policy, weighted Lloyd iterations from the k-means codebook (each one
//     never increases the weighted error).
// With a Hessian (calibration statistics that have one), each row then keeps whichever of the
// weighted and the RTN result has the smaller layer error d_r H d_r^T (rows are independent),
// so the result is never worse than RTN on the calibration rows either.
//
//   auto r = eigenq::weighted_rounding(W, stats, quantizer);   // stats: in_sum2 + count, or an imatrix's
//   r.weights   // QTensor of the quantizer's policy and granularity
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/methods/layer_error.hpp"
#include "eigenq/methods/row_quantizer.hpp"
#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

struct WeightedRoundingOptions {
  int grid = 29;              // range factors t_min + k (t_max - t_min) / (grid - 1)
  double t_min = 0.5;
  double t_max = 1.2;
  bool least_squares = true;  // linear policies: the weighted least-squares refits
  int lloyd_iterations = 20;  // codebook policies: weighted Lloyd updates
  // llama.cpp's weighting for some block types: w_i = importance_i * sqrt(sigma2 + x_i^2), sigma2 =
  // 2 mean(x^2) of the group (off: w_i = importance_i).
  bool magnitude_term = false;
  bool hessian_check = true;  // with a Hessian, keep RTN for rows where it has the smaller layer error
};

template <class Policy>
struct WeightedRoundingResult {
  QTensor<Policy> weights;
  double weighted_error = 0.0;      // sum over rows and groups of sum w (x - x^)^2
  double rtn_weighted_error = 0.0;  // the same for round to nearest
  double layer_error = -1.0;        // trace(D H D^T), when a Hessian was given (else -1)
  double rtn_layer_error = -1.0;
  Index rows_rtn = 0;               // rows where the Hessian check kept RTN
};

namespace detail {

template <class Policy>
inline constexpr bool is_linear_params_v = std::is_same_v<typename Policy::Params, LinearParams>;

template <class P, class = void>
struct has_symmetry : std::false_type {};
template <class P>
struct has_symmetry<P, std::void_t<decltype(std::declval<const P&>().symmetry())>> : std::true_type {};

template <class Policy>
struct is_codebook : std::false_type {};
template <class Code>
struct is_codebook<Codebook<Code>> : std::true_type {};

// One group's search: values x, weights w.
template <class Policy>
class WeightedGroupSearch {
 public:
  using Params = typename Policy::Params;
  using Code = typename Policy::code_type;

  WeightedGroupSearch(const Policy& policy, const WeightedRoundingOptions& o) : policy_(policy), o_(o) {}

  double error(const std::vector<float>& x, const std::vector<double>& w, const Params& p) {
    const Index n = static_cast<Index>(x.size());
    codes_.resize(x.size());
    deq_.resize(x.size());
    quantize_run(policy_, x.data(), n, &p, 0, codes_.data());
    dequantize_run(policy_, codes_.data(), n, &p, 0, deq_.data());
    double e = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double d = static_cast<double>(x[i]) - deq_[i];
      e += w[i] * d * d;
    }
    return e;
  }

  // The best parameters (rtn first); rtn_error and best_error are set.
  Params search(const std::vector<float>& x, const std::vector<double>& w, const Params& rtn, double& rtn_error,
                double& best_error) {
    Params best = rtn;
    rtn_error = best_error = error(x, w, rtn);
    auto consider = [&](const Params& p) {
      const double e = error(x, w, p);
      if (e < best_error) {
        best_error = e;
        best = p;
      }
    };
    if constexpr (is_codebook<Policy>::value) {
      Params p = rtn;
      for (int it = 0; it < o_.lloyd_iterations && p.centroids.size() > 1; ++it) {
        error(x, w, p);  // assignments into codes_
        std::vector<double> num(p.centroids.size(), 0.0);
        std::vector<double> den(p.centroids.size(), 0.0);
        const auto qmin = policy_.range().qmin;
        for (std::size_t i = 0; i < x.size(); ++i) {
          const auto k = static_cast<std::size_t>(static_cast<std::int32_t>(codes_[i]) - qmin);
          num[k] += w[i] * x[i];
          den[k] += w[i];
        }
        std::vector<double> centres;
        for (std::size_t k = 0; k < num.size(); ++k) {
          centres.push_back(den[k] > 0.0 ? num[k] / den[k] : static_cast<double>(p.centroids[k]));
        }
        p = Policy::from_centres(centres);
        consider(p);
      }
    } else if constexpr (Policy::fits_from_range) {
      const auto [lo_it, hi_it] = std::minmax_element(x.begin(), x.end());
      const float lo = *lo_it;
      const float hi = *hi_it;
      const int grid = std::max(o_.grid, 2);
      std::vector<Params> tried;
      for (int k = 0; k < grid; ++k) {
        const double t = o_.t_min + (o_.t_max - o_.t_min) * k / (grid - 1);
        Params p{};
        try {
          p = policy_.fit(static_cast<float>(t * lo), static_cast<float>(t * hi));
        } catch (const Error&) {
          continue;  // a range the policy refuses (log of a non-positive range, ...)
        }
        consider(p);
        if constexpr (is_linear_params_v<Policy>) tried.push_back(p);
      }
      if constexpr (is_linear_params_v<Policy>) {
        if (o_.least_squares) {
          tried.push_back(rtn);
          for (const Params& p : tried) {
            error(x, w, p);  // codes_ of this candidate
            for (const Params& refit : least_squares(x, w, p)) consider(refit);
          }
        }
      }
    }
    return best;
  }

 private:
  // Weighted least-squares parameters for the codes in codes_ (of parameters p).
  std::vector<Params> least_squares(const std::vector<float>& x, const std::vector<double>& w, const Params& p) const {
    std::vector<Params> out;
    const CodeRange r = policy_.range();
    // Scale only, zero point kept: x ~ s (L - z).
    double sxl = 0.0;
    double sll = 0.0;
    double sw = 0.0, sl = 0.0, sx = 0.0, sl2 = 0.0, sxl_raw = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double l = static_cast<double>(codes_[i]);
      const double lz = l - p.zero_point;
      sxl += w[i] * x[i] * lz;
      sll += w[i] * lz * lz;
      sw += w[i];
      sl += w[i] * l;
      sx += w[i] * x[i];
      sl2 += w[i] * l * l;
      sxl_raw += w[i] * x[i] * l;
    }
    if (sll > 0.0) {
      const double s = sxl / sll;
      if (s > 0.0 && std::isfinite(s)) out.push_back(Params{static_cast<float>(s), p.zero_point});
    }
    // Scale and offset: x ~ a L + b, zero point -b / a rounded into the code range (affine only:
    // symmetric schemes keep their fixed zero point).
    bool affine = false;
    if constexpr (has_symmetry<Policy>::value) affine = policy_.symmetry() == Symmetry::affine;
    const double det = sw * sl2 - sl * sl;
    if (affine && det > 0.0) {
      const double a = (sw * sxl_raw - sl * sx) / det;
      const double b = (sx - a * sl) / sw;
      if (a > 0.0 && std::isfinite(a) && std::isfinite(b)) {
        const double z = std::clamp(round_half_to_even(-b / a), static_cast<double>(r.qmin), static_cast<double>(r.qmax));
        // With z fixed, the scale's own least-squares value.
        double num = 0.0;
        double den = 0.0;
        for (std::size_t i = 0; i < x.size(); ++i) {
          const double lz = static_cast<double>(codes_[i]) - z;
          num += w[i] * x[i] * lz;
          den += w[i] * lz * lz;
        }
        const double s = den > 0.0 ? num / den : a;
        if (s > 0.0 && std::isfinite(s)) {
          out.push_back(Params{static_cast<float>(s), static_cast<std::int32_t>(z)});
          out.push_back(Params{static_cast<float>(a), static_cast<std::int32_t>(z)});
        }
      }
    }
    return out;
  }

  const Policy& policy_;
  const WeightedRoundingOptions& o_;
  std::vector<Code> codes_;
  std::vector<float> deq_;
};

}  // namespace detail

// Weighted rounding with per-input-channel importances (>= 0, e.g. E[x^2]); with a Hessian
// (may be empty) the per-row check against RTN.
template <class Policy, class G>
WeightedRoundingResult<Policy> weighted_rounding(const Eigen::MatrixXf& w, const Eigen::VectorXd& importance,
                                                 const Quantizer<Policy, G>& quantizer,
                                                 const WeightedRoundingOptions& options = {},
                                                 const Eigen::MatrixXd& hessian = Eigen::MatrixXd()) {
  require_rows_independent(quantizer.granularity(), "weighted_rounding");
  const Index out = w.rows();
  const Index in = w.cols();
  if (out == 0 || in == 0) raise<ShapeError>("weighted_rounding: the weight [", out, ", ", in, "] is empty");
  if (importance.size() != in) {
    raise<ShapeError>("weighted_rounding: ", importance.size(), " importances for ", in, " input features");
  }
  for (Index j = 0; j < in; ++j) {
    if (!(importance[j] >= 0.0) || !std::isfinite(importance[j])) {
      raise("weighted_rounding: importance [", j, "] = ", importance[j], " (must be finite and >= 0)");
    }
  }
  if (hessian.size() > 0 && (hessian.rows() != in || hessian.cols() != in)) {
    raise<ShapeError>("weighted_rounding: the Hessian is [", hessian.rows(), ", ", hessian.cols(), "], expected [", in,
                      ", ", in, "]");
  }
  if (options.grid < 2 || !(options.t_min > 0.0) || !(options.t_max >= options.t_min)) {
    raise("weighted_rounding: grid = ", options.grid, ", t in [", options.t_min, ", ", options.t_max,
          "] (expected grid >= 2 and 0 < t_min <= t_max)");
  }
  if (!w.allFinite()) raise<NonFiniteError>("weighted_rounding: the weight holds NaN or Inf");

  using Params = typename Policy::Params;
  const Index gsize = row_group_size(quantizer.granularity(), in);
  const Index groups = (in + gsize - 1) / gsize;
  const std::vector<Params> rtn = quantizer.fit(w);  // layout: row r, group g at r * groups + g
  std::vector<Params> best = rtn;
  WeightedRoundingResult<Policy> result;
  detail::WeightedGroupSearch<Policy> search(quantizer.policy(), options);
  std::vector<float> x;
  std::vector<double> wt;
  for (Index r = 0; r < out; ++r) {
    for (Index g = 0; g < groups; ++g) {
      const Index g0 = g * gsize;
      const Index len = std::min(gsize, in - g0);
      x.resize(static_cast<std::size_t>(len));
      wt.resize(static_cast<std::size_t>(len));
      double mean2 = 0.0;
      for (Index c = 0; c < len; ++c) {
        x[static_cast<std::size_t>(c)] = w(r, g0 + c);
        mean2 += static_cast<double>(w(r, g0 + c)) * w(r, g0 + c);
      }
      const double sigma2 = 2.0 * mean2 / static_cast<double>(len);
      for (Index c = 0; c < len; ++c) {
        double v = importance[g0 + c];
        if (options.magnitude_term) v *= std::sqrt(sigma2 + static_cast<double>(x[static_cast<std::size_t>(c)]) * x[static_cast<std::size_t>(c)]);
        wt[static_cast<std::size_t>(c)] = v;
      }
      const std::size_t k = static_cast<std::size_t>(r * groups + g);
      double e_rtn = 0.0;
      double e_best = 0.0;
      best[k] = search.search(x, wt, rtn[k], e_rtn, e_best);
      result.rtn_weighted_error += e_rtn;
      result.weighted_error += e_best;
    }
  }
  result.weights = quantizer.quantize(w, best);
  if (hessian.size() > 0) {
    const Eigen::MatrixXf w_rtn = quantizer.quantize(w, rtn).template dequantize<Eigen::MatrixXf>();
    const Eigen::MatrixXf w_best = result.weights.template dequantize<Eigen::MatrixXf>();
    const Eigen::VectorXd e_rtn = row_layer_errors(w, w_rtn, hessian);
    const Eigen::VectorXd e_best = row_layer_errors(w, w_best, hessian);
    result.rtn_layer_error = e_rtn.sum();
    result.layer_error = 0.0;
    for (Index r = 0; r < out; ++r) {
      if (options.hessian_check && e_rtn[r] < e_best[r]) {
        for (Index g = 0; g < groups; ++g) best[static_cast<std::size_t>(r * groups + g)] = rtn[static_cast<std::size_t>(r * groups + g)];
        ++result.rows_rtn;
        result.layer_error += e_rtn[r];
      } else {
        result.layer_error += e_best[r];
      }
    }
    if (result.rows_rtn > 0) result.weights = quantizer.quantize(w, best);
  }
  return result;
}

// Weighted rounding from calibration statistics: importance = in_sum2 / count (or the Hessian's
// diagonal), and the per-row check when they have a Hessian.
template <class Policy, class G>
WeightedRoundingResult<Policy> weighted_rounding(const Eigen::MatrixXf& w, const CalibrationStats& stats,
                                                 const Quantizer<Policy, G>& quantizer,
                                                 const WeightedRoundingOptions& options = {}) {
  const Eigen::VectorXd importance =
      stats.has(StatsField::count) ? stats.mean_square("weighted_rounding") : stats.sum_squares("weighted_rounding");
  return weighted_rounding(w, importance, quantizer, options, stats.hessian);
}

}  // namespace eigenq
