// Streaming fine histograms, the raw material of percentile, MSE and KL calibration.
//
// A Histogram has a fixed number of equal bins (2048 by default) over a window
// [origin, origin + bins * width]. The first batch with any spread sets the window to its
// own range, so it uses every bin (as TensorRT and np.histogram do). When a later batch
// falls outside, the width doubles (k times) and the window shifts by a whole number of
// old bins, so each new bin is the union of 2^k old bins: counts are merged exactly,
// never re-spread by interpolation as torch's HistogramObserver does. After growth the
// data span at least a quarter of the bins. Counts are exact integers.
//
// Kinds: `values` bins x itself (for MSE search and two-tailed percentiles);
// `magnitudes` bins |x| on a window anchored at 0 (TensorRT's KL histogram, symmetric
// percentiles). Both track the exact raw min and max of x.
//
// Until the data show any spread (all values equal so far) a histogram is a point mass:
// the value and its count, no bins.
//
// HistogramObserver keeps one Histogram per tensor or per channel and feeds it batches;
// binning runs over contiguous stretches of each channel, index arithmetic vectorized by
// Eigen, counts added by a scalar scatter.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/observer.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"

namespace eigenq {

enum class HistogramKind {
  values,     // bins x
  magnitudes  // bins |x|, window anchored at 0
};

inline const char* to_string(HistogramKind k) { return k == HistogramKind::values ? "values" : "magnitudes"; }

class Histogram {
 public:
  explicit Histogram(Index bins = 2048, HistogramKind kind = HistogramKind::values)
      : bins_(bins), kind_(kind) {
    if (bins < 16 || bins > (Index{1} << 24)) {
      raise("Histogram: bins = ", bins, " is out of range (expected 16..", Index{1} << 24, ")");
    }
  }

  Index bins() const { return bins_; }
  HistogramKind kind() const { return kind_; }
  std::int64_t total() const { return total_; }
  bool empty() const { return total_ == 0; }
  // True while every binned value seen so far is the same (no window yet).
  bool is_point_mass() const { return total_ > 0 && counts_.empty(); }
  // The binned value of a point mass (x, or |x| for magnitudes).
  double point_value() const { return point_; }

  // Exact extremes of the raw data x (not of |x|).
  float min() const { return min_; }
  float max() const { return max_; }
  float max_abs() const { return std::max(std::fabs(min_), std::fabs(max_)); }

  // The window; meaningful only when !is_point_mass() and !empty().
  double origin() const { return origin_; }
  double bin_width() const { return width_; }
  double bin_lower(Index j) const { return origin_ + static_cast<double>(j) * width_; }
  double bin_upper(Index j) const { return origin_ + static_cast<double>(j + 1) * width_; }
  double bin_center(Index j) const { return origin_ + (static_cast<double>(j) + 0.5) * width_; }
  // Counts per bin; empty for a point mass.
  const std::vector<std::int64_t>& counts() const { return counts_; }

  // f(center, lower, upper, count) for every non-empty bin in increasing order; a point
  // mass is one bin of zero width.
  template <class F>
  void for_each_nonempty_bin(F&& f) const {
    if (is_point_mass()) {
      f(point_, point_, point_, total_);
      return;
    }
    for (Index j = 0; j < static_cast<Index>(counts_.size()); ++j) {
      const std::int64_t c = counts_[static_cast<std::size_t>(j)];
      if (c != 0) f(bin_center(j), bin_lower(j), bin_upper(j), c);
    }
  }

  // Adds n values; throws NonFiniteError on NaN/Inf (nothing is added then).
  void add(const float* x, Index n) {
    if (n <= 0) return;
    Eigen::Map<const Eigen::ArrayXf> v(x, n);
    if (!v.allFinite()) {
      for (Index i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) raise<NonFiniteError>("Histogram::add found ", x[i], " at index ", i);
      }
    }
    prepare(v.minCoeff(), v.maxCoeff());
    add_prepared(x, n);
  }

  // Two-step adding for callers that know the batch range: prepare() once with the
  // batch's finite [lo, hi], then add_prepared() every stretch of that batch.
  void prepare(float lo, float hi) {
    if (!(std::isfinite(lo) && std::isfinite(hi)) || lo > hi) {
      raise<NonFiniteError>("Histogram::prepare: batch range [", lo, ", ", hi, "] is not a finite range");
    }
    const double blo = kind_ == HistogramKind::values ? lo : 0.0;
    const double bhi = kind_ == HistogramKind::values
                           ? static_cast<double>(hi)
                           : static_cast<double>(std::max(std::fabs(lo), std::fabs(hi)));
    const bool first = total_ == 0;
    min_ = first ? lo : std::min(min_, lo);
    max_ = first ? hi : std::max(max_, hi);
    if (counts_.empty()) {
      // Point mass so far (or nothing): it stays one while there is no spread.
      const bool constant = kind_ == HistogramKind::values ? blo == bhi : bhi == 0.0;
      if (constant && (first || point_ == blo)) {
        point_ = blo;
        return;
      }
      const double a = first ? blo : std::min(point_, blo);
      const double b = first ? bhi : std::max(point_, bhi);
      origin_ = a;
      width_ = (b - a) / static_cast<double>(bins_);
      counts_.assign(static_cast<std::size_t>(bins_), 0);
      if (!first) counts_[static_cast<std::size_t>(bin_of(point_))] += total_;
      return;
    }
    grow_to(blo, bhi);
  }

