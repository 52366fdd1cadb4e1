// Moving-average min-max calibration, as torch.ao.quantization's
// MovingAverageMinMaxObserver and MovingAveragePerChannelMinMaxObserver: the
// first batch sets each group's min and max, every later batch moves them by
//   min = min + c * (batch_min - min),   max = max + c * (batch_max - max)
// with averaging constant c, every operation rounded to float32 as torch does
// it on float32 tensors (c itself is rounded to float32 first).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/observer.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"

namespace eigenq {
namespace detail {

// m + c * (v - m) in float32, one rounding per operation, as torch computes it. The
// product goes through a volatile so that no compiler fuses multiply and add into an FMA
// (GCC does under -ffp-contract=fast, its default in GNU modes with -march=native), which
// would change the last bit. Runs once per group and batch, so the store costs nothing.
inline float moving_average_step(float m, float c, float v) {
  const float diff = v - m;
  volatile float product = c * diff;
  return m + product;
}

}  // namespace detail

class MovingAverageMinMaxObserver {
 public:
  // averaging_constant in (0, 1]; torch's default is 0.01.
  explicit MovingAverageMinMaxObserver(Granularity g = PerTensor{}, double averaging_constant = 0.01)
      : shapes_("MovingAverageMinMaxObserver", g), constant_(static_cast<float>(averaging_constant)) {
    if (!(averaging_constant > 0.0 && averaging_constant <= 1.0)) {
      raise("MovingAverageMinMaxObserver: averaging_constant = ", averaging_constant,
            " must be in (0, 1]");
    }
  }

  template <class X>
  void observe(const X& batch) {
    observe_view(row_major_view(batch));
  }

  void observe_view(const RowMajorView& x) {
    const ParamLayout layout = shapes_.check(x.shape(), batches_);
    const Ranges r = observe_ranges(x, layout, "MovingAverageMinMaxObserver batch " + std::to_string(batches_));
    if (batches_ == 0) {
      ranges_ = r;
    } else {
      for (std::size_t k = 0; k < r.min.size(); ++k) {
        ranges_.min[k] = detail::moving_average_step(ranges_.min[k], constant_, r.min[k]);
        ranges_.max[k] = detail::moving_average_step(ranges_.max[k], constant_, r.max[k]);
      }
    }
    shapes_.accept(x.shape());
    ++batches_;
  }

  bool empty() const { return batches_ == 0; }
  Index batches() const { return batches_; }
  const Granularity& granularity() const { return shapes_.granularity(); }
  float averaging_constant() const { return constant_; }

  // The averaged ranges (the policy does not change them).
  const Ranges& ranges() const { return ranges_; }
  template <class Policy>
  Ranges ranges(const Policy&) const {
    require_data();
    return ranges_;
  }

  template <class Policy>
  std::vector<typename Policy::Params> params(const Policy& policy) const {
    require_data();
    return fit_ranges(policy, ranges_, granularity(), "MovingAverageMinMaxObserver");
  }

  void reset() {
    ranges_ = {};
    batches_ = 0;
    shapes_.reset();
  }

 private:
  void require_data() const {
    if (empty()) raise("MovingAverageMinMaxObserver has seen no data; call observe() first");
  }

  detail::BatchShapeCheck shapes_;
  float constant_;
  Ranges ranges_;
  Index batches_ = 0;
};

}  // namespace eigenq
