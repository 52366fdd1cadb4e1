// MSE-optimal clipping: search the range that minimizes the expected squared error of
// the actual quantizer on the observed distribution.
//
// The distribution is a fine Histogram of x (histogram.hpp). A candidate range [lo, hi]
// gives parameters through policy.fit(lo, hi) (any range-fitted policy: linear, log, exp,
// seed...); its error is the count-weighted squared error of fake-quantizing every
// non-empty bin's center with those parameters. Candidates:
//
//   magnitude: t in (0, max|x|], range = observed range clipped at +-t
//   shrink:    alpha in (0, 1], range = [alpha * min, alpha * max]
//
// A grid of `candidates` values, then `refinements` rounds of a finer grid between the
// best value's neighbours. Ties keep the smaller clip (the first found). Cost per group:
// candidates * (1 + refinements) fake quantizations of the non-empty bins.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "eigenq/calibrate/histogram.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/observer.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/policy/policy.hpp"

namespace eigenq {

enum class ClipSearch { magnitude, shrink };

inline const char* to_string(ClipSearch s) { return s == ClipSearch::magnitude ? "magnitude" : "shrink"; }

struct MseClipOptions {
  ClipSearch search = ClipSearch::magnitude;
  int candidates = 100;  // grid size of each round (>= 4)
  int refinements = 2;   // finer rounds around the best candidate (>= 0)
};

// The chosen range of one group, with the value searched (t or alpha) and its error.
struct MseClipResult {
  float lo = 0.0f;
  float hi = 0.0f;
  double clip = 0.0;  // t (magnitude) or alpha (shrink)
  double mse = 0.0;   // expected squared error per element on the histogram
};

// The histogram's non-empty bin centers and counts, ready for repeated fake quantization.
class BinSamples {
 public:
  explicit BinSamples(const Histogram& h) {
    h.for_each_nonempty_bin([&](double center, double, double, std::int64_t count) {
      centers_.push_back(static_cast<float>(center));
      weights_.push_back(static_cast<double>(count));
    });
    total_ = static_cast<double>(h.total());
    fake_.resize(centers_.size());
  }

  // Count-weighted mean squared error of fake-quantizing the centers with params fit on [lo, hi].
  template <class Policy>
  double mse(const Policy& policy, float lo, float hi) {
    static_assert(Policy::fits_from_range, "MSE clipping searches ranges: the policy must fit(min, max)");
    using Code = typename Policy::code_type;
    const typename Policy::Params p = policy.fit(lo, hi);
    const Index n = static_cast<Index>(centers_.size());
    std::vector<Code> codes(centers_.size());
    quantize_run(policy, centers_.data(), n, &p, 0, codes.data());
    dequantize_run(policy, codes.data(), n, &p, 0, fake_.data());
    double sum = 0.0;
    for (std::size_t i = 0; i < centers_.size(); ++i) {
      const double e = static_cast<double>(centers_[i]) - static_cast<double>(fake_[i]);
      sum += weights_[i] * e * e;
    }
    return total_ > 0.0 ? sum / total_ : 0.0;
  }

  std::size_t size() const { return centers_.size(); }

 private:
  std::vector<float> centers_;
  std::vector<double> weights_;
  std::vector<float> fake_;
  double total_ = 0.0;
};

// The MSE-optimal range of one histogram for this policy.
template <class Policy>
MseClipResult mse_clip(const Histogram& h, const Policy& policy, const MseClipOptions& options = {}) {
  if (h.empty()) raise("mse_clip: the histogram is empty");
  if (options.candidates < 4) raise("mse_clip: candidates = ", options.candidates, " must be >= 4");
  if (options.refinements < 0) raise("mse_clip: refinements = ", options.refinements, " must be >= 0");
  BinSamples samples(h);
  const double top = options.search == ClipSearch::magnitude ? static_cast<double>(h.max_abs()) : 1.0;
  auto range_for = [&](double v, float& lo, float& hi) {
    if (options.search == ClipSearch::magnitude) {
      clip_range_at(h, v, lo, hi);
    } else {
      lo = static_cast<float>(v * static_cast<double>(h.min()));
      hi = static_cast<float>(v * static_cast<double>(h.max()));
    }
  };
  MseClipResult best;
  range_for(top, best.lo, best.hi);
  best.clip = top;
  best.mse = samples.mse(policy, best.lo, best.hi);
  if (top == 0.0) return best;  // all zeros: nothing to clip

  double a = 0.0;
  double b = top;
  const int n = options.candidates;
  for (int round = 0; round <= options.refinements; ++round) {
    const double step = (b - a) / n;
    double round_best = best.clip;
    for (int k = 1; k <= n; ++k) {
      const double v = a + step * k;
      if (!(v > 0.0) || v > top) continue;
      MseClipResult c;
      c.clip = v;
      range_for(v, c.lo, c.hi);
      c.mse = samples.mse(policy, c.lo, c.hi);
      if (c.mse < best.mse || (c.mse == best.mse && v < best.clip)) {
        best = c;
        round_best = v;
      }
    }
    a = std::max(0.0, round_best - step);
    b = std::min(top, round_best + step);
  }
  return best;
}

class MseClipObserver : public HistogramClipObserver<MseClipObserver> {
 public:
  explicit MseClipObserver(Granularity g = PerTensor{}, MseClipOptions options = {}, Index bins = 2048)
      : HistogramClipObserver(g, bins, HistogramKind::values, "MseClipObserver"), options_(options) {
    if (options.candidates < 4) raise("MseClipObserver: candidates = ", options.candidates, " must be >= 4");
    if (options.refinements < 0) raise("MseClipObserver: refinements = ", options.refinements, " must be >= 0");
  }

  const MseClipOptions& options() const { return options_; }

  // Every group's search result for this policy.
  template <class Policy>
  std::vector<MseClipResult> search(const Policy& policy) const {
    histograms_.require_data();
    std::vector<MseClipResult> out;
    for (const Histogram& h : histograms_.histograms()) out.push_back(mse_clip(h, policy, options_));
    return out;
  }

  template <class Policy>
  Ranges ranges(const Policy& policy) const {
    Ranges r;
    for (const MseClipResult& c : search(policy)) {
      r.min.push_back(c.lo);
      r.max.push_back(c.hi);
    }
    return r;
  }

 private:
  MseClipOptions options_;
};

}  // namespace eigenq
