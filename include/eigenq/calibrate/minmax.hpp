// Min-max calibration: the observed range of each parameter group, streaming
// over batches, as torch.ao.quantization.MinMaxObserver and
// PerChannelMinMaxObserver record it. Non-finite data is an error that says where.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"

namespace eigenq {

struct Ranges {
  std::vector<float> min;
  std::vector<float> max;
};

namespace detail {

[[noreturn]] inline void raise_non_finite(const RowMajorView& x, const ParamLayout& layout,
                                          Index flat, const std::string& what) {
  const float v = x[flat];
  const char* kind = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  const auto& g = layout.granularity();
  std::string where = "at index " + index_to_string(x.shape(), flat);
  if (g.kind == Granularity::Kind::channel) {
    const AxisSplit& s = layout.split();
    where += detail::error_message(" (channel ", (flat / s.inner) % s.channels, " of axis ", g.axis, ")");
  }
  raise<NonFiniteError>(what, " found ", kind, " ", where, " of a tensor of shape ",
                        to_string(x.shape()));
}

}  // namespace detail

// The min and max of each parameter group of x. Throws NonFiniteError on
// NaN/Inf and ShapeError on an empty tensor. `what` names the data in messages.
inline Ranges observe_ranges(const RowMajorView& x, const ParamLayout& layout,
                             const std::string& what = "calibration") {
  if (x.size() == 0) {
    raise<ShapeError>(what, ": cannot calibrate on an empty tensor of shape ", to_string(x.shape()));
  }
  const std::size_t count = static_cast<std::size_t>(layout.param_count());
  Ranges r{std::vector<float>(count, std::numeric_limits<float>::infinity()),
           std::vector<float>(count, -std::numeric_limits<float>::infinity())};
  layout.for_each_run([&](Index first, Index n, Index pbase, Index pstep) {
    const float* data = x.data() + first;
    Eigen::Map<const Eigen::ArrayXf> run(data, n);
    if (!run.allFinite()) {
      for (Index i = 0; i < n; ++i) {
        if (!std::isfinite(data[i])) detail::raise_non_finite(x, layout, first + i, what);
      }
    }
    if (pstep == 0) {
      auto& lo = r.min[static_cast<std::size_t>(pbase)];
      auto& hi = r.max[static_cast<std::size_t>(pbase)];
      lo = std::min(lo, run.minCoeff());
      hi = std::max(hi, run.maxCoeff());
    } else {
      for (Index i = 0; i < n; ++i) {
        auto& lo = r.min[static_cast<std::size_t>(pbase + i)];
        auto& hi = r.max[static_cast<std::size_t>(pbase + i)];
        lo = std::min(lo, data[i]);
        hi = std::max(hi, data[i]);
      }
    }
  });
  return r;
}

// Streaming min-max observer, per tensor or per channel. Feed batches with
// observe(); every batch must have the same shape (per channel: the same
// number of channels on the axis). params(policy) turns the ranges into one
// parameter set per group, as the policy's profile chooses them.
class MinMaxObserver {
 public:
  explicit MinMaxObserver(Granularity g = PerTensor{}) : granularity_(g) {
    if (g.kind == Granularity::Kind::group) {
      raise("MinMaxObserver observes per tensor or per channel; per-group ranges come from the Quantizer");
    }
  }

  template <class X>
  void observe(const X& batch) {
    observe_view(row_major_view(batch));
  }

  void observe_view(const RowMajorView& x) {
    const ParamLayout layout(x.shape(), granularity_);
    if (!ranges_.min.empty() && static_cast<Index>(ranges_.min.size()) != layout.param_count()) {
      raise<ShapeError>("batch ", batches_, " of shape ", to_string(x.shape()), " has ",
                        layout.param_count(), " channels; earlier batches had ", ranges_.min.size());
    }
    Ranges r = observe_ranges(x, layout, "MinMaxObserver batch " + std::to_string(batches_));
    if (ranges_.min.empty()) {
      ranges_ = std::move(r);
    } else {
      for (std::size_t k = 0; k < r.min.size(); ++k) {
        ranges_.min[k] = std::min(ranges_.min[k], r.min[k]);
        ranges_.max[k] = std::max(ranges_.max[k], r.max[k]);
      }
    }
    ++batches_;
  }

  bool empty() const { return batches_ == 0; }
  Index batches() const { return batches_; }
  const Ranges& ranges() const { return ranges_; }
  const Granularity& granularity() const { return granularity_; }

  template <class Policy>
  std::vector<typename Policy::Params> params(const Policy& policy) const {
    if (empty()) raise("MinMaxObserver has seen no data; call observe() first");
    std::vector<typename Policy::Params> out;
    out.reserve(ranges_.min.size());
    for (std::size_t k = 0; k < ranges_.min.size(); ++k) {
      out.push_back(policy.fit(ranges_.min[k], ranges_.max[k]));
    }
    return out;
  }

  void reset() {
    ranges_ = {};
    batches_ = 0;
  }

 private:
  Granularity granularity_;
  Ranges ranges_;
  Index batches_ = 0;
};

}  // namespace eigenq
