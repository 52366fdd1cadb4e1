// Calibration statistics of a model's weight points: what the schemes that read them (GPTQ,
// AWQ, importance-weighted rounding: method_schemes.hpp) need, one CalibrationStats per weight
// point, of the input its matrix multiplies.
//
//   eigenq::PointStatistics st = eigenq::collect_point_statistics(mlp, X_calib);  // "fc1.weight" -> stats
//   opt.statistics = st;      // SensitivityOptions / MixedPrecisionOptions (else collected there)
//
// The model must implement QuantizableModel::observe_weight_inputs (MlpModel does). Statistics
// may also come from a file (io::read_calibration_stats keys them by weight name, which is the
// point name of MlpModel and to_mlp_model).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/model.hpp"
#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"

namespace eigenq {

// Runs the float model on each batch and accumulates, for every weight point, the statistics
// of its input. Keys are the point names.
inline PointStatistics collect_point_statistics(const QuantizableModel& model, const std::vector<Eigen::MatrixXf>& batches,
                                                const CalibrationStatsOptions& options = {}) {
  if (!model.observes_weight_inputs()) {
    raise("collect_point_statistics: the model does not report the inputs of its weight points "
          "(QuantizableModel::observe_weight_inputs)");
  }
  if (batches.empty()) raise("collect_point_statistics: no calibration batches");
  const std::vector<QuantPoint> points = model.quant_points();
  std::vector<CalibrationStatsObserver> observers;
  std::vector<std::size_t> slot(points.size(), points.size());
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (points[p].kind != PointKind::weight) continue;
    slot[p] = observers.size();
    observers.emplace_back(model.weight(p).cols(), options);
  }
  for (const Eigen::MatrixXf& batch : batches) {
    if (batch.size() == 0) raise<ShapeError>("collect_point_statistics: an empty calibration batch");
    model.observe_weight_inputs(batch, [&](std::size_t p, const Eigen::MatrixXf& input) {
      if (p >= points.size() || slot[p] == points.size()) {
        raise("collect_point_statistics: the model reported an input for point ", p, ", which is not a weight point");
      }
      observers[slot[p]].observe(input);
    });
  }
  PointStatistics out;
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (slot[p] == points.size()) continue;
    if (observers[slot[p]].empty()) raise("collect_point_statistics: the model never reported the input of '", points[p].name, "'");
    out.emplace(points[p].name, observers[slot[p]].stats());
  }
  return out;
}

inline PointStatistics collect_point_statistics(const QuantizableModel& model, const Eigen::MatrixXf& calibration,
                                                const CalibrationStatsOptions& options = {}) {
  return collect_point_statistics(model, std::vector<Eigen::MatrixXf>{calibration}, options);
}

namespace detail {

// The statistics in point order (in == 0 where a point has none), each checked against its
// weight's columns; `caller` names the function in errors. Every name must be a weight point.
inline std::vector<CalibrationStats> statistics_by_point(const QuantizableModel& model, const std::vector<QuantPoint>& points,
                                                         const PointStatistics& stats, const char* caller) {
  std::vector<CalibrationStats> out(points.size());
  for (const auto& kv : stats) {
    std::size_t p = 0;
    while (p < points.size() && points[p].name != kv.first) ++p;
    if (p == points.size() || points[p].kind != PointKind::weight) {
      raise(caller, ": calibration statistics for '", kv.first, "', which is not a weight point of the model");
    }
    const Index cols = model.weight(p).cols();
    if (kv.second.in != cols) {
      raise<ShapeError>(caller, ": the calibration statistics of '", kv.first, "' have ", kv.second.in,
                        " input features, its weight ", cols, " columns");
    }
    kv.second.validate(std::string(caller) + ": statistics of '" + kv.first + "'");
    out[p] = kv.second;
  }
  return out;
}

// The statistics the schemes in use need: none if no scheme needs any; else `given` (if not
// empty) or those collected from the model on the calibration batch.
inline std::vector<CalibrationStats> statistics_for_schemes(const QuantizableModel& model, const std::vector<QuantPoint>& points,
                                                            bool needed, const PointStatistics& given,
                                                            const Eigen::MatrixXf& calibration, const char* caller) {
  if (!needed) return given.empty() ? std::vector<CalibrationStats>{} : statistics_by_point(model, points, given, caller);
  if (!given.empty()) return statistics_by_point(model, points, given, caller);
  if (!model.observes_weight_inputs()) {
    raise(caller, ": a scheme needs calibration statistics, none were given, and the model does not report the "
                  "inputs of its weight points (observe_weight_inputs)");
  }
  return statistics_by_point(model, points, collect_point_statistics(model, calibration), caller);
}

}  // namespace detail
}  // namespace eigenq
