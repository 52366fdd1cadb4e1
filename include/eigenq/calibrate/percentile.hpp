// Percentile clipping: the range ends at the P-th percentile instead of the extremes,
// so a handful of outliers no longer stretch the quantization step.
//
//   magnitude: t = P-th percentile of |x|, range = observed range clipped at +-t
//              (symmetric data get [-t, t], one-sided data keep their zero side)
//   tails:     range = [(100 - P)-th percentile of x, P-th percentile of x]
//
// Percentiles come from a streaming fine Histogram (see histogram.hpp), linear inside a
// bin: accurate to one bin width of the final window.
#pragma once

#include <cstddef>
#include <vector>

#include "eigenq/calibrate/histogram.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/observer.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"

namespace eigenq {

enum class PercentileMode { magnitude, tails };

inline const char* to_string(PercentileMode m) { return m == PercentileMode::magnitude ? "magnitude" : "tails"; }

class PercentileObserver : public HistogramClipObserver<PercentileObserver> {
 public:
  // percentile in (0, 100] ([50, 100] for tails); 100 gives the min-max range.
  explicit PercentileObserver(Granularity g = PerTensor{}, double percentile = 99.99,
                              PercentileMode mode = PercentileMode::magnitude, Index bins = 2048)
      : HistogramClipObserver(g, bins,
                              mode == PercentileMode::magnitude ? HistogramKind::magnitudes : HistogramKind::values,
                              "PercentileObserver"),
        percentile_(percentile),
        mode_(mode) {
    if (!(percentile > 0.0 && percentile <= 100.0)) {
      raise("PercentileObserver: percentile = ", percentile, " must be in (0, 100]");
    }
    if (mode == PercentileMode::tails && percentile < 50.0) {
      raise("PercentileObserver: percentile = ", percentile, " must be >= 50 in tails mode (it is the upper tail)");
    }
  }

  double percentile() const { return percentile_; }
  PercentileMode mode() const { return mode_; }

  // The clipped range of each group (the policy does not change it).
  Ranges ranges() const {
    histograms_.require_data();
    Ranges r;
    const double q = percentile_ / 100.0;
    for (const Histogram& h : histograms_.histograms()) {
      float lo = h.min();
      float hi = h.max();
      if (percentile_ < 100.0) {
        if (mode_ == PercentileMode::magnitude) {
          clip_range_at(h, h.quantile(q), lo, hi);
        } else {
          lo = static_cast<float>(h.quantile((100.0 - percentile_) / 100.0));
          hi = static_cast<float>(h.quantile(q));
        }
      }
      r.min.push_back(lo);
      r.max.push_back(hi);
    }
    return r;
  }
  template <class Policy>
  Ranges ranges(const Policy&) const {
    return ranges();
  }

 private:
  double percentile_;
  PercentileMode mode_;
};

}  // namespace eigenq
