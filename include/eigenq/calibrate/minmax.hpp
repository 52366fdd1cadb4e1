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
#include "eigenq/quantizer/ranges.hpp"

namespace eigenq {

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
