// KL / entropy calibration, TensorRT's method (Migacz, "8-bit Inference with TensorRT",
// GTC 2017; pytorch-quantization's HistogramCalibrator):
//
//   1. a fine histogram of |x| from 0 (2048 bins; see histogram.hpp for streaming growth);
//   2. for every candidate threshold at bin edge i, i = start_bin, start_bin + stride, ..., and
//      the last used bin edge:
//      P = the first i bins, with every count beyond them (the outliers) folded into bin i-1;
//      Q = the first i bins merged into `levels` groups (bin j in group floor(j*levels/i)),
//          each group's count spread evenly over its non-empty bins, empty bins stay 0;
//      divergence KL(P || Q) of the normalized distributions (infinite where Q = 0 < P);
//   3. the threshold with the smallest divergence (the first one on ties), clipped to max|x|.
//
// levels = 2^(bits-1) for signed data (the observed min < 0) and 2^bits otherwise, with
// bits the policy's; KlEntropyOptions::levels overrides it. The clipped range is the observed
// range clipped at +-threshold (one-sided data keep their zero side).
// Cost per group: O(used_bins^2 / stride).
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

namespace eigenq {

struct KlEntropyOptions {
  Index start_bin = 128;  // smallest candidate threshold, in bins
  Index stride = 1;       // candidate step, in bins
  Index levels = 0;       // quantization levels per sign; 0: from the policy's bits and the data
};

struct KlEntropyResult {
  double threshold = 0.0;   // the chosen clip magnitude
  double divergence = 0.0;  // its KL(P || Q); 0 when nothing was searched
  Index bin = 0;            // threshold as a bin edge index (0 when nothing was searched)
  Index used_bins = 0;      // bins up to the last non-empty one
};

// KL(P || Q) of threshold bin edge i on counts c (see the header comment). prefix[j] is
// the sum of c[0..j-1]; total the sum of all counts.
inline double kl_divergence_at(const std::vector<std::int64_t>& c, const std::vector<double>& prefix,
                               double total, Index i, Index levels) {
  const double inside = prefix[static_cast<std::size_t>(i)];
  const double outliers = total - inside;
  double kl = 0.0;
  Index j = 0;
  for (Index g = 0; g < levels && j < i; ++g) {
    // Bins j .. end-1 form group g: those with floor(j * levels / i) == g.
    Index end = j;
    while (end < i && (end * levels) / i == g) ++end;
    double sum = 0.0;
    Index nonzero = 0;
    for (Index k = j; k < end; ++k) {
      const double v = static_cast<double>(c[static_cast<std::size_t>(k)]);
      sum += v;
      nonzero += v != 0.0;
    }
    const double q_each = nonzero > 0 ? sum / static_cast<double>(nonzero) / inside : 0.0;
    for (Index k = j; k < end; ++k) {
      double p = static_cast<double>(c[static_cast<std::size_t>(k)]);
      const bool counted = p != 0.0;
      if (k == i - 1) p += outliers;
      if (p == 0.0) continue;
      p /= total;
      const double q = counted ? q_each : 0.0;
      if (q == 0.0) return std::numeric_limits<double>::infinity();
      kl += p * std::log(p / q);
    }
    j = end;
  }
  return kl;
}

// TensorRT's threshold search on one magnitude histogram.
inline KlEntropyResult kl_threshold(const Histogram& h, Index levels, const KlEntropyOptions& options = {}) {
  if (h.kind() != HistogramKind::magnitudes) raise("kl_threshold needs a histogram of magnitudes");
  if (h.empty()) raise("kl_threshold: the histogram is empty");
  if (levels < 2) raise("kl_threshold: levels = ", levels, " must be >= 2");
  if (options.stride < 1) raise("kl_threshold: stride = ", options.stride, " must be >= 1");
  KlEntropyResult r;
  r.threshold = static_cast<double>(h.max_abs());
  if (h.is_point_mass()) return r;
  const std::vector<std::int64_t>& c = h.counts();
  Index used = static_cast<Index>(c.size());
  while (used > 0 && c[static_cast<std::size_t>(used - 1)] == 0) --used;
  r.used_bins = used;
  const Index start = std::max(options.start_bin, levels);
  if (used <= start) return r;  // too few bins to clip: keep the whole range
  std::vector<double> prefix(static_cast<std::size_t>(used) + 1, 0.0);
  for (Index j = 0; j < used; ++j) {
    prefix[static_cast<std::size_t>(j) + 1] = prefix[static_cast<std::size_t>(j)] + static_cast<double>(c[static_cast<std::size_t>(j)]);
  }
  const double total = prefix.back();
  double best = std::numeric_limits<double>::infinity();
  Index best_i = used;
  auto consider = [&](Index i) {
    const double kl = kl_divergence_at(c, prefix, total, i, levels);
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  };
  Index last = start;
  for (Index i = start; i <= used; i += options.stride) consider(last = i);
  if (last != used) consider(used);  // with stride > 1, the full range is still a candidate
  r.bin = best_i;
  r.divergence = best;
  r.threshold = std::min(h.bin_lower(best_i), static_cast<double>(h.max_abs()));
  return r;
}

class KlEntropyObserver : public HistogramClipObserver<KlEntropyObserver> {
 public:
  explicit KlEntropyObserver(Granularity g = PerTensor{}, KlEntropyOptions options = {}, Index bins = 2048)
      : HistogramClipObserver(g, bins, HistogramKind::magnitudes, "KlEntropyObserver"), options_(options) {
    if (options.stride < 1) raise("KlEntropyObserver: stride = ", options.stride, " must be >= 1");
    if (options.levels != 0 && options.levels < 2) {
      raise("KlEntropyObserver: levels = ", options.levels, " must be 0 (automatic) or >= 2");
    }
  }

  const KlEntropyOptions& options() const { return options_; }

  // Levels per sign for `bits`-bit codes on group h's data.
  Index levels_for(const Histogram& h, int bits) const {
    if (options_.levels != 0) return options_.levels;
    if (bits < 2 || bits > 16) raise("KlEntropyObserver: bits = ", bits, " must be in 2..16");
    return h.min() < 0.0f ? Index{1} << (bits - 1) : Index{1} << bits;
  }

  // Every group's search for codes of `bits` bits.
  std::vector<KlEntropyResult> search(int bits) const {
    histograms_.require_data();
    std::vector<KlEntropyResult> out;
    for (const Histogram& h : histograms_.histograms()) out.push_back(kl_threshold(h, levels_for(h, bits), options_));
    return out;
  }

  template <class Policy>
  Ranges ranges(const Policy& policy) const {
    const std::vector<KlEntropyResult> found = search(policy.bits());
    Ranges r;
    const auto& hs = histograms_.histograms();
    for (std::size_t k = 0; k < hs.size(); ++k) {
      float lo = 0.0f;
      float hi = 0.0f;
      clip_range_at(hs[k], found[k].threshold, lo, hi);
      r.min.push_back(lo);
      r.max.push_back(hi);
    }
    return r;
  }

 private:
  KlEntropyOptions options_;
};

}  // namespace eigenq
