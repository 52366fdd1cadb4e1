// The model interface that sensitivity analysis and mixed-precision selection work on:
// named quantization points (weights, and activations) and a forward pass on a batch
// in which each point can be fake-quantized with a scheme.
//
// To make a model analyzable, implement QuantizableModel:
//   quant_points()  the points, in a fixed order (their index is their identity);
//   forward(batch, schemes)  the model on batch [samples, features] -> [samples, outputs],
//       calling schemes.apply(p, W) on every weight point's matrix before using it and
//       schemes.apply(p, A) on every activation point's matrix after computing it;
//   weight(p)  a weight point's matrix (its storage cost is measured on it).
// and, for schemes that read calibration statistics (GPTQ, AWQ, weighted rounding:
// method_schemes.hpp), optionally
//   observe_weight_inputs(batch, f)  calls f(p, X) with the input X [samples, in] that each
//       weight point's matrix multiplies in the float forward pass (point_statistics.hpp turns
//       these into statistics); without it, pass the statistics in the options instead.
// MlpModel (mlp_model.hpp) is a complete example; a layer stack such as nn::Sequential
// implements the same functions.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/scheme.hpp"
#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

enum class PointKind { weight, activation };

inline const char* to_string(PointKind k) { return k == PointKind::weight ? "weight" : "activation"; }

struct QuantPoint {
  std::string name;
  PointKind kind = PointKind::weight;
  Index elements = 0;  // weight count; 0 for activations (their size follows the batch)
};

// Calibration statistics of the weight points' inputs, by point name (the weight's name, as
// io::read_calibration_stats keys a statistics file).
using PointStatistics = std::map<std::string, CalibrationStats>;

// Which scheme each point uses in one forward pass; none (nullptr) means float. Schemes that
// read calibration statistics get those of their point (set_statistics: one entry per point,
// in point order; an entry with in == 0 means none).
// Holds pointers: the schemes and the statistics must outlive it.
class PointSchemes {
 public:
  explicit PointSchemes(std::size_t points = 0) : schemes_(points, nullptr) {}

  std::size_t size() const { return schemes_.size(); }
  void set(std::size_t point, const Scheme* scheme) { schemes_.at(point) = scheme; }
  const Scheme* get(std::size_t point) const { return schemes_.at(point); }

  void set_statistics(const std::vector<CalibrationStats>* by_point) {
    if (by_point != nullptr && by_point->size() != schemes_.size()) {
      raise("PointSchemes: statistics for ", by_point->size(), " points, expected ", schemes_.size());
    }
    statistics_ = by_point;
  }
  const CalibrationStats* statistics(std::size_t point) const {
    if (statistics_ == nullptr) return nullptr;
    const CalibrationStats& s = statistics_->at(point);
    return s.in > 0 ? &s : nullptr;
  }

  // Fake-quantizes x in place with point p's scheme (nothing for float).
  void apply(std::size_t point, Eigen::MatrixXf& x) const {
    if (point >= schemes_.size()) {
      raise("PointSchemes: point ", point, " out of range (", schemes_.size(), " points)");
    }
    const Scheme* s = schemes_[point];
    if (s == nullptr) return;
    if (s->needs_statistics() && statistics(point) == nullptr) {
      raise("scheme '", s->name, "' at point ", point, " needs the calibration statistics of the point's input; "
            "none were given (SensitivityOptions / MixedPrecisionOptions::statistics, or a model that implements "
            "observe_weight_inputs)");
    }
    s->apply(x, statistics(point));
  }

 private:
  std::vector<const Scheme*> schemes_;
  const std::vector<CalibrationStats>* statistics_ = nullptr;
};

// f(point, X): X [samples, in] is the input that weight point `point` multiplies.
using WeightInputVisitor = std::function<void(std::size_t point, const Eigen::MatrixXf& input)>;

class QuantizableModel {
 public:
  virtual ~QuantizableModel() = default;

  virtual std::vector<QuantPoint> quant_points() const = 0;
  virtual Eigen::MatrixXf forward(const Eigen::MatrixXf& batch, const PointSchemes& schemes) const = 0;
  virtual Eigen::MatrixXf weight(std::size_t point) const = 0;

  // Runs the float model on `batch`, calling f(p, X) for every weight point p with the input
  // X [samples, in] its matrix multiplies (X W^T). Optional: models that do not implement it
  // need their statistics given (SensitivityOptions / MixedPrecisionOptions::statistics).
  virtual bool observes_weight_inputs() const { return false; }
  virtual void observe_weight_inputs(const Eigen::MatrixXf& batch, const WeightInputVisitor& f) const {
    (void)batch;
    (void)f;
    raise("this model does not report the inputs of its weight points (observe_weight_inputs); "
          "give the calibration statistics in the options");
  }

  // The float model.
  Eigen::MatrixXf forward(const Eigen::MatrixXf& batch) const {
    return forward(batch, PointSchemes(quant_points().size()));
  }
};

}  // namespace eigenq