  // Adds values that lie inside the range given to the last prepare().
  void add_prepared(const float* x, Index n) {
    if (n <= 0) return;
    total_ += n;
    if (counts_.empty()) return;  // a point mass: prepare() checked every value equals it
    // Index arithmetic in float where it is safe (finite reciprocal), else in double.
    const double inv = 1.0 / width_;
    const float finv = static_cast<float>(inv);
    const float forigin = static_cast<float>(origin_);
    const bool float_ok = std::isfinite(finv) && finv < 1e30f && std::isfinite(forigin);
    const float ftop = static_cast<float>(bins_) - 0.5f;
    const double dtop = static_cast<double>(bins_) - 0.5;
    constexpr Index chunk = 1024;
    Eigen::Array<int, Eigen::Dynamic, 1> idx(std::min(n, chunk));
    for (Index start = 0; start < n; start += chunk) {
      const Index m = std::min(chunk, n - start);
      Eigen::Map<const Eigen::ArrayXf> v(x + start, m);
      auto out = idx.head(m);
      if (float_ok) {
        if (kind_ == HistogramKind::values) out = ((v - forigin) * finv).max(0.0f).min(ftop).cast<int>();
        else out = (v.abs() * finv).max(0.0f).min(ftop).cast<int>();
      } else {
        if (kind_ == HistogramKind::values) out = ((v.cast<double>() - origin_) * inv).max(0.0).min(dtop).cast<int>();
        else out = (v.abs().cast<double>() * inv).max(0.0).min(dtop).cast<int>();
      }
      for (Index i = 0; i < m; ++i) ++counts_[static_cast<std::size_t>(out[i])];
    }
  }

  // The q-quantile (q in [0, 1]) of the binned quantity, linear inside a bin, clamped to
  // the observed extremes. Its error is at most one bin width.
  double quantile(double q) const {
    if (empty()) raise("Histogram::quantile: the histogram is empty");
    if (!(q >= 0.0 && q <= 1.0)) raise("Histogram::quantile: q = ", q, " must be in [0, 1]");
    if (is_point_mass()) return point_;
    const double target = q * static_cast<double>(total_);
    double before = 0.0;
    double result = bin_upper(bins_ - 1);
    for (Index j = 0; j < bins_; ++j) {
      const double c = static_cast<double>(counts_[static_cast<std::size_t>(j)]);
      if (c == 0.0) continue;
      if (before + c >= target) {
        const double inside = std::clamp((target - before) / c, 0.0, 1.0);
        result = bin_lower(j) + inside * width_;
        break;
      }
      before += c;
    }
    const double lo = kind_ == HistogramKind::values ? static_cast<double>(min_) : 0.0;
    const double hi = kind_ == HistogramKind::values ? static_cast<double>(max_) : static_cast<double>(max_abs());
    return std::clamp(result, lo, hi);
  }

  void reset() {
    counts_.clear();
    total_ = 0;
    point_ = 0.0;
    origin_ = 0.0;
    width_ = 0.0;
    min_ = max_ = 0.0f;
  }

 private:
  Index bin_of(double v) const {
    const double t = std::floor((v - origin_) / width_);
    return static_cast<Index>(std::clamp(t, 0.0, static_cast<double>(bins_ - 1)));
  }

  // Widens the window to hold [lo, hi]: width times 2^k, origin moved by whole old bins.
  void grow_to(double lo, double hi) {
    const double B = static_cast<double>(bins_);
    const double top = origin_ + B * width_;
    if (lo >= origin_ && hi <= top) return;
    const double jl = lo >= origin_ ? 0.0 : std::floor((lo - origin_) / width_);
    const double jh = hi <= top ? B - 1.0 : std::floor((hi - origin_) / width_);
    const double left = std::min(jl, 0.0);
    const double right = std::max(jh, B - 1.0);
    int k = 1;
    while (right - left + 1.0 > std::ldexp(B, k)) ++k;
    const double factor = std::ldexp(1.0, k);
    std::vector<std::int64_t> merged(static_cast<std::size_t>(bins_), 0);
    for (Index j = 0; j < bins_; ++j) {
      const std::int64_t c = counts_[static_cast<std::size_t>(j)];
      if (c == 0) continue;
      const double to = std::floor((static_cast<double>(j) - left) / factor);
      merged[static_cast<std::size_t>(std::clamp(to, 0.0, B - 1.0))] += c;
    }
    counts_ = std::move(merged);
    origin_ += left * width_;
    width_ *= factor;
  }

