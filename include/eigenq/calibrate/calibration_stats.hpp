// Calibration statistics of one Linear input, for the weight-quantization methods of
// methods/ (GPTQ, AWQ, importance-weighted rounding, SmoothQuant, bias correction).
//
// Over every calibration row x (the layer's input, [in] values) they are, accumulated in
// double:
//   hessian     H = sum x x^T                    [in, in]  (GPTQ, the layer error of any method)
//   in_sum      sum x_j                          [in]      (bias correction: E[x])
//   in_sum2     sum x_j^2                        [in]      (importance-weighted rounding; = diag H)
//   in_abs_sum  sum |x_j|                        [in]      (AWQ: mean |x|)
//   in_abs_max  max |x_j|                        [in]      (SmoothQuant)
//   count       number of rows
// Any subset may be present (a llama.cpp imatrix gives in_sum2 and count only); a method
// that needs a missing field says which (require()).
//
//   eigenq::CalibrationStatsObserver obs(in);      // or obs(in, {.hessian = false})
//   for (const auto& X : batches) obs.observe(X);  // X: [rows, in], any number of rows
//   eigenq::CalibrationStats s = obs.stats();
//   s.mean_abs(); s.mean(); s.hessian;
//
// The file form (safetensors, NAME.hessian, NAME.in_sum2, ...) is read and written by
// io/calibration_stats.hpp; docs/calibration_stats.md describes it.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

// The fields of CalibrationStats, as the file names them (NAME.<field>).
enum class StatsField { hessian, in_sum, in_sum2, in_abs_sum, in_abs_max, count };

inline const char* to_string(StatsField f) {
  switch (f) {
    case StatsField::hessian: return "hessian";
    case StatsField::in_sum: return "in_sum";
    case StatsField::in_sum2: return "in_sum2";
    case StatsField::in_abs_sum: return "in_abs_sum";
    case StatsField::in_abs_max: return "in_abs_max";
    case StatsField::count: return "count";
  }
  return "?";
}

struct CalibrationStats {
  Index in = 0;              // input features (columns of the weight [out, in])
  std::int64_t count = 0;    // rows seen; 0 when absent
  Eigen::MatrixXd hessian;   // [in, in] or empty
  Eigen::VectorXd in_sum;    // [in] or empty
  Eigen::VectorXd in_sum2;   // [in] or empty
  Eigen::VectorXd in_abs_sum;
  Eigen::VectorXd in_abs_max;

  bool has(StatsField f) const {
    switch (f) {
      case StatsField::hessian: return hessian.size() > 0;
      case StatsField::in_sum: return in_sum.size() > 0;
      case StatsField::in_sum2: return in_sum2.size() > 0;
      case StatsField::in_abs_sum: return in_abs_sum.size() > 0;
      case StatsField::in_abs_max: return in_abs_max.size() > 0;
      case StatsField::count: return count > 0;
    }
    return false;
  }

  // Throws InvalidArgument naming `what` (the tensor, the method) when a field is missing.
  void require(StatsField f, const std::string& what) const {
    if (!has(f)) {
      raise(what, ": the calibration statistics have no '", to_string(f),
            "' (collect it with CalibrationStatsObserver or collect_stats.py)");
    }
  }

  // in_sum2, or the Hessian's diagonal when only the Hessian is there.
  Eigen::VectorXd sum_squares(const std::string& what) const {
    if (has(StatsField::in_sum2)) return in_sum2;
    if (has(StatsField::hessian)) return hessian.diagonal();
    raise(what, ": the calibration statistics have neither 'in_sum2' nor 'hessian'");
  }

