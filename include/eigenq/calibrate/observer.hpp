// What an observer is, and the batch bookkeeping every observer shares.
//
// An observer watches calibration data batch after batch and turns what it saw
// into quantization parameters, one set per tensor or per channel. Every
// observer in calibrate/ offers the same small interface:
//
//   explicit Observer(Granularity g = PerTensor{}, ...options);  // PerTensor or PerChannel
//   template <class X> void observe(const X& batch);  // any Eigen matrix, tensor or expression
//   void observe_view(const RowMajorView& batch);
//   bool empty() const;  Index batches() const;  const Granularity& granularity() const;
//   template <class Policy> Ranges ranges(const Policy&) const;   // the chosen [lo, hi] per group
//   template <class Policy> std::vector<typename Policy::Params> params(const Policy&) const;
//   void reset();
//
// params(policy) is what a Quantizer consumes: Quantizer::quantize(x, obs.params(policy)).
// The ranges may depend on the policy (MSE search fake-quantizes with it, KL reads its
// bit width); min-max, moving-average and percentile ranges do not.
//
// Batches: every batch must be finite and non-empty. Per tensor, batches may have any shape
// (activations' last batch is often short). Per channel, the rank and the number of channels
// on the axis must stay the same; other dimensions may change. Violations throw
// NonFiniteError (naming the index and channel), ShapeError (naming both shapes).
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"

namespace eigenq {
namespace detail {

// Remembers the first batch's shape and checks later batches against it.
class BatchShapeCheck {
 public:
  BatchShapeCheck(const char* observer, Granularity g) : observer_(observer), granularity_(g) {
    if (g.kind == Granularity::Kind::group) {
      raise(observer, " observes per tensor or per channel, not per group");
    }
  }

  // The parameter layout of this batch; throws if it does not fit earlier batches.
  ParamLayout check(const Shape& shape, Index batch) {
    const ParamLayout layout(shape, granularity_);
    if (first_.has_value() && granularity_.kind == Granularity::Kind::channel) {
      const Shape& f = *first_;
      const int axis = layout.granularity().axis;
      if (f.size() != shape.size() || f[static_cast<std::size_t>(axis)] != shape[static_cast<std::size_t>(axis)]) {
        raise<ShapeError>(observer_, " batch ", batch, " has shape ", to_string(shape),
                          ", which does not match the first batch's shape ", to_string(f),
                          " (per-channel observers need the same rank and the same number of "
                          "channels on axis ",
                          granularity_.axis, ")");
      }
    }
    return layout;
  }

  void accept(const Shape& shape) {
    if (!first_.has_value()) first_ = shape;
  }
  void reset() { first_.reset(); }
  const Granularity& granularity() const { return granularity_; }
  const char* observer() const { return observer_; }

 private:
  const char* observer_;
  Granularity granularity_;
  std::optional<Shape> first_;
};

// Each group's elements of a batch as contiguous runs. Per tensor that is one run; per
// channel, channel c of the row-major [outer, C, inner] view is `outer` runs of `inner`
// elements. Short runs (the channel axis last, as in [batch, features] activations) are
// first transposed into one run per channel, so a channel's values come in long stretches
// that vectorize.
class GroupRuns {
 public:
  struct Run {
    Index group;
    const float* data;
    Index size;
  };

  GroupRuns(const RowMajorView& x, const ParamLayout& layout) {
    if (layout.granularity().kind == Granularity::Kind::tensor) {
      runs_.push_back({0, x.data(), x.size()});
      return;
    }
    const AxisSplit& s = layout.split();
    constexpr Index short_run = 32;
    if (s.outer > 1 && s.inner < short_run) {
      const Index per_channel = s.outer * s.inner;
      by_channel_.resize(s.channels, per_channel);
      // A transpose of [outer, C] blocks of `inner` floats, in tiles that stay in cache.
      constexpr Index tile = 64;
      const float* src = x.data();
      float* dst = by_channel_.data();
      for (Index o0 = 0; o0 < s.outer; o0 += tile) {
        const Index o1 = std::min(s.outer, o0 + tile);
        for (Index c0 = 0; c0 < s.channels; c0 += tile) {
          const Index c1 = std::min(s.channels, c0 + tile);
          for (Index c = c0; c < c1; ++c) {
            for (Index o = o0; o < o1; ++o) {
              const float* from = src + (o * s.channels + c) * s.inner;
              float* to = dst + c * per_channel + o * s.inner;
              for (Index i = 0; i < s.inner; ++i) to[i] = from[i];
            }
          }
        }
      }
      for (Index c = 0; c < s.channels; ++c) runs_.push_back({c, by_channel_.data() + c * per_channel, per_channel});
      return;
    }
    layout.for_each_run([&](Index first, Index n, Index pbase, Index) { runs_.push_back({pbase, x.data() + first, n}); });
  }

  const std::vector<Run>& runs() const { return runs_; }

  // Every group's min and max; false (ranges untouched) if any value is NaN or Inf.
  bool ranges(std::size_t groups, Ranges& r) const {
    r.min.assign(groups, std::numeric_limits<float>::infinity());
    r.max.assign(groups, -std::numeric_limits<float>::infinity());
    for (const Run& run : runs_) {
      Eigen::Map<const Eigen::ArrayXf> v(run.data, run.size);
      if (!v.allFinite()) return false;
      auto& lo = r.min[static_cast<std::size_t>(run.group)];
      auto& hi = r.max[static_cast<std::size_t>(run.group)];
      lo = std::min(lo, v.minCoeff());
      hi = std::max(hi, v.maxCoeff());
    }
    return true;
  }

 private:
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> by_channel_;
  std::vector<Run> runs_;
};

}  // namespace detail

// Fits one parameter set per range, adding the group to any error the policy raises.
template <class Policy>
std::vector<typename Policy::Params> fit_ranges(const Policy& policy, const Ranges& r,
                                                const Granularity& g, const char* observer) {
  static_assert(Policy::fits_from_range,
                "observers produce ranges; data-fitted policies (codebook) fit on the values instead");
  std::vector<typename Policy::Params> out;
  out.reserve(r.min.size());
  for (std::size_t k = 0; k < r.min.size(); ++k) {
    try {
      out.push_back(policy.fit(r.min[k], r.max[k]));
    } catch (const Error& e) {
      const std::string where = g.kind == Granularity::Kind::channel
                                    ? detail::error_message("channel ", k, " of axis ", g.axis)
                                    : std::string("the tensor");
      const std::string msg = detail::error_message(observer, ": ", e.what(), " (in ", where, ")");
      if (dynamic_cast<const NonFiniteError*>(&e)) throw NonFiniteError(msg);
      if (dynamic_cast<const InvalidArgument*>(&e)) throw InvalidArgument(msg);
      throw Error(msg);
    }
  }
  return out;
}

}  // namespace eigenq
