// The layer interface of eigenq's small inference graph: a module maps a batch
// of activations [batch, features] (row-major, the layout the int8 kernels
// read) to the next batch.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <Eigen/Core>

#include "eigenq/core/types.hpp"

namespace eigenq {
namespace nn {

// Activations: one row per example.
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class Module {
 public:
  virtual ~Module() = default;

  virtual Matrix forward(const Matrix& x) const = 0;
  Matrix operator()(const Matrix& x) const { return forward(x); }

  // "Linear", "ReLU", "DynamicLinear", ... (also the type tag in saved files).
  virtual std::string kind() const = 0;
  // Bytes of weights and parameters as stored (0 for parameter-free layers).
  virtual std::size_t weight_bytes() const { return 0; }
  // Number of weights (for average bits per weight).
  virtual Index weight_count() const { return 0; }
  virtual std::unique_ptr<Module> clone() const = 0;
};

}  // namespace nn
}  // namespace eigenq