  // Per-channel means over the rows: E[x], E[x^2], E[|x|] (need count).
  Eigen::VectorXd mean(const std::string& what = "calibration statistics") const {
    require(StatsField::in_sum, what);
    require(StatsField::count, what);
    return in_sum / static_cast<double>(count);
  }
  Eigen::VectorXd mean_square(const std::string& what = "calibration statistics") const {
    require(StatsField::count, what);
    return sum_squares(what) / static_cast<double>(count);
  }
  Eigen::VectorXd mean_abs(const std::string& what = "calibration statistics") const {
    require(StatsField::in_abs_sum, what);
    require(StatsField::count, what);
    return in_abs_sum / static_cast<double>(count);
  }

  // Checks shapes and values; every message starts with `where` (a file and tensor name)
  // and names the field. ShapeError for a shape, NonFiniteError for NaN/Inf,
  // InvalidArgument for a negative sum, a zero count or an asymmetric Hessian.
  void validate(const std::string& where = "calibration statistics") const {
    if (in <= 0) raise<ShapeError>(where, ": 'in' = ", in, " input features; must be positive");
    auto check_vector = [&](const Eigen::VectorXd& v, StatsField f, bool non_negative) {
      if (v.size() == 0) return;
      if (v.size() != in) {
        raise<ShapeError>(where, ": field '", to_string(f), "' has ", v.size(), " values, expected ", in,
                          " (one per input feature)");
      }
      for (Index j = 0; j < in; ++j) {
        const double x = v[j];
        if (!std::isfinite(x)) raise<NonFiniteError>(where, ": field '", to_string(f), "' [", j, "] is ", x);
        if (non_negative && x < 0) {
          raise(where, ": field '", to_string(f), "' [", j, "] = ", x, " is negative; it must be >= 0");
        }
      }
    };
    check_vector(in_sum, StatsField::in_sum, false);
    check_vector(in_sum2, StatsField::in_sum2, true);
    check_vector(in_abs_sum, StatsField::in_abs_sum, true);
    check_vector(in_abs_max, StatsField::in_abs_max, true);
    if (count < 0) raise(where, ": field 'count' = ", count, " is negative");
    if (hessian.size() > 0) {
      if (hessian.rows() != in || hessian.cols() != in) {
        raise<ShapeError>(where, ": field 'hessian' is [", hessian.rows(), ", ", hessian.cols(), "], expected [", in,
                          ", ", in, "]");
      }
      for (Index c = 0; c < in; ++c) {
        for (Index r = 0; r < in; ++r) {
          if (!std::isfinite(hessian(r, c))) {
            raise<NonFiniteError>(where, ": field 'hessian' [", r, ", ", c, "] is ", hessian(r, c));
          }
        }
      }
      for (Index j = 0; j < in; ++j) {
        if (hessian(j, j) < 0) {
          raise(where, ": field 'hessian' [", j, ", ", j, "] = ", hessian(j, j),
                " is negative; a sum of squares must be >= 0");
        }
      }
      // A sum of x x^T is symmetric; allow float rounding of a file written elsewhere.
      for (Index c = 0; c < in; ++c) {
        for (Index r = c + 1; r < in; ++r) {
          const double a = hessian(r, c);
          const double b = hessian(c, r);
          const double tol = 1e-4 * std::sqrt(hessian(r, r) * hessian(c, c)) + 1e-30;
          if (std::fabs(a - b) > tol) {
            raise(where, ": field 'hessian' is not symmetric: [", r, ", ", c, "] = ", a, " but [", c, ", ", r,
                  "] = ", b);
          }
        }
      }
    }
  }
};

// Statistics of two calibration runs of the same input, added (the counts add, maxima combine).
inline CalibrationStats merge(const CalibrationStats& a, const CalibrationStats& b) {
  if (a.in != b.in) raise<ShapeError>("merge: calibration statistics of ", a.in, " and ", b.in, " input features");
  CalibrationStats out = a;
  auto add = [](Eigen::VectorXd& x, const Eigen::VectorXd& y) {
    if (x.size() > 0 && y.size() > 0) x += y;
    else x.resize(0);  // a field only one side has is no sum over both runs
  };
  add(out.in_sum, b.in_sum);
  add(out.in_sum2, b.in_sum2);
  add(out.in_abs_sum, b.in_abs_sum);
  if (out.in_abs_max.size() > 0 && b.in_abs_max.size() > 0) out.in_abs_max = out.in_abs_max.cwiseMax(b.in_abs_max);
  else out.in_abs_max.resize(0);
  if (out.hessian.size() > 0 && b.hessian.size() > 0) out.hessian += b.hessian;
  else out.hessian.resize(0, 0);
  out.count = a.count + b.count;
  return out;
}

