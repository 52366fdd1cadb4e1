// The min and max of each parameter group of a tensor: what Quantizer::fit and the
// min-max observers calibrate from. Non-finite data is an error that says where.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
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

}  // namespace eigenq
