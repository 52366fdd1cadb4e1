// Static activation schemes calibrated by any observer: run the float model over the
// calibration data, feed every activation point's values to its own copy of an observer,
// and turn the parameters it chooses into a fixed-parameter scheme per point.
//
//   auto act = eigenq::calibrate_activation_schemes(model, X_calib, eigenq::MseClipObserver(),
//                                                   eigenq::Linear<uint8_t>::affine());
//   eigenq::SensitivityOptions opt;
//   opt.per_point = act;                 // activation points use the calibrated schemes
//
// (The default activation scheme, schemes::uint8_per_tensor(), is dynamic: it takes each
// batch's own min-max, as torch's quantize_dynamic does.)
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/model.hpp"
#include "eigenq/analysis/scheme.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

// Each point's value in a float forward pass: the activation matrix for activation points,
// an empty matrix for weight points.
inline std::vector<Eigen::MatrixXf> capture_activations(const QuantizableModel& model, const Eigen::MatrixXf& batch) {
  const std::vector<QuantPoint> points = model.quant_points();
  std::vector<Eigen::MatrixXf> captured(points.size());
  std::vector<Scheme> recorders(points.size());
  PointSchemes config(points.size());
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (points[p].kind != PointKind::activation) continue;
    recorders[p].name = "capture";
    recorders[p].fake_quantize = [&captured, p](Eigen::MatrixXf& x) { captured[p] = x; };
    config.set(p, &recorders[p]);
  }
  (void)model.forward(batch, config);
  return captured;
}

// One static scheme per activation point, named "<policy name>-<observer>-static", from a copy
// of `prototype` fed the point's activations, `batch_rows` calibration rows at a time.
template <class Observer, class Policy>
std::map<std::string, Scheme> calibrate_activation_schemes(const QuantizableModel& model,
                                                                const Eigen::MatrixXf& calibration,
                                                                const Observer& prototype, const Policy& policy,
                                                                Index batch_rows = 256,
                                                                const std::string& observer_name = "calibrated") {
  if (calibration.rows() == 0) raise<ShapeError>("calibrate_activation_schemes: empty calibration batch");
  if (batch_rows <= 0) raise("calibrate_activation_schemes: batch_rows = ", batch_rows, " must be positive");
  const std::vector<QuantPoint> points = model.quant_points();
  std::vector<Observer> observers(points.size(), prototype);
  for (Index r = 0; r < calibration.rows(); r += batch_rows) {
    const Index n = std::min(batch_rows, calibration.rows() - r);
    const std::vector<Eigen::MatrixXf> acts = capture_activations(model, calibration.middleRows(r, n));
    for (std::size_t p = 0; p < points.size(); ++p) {
      if (points[p].kind == PointKind::activation) observers[p].observe(acts[p]);
    }
  }
  std::map<std::string, Scheme> out;
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (points[p].kind != PointKind::activation) continue;
    const Quantizer<Policy, Granularity> q(policy, observers[p].granularity());
    out[points[p].name] =
        make_static_scheme(policy.name() + "-" + observer_name + "-static", q, observers[p].params(policy));
  }
  return out;
}

}  // namespace eigenq