  Index bins_;
  HistogramKind kind_;
  std::vector<std::int64_t> counts_;
  std::int64_t total_ = 0;
  double point_ = 0.0;
  double origin_ = 0.0;
  double width_ = 0.0;
  float min_ = 0.0f;
  float max_ = 0.0f;
};

// One Histogram per tensor or per channel, fed batch after batch.
class HistogramObserver {
 public:
  explicit HistogramObserver(Granularity g = PerTensor{}, Index bins = 2048,
                             HistogramKind kind = HistogramKind::values,
                             const char* name = "HistogramObserver")
      : shapes_(name, g), bins_(bins), kind_(kind) {
    (void)Histogram(bins, kind);  // validates bins
  }

  template <class X>
  void observe(const X& batch) {
    observe_view(row_major_view(batch));
  }

  void observe_view(const RowMajorView& x) {
    const ParamLayout layout = shapes_.check(x.shape(), batches_);
    const std::string what = detail::error_message(shapes_.observer(), " batch ", batches_);
    if (x.size() == 0) {
      raise<ShapeError>(what, ": cannot calibrate on an empty tensor of shape ", to_string(x.shape()));
    }
    const detail::GroupRuns runs(x, layout);
    Ranges r;
    if (!runs.ranges(static_cast<std::size_t>(layout.param_count()), r)) {
      (void)observe_ranges(x, layout, what);  // throws NonFiniteError naming the index and channel
      raise<NonFiniteError>(what, ": non-finite value");  // not reached
    }
    if (histograms_.empty()) histograms_.assign(r.min.size(), Histogram(bins_, kind_));
    for (std::size_t k = 0; k < r.min.size(); ++k) histograms_[k].prepare(r.min[k], r.max[k]);
    for (const auto& run : runs.runs()) {
      histograms_[static_cast<std::size_t>(run.group)].add_prepared(run.data, run.size);
    }
    shapes_.accept(x.shape());
    ++batches_;
  }

  bool empty() const { return batches_ == 0; }
  Index batches() const { return batches_; }
  const Granularity& granularity() const { return shapes_.granularity(); }
  Index bins() const { return bins_; }
  HistogramKind kind() const { return kind_; }
  const char* name() const { return shapes_.observer(); }
  const std::vector<Histogram>& histograms() const { return histograms_; }

  // The observed min-max ranges (exact, like MinMaxObserver's).
  Ranges minmax() const {
    Ranges r;
    for (const Histogram& h : histograms_) {
      r.min.push_back(h.min());
      r.max.push_back(h.max());
    }
    return r;
  }

  void require_data() const {
    if (empty()) raise(shapes_.observer(), " has seen no data; call observe() first");
  }

  void reset() {
    histograms_.clear();
    batches_ = 0;
    shapes_.reset();
  }

 private:
  detail::BatchShapeCheck shapes_;
  Index bins_;
  HistogramKind kind_;
  std::vector<Histogram> histograms_;
  Index batches_ = 0;
};

// The range [max(min, -t), min(max, t)]: the observed range clipped at magnitude t,
// so one-sided data (ReLU outputs) keep their zero side.
inline void clip_range_at(const Histogram& h, double t, float& lo, float& hi) {
  const float ft = static_cast<float>(t);
  lo = std::max(h.min(), -ft);
  hi = std::min(h.max(), ft);
  if (lo > hi) lo = hi = h.min() > ft ? ft : -ft;  // all data beyond t on one side
}

// What the histogram-based clipping observers (PercentileObserver, MseClipObserver,
// KlEntropyObserver) share: one HistogramObserver fed batch after batch, and params(policy)
// fitted on the ranges Derived::ranges(policy) clips from it.
template <class Derived>
class HistogramClipObserver {
 public:
  template <class X>
  void observe(const X& batch) {
    histograms_.observe(batch);
  }
  void observe_view(const RowMajorView& x) { histograms_.observe_view(x); }

  bool empty() const { return histograms_.empty(); }
  Index batches() const { return histograms_.batches(); }
  const Granularity& granularity() const { return histograms_.granularity(); }
  const HistogramObserver& histograms() const { return histograms_; }

  template <class Policy>
  std::vector<typename Policy::Params> params(const Policy& policy) const {
    return fit_ranges(policy, static_cast<const Derived&>(*this).ranges(policy), granularity(), histograms_.name());
  }

  void reset() { histograms_.reset(); }

 protected:
  HistogramClipObserver(Granularity g, Index bins, HistogramKind kind, const char* name)
      : histograms_(g, bins, kind, name) {}

  HistogramObserver histograms_;
};

}  // namespace eigenq