struct CalibrationStatsOptions {
  bool hessian = true;  // [in, in] doubles: 128 MiB at in = 4096; off when only sums are wanted
};

// Streaming observer of one Linear input: feed batches [rows, in] (any number of rows, the
// same `in`), read stats(). Sums are accumulated in double; the Hessian by a symmetric
// rank-k update per batch. Non-finite inputs are an error naming the batch, row and column.
class CalibrationStatsObserver {
 public:
  explicit CalibrationStatsObserver(Index in, CalibrationStatsOptions options = {}) : options_(options) {
    if (in <= 0) raise<ShapeError>("CalibrationStatsObserver: 'in' = ", in, " input features; must be positive");
    stats_.in = in;
    stats_.in_sum = Eigen::VectorXd::Zero(in);
    stats_.in_sum2 = Eigen::VectorXd::Zero(in);
    stats_.in_abs_sum = Eigen::VectorXd::Zero(in);
    stats_.in_abs_max = Eigen::VectorXd::Zero(in);
    if (options.hessian) stats_.hessian = Eigen::MatrixXd::Zero(in, in);
  }

  Index in() const { return stats_.in; }
  std::int64_t count() const { return stats_.count; }
  Index batches() const { return batches_; }
  bool empty() const { return stats_.count == 0; }

  // A batch of rows [rows, in] (an Eigen matrix or expression of floats).
  template <class Derived>
  void observe(const Eigen::MatrixBase<Derived>& batch) {
    static_assert(std::is_same_v<typename Derived::Scalar, float>, "calibration inputs are float");
    if (batch.cols() != stats_.in) {
      raise<ShapeError>("CalibrationStatsObserver batch ", batches_, " is [", batch.rows(), ", ", batch.cols(),
                        "], expected [rows, ", stats_.in, "]");
    }
    const Eigen::MatrixXd x = batch.template cast<double>();
    if (!x.allFinite()) {
      for (Index c = 0; c < x.cols(); ++c) {
        for (Index r = 0; r < x.rows(); ++r) {
          if (!std::isfinite(x(r, c))) {
            raise<NonFiniteError>("CalibrationStatsObserver batch ", batches_, " has ", x(r, c), " at row ", r,
                                  ", column ", c);
          }
        }
      }
    }
    if (x.rows() == 0) {
      ++batches_;
      return;
    }
    stats_.in_sum += x.colwise().sum().transpose();
    stats_.in_sum2 += x.array().square().colwise().sum().matrix().transpose();
    stats_.in_abs_sum += x.array().abs().colwise().sum().matrix().transpose();
    stats_.in_abs_max = stats_.in_abs_max.cwiseMax(x.array().abs().colwise().maxCoeff().matrix().transpose());
    if (options_.hessian) stats_.hessian.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
    stats_.count += x.rows();
    ++batches_;
  }

  // The statistics so far (the Hessian made whole from its accumulated lower triangle).
  CalibrationStats stats() const {
    CalibrationStats s = stats_;
    if (options_.hessian) s.hessian = stats_.hessian.selfadjointView<Eigen::Lower>();
    return s;
  }

  void reset() { *this = CalibrationStatsObserver(stats_.in, options_); }

 private:
  CalibrationStatsOptions options_;
  CalibrationStats stats_;
  Index batches_ = 0;
};

}  // namespace eigenq
