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
// MlpModel (mlp_model.hpp) is a complete example; a layer stack such as nn::Sequential
// implements the same three functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/scheme.hpp"
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

// Which scheme each point uses in one forward pass; none (nullptr) means float.
// Holds pointers: the schemes must outlive it.
class PointSchemes {
 public:
  explicit PointSchemes(std::size_t points = 0) : schemes_(points, nullptr) {}

  std::size_t size() const { return schemes_.size(); }
  void set(std::size_t point, const Scheme* scheme) { schemes_.at(point) = scheme; }
  const Scheme* get(std::size_t point) const { return schemes_.at(point); }

  // Fake-quantizes x in place with point p's scheme (nothing for float).
  void apply(std::size_t point, Eigen::MatrixXf& x) const {
    if (point >= schemes_.size()) {
      raise("PointSchemes: point ", point, " out of range (", schemes_.size(), " points)");
    }
    if (const Scheme* s = schemes_[point]) s->apply(x);
  }

 private:
  std::vector<const Scheme*> schemes_;
};

class QuantizableModel {
 public:
  virtual ~QuantizableModel() = default;

  virtual std::vector<QuantPoint> quant_points() const = 0;
  virtual Eigen::MatrixXf forward(const Eigen::MatrixXf& batch, const PointSchemes& schemes) const = 0;
  virtual Eigen::MatrixXf weight(std::size_t point) const = 0;

  // The float model.
  Eigen::MatrixXf forward(const Eigen::MatrixXf& batch) const {
    return forward(batch, PointSchemes(quant_points().size()));
  }
};

}  // namespace eigenq
